package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/text"
)

// adminPassword sets the administrator password, read from the first line
// of the standard input (the current one, when set, from
// KANZLEISYNC_ADMIN_PASSWORD).
func adminPassword(ctx context.Context, args []string, d Deps) error {
	if len(args) == 0 || args[0] != "set" {
		return usageError("admin password: set?")
	}
	line, err := bufio.NewReader(d.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return text.Errorf("Bitte das neue Administratorpasswort als erste Zeile der Standardeingabe angeben.")
	}
	old := ""
	if d.AdminPassword != nil {
		old = d.AdminPassword()
	}
	if err := d.Repo.SetAdminPassword(ctx, old, strings.TrimRight(line, "\r\n")); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, text.T("Administratorpasswort gespeichert."))
	return nil
}

// fileError is a file the command could not read or write, in German; the
// cause stays in the log.
type fileError struct {
	path  string
	write bool
	err   error
}

func (e *fileError) Error() string {
	verb := text.T("gelesen")
	if e.write {
		verb = text.T("geschrieben")
	}
	switch {
	case errors.Is(e.err, os.ErrNotExist):
		return text.F("Die Datei %s gibt es nicht.", e.path)
	case errors.Is(e.err, os.ErrPermission):
		return text.F("Die Datei %s darf von diesem Benutzer nicht %s werden.", e.path, verb)
	}
	return text.F("Die Datei %s kann nicht %s werden (Einzelheiten in der Protokolldatei kanzleisync.log).", e.path, verb)
}

func (e *fileError) Unwrap() error { return e.err }

