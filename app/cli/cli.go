// Package cli is kanzleisync's command line for IT: configuring entities
// and case workers, and signing workers in and out. Output is German.
package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// Deps are what the commands work on; main wires them.
type Deps struct {
	Store       *store.Store
	Repo        *config.Repo
	Auth        *auth.Manager
	OpenBrowser func(string) error
	// MailTLS are the trusted roots of the POP3/SMTP servers (nil: the
	// system's; the demo sets the emulator's).
	MailTLS *tls.Config
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Now     func() time.Time
	// AdminPassword gives the administrator password for entity
	// credentials and firm settings (main: $KANZLEISYNC_ADMIN_PASSWORD).
	AdminPassword func() string
}

var usage = text.Mark(`kanzleisync – Befehle für die IT-Betreuung

  kanzleisync                        die Tray-Anwendung am Arbeitsplatz
  kanzleisync demo [--headless] [--screenshots ORDNER]
                                     die Demo gegen den eingebauten Microsoft-365-Emulator (kein Microsoft-Konto nötig)
  kanzleisync serve [--listen 127.0.0.1:9465] [--interval 2m] [--lease 30s] [--parallel 50]
                                     der Export auf dem Terminalserver (ohne Fenster; /health und /metrics)
  kanzleisync service install [--listen ADRESSE] | service uninstall
                                     serve als Dienst des Betriebssystems einrichten oder entfernen
  kanzleisync policy set --tenant ID --client-id GUID [--cache-path DATEI] [--entity NAME]
                                     die Vorgaben der IT (policy.json) schreiben; so setzt das MSI TENANT, CLIENTID, CACHEPATH, ENTITY
  kanzleisync help                   diese Hilfe
  Vor jedem Befehl: --data-dir ORDNER (Datenverzeichnis; Voreinstellung: Benutzerkonfiguration/kanzleisync)

  kanzleisync auth login  --worker UPN [--timeout 120s] [--no-browser]
  kanzleisync auth status
  kanzleisync auth logout --worker UPN

  kanzleisync sync --once [--preview] [--full] [--entity NAME] [--confirm-deletions]
                                     (--confirm-deletions führt zurückgehaltene Löschungen aus; Administratorpasswort nötig)
  kanzleisync mail testmail --worker UPN [--account ADRESSE] [--to ADRESSE]
  kanzleisync mail kommunikator --worker UPN [--show-password]   (was im Kommunikator einzutragen ist)
  kanzleisync mail retry --account ADRESSE   (zurückgestellte Nachrichten beim nächsten Abruf erneut versuchen, nicht erst nach 24 h)
  kanzleisync diagnose [--json]      (Anbindung testen; Exit-Code 0 nur, wenn alles grün ist)

  echo NEUES-PASSWORT | kanzleisync admin password set   (das bisherige in KANZLEISYNC_ADMIN_PASSWORD)

  Entität und Kanzlei-Einstellungen ändern nur Administratoren: Passwort in KANZLEISYNC_ADMIN_PASSWORD.

  kanzleisync config show
  kanzleisync config entity set --name NAME --tenant ID --client-id GUID [--secret-expires 31.05.2028]
                                 [--cache DATEI] [--authority-host URL] [--graph-endpoint URL] [--secret-stdin]
  kanzleisync config entity export --name NAME [--file DATEI]
  kanzleisync config entity import --file DATEI
  kanzleisync config entity certificate create --name NAME [--years 2] [--file DATEI.cer]
                                 (Zertifikat statt geheimem Clientschlüssel: Schlüssel in den Schlüsselspeicher, .cer zum Hochladen)
  kanzleisync config entity certificate import --name NAME [--file DATEI.pfx|DATEI.pem]   (PFX: das Passwort als erste Zeile der Standardeingabe; ohne --file: PEM von der Standardeingabe)
  kanzleisync config worker set --upn UPN --name NAME --entity NAME --modules calendar,contacts,tasks,mail
                                 [--account adresse[,archive][,graph][,pop3=Server:Port[/starttls]][,smtp=Server:Port][,drop=ORDNER][,leave=TAGE|immer][,move=ORDNER]] …
  kanzleisync config settings set [--deadlines todo|calendar] [--todo-list NAME] [--body html|text] [--keep-outlook-edits=true|false]
                                  [--active=true --confirm | --active=false]   (Schnittstelle aktiv; vorher wird nichts geschrieben)
                                  [--local-pop3 127.0.0.1:1110|aus] [--local-smtp 127.0.0.1:1587|aus]   (lokale Server für den Kommunikator)
                                  [--max-message-mb 35] [--keep-taken-days 30]
                                  [--termin-betreff voll|aktenzeichen|text:TEXT] [--termin-ort voll|aktenzeichen|leer] [--termin-text …]
                                  [--frist-betreff …] [--frist-text …] [--wv-betreff …] [--wv-text …] [--vertraulich-betreff TEXT]
                                  [--kontakte-ohne-notiz] [--kontakte-ohne-privat] [--preview]   (was die Kanzlei verlässt; --preview zeigt Beispiele, speichert nichts)
                                  [--frist-anzeigen-als free|busy|oof] [--wv-anzeigen-als free|busy|oof]   (Fristen und Wiedervorlagen im Kalender)

Den geheimen Clientschlüssel nie als Argument angeben: --secret-stdin liest ihn von der Standardeingabe.
`)

