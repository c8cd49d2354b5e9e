// Package cli is kanzleisync's command line for IT: configuring entities
// and case workers, and signing workers in and out. Output is German.
package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/store"
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

const usage = `kanzleisync – Befehle für die IT-Betreuung

  kanzleisync auth login  --worker UPN [--timeout 120s] [--no-browser]
  kanzleisync auth status
  kanzleisync auth logout --worker UPN

  kanzleisync sync --once [--preview] [--full] [--entity NAME] [--confirm-deletions]
                                     (--confirm-deletions führt zurückgehaltene Löschungen aus; Administratorpasswort nötig)
  kanzleisync mail testmail --worker UPN [--account ADRESSE] [--to ADRESSE]
  kanzleisync diagnose [--json]      (Anbindung testen; Exit-Code 0 nur, wenn alles grün ist)

  echo NEUES-PASSWORT | kanzleisync admin password set   (das bisherige in KANZLEISYNC_ADMIN_PASSWORD)

  Entität und Kanzlei-Einstellungen ändern nur Administratoren: Passwort in KANZLEISYNC_ADMIN_PASSWORD.

  kanzleisync config show
  kanzleisync config entity set --name NAME --tenant ID --client-id GUID [--secret-expires 31.05.2028]
                                 [--cache DATEI] [--authority-host URL] [--graph-endpoint URL] [--secret-stdin]
  kanzleisync config entity export --name NAME [--file DATEI]
  kanzleisync config entity import --file DATEI
  kanzleisync config worker set --upn UPN --name NAME --entity NAME --modules calendar,contacts,tasks,mail
                                 [--account adresse[,archive][,graph][,pop3=Server:Port[/starttls]][,smtp=Server:Port]] …
  kanzleisync config settings set [--deadlines todo|calendar] [--todo-list NAME] [--body html|text] [--keep-outlook-edits=true|false]
                                  [--active=true --confirm | --active=false]   (Schnittstelle aktiv; vorher wird nichts geschrieben)

Den geheimen Clientschlüssel nie als Argument angeben: --secret-stdin liest ihn von der Standardeingabe.
`

// requireAdmin checks the administrator password.
func requireAdmin(ctx context.Context, d Deps) error {
	pw := ""
	if d.AdminPassword != nil {
		pw = d.AdminPassword()
	}
	return d.Repo.CheckAdmin(ctx, pw)
}

// adminPassword sets the administrator password, read from the first line
// of the standard input (the current one, when set, from
// KANZLEISYNC_ADMIN_PASSWORD).
func adminPassword(ctx context.Context, args []string, d Deps) error {
	if len(args) == 0 || args[0] != "set" {
		return usageError("admin password: set?")
	}
	line, err := bufio.NewReader(d.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("Bitte das neue Administratorpasswort als erste Zeile der Standardeingabe angeben.")
	}
	old := ""
	if d.AdminPassword != nil {
		old = d.AdminPassword()
	}
	if err := d.Repo.SetAdminPassword(ctx, old, strings.TrimRight(line, "\r\n")); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, "Administratorpasswort gespeichert.")
	return nil
}