func configShow(ctx context.Context, d Deps) error {
	ents, err := d.Repo.Entities(ctx)
	if err != nil {
		return err
	}
	for _, e := range ents {
		expiry := text.T("Ablaufdatum nicht eingetragen (--secret-expires)")
		if !e.SecretExpires.IsZero() {
			expiry = text.F("läuft ab am %s", e.SecretExpires.German())
		}
		secret := text.F("nicht hinterlegt – eintragen mit: kanzleisync config entity set --name %s --secret-stdin", strconv.Quote(e.Name))
		if d.Auth != nil {
			if ok, err := d.Auth.HasClientSecret(e.Name); err != nil {
				secret = text.F("Schlüsselspeicher nicht lesbar (%s)", core.Explain(err, e, ""))
			} else if ok {
				secret = text.T("im Schlüsselspeicher hinterlegt")
			}
		}
		cache := e.CachePath
		if cache == "" {
			cache = text.T("nicht eingetragen – ohne sie gibt es keine Synchronisation (--cache DATEI, auf jedem Arbeitsplatz)")
		}
		fmt.Fprintf(d.Stdout, text.T("Entität „%s“: Verzeichnis-ID %s, Anwendungs-ID %s, Anmeldedienst %s, Graph %s\n"),
			e.Name, e.Tenant, e.ClientID, e.AuthorityHost, e.GraphEndpoint)
		cert, certErr := (*auth.Certificate)(nil), error(nil)
		if d.Auth != nil {
			cert, certErr = d.Auth.Certificate(e.Name)
		}
		switch {
		case certErr == nil && cert != nil:
			fmt.Fprint(d.Stdout, text.F("  Zertifikat: im Schlüsselspeicher hinterlegt, gültig bis %s (Fingerabdruck %s); es wird statt eines geheimen Clientschlüssels verwendet\n",
				cert.Cert.NotAfter.Local().Format("02.01.2006"), cert.Thumbprint()))
		case !errors.Is(certErr, auth.ErrNoCertificate):
			fmt.Fprint(d.Stdout, text.F("  Zertifikat: nicht lesbar (%s)\n", core.Explain(certErr, e, "")))
		default:
			fmt.Fprintf(d.Stdout, text.T("  Geheimer Clientschlüssel: %s, %s\n"), secret, expiry)
		}
		fmt.Fprintf(d.Stdout, text.T("  Cache der Kanzleisoftware: %s\n"), cache)
		if p := d.Repo.Policy(); p.LockedEntity(e.Name) {
			fmt.Fprint(d.Stdout, text.F("  Vorgegeben von der IT: %s\n", p.Path))
		}
	}
	workers, err := d.Repo.Workers(ctx)
	if err != nil {
		return err
	}
	for _, w := range workers {
		var mods []string
		for _, m := range w.Modules {
			mods = append(mods, m.Label())
		}
		fmt.Fprintf(d.Stdout, text.T("Sachbearbeiter %s (%s), Entität „%s“, Module: %s\n"), w.DisplayName, w.UPN, w.Entity, strings.Join(mods, ", "))
		for _, a := range w.Accounts {
			fmt.Fprintf(d.Stdout, text.T("  Konto %s (%s, %s): %s\n"), a.Address, a.Mailbox, a.Transport, serverCopy(a))
			if a.DropDir != "" {
				fmt.Fprintf(d.Stdout, "    Mail-Ablage: %s\n", a.DropDir)
			}
		}
	}
	s, err := d.Repo.Settings(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Stdout, text.T("Fristen und Wiedervorlagen: %s (Liste „%s“), Texte als %s, Outlook-Änderungen am Text behalten: %s\n"),
		s.DeadlinesTo, s.TodoListName, s.BodyFormat, map[bool]string{true: text.T("ja"), false: text.T("nein")}[s.KeepOutlookBodyEdits])
	fmt.Fprint(d.Stdout, text.F("Schnittstelle aktiv: %s\n", map[bool]string{true: text.T("ja"), false: text.T("nein – es wird nichts nach Microsoft 365 geschrieben")}[s.InterfaceActive]))
	fmt.Fprint(d.Stdout, text.F("Was die Kanzlei verlässt: Termine Betreff %s, Ort %s, Text %s; Fristen Betreff %s, Text %s; Wiedervorlagen Betreff %s, Text %s; vertrauliche Termine %s (privat); Kontakte %s\n",
		shown(s.AppointmentSubject), shown(s.AppointmentLocation), shown(s.AppointmentBody), shown(s.DeadlineSubject), shown(s.DeadlineBody),
		shown(s.ResubmissionSubject), shown(s.ResubmissionBody), confidentialShown(s), contactsShown(s)))
	if a := s.LocalPOP3Addr(); a != "" {
		fmt.Fprintf(d.Stdout, text.T("Kommunikator: POP3-Server %s (ohne Verschlüsselung, nur auf diesem Rechner); Benutzer ist die Mailadresse, das Passwort zeigt „Konten verwalten“ → „Passwort kopieren“\n"), a)
	} else {
		fmt.Fprintln(d.Stdout, text.T("Kommunikator: kein lokaler POP3-Server (--local-pop3 aus)"))
	}
	if a := s.LocalSMTPAddr(); a != "" {
		fmt.Fprintf(d.Stdout, text.T("Kommunikator: SMTP-Server %s für den Postausgang (Konten über POP3/SMTP; Anmeldung wie beim POP3-Server), Nachrichten bis %d MB\n"), a, s.MaxMessageBytes()>>20)
	}
	return nil
}