// unlock checks the administrator password (KANZLEISYNC_ADMIN_PASSWORD).
func unlock(ctx context.Context, d Deps) (config.Admin, error) {
	pw := ""
	if d.AdminPassword != nil {
		pw = d.AdminPassword()
	}
	return d.Repo.Unlock(ctx, pw)
}

// Run executes one command and returns the exit code.
func Run(ctx context.Context, args []string, d Deps) int {
	if d.Now == nil {
		d.Now = time.Now
	}
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(d.Stdout, text.T(usage))
		return 0
	}
	if len(args) == 0 || (len(args) < 2 && args[0] != "sync" && args[0] != "diagnose") {
		fmt.Fprint(d.Stderr, text.T(usage))
		return 2
	}
	var err error
	cmd := args[0]
	if cmd != "sync" && cmd != "diagnose" {
		cmd += " " + args[1]
	}
	switch cmd {
	case "sync":
		err = syncCmd(ctx, args[1:], d)
	case "diagnose":
		err = diagnoseCmd(ctx, args[1:], d)
	case "mail kommunikator":
		err = mailKommunikator(ctx, args[2:], d)
	case "mail testmail":
		err = mailTestmail(ctx, args[2:], d)
	case "mail retry":
		err = mailRetry(ctx, args[2:], d)
	case "auth login":
		err = authLogin(ctx, args[2:], d)
	case "auth status":
		err = authStatus(ctx, d)
	case "auth logout":
		err = authLogout(args[2:], d)
	case "config show":
		err = configShow(ctx, d)
	case "config entity":
		var admin config.Admin
		if len(args) > 2 && (args[2] == "set" || args[2] == "import" || args[2] == "certificate") {
			if admin, err = unlock(ctx, d); err != nil {
				break
			}
		}
		err = configEntity(ctx, args[2:], d, admin)
	case "config worker":
		err = configWorker(ctx, args[2:], d)
	case "config settings":
		var admin config.Admin
		if admin, err = unlock(ctx, d); err != nil {
			break
		}
		err = configSettings(ctx, args[2:], d, admin)
	case "admin password":
		err = adminPassword(ctx, args[2:], d)
	default:
		fmt.Fprint(d.Stderr, text.T(usage))
		return 2
	}
	if errors.Is(err, errHelp) { // --help of a command: the help, on stdout
		fmt.Fprint(d.Stdout, text.T(usage))
		return 0
	}
	if err != nil {
		var done silent
		if !errors.As(err, &done) {
			report(d.Stderr, err, cmd)
		}
		if errors.Is(err, errHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

type usageError string

// errHelp: the command was asked for its help (--help).
var errHelp = errors.New("help requested")

// parseError is a flag error as the person sees it.
func parseError(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return usageError(FlagError(fs, err))
}

// FlagError says a flag package error of fs in German, in one line, with
// the flag written as the help writes it (--name) and, for a value that
// does not parse, what the flag takes.
func FlagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return text.F("Unbekannte Angabe %s.", dashes(name))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return text.F("Bei %s fehlt der Wert.", dashes(name))
	}
	if rest, ok := strings.CutPrefix(msg, "invalid "); ok { // invalid value "x" for flag -f: reason; invalid boolean value …
		if i := strings.Index(rest, " for flag "); i >= 0 {
			value := rest[strings.Index(rest, `"`):i]
			name, reason, _ := strings.Cut(rest[i+len(" for flag "):], ": ")
			if strings.HasPrefix(reason, "parse error") || strings.HasPrefix(reason, "strconv.") || strings.Contains(reason, "invalid syntax") || strings.Contains(reason, "value out of range") || strings.HasPrefix(reason, "time: ") {
				reason = takes(fs, strings.TrimLeft(name, "-"))
			}
			return fmt.Sprintf("%s %s: %s", dashes(name), value, reason)
		}
	}
	return msg
}