// Run executes one command and returns the exit code.
func Run(ctx context.Context, args []string, d Deps) int {
	if d.Now == nil {
		d.Now = time.Now
	}
	if len(args) == 0 || (len(args) < 2 && args[0] != "sync" && args[0] != "diagnose") {
		fmt.Fprint(d.Stderr, usage)
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
	case "mail testmail":
		err = mailTestmail(ctx, args[2:], d)
	case "auth login":
		err = authLogin(ctx, args[2:], d)
	case "auth status":
		err = authStatus(ctx, d)
	case "auth logout":
		err = authLogout(args[2:], d)
	case "config show":
		err = configShow(ctx, d)
	case "config entity":
		if len(args) > 2 && (args[2] == "set" || args[2] == "import") {
			if err = requireAdmin(ctx, d); err != nil {
				break
			}
		}
		err = configEntity(ctx, args[2:], d)
	case "config worker":
		err = configWorker(ctx, args[2:], d)
	case "config settings":
		if err = requireAdmin(ctx, d); err != nil {
			break
		}
		err = configSettings(ctx, args[2:], d)
	case "admin password":
		err = adminPassword(ctx, args[2:], d)
	default:
		fmt.Fprint(d.Stderr, usage)
		return 2
	}
	if err != nil {
		var done silent
		if !errors.As(err, &done) {
			report(d.Stderr, err)
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

func (u usageError) Error() string { return string(u) }

// report prints an error the way a person can act on it.
func report(w io.Writer, err error) {
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		fmt.Fprintln(w, "Die Eingaben sind nicht gültig:")
		for _, f := range ve.Fields {
			fmt.Fprintf(w, "  – %s\n", f.Message)
		}
		return
	}
	if errors.Is(err, config.ErrNotFound) {
		fmt.Fprintf(w, "Nicht gefunden: %v\n", err)
		return
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "%s\n\n%s", ue, usage)
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
	fs.SetOutput(d.Stderr)
	return fs
}

func authLogin(ctx context.Context, args []string, d Deps) error {
	fs := newFlags("auth login", d)
	upn := fs.String("worker", "", "UPN des Sachbearbeiters")
	timeout := fs.Duration("timeout", 120*time.Second, "wie lange auf die Anmeldung im Browser gewartet wird")
	noBrowser := fs.Bool("no-browser", false, "keinen Browser öffnen, nur die Adresse anzeigen")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	w, ent, err := workerAndEntity(ctx, d, *upn)
	if err != nil {
		return err
	}
	open := d.OpenBrowser
	if *noBrowser {
		open = func(string) error { return errors.New("no browser wanted") }
	}
	fmt.Fprintf(d.Stdout, "Anmeldung von %s bei Microsoft 365 (Entität „%s“) …\n", w.UPN, ent.Name)
	res, err := d.Auth.SignIn(ctx, w.UPN, auth.SignInOptions{Timeout: *timeout,
		OpenBrowser: func(u string) error {
			if open == nil {
				return errors.New("no browser")
			}
			if err := open(u); err != nil {
				return err
			}
			fmt.Fprintln(d.Stdout, "Der Browser wurde geöffnet. Bitte dort anmelden.")
			return nil
		},
		OfferURL: func(u string) {
			fmt.Fprintf(d.Stdout, "Bitte diese Adresse im Browser öffnen und anmelden:\n\n  %s\n\n", u)
		}})
	if err != nil {
		fmt.Fprintln(d.Stderr, auth.Explain(err, auth.Context{Entity: ent, UPN: w.UPN}).String())
		return silent{err}
	}
	fmt.Fprintf(d.Stdout, "Angemeldet als %s am %s. Der Zugriff läuft ab jetzt ohne weitere Anmeldung.\n",
		res.Account, res.SignedInAt.Local().Format("02.01.2006 um 15:04 Uhr"))
	return nil
}

// workerAndEntity reads the worker named by --worker and its entity.
func workerAndEntity(ctx context.Context, d Deps, upn string) (config.Worker, config.Entity, error) {
	if upn == "" {
		return config.Worker{}, config.Entity{}, usageError("--worker fehlt")
	}
	w, err := d.Repo.Worker(ctx, upn)
	if err != nil {
		return w, config.Entity{}, err
	}
	ent, err := d.Repo.Entity(ctx, w.Entity)
	return w, ent, err
}

// fileError is a file the command could not read or write, in German; the
// cause stays in the log.
type fileError struct {
	path  string
	write bool
	err   error
}

func (e *fileError) Error() string {
	verb := "gelesen"
	if e.write {
		verb = "geschrieben"
	}
	switch {
	case errors.Is(e.err, os.ErrNotExist):
		return fmt.Sprintf("Die Datei %s gibt es nicht.", e.path)
	case errors.Is(e.err, os.ErrPermission):
		return fmt.Sprintf("Die Datei %s darf von diesem Benutzer nicht %s werden.", e.path, verb)
	}
	return fmt.Sprintf("Die Datei %s kann nicht %s werden (Einzelheiten im Protokoll kanzleisync.log).", e.path, verb)
}

func (e *fileError) Unwrap() error { return e.err }

// silent is an error that was already reported in full.
type silent struct{ error }

func authStatus(ctx context.Context, d Deps) error {
	ents, err := d.Repo.Entities(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(d.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Entität\tVerzeichnis-ID\tAnwendungs-ID\tGeheimer Schlüssel\tläuft ab am")
	for _, e := range ents {
		has, err := d.Auth.HasClientSecret(e.Name)
		state := "nicht hinterlegt"
		switch {
		case err != nil:
			state = "nicht lesbar"
		case has:
			state = "hinterlegt"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Tenant, e.ClientID, state, e.SecretExpires.German())
	}
	tw.Flush()
	fmt.Fprintln(d.Stdout)
	workers, err := d.Repo.Workers(ctx)
	if err != nil {
		return err
	}
	tw = tabwriter.NewWriter(d.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Sachbearbeiter\tEntität\tAngemeldet\tLetzte Anmeldung\tLetzte Erneuerung\tModule")
	for _, w := range workers {
		signed := "nein"
		if ok, err := d.Auth.HasSignIn(w.UPN); err != nil {
			signed = "nicht lesbar"
		} else if ok {
			signed = "ja"
		}
		var mods []string
		for _, m := range w.Modules {
			mods = append(mods, m.German())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", w.UPN, w.Entity, signed, germanTime(w.LastSignIn), germanTime(w.LastRefresh), strings.Join(mods, ", "))
	}
	return tw.Flush()
}

func germanTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.Local().Format("02.01.2006 15:04")
}

func authLogout(args []string, d Deps) error {
	fs := newFlags("auth logout", d)
	upn := fs.String("worker", "", "UPN des Sachbearbeiters")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *upn == "" {
		return usageError("--worker fehlt")
	}
	if err := d.Auth.SignOut(*upn); err != nil {
		return err
	}
	fmt.Fprintf(d.Stdout, "%s ist abgemeldet; die Anmeldedaten wurden aus dem Schlüsselspeicher entfernt.\n", *upn)
	return nil
}

func configShow(ctx context.Context, d Deps) error {
	ents, err := d.Repo.Entities(ctx)
	if err != nil {
		return err
	}
	for _, e := range ents {
		e = e.WithDefaults()
		fmt.Fprintf(d.Stdout, "Entität „%s“: Verzeichnis-ID %s, Anwendungs-ID %s, Schlüssel läuft ab am %s, Anmeldedienst %s, Graph %s\n",
			e.Name, e.Tenant, e.ClientID, e.SecretExpires.German(), e.AuthorityHost, e.GraphEndpoint)
	}
	workers, err := d.Repo.Workers(ctx)
	if err != nil {
		return err
	}
	for _, w := range workers {
		var mods []string
		for _, m := range w.Modules {
			mods = append(mods, m.German())
		}
		fmt.Fprintf(d.Stdout, "Sachbearbeiter %s (%s), Entität „%s“, Module: %s\n", w.DisplayName, w.UPN, w.Entity, strings.Join(mods, ", "))
		for _, a := range w.Accounts {
			fmt.Fprintf(d.Stdout, "  Konto %s (%s, %s)\n", a.Address, a.Mailbox, a.Transport)
		}
	}
	s, err := d.Repo.Settings(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Stdout, "Fristen und Wiedervorlagen: %s (Liste „%s“), Texte als %s, Outlook-Änderungen am Text behalten: %v\n",
		s.DeadlinesTo, s.TodoListName, s.BodyFormat, s.KeepOutlookBodyEdits)
	fmt.Fprintf(d.Stdout, "Schnittstelle aktiv: %s\n", map[bool]string{true: "ja", false: "nein – es wird nichts nach Microsoft 365 geschrieben"}[s.InterfaceActive])
	return nil
}

func configEntity(ctx context.Context, args []string, d Deps) error {
	if len(args) == 0 {
		return usageError("config entity: set, export oder import?")
	}
	fs := newFlags("config entity "+args[0], d)
	name := fs.String("name", "", "Name der Entität")
	file := fs.String("file", "", "Datei")
	tenant := fs.String("tenant", "", "Verzeichnis-ID (GUID oder Domäne)")
	client := fs.String("client-id", "", "Anwendungs-ID (GUID)")
	expires := fs.String("secret-expires", "", "Ablaufdatum des geheimen Clientschlüssels")
	authority := fs.String("authority-host", "", "Anmeldedienst (nationale Clouds)")
	cachePath := fs.String("cache", "", "Cache-Datei der Kanzleisoftware auf diesem Arbeitsplatz")
	graph := fs.String("graph-endpoint", "", "Graph-Adresse (nationale Clouds)")
	secretStdin := fs.Bool("secret-stdin", false, "geheimen Clientschlüssel von der Standardeingabe lesen")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError(err.Error())
	}
	switch args[0] {
	case "set":
		e := config.Entity{Name: *name, Tenant: *tenant, ClientID: *client, AuthorityHost: *authority, GraphEndpoint: *graph, CachePath: *cachePath}
		if *expires != "" {
			date, err := config.ParseDate(*expires)
			if err != nil {
				v := &config.ValidationError{Fields: []config.FieldError{{Field: "secretExpires", Message: "Das Ablaufdatum muss ein Datum sein, z. B. 31.05.2028."}}}
				return v
			}
			e.SecretExpires = date
		}
		var secret string
		if *secretStdin {
			b, err := io.ReadAll(io.LimitReader(d.Stdin, 4096))
			if err != nil {
				return fmt.Errorf("read the secret: %w", err)
			}
			secret = strings.TrimRight(string(b), "\r\n")
			if err := config.ValidateSecret(secret); err != nil {
				return err
			}
		}
		if err := d.Repo.SaveEntity(ctx, e); err != nil {
			return err
		}
		if *secretStdin {
			if err := d.Auth.SetClientSecret(e.Name, secret); err != nil {
				return err
			}
		}
		fmt.Fprintf(d.Stdout, "Entität „%s“ gespeichert.", e.Name)
		if *secretStdin {
			fmt.Fprint(d.Stdout, " Der geheime Clientschlüssel liegt im Schlüsselspeicher des Betriebssystems.")
		}
		fmt.Fprintln(d.Stdout)
	case "export":
		data, err := d.Repo.ExportEntity(ctx, *name)
		if err != nil {
			return err
		}
		if *file == "" {
			fmt.Fprintln(d.Stdout, string(data))
			return nil
		}
		if err := os.WriteFile(*file, append(data, '\n'), 0o644); err != nil {
			return &fileError{path: *file, write: true, err: err}
		}
		fmt.Fprintf(d.Stdout, "Entität „%s“ nach %s exportiert (ohne geheimen Schlüssel).\n", *name, *file)
	case "import":
		data, err := os.ReadFile(*file)
		if err != nil {
			return &fileError{path: *file, err: err}
		}
		e, err := d.Repo.ImportEntity(ctx, data)
		if err != nil {
			return err
		}
		fmt.Fprintf(d.Stdout, "Entität „%s“ importiert. Bitte jetzt den geheimen Clientschlüssel eintragen:\n  kanzleisync config entity set --name %q --tenant %s --client-id %s --secret-stdin\n", e.Name, e.Name, e.Tenant, e.ClientID)
	default:
		return usageError("config entity: set, export oder import?")
	}
	return nil
}

type accountsFlag []config.MailAccount

func (a *accountsFlag) String() string { return fmt.Sprint(len(*a)) }

func (a *accountsFlag) Set(v string) error {
	parts := strings.Split(v, ",")
	acc := config.MailAccount{Address: strings.TrimSpace(parts[0])}
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		switch {
		case p == "archive" || p == "main":
			acc.Mailbox = p
		case p == "graph" || p == "pop3smtp":
			acc.Transport = p
		case strings.HasPrefix(p, "pop3="):
			hp, tlsMode, _ := strings.Cut(strings.TrimPrefix(p, "pop3="), "/")
			host, port, err := hostPort(hp)
			if err != nil {
				return err
			}
			acc.POP3Host, acc.POP3Port = host, port
			switch tlsMode {
			case "", config.TLSImplicit:
				acc.POP3TLS = config.TLSImplicit
			case config.TLSStartTLS:
				acc.POP3TLS = config.TLSStartTLS
			default:
				return fmt.Errorf("POP3: unbekannte Verschlüsselung %q (möglich: implicit, starttls)", tlsMode)
			}
		case strings.HasPrefix(p, "smtp="):
			host, port, err := hostPort(strings.TrimPrefix(p, "smtp="))
			if err != nil {
				return err
			}
			acc.SMTPHost, acc.SMTPPort = host, port
		default:
			return fmt.Errorf("Unbekannte Angabe %q (möglich: main, archive, graph, pop3smtp, pop3=host:port[/starttls], smtp=host:port)", p)
		}
	}
	*a = append(*a, acc)
	return nil
}

func hostPort(v string) (string, int, error) {
	host, port, err := net.SplitHostPort(v)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || host == "" || n <= 0 || n > 65535 {
		return "", 0, fmt.Errorf("Die Angabe %q hat nicht die Form Server:Port", v)
	}
	return host, n, nil
}

func configWorker(ctx context.Context, args []string, d Deps) error {
	if len(args) == 0 || args[0] != "set" {
		return usageError("config worker: set?")
	}
	fs := newFlags("config worker set", d)
	upn := fs.String("upn", "", "Benutzername (UPN)")
	name := fs.String("name", "", "Name")
	entity := fs.String("entity", "", "Entität")
	modules := fs.String("modules", "calendar,contacts,tasks,mail", "Module")
	var accounts accountsFlag
	fs.Var(&accounts, "account", "Mailkonto: adresse[,archive][,graph][,pop3=Server:Port[/starttls]][,smtp=Server:Port] (mehrfach)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError(err.Error())
	}
	w := config.Worker{UPN: *upn, DisplayName: *name, Entity: *entity, Accounts: accounts}
	for _, m := range strings.Split(*modules, ",") {
		if m = strings.TrimSpace(m); m != "" {
			w.Modules = append(w.Modules, config.Module(m))
		}
	}
	if err := d.Repo.SaveWorker(ctx, w); err != nil {
		return err
	}
	fmt.Fprintf(d.Stdout, "Sachbearbeiter %s gespeichert. Anmelden mit: kanzleisync auth login --worker %s\n", w.UPN, w.UPN)
	return nil
}

func configSettings(ctx context.Context, args []string, d Deps) error {
	if len(args) == 0 || args[0] != "set" {
		return usageError("config settings: set?")
	}
	s, err := d.Repo.Settings(ctx)
	if err != nil {
		return err
	}
	fs := newFlags("config settings set", d)
	fs.StringVar(&s.DeadlinesTo, "deadlines", s.DeadlinesTo, "todo oder calendar")
	fs.StringVar(&s.TodoListName, "todo-list", s.TodoListName, "Name der Aufgabenliste")
	fs.StringVar(&s.BodyFormat, "body", s.BodyFormat, "html oder text")
	fs.BoolVar(&s.KeepOutlookBodyEdits, "keep-outlook-edits", s.KeepOutlookBodyEdits, "in Outlook geänderte Texte behalten")
	fs.BoolVar(&s.TransferLogDebug, "debug-log", s.TransferLogDebug, "Übertragungsprotokoll mit den Details jeder Graph-Anfrage")
	fs.StringVar(&s.ExportServer, "export-server", s.ExportServer, "Statusadresse eines kanzleisync serve auf dieser Maschine (leer: diese Installation exportiert)")
	wasActive := s.InterfaceActive
	fs.BoolVar(&s.InterfaceActive, "active", s.InterfaceActive, "Schnittstelle aktiv: erst dann wird nach Microsoft 365 geschrieben")
	confirm := fs.Bool("confirm", false, "das Einschalten der Schnittstelle nach der Vorschau bestätigen")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError(err.Error())
	}
	if s.InterfaceActive && !wasActive {
		// Switching on shows once more what the first cycle will do.
		if err := printPreview(ctx, d); err != nil {
			return err
		}
		if !*confirm {
			return fmt.Errorf("Die Schnittstelle wurde nicht eingeschaltet. Nach Prüfung der Vorschau mit --active=true --confirm bestätigen.")
		}
	}
	if err := d.Repo.SaveSettings(ctx, s); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, "Einstellungen gespeichert.")
	if s.InterfaceActive != wasActive {
		state := map[bool]string{true: "eingeschaltet: der Abgleich schreibt nach Microsoft 365", false: "ausgeschaltet: es wird nichts mehr nach Microsoft 365 geschrieben"}[s.InterfaceActive]
		fmt.Fprintln(d.Stdout, "Schnittstelle "+state+".")
	}
	return nil
}

// printPreview prints what the next cycle of every entity would do.
func printPreview(ctx context.Context, d Deps) error {
	out, err := core.Preview(ctx, d.Repo, d.Store, d.Auth)
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(d.Stdout, "Vorschau %s: %s\n", k, out[k])
	}
	if err != nil {
		slog.Default().Warn("preview failed", "error", err.Error())
		fmt.Fprintf(d.Stderr, "Vorschau: %s\n", core.Explain(err, config.Entity{}, ""))
	}
	return nil
}