func configEntity(ctx context.Context, args []string, d Deps, admin config.Admin) error {
	if len(args) == 0 {
		return usageError(text.T("config entity: set, export, import oder certificate?"))
	}
	if args[0] == "certificate" {
		return configCertificate(ctx, args[1:], d, admin)
	}
	fs := newFlags("config entity "+args[0], d)
	name := fs.String("name", "", text.T("Name der Entität"))
	file := fs.String("file", "", text.T("Datei"))
	fs.String("tenant", "", text.T("Verzeichnis-ID (GUID oder Domäne)"))
	fs.String("client-id", "", "Anwendungs-ID (GUID)")
	expires := fs.String("secret-expires", "", text.T("Ablaufdatum des geheimen Clientschlüssels"))
	fs.String("authority-host", "", "Anmeldedienst (nationale Clouds)")
	fs.String("cache", "", text.T("Cache-Datei der Kanzleisoftware auf diesem Arbeitsplatz"))
	fs.String("graph-endpoint", "", text.T("Graph-Adresse (nationale Clouds)"))
	secretStdin := fs.Bool("secret-stdin", false, text.T("geheimen Clientschlüssel von der Standardeingabe lesen"))
	removeCreds := fs.Bool("remove-credentials", false, text.T("Zertifikat und geheimen Clientschlüssel auf diesem Rechner entfernen (Arbeitsplatz einer App-Registrierung als öffentlicher Client)"))
	if err := fs.Parse(args[1:]); err != nil {
		return parseError(fs, err)
	}
	switch args[0] {
	case "set":
		// an existing entity keeps what the command does not name: changing
		// the cache path must not reset the cloud endpoints or the expiry
		e, err := d.Repo.Entity(ctx, *name)
		if err != nil {
			e = config.Entity{Name: *name}
		}
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for flagName, field := range map[string]*string{"tenant": &e.Tenant, "client-id": &e.ClientID, "authority-host": &e.AuthorityHost,
			"graph-endpoint": &e.GraphEndpoint, "cache": &e.CachePath} {
			if given[flagName] {
				*field = fs.Lookup(flagName).Value.String()
			}
		}
		if *expires != "" {
			date, err := config.ParseDate(*expires)
			if err != nil {
				v := &config.ValidationError{Fields: []config.FieldError{{Field: "secretExpires", Message: text.T("Das Ablaufdatum muss ein Datum sein, z. B. 31.05.2028.")}}}
				return v
			}
			e.SecretExpires = date
		}
		var secret string
		if *secretStdin {
			b, err := io.ReadAll(io.LimitReader(d.Stdin, 4096))
			if err != nil {
				return text.Errorf("Der geheime Clientschlüssel konnte nicht von der Standardeingabe gelesen werden: %w", err)
			}
			secret = strings.TrimRight(string(b), "\r\n")
			if secret == "" {
				return config.ValidateSecret(secret)
			}
		}
		if *removeCreds && *secretStdin {
			return usageError(text.T("--remove-credentials und --secret-stdin schließen sich aus"))
		}
		if err := d.Repo.ChangeEntity(ctx, admin, config.EntityChange{Entity: e, Secret: secret}, d.Auth); err != nil {
			return err
		}
		if *removeCreds {
			if err := d.Auth.RemoveCredentials(e.Name); err != nil {
				return err
			}
			fmt.Fprint(d.Stdout, text.T("Zertifikat und geheimer Clientschlüssel sind auf diesem Rechner entfernt; die Anmeldung läuft als öffentlicher Client. "))
		}
		fmt.Fprintf(d.Stdout, text.T("Entität „%s“ gespeichert."), e.Name)
		if *secretStdin {
			fmt.Fprint(d.Stdout, text.T(" Der geheime Clientschlüssel liegt im Schlüsselspeicher des Betriebssystems."))
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
		fmt.Fprintf(d.Stdout, text.T("Entität „%s“ nach %s exportiert (ohne geheimen Schlüssel).\n"), *name, *file)
	case "import":
		data, err := os.ReadFile(*file)
		if err != nil {
			return &fileError{path: *file, err: err}
		}
		e, err := d.Repo.ImportEntity(ctx, data)
		if err != nil {
			return err
		}
		fmt.Fprintf(d.Stdout, text.T("Entität „%s“ importiert. Bitte jetzt den geheimen Clientschlüssel eintragen:\n  kanzleisync config entity set --name %q --tenant %s --client-id %s --secret-stdin\n"), e.Name, e.Name, e.Tenant, e.ClientID)
	default:
		return usageError(text.T("config entity: set, export, import oder certificate?"))
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
				return text.Errorf("POP3: unbekannte Verschlüsselung %q (möglich: implicit, starttls)", tlsMode)
			}
		case strings.HasPrefix(p, "smtp="):
			host, port, err := hostPort(strings.TrimPrefix(p, "smtp="))
			if err != nil {
				return err
			}
			acc.SMTPHost, acc.SMTPPort = host, port
		case strings.HasPrefix(p, "drop="):
			dir := strings.TrimPrefix(p, "drop=")
			if !filepath.IsAbs(dir) {
				return text.Errorf("Die Mail-Ablage braucht einen vollständigen Pfad (drop=%s ist relativ)", dir)
			}
			acc.DropDir = dir
		case strings.HasPrefix(p, "leave="):
			v := strings.TrimPrefix(p, "leave=")
			if v == "immer" || v == "always" {
				acc.LeaveDays = config.KeepOnServer
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return text.Errorf("leave=%s: bitte eine Zahl von Tagen angeben (0: löschen, sobald der Kommunikator die Nachricht hat) oder „immer“", v)
			}
			acc.LeaveDays = n
		case strings.HasPrefix(p, "move="):
			acc.GraphMoveTo = strings.TrimPrefix(p, "move=")
		default:
			return text.Errorf("Unbekannte Angabe %q (möglich: main, archive, graph, pop3smtp, pop3=host:port[/starttls], smtp=host:port, drop=ORDNER, leave=TAGE|immer, move=ORDNER)", p)
		}
	}
	*a = append(*a, acc)
	return nil
}