// dashes writes a flag as the help does: -timeout → --timeout.
func dashes(name string) string { return "--" + strings.TrimLeft(name, "-") }

// takes says in German what a flag's value must look like.
func takes(fs *flag.FlagSet, name string) string {
	if fs != nil {
		if f := fs.Lookup(name); f != nil {
			switch f.Value.(flag.Getter).Get().(type) {
			case time.Duration:
				return text.T("keine Dauer; erwartet wird z. B. 30s, 2m oder 1h")
			case int, int64, uint, uint64:
				return text.T("keine ganze Zahl")
			case bool:
				return text.T("erwartet wird true oder false")
			}
		}
	}
	return text.T("keine gültige Angabe")
}

// synopsis is the part of the help that shows the command cmd (e.g.
// "config worker" or "sync"): its lines and their continuations. Empty
// when the help has no such command.
func synopsis(cmd string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(text.T(usage), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		switch {
		case strings.Contains(line, "kanzleisync "+cmd+" ") || strings.HasSuffix(line, "kanzleisync "+cmd):
			in = true
		case in && indent >= 10 && !strings.HasPrefix(trimmed, "kanzleisync "):
		default:
			in = false
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func (u usageError) Error() string { return string(u) }

// report prints an error the way a person can act on it; after a usage
// error, the help's lines of cmd (e.g. "config worker") follow, not all of it.
func report(w io.Writer, err error, cmd string) {
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		fmt.Fprintln(w, text.T("Die Eingaben sind nicht gültig:"))
		for _, f := range ve.Fields {
			fmt.Fprintf(w, "  – %s\n", f.Message)
		}
		return
	}
	var nf *config.NotFoundError
	if errors.As(err, &nf) {
		if nf.Kind == "worker" {
			fmt.Fprintln(w, text.F("Der Sachbearbeiter „%s“ ist auf diesem Rechner nicht eingerichtet: „kanzleisync config show“ zeigt die eingerichteten, „kanzleisync config worker set“ richtet ihn ein.", nf.Name))
		} else {
			fmt.Fprintln(w, text.F("Die Entität „%s“ ist auf diesem Rechner nicht eingerichtet: „kanzleisync config show“ zeigt die eingerichteten, „kanzleisync config entity set --name %q --tenant … --client-id …“ legt sie an.", nf.Name, nf.Name))
		}
		return
	}
	if errors.Is(err, config.ErrNotFound) {
		fmt.Fprintln(w, text.F("Nicht gefunden: %v", err))
		return
	}
	if errors.Is(err, errHelp) {
		fmt.Fprint(w, text.T(usage))
		return
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "%s\n", ue)
		if syn := synopsis(cmd); syn != "" {
			fmt.Fprintf(w, "%s\n%s", text.T("Aufruf:"), syn)
		}
		fmt.Fprintln(w, text.T("Alle Befehle: kanzleisync help"))
		return
	}
	attrs := []any{"error", err.Error()}
	if cause := errors.Unwrap(err); cause != nil {
		attrs = append(attrs, "cause", cause.Error())
	}
	slog.Default().Warn("command failed", attrs...)
	fmt.Fprintln(w, core.Explain(err, config.Entity{}, ""))
}

func newFlags(name string, d Deps) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// the error comes back from Parse and is reported once, in German,
	// with the help (usageError): the flag package's own English usage
	// would say it twice
	fs.SetOutput(io.Discard)
	return fs
}

// silent is an error that was already reported in full.
type silent struct{ error }

// Usage is the help text of every command.
func Usage() string { return text.T(usage) }