// syncCmd runs one export cycle (or its preview) for every entity.
func syncCmd(ctx context.Context, args []string, d Deps) error {
	fs := newFlags("sync", d)
	once := fs.Bool("once", false, "einen Abgleich ausführen und beenden")
	preview := fs.Bool("preview", false, "nur anzeigen, was der Abgleich täte")
	full := fs.Bool("full", false, "auch prüfen, was in Microsoft 365 gelöscht wurde")
	only := fs.String("entity", "", "nur diese Entität")
	confirm := fs.Bool("confirm-deletions", false, "zurückgehaltene Löschungen ausführen (Administratorpasswort in KANZLEISYNC_ADMIN_PASSWORD)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if !*once {
		return usageError("sync: bitte --once angeben (der laufende Abgleich gehört zur Tray-Anwendung)")
	}
	if *confirm && *preview {
		return usageError("sync: --confirm-deletions und --preview schließen sich aus")
	}
	ents, err := d.Repo.Entities(ctx)
	if err != nil {
		return err
	}
	if *confirm {
		if err := confirmDeletions(ctx, d, *only); err != nil {
			return err
		}
	}
	installation, err := d.Store.InstallationID(ctx)
	if err != nil {
		return err
	}
	var failed error
	for _, e := range ents {
		if *only != "" && e.Name != *only {
			continue
		}
		r := &export.Runner{Entity: e.Name, Repo: d.Repo, Store: d.Store, Installation: installation,
			Tokens: func(upn string) graph.TokenSource { return d.Auth.Graph(upn) }}
		if *full {
			r.FullEvery = time.Nanosecond
		}
		out, err := r.Cycle(ctx, *preview)
		verb := "Abgleich"
		if *preview || errors.Is(err, export.ErrInactive) {
			verb = "Vorschau"
		}
		upns := make([]string, 0, len(out))
		for upn := range out {
			upns = append(upns, upn)
		}
		sort.Strings(upns)
		for _, upn := range upns {
			fmt.Fprintf(d.Stdout, "%s %s (%s): %s\n", verb, upn, e.Name, out[upn])
		}
		if !*preview {
			if err := listHeld(ctx, d, upns); err != nil {
				return err
			}
		}
		if errors.Is(err, export.ErrInactive) {
			fmt.Fprintln(d.Stderr, export.ErrInactive.Error())
			failed = silent{err}
			continue
		}
		if err != nil {
			slog.Default().Warn("sync failed", "entity", e.Name, "error", err.Error())
			fmt.Fprintf(d.Stderr, "Entität „%s“: %s\n", e.Name, core.Explain(err, e, ""))
			failed = silent{err}
		}
	}
	return failed
}