func hostPort(v string) (string, int, error) {
	host, port, err := net.SplitHostPort(v)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || host == "" {
		return "", 0, text.Errorf("Die Angabe %q hat nicht die Form Server:Port", v)
	}
	if n < 1 || n > 65535 {
		return "", 0, text.Errorf("Der Port %d in %q liegt nicht zwischen 1 und 65535 (Exchange Online: POP3 995, SMTP 587)", n, v)
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
	entity := fs.String("entity", "", text.T("Entität"))
	modules := fs.String("modules", "calendar,contacts,tasks,mail", "Module")
	var accounts accountsFlag
	fs.Var(&accounts, "account", text.T("Mailkonto: adresse[,archive][,graph][,pop3=Server:Port[/starttls]][,smtp=Server:Port][,drop=ORDNER][,leave=TAGE|immer][,move=ORDNER] (mehrfach)"))
	if err := fs.Parse(args[1:]); err != nil {
		return parseError(fs, err)
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
	fmt.Fprintf(d.Stdout, text.T("Sachbearbeiter %s gespeichert. Anmelden mit: kanzleisync auth login --worker %s\n"), w.UPN, w.UPN)
	return nil
}

func configSettings(ctx context.Context, args []string, d Deps, admin config.Admin) error {
	if len(args) == 0 || args[0] != "set" {
		return usageError("config settings: set?")
	}
	s, err := d.Repo.Settings(ctx)
	if err != nil {
		return err
	}
	fs := newFlags("config settings set", d)
	fs.StringVar(&s.DeadlinesTo, "deadlines", s.DeadlinesTo, text.T("todo oder calendar"))
	fs.StringVar(&s.TodoListName, "todo-list", s.TodoListName, text.T("Name der Aufgabenliste"))
	fs.StringVar(&s.BodyFormat, "body", s.BodyFormat, text.T("html oder text"))
	fs.BoolVar(&s.KeepOutlookBodyEdits, "keep-outlook-edits", s.KeepOutlookBodyEdits, text.T("in Outlook geänderte Texte behalten"))
	fs.BoolVar(&s.TransferLogDebug, "debug-log", s.TransferLogDebug, text.T("Übertragungsprotokoll mit den Details jeder Graph-Anfrage"))
	fs.StringVar(&s.ExportServer, "export-server", s.ExportServer, text.T("Statusadresse eines kanzleisync serve auf dieser Maschine (leer: diese Installation exportiert)"))
	fs.IntVar(&s.KeepTakenDays, "keep-taken-days", s.KeepTakenDays, text.T("so viele Tage behält kanzleisync eine vom Kommunikator abgeholte Nachricht (0: 30)"))
	fs.StringVar(&s.ScopeProbe, "scope-probe", s.ScopeProbe, text.T("Postfach, das keinem Sachbearbeiter gehört: „Anbindung testen“ des Servers prüft, ob die App es lesen kann (leer: keins)"))
	fs.IntVar(&s.MaxMessageMB, "max-message-mb", s.MaxMessageMB, text.T("größte Nachricht, die der lokale SMTP-Server annimmt, in MB (0: 35 wie Exchange Online; höher nur, wenn die IT die Grenze der Postfächer erhöht hat)"))
	fs.StringVar(&s.LocalSMTP, "local-smtp", s.LocalSMTP, text.F("Adresse des lokalen SMTP-Servers für den Kommunikator (Voreinstellung %s; „aus“: keiner)", config.DefaultLocalSMTP))
	fs.StringVar(&s.LocalPOP3, "local-pop3", s.LocalPOP3, text.F("Adresse des lokalen POP3-Servers für den Kommunikator (Voreinstellung %s; „aus“: keiner)", config.DefaultLocalPOP3))
	wasActive := s.InterfaceActive
	fs.BoolVar(&s.InterfaceActive, "active", s.InterfaceActive, text.T("Schnittstelle aktiv: erst dann wird nach Microsoft 365 geschrieben"))
	confirm := fs.Bool("confirm", false, text.T("das Einschalten der Schnittstelle nach der Vorschau bestätigen"))
	for _, d := range []struct {
		name string
		v    *string
		help string
	}{
		{"termin-betreff", &s.AppointmentSubject, text.T("Betreff der Termine: voll, aktenzeichen (Aktenzeichen statt Mandant) oder text:FESTER TEXT")},
		{"termin-ort", &s.AppointmentLocation, text.T("Ort der Termine: voll, aktenzeichen oder leer")},
		{"termin-text", &s.AppointmentBody, text.T("Text der Termine: voll, aktenzeichen oder leer")},
		{"frist-betreff", &s.DeadlineSubject, text.T("Betreff der Fristen: voll, aktenzeichen (nur „Frist“ und Aktenzeichen) oder text:FESTER TEXT")},
		{"frist-text", &s.DeadlineBody, text.T("Text der Fristen: voll, aktenzeichen oder leer")},
		{"wv-betreff", &s.ResubmissionSubject, text.T("Betreff der Wiedervorlagen: voll, aktenzeichen oder text:FESTER TEXT")},
		{"wv-text", &s.ResubmissionBody, text.T("Text der Wiedervorlagen: voll, aktenzeichen oder leer")},
		{"vertraulich-betreff", &s.ConfidentialSubject, text.F("der ganze Text vertraulicher Termine (Voreinstellung „%s“)", config.DefaultConfidentialSubject)},
	} {
		fs.StringVar(d.v, d.name, *d.v, d.help)
	}
	fs.StringVar(&s.DeadlineShowAs, "frist-anzeigen-als", s.DeadlineShowAs, text.T("Fristen im Kalender zeigen den Tag als free (frei, Voreinstellung), busy (beschäftigt) oder oof (abwesend)"))
	fs.StringVar(&s.ResubmissionShowAs, "wv-anzeigen-als", s.ResubmissionShowAs, text.T("Wiedervorlagen im Kalender: free, busy oder oof"))
	fs.BoolVar(&s.ContactsWithoutNotes, "kontakte-ohne-notiz", s.ContactsWithoutNotes, text.T("Kontakte ohne die Notiz der Adresse"))
	fs.BoolVar(&s.ContactsWithoutPrivatePhones, "kontakte-ohne-privat", s.ContactsWithoutPrivatePhones, text.T("Kontakte ohne die private Telefonnummer"))
	showOnly := fs.Bool("preview", false, text.T("nur zeigen, wie Beispiele aus dem Cache mit diesen Einstellungen nach Microsoft 365 gingen; nichts speichern"))
	if err := fs.Parse(args[1:]); err != nil {
		return parseError(fs, err)
	}
	for _, v := range []*string{&s.AppointmentSubject, &s.AppointmentLocation, &s.AppointmentBody, &s.DeadlineSubject, &s.DeadlineBody, &s.ResubmissionSubject, &s.ResubmissionBody} {
		if *v == "voll" {
			*v = config.DiscloseFull
		}
	}
	if *showOnly {
		if err := s.Validate(); err != nil {
			return err
		}
		return printSamples(ctx, d, s)
	}
	if s.InterfaceActive && !wasActive {
		// Switching on shows once more what the first cycle will do.
		if err := printPreview(ctx, d, &s); err != nil {
			return err
		}
	}
	if err := d.Repo.ChangeSettings(ctx, admin, s, *confirm); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, text.T("Einstellungen gespeichert."))
	if s.InterfaceActive != wasActive {
		state := map[bool]string{true: text.T("eingeschaltet: die Synchronisation schreibt nach Microsoft 365"), false: text.T("ausgeschaltet: es wird nichts mehr nach Microsoft 365 geschrieben")}[s.InterfaceActive]
		fmt.Fprint(d.Stdout, text.F("Schnittstelle %s.\n", state))
	}
	return nil
}

// serverCopy says what happens to a fetched message on the server.
func serverCopy(a config.MailAccount) string {
	if a.Transport == config.GraphMail && a.GraphMoveTo == "" {
		return text.T("Nachrichten bleiben im Posteingang (kanzleisync kopiert sie)")
	}
	where := text.T("vom Server gelöscht")
	if a.Transport == config.GraphMail {
		where = text.F("in den Ordner „%s“ verschoben", a.GraphMoveTo)
	}
	switch {
	case a.LeaveDays == config.KeepOnServer:
		return text.T("Kopie bleibt immer auf dem Server")
	case a.LeaveDays > 0:
		return text.F("%d Tage, nachdem der Kommunikator sie abgeholt hat, %s", a.LeaveDays, where)
	}
	return text.F("sobald der Kommunikator sie abgeholt hat, %s", where)
}

// printSamples shows how the first items of the first entity's cache would
// leave the firm under s, without saving anything.
func printSamples(ctx context.Context, d Deps, s config.Settings) error {
	entity, samples, err := core.DisclosureSamples(ctx, d.Repo, s)
	if err != nil {
		return err
	}
	if entity == "" {
		fmt.Fprintln(d.Stdout, text.T("Keine Vorschau: für keine Entität ist der Cache der Kanzleisoftware eingetragen."))
		return nil
	}
	fmt.Fprintln(d.Stdout, text.F("So gingen Beispiele aus dem Cache der Entität „%s“ mit diesen Einstellungen nach Microsoft 365 (nichts gespeichert):", entity))
	for _, sm := range samples {
		fmt.Fprintln(d.Stdout, "  "+core.SampleLine(sm))
	}
	fmt.Fprintln(d.Stdout, text.T("Das sehen alle, die den Kalender oder die Aufgaben lesen dürfen (Stellvertretungen, freigegebene Kalender), jedes Telefon mit dem Postfach und Microsoft. Private Termine zeigt Outlook anderen nur als „Privater Termin“."))
	return nil
}

// shown is a disclosure setting as config show writes it.
func shown(d string) string {
	if d == config.DiscloseFull {
		return "voll"
	}
	return d
}

func contactsShown(s config.Settings) string {
	switch {
	case s.ContactsWithoutNotes && s.ContactsWithoutPrivatePhones:
		return text.T("ohne Notiz und private Telefonnummer")
	case s.ContactsWithoutNotes:
		return text.T("ohne Notiz")
	case s.ContactsWithoutPrivatePhones:
		return text.T("ohne private Telefonnummer")
	}
	return text.T("vollständig")
}

func confidentialShown(s config.Settings) string {
	if s.ConfidentialSubject == "" {
		return text.T("mit dem neutralen Standardtext")
	}
	return "„" + s.ConfidentialSubject + "“"
}
