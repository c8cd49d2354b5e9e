package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/text"
)

// configCertificate makes or takes an entity's certificate credential:
// "create" makes a key pair and a self-signed certificate, keeps the key
// in the keyring and writes the public .cer for the Azure portal;
// "import" takes a key and certificate in PEM (on stdin or from --file).
func configCertificate(ctx context.Context, args []string, d Deps, admin config.Admin) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "import") {
		return usageError(text.T("config entity certificate: create oder import?"))
	}
	if !admin.Unlocked() {
		return config.ErrAdminRequired
	}
	fs := newFlags("config entity certificate "+args[0], d)
	name := fs.String("name", "", text.T("Name der Entität"))
	years := fs.Int("years", 2, text.T("Gültigkeit des Zertifikats in Jahren (1 bis 3)"))
	file := fs.String("file", "", text.T("Datei"))
	if err := fs.Parse(args[1:]); err != nil {
		return parseError(fs, err)
	}
	ent, err := d.Repo.Entity(ctx, *name)
	if err != nil {
		return err
	}
	var cert *auth.Certificate
	switch args[0] {
	case "create":
		if *years < 1 || *years > 3 {
			return usageError(text.T("--years: das Zertifikat gilt 1 bis 3 Jahre (das Azure-Portal nimmt höchstens 3)."))
		}
		now := time.Now()
		if d.Now != nil {
			now = d.Now()
		}
		out := *file
		if out == "" {
			out = auth.CertificateFile(ent.Name)
		}
		if cert, err = d.Auth.CreateCertificate(ent.Name, now, time.Duration(*years)*365*24*time.Hour, out); err != nil {
			return err
		}
		abs, _ := filepath.Abs(out)
		fmt.Fprint(d.Stdout, text.F("Zertifikat für die Entität „%s“ angelegt, gültig bis %s. Der private Schlüssel liegt im Schlüsselspeicher des Betriebssystems; %s enthält nur den öffentlichen Teil.\n",
			ent.Name, cert.Cert.NotAfter.Local().Format("02.01.2006"), abs))
	case "import":
		// stdin is read only when it holds something: PEM without --file,
		// or one line, a PFX's password (a terminal must not wait for EOF)
		var data []byte
		if *file == "" {
			if data, err = io.ReadAll(io.LimitReader(d.Stdin, 1<<20)); err != nil {
				return text.Errorf("Der Schlüssel konnte nicht von der Standardeingabe gelesen werden: %w", err)
			}
		} else if data, err = os.ReadFile(*file); err != nil {
			return &fileError{path: *file, err: err}
		}
		if *file == "" || bytes.Contains(data, []byte("-----BEGIN")) {
			cert, err = auth.ParseCertificatePEM(data)
		} else {
			password, _ := bufio.NewReader(d.Stdin).ReadString('\n')
			cert, err = auth.ParseCertificatePFX(data, strings.TrimRight(password, "\r\n"))
			if errors.Is(err, auth.ErrPFXPassword) && password == "" {
				return usageError(text.T("Das Passwort der PFX-Datei bitte als erste Zeile der Standardeingabe angeben."))
			}
		}
		if err != nil {
			return err
		}
		if err := d.Auth.SetCertificate(ent.Name, cert); err != nil {
			return err
		}
		fmt.Fprint(d.Stdout, text.F("Zertifikat für die Entität „%s“ übernommen, gültig bis %s; Schlüssel und Zertifikat liegen im Schlüsselspeicher des Betriebssystems.\n",
			ent.Name, cert.Cert.NotAfter.Local().Format("02.01.2006")))
	}
	fmt.Fprint(d.Stdout, text.F("Im Azure-Portal hochladen, falls noch nicht geschehen: App-Registrierungen › Anwendungs-ID %s › Zertifikate & Geheimnisse › Zertifikate › Zertifikat hochladen.\nFingerabdruck (SHA-256, base64url): %s\nAb jetzt weist sich kanzleisync mit dem Zertifikat aus; ein hinterlegter geheimer Clientschlüssel wird nicht mehr verwendet.\n",
		ent.ClientID, cert.Thumbprint()))
	return nil
}