// confirmDeletions releases the held deletions of an entity's workers (of
// every worker without one) after checking the administrator password.
func confirmDeletions(ctx context.Context, d Deps, entity string) error {
	if err := requireAdmin(ctx, d); err != nil {
		return err
	}
	var upns []string
	if entity != "" {
		workers, err := d.Repo.Workers(ctx)
		if err != nil {
			return err
		}
		for _, w := range workers {
			if w.Entity == entity {
				upns = append(upns, w.UPN)
			}
		}
		if len(upns) == 0 {
			return nil
		}
	}
	n, err := d.Store.ReleaseHeldDeletions(ctx, "Kommandozeile", d.Now(), upns...)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(d.Stdout, "Es waren keine Löschungen zurückgehalten.")
	} else {
		fmt.Fprintf(d.Stdout, "%d zurückgehaltene Löschung(en) freigegeben; der Abgleich führt sie jetzt aus, soweit sie noch anstehen.\n", n)
	}
	return nil
}

// listHeld prints what the cycle held back, up to 20 items per worker.
func listHeld(ctx context.Context, d Deps, upns []string) error {
	for _, upn := range upns {
		held, err := d.Store.HeldDeletions(ctx, upn)
		if err != nil {
			return err
		}
		if len(held) == 0 {
			continue
		}
		export.SortHeld(held)
		fmt.Fprintf(d.Stdout, "  Zurückgehaltene Löschungen für %s (%d):\n", upn, len(held))
		for i, h := range held {
			if i == 20 {
				fmt.Fprintf(d.Stdout, "    … und %d weitere\n", len(held)-20)
				break
			}
			fmt.Fprintf(d.Stdout, "    – %s\n", export.HeldLabel(h))
		}
	}
	return nil
}

