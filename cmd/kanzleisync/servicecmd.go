package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/server"
	"kanzleisync/app/text"
	"kanzleisync/platform/keyring"
	"kanzleisync/platform/paths"
	"kanzleisync/platform/service"
)

// runService is `kanzleisync service install|uninstall` (Windows): install
// sets the service up in one step — its own data directory in ProgramData
// with a copy of this configuration, the credentials handed into the
// service account's keyring, the service registered, started and checked.
func runService(e env, args []string) int {
	if len(args) == 0 || (args[0] != "install" && args[0] != "uninstall") {
		fmt.Fprintln(os.Stderr, "kanzleisync service install [--listen ADRESSE] [--service-data-dir ORDNER] | uninstall")
		return 2
	}
	if args[0] == "uninstall" {
		if err := service.Uninstall(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(text.T("Dienst entfernt."))
		return 0
	}
	fs := flag.NewFlagSet("service install", flag.ContinueOnError)
	listen := fs.String("listen", "", text.T("Adresse des Statusdienstes (Voreinstellung 127.0.0.1:9465)"))
	dir := fs.String("service-data-dir", paths.ServiceDataDir(), text.T("Datenordner des Dienstes"))
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if *listen != "" {
		if err := server.CheckListen(*listen); err != nil {
			fmt.Fprintln(os.Stderr, "kanzleisync "+err.Error())
			return 2
		}
	}
	if !service.Supported {
		fmt.Fprintln(os.Stderr, service.ErrUnsupported{OS: runtime.GOOS})
		return 1
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if service.Installed() {
		fmt.Fprintln(os.Stderr, text.F("Der Dienst %s ist schon installiert; zuerst „kanzleisync service uninstall“.", service.Name))
		return 1
	}
	ctx := context.Background()
	prep, err := prepareService(ctx, e, *dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c := service.Config{Exe: exe, DataDir: *dir, Listen: *listen}
	if err := service.Install(c); err != nil {
		// no service to take them: the credentials do not stay on disk
		_ = os.Remove(filepath.Join(*dir, service.HandoverFile))
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(text.T("Dienst installiert:"), c.CommandLine())
	prep.print()
	if err := service.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if service.HandoverPending(*dir) {
			fmt.Fprintln(os.Stderr, text.F("Die Zugangsdaten liegen verschlüsselt in %s und werden beim ersten Start des Dienstes übernommen.", *dir))
		} else {
			fmt.Fprintln(os.Stderr, text.F("Das Programm des Dienstes lief an und hat die Zugangsdaten übernommen, hat sich aber nicht als gestartet gemeldet; die Protokolldatei kanzleisync.log in %s und die Ereignisanzeige sagen, warum.", *dir))
		}
		return 1
	}
	// the service takes the credentials as its first step
	deadline := time.Now().Add(30 * time.Second)
	for service.HandoverPending(*dir) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if service.HandoverPending(*dir) {
		fmt.Fprintln(os.Stderr, text.F("Der Dienst hat die Zugangsdaten nach 30 Sekunden noch nicht übernommen. Sie liegen verschlüsselt in %s; die Protokolldatei kanzleisync.log dort und die Ereignisanzeige sagen, warum.", *dir))
		return 1
	}
	fmt.Println(text.T("Der Dienst läuft und hat die Zugangsdaten in seinen Schlüsselspeicher übernommen; die Übergabedatei ist gelöscht."))
	return 0
}

// servicePrep is what prepareService did, for the installing person.
type servicePrep struct {
	dir    string
	copied bool // the configuration was copied (else the service's own was kept)
	creds  []service.Credential
}

func (p servicePrep) print() {
	if p.copied {
		fmt.Println(text.F("Daten des Dienstes: %s (Einstellungen, Entitäten und Sachbearbeiter von hier übernommen).", p.dir))
	} else {
		fmt.Println(text.F("Daten des Dienstes: %s (dort vorhandene Daten bleiben, nichts überschrieben).", p.dir))
	}
	for _, c := range p.creds {
		kind := text.T("geheimer Clientschlüssel")
		if c.Kind == "certificate" {
			kind = text.T("Zertifikat")
		}
		fmt.Println(text.F("Entität „%s“: %s für den Dienst bereitgelegt.", c.Entity, kind))
	}
}

// prepareService makes the service's data directory (only SYSTEM and the
// administrators may open it), copies this configuration into it unless it
// holds one already, and hands over the credential of each entity — the
// certificate where there is one, else the client secret. An entity
// without either refuses the whole install: a service that cannot sign in
// would only fill the event log.
func prepareService(ctx context.Context, e env, dir string) (servicePrep, error) {
	p := servicePrep{dir: dir}
	ents, err := e.repo.Entities(ctx)
	if err != nil {
		return p, err
	}
	if len(ents) == 0 {
		return p, text.New("Es ist noch keine Entität eingerichtet; zuerst „kanzleisync config entity set“ (docs/einrichtung.md, Abschnitt 3).")
	}
	for _, ent := range ents {
		cert, err := e.keys.Get(auth.CertificateKey(ent.Name))
		if err == nil {
			p.creds = append(p.creds, service.Credential{Entity: ent.Name, Kind: "certificate", Key: auth.CertificateKey(ent.Name), Value: cert})
			continue
		}
		if !errors.Is(err, keyring.ErrNotFound) {
			return p, err
		}
		secret, err := e.keys.Get(auth.SecretKey(ent.Name))
		if errors.Is(err, keyring.ErrNotFound) {
			return p, text.Errorf("Für die Entität „%s“ ist auf diesem Rechner weder ein Zertifikat noch ein geheimer Clientschlüssel hinterlegt; der Dienst könnte sich nicht anmelden. Zuerst: kanzleisync config entity certificate create --name %q (docs/einrichtung.md, Abschnitt 9).", ent.Name, ent.Name)
		}
		if err != nil {
			return p, err
		}
		p.creds = append(p.creds, service.Credential{Entity: ent.Name, Kind: "secret", Key: auth.SecretKey(ent.Name), Value: secret})
	}
	if err := service.RestrictDir(dir); err != nil {
		return p, text.Errorf("Der Datenordner des Dienstes %s ließ sich nicht anlegen: %w", dir, err)
	}
	db := filepath.Join(dir, "kanzleisync.db")
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		// a consistent copy of the live database, WAL included
		if _, err := e.store.DB().ExecContext(ctx, "VACUUM INTO ?", db); err != nil {
			return p, text.Errorf("Die Einstellungen ließen sich nicht in den Datenordner des Dienstes kopieren: %w", err)
		}
		if err := os.Chmod(db, 0o600); err != nil {
			return p, err
		}
		p.copied = true
	}
	if err := service.WriteHandover(dir, p.creds); err != nil {
		return p, err
	}
	for i := range p.creds {
		p.creds[i].Value = ""
	}
	return p, nil
}

// takeCredentials stores what `service install` handed over into this
// account's keyring and says so in the log.
func takeCredentials(e env) error {
	taken, err := service.TakeHandover(e.dataDir, e.keys.Set)
	if err != nil {
		e.logger.Error("credential hand-over", "error", err.Error())
		return err
	}
	for _, c := range taken {
		e.logger.Info("credential taken over from service install", "entity", c.Entity, "kind", c.Kind)
	}
	return nil
}