func diagnoseCmd(ctx context.Context, args []string, d Deps) error {
	fs := newFlags("diagnose", d)
	asJSON := fs.Bool("json", false, "das Ergebnis als JSON ausgeben")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	reports, err := core.DiagnoseAll(ctx, core.NewDiagnoser(d.Repo, d.Auth, d.MailTLS, d.Now))
	if err != nil {
		return err
	}
	ok := true
	for _, r := range reports {
		ok = ok && r.OK()
	}
	if *asJSON {
		enc := json.NewEncoder(d.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"ok": ok, "reports": reports}); err != nil {
			return err
		}
	} else {
		for _, r := range reports {
			fmt.Fprintf(d.Stdout, "%s\n", r.Subject)
			tw := tabwriter.NewWriter(d.Stdout, 2, 4, 2, ' ', 0)
			for _, c := range r.Checks {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Status, c.Name, c.Detail)
				if c.Fix != "" {
					fmt.Fprintf(tw, "  \t\t→ %s\n", c.Fix)
				}
			}
			tw.Flush()
			if !r.OK() && r.ConsentURL != "" {
				fmt.Fprintf(d.Stdout, "  Administratorzustimmung: %s\n", r.ConsentURL)
			}
			fmt.Fprintln(d.Stdout)
		}
	}
	if !ok {
		return silent{errors.New("diagnose: not every module is green")}
	}
	return nil
}

func mailTestmail(ctx context.Context, args []string, d Deps) error {
	fs := newFlags("mail testmail", d)
	upn := fs.String("worker", "", "UPN des Sachbearbeiters")
	address := fs.String("account", "", "Mailkonto (ohne Angabe: das erste des Sachbearbeiters)")
	to := fs.String("to", "", "Empfänger (ohne Angabe: das Konto selbst)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	w, ent, err := workerAndEntity(ctx, d, *upn)
	if err != nil {
		return err
	}
	var acc *config.MailAccount
	for i := range w.Accounts {
		if *address == "" || strings.EqualFold(w.Accounts[i].Address, *address) {
			acc = &w.Accounts[i]
			break
		}
	}
	switch {
	case acc == nil && *address == "":
		return fmt.Errorf("Der Sachbearbeiter %s hat kein Mailkonto; anlegen mit: kanzleisync config worker set --upn %s … --account ADRESSE", w.UPN, w.UPN)
	case acc == nil:
		return fmt.Errorf("Der Sachbearbeiter %s hat kein Mailkonto %s; anlegen mit: kanzleisync config worker set --upn %s … --account %s", w.UPN, *address, w.UPN, *address)
	}
	a := acc.WithDefaults()
	rep := core.SendTestMail(ctx, d.Auth, d.MailTLS, ent, w, a, *to)
	fmt.Fprintf(d.Stdout, "Testmail von %s:\n%s", a.Address, rep.Text())
	if rep.Err != nil {
		return silent{rep.Err}
	}
	return nil
}
