package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"kanzleisync/app/text"
)

// FieldError is one invalid field, with a German message that says what is expected.
type FieldError struct {
	Field   string // e.g. "clientId"
	Message string // German, for the user
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every invalid field of one object.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Message
	}
	return strings.Join(msgs, " ")
}

func (e *ValidationError) add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: text.F(format, args...)})
}

func (e *ValidationError) err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// FieldMessage returns the message for one field of a validation error, or "".
func FieldMessage(err error, field string) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			if f.Field == field {
				return f.Message
			}
		}
	}
	return ""
}

// maxSecretLifetime is the longest a client secret may live (Azure: 24 months).
const maxSecretLifetime = 24

// Validate checks an entity; now is used for the secret's expiry date.
func (e Entity) Validate(now time.Time) error {
	var v ValidationError
	if strings.TrimSpace(e.Name) == "" {
		v.add("name", "Bitte einen Namen für die Entität eingeben, z. B. „Kanzlei Müller & Partner“.")
	} else {
		v.checkText("name", text.Mark("Der Name der Entität"), e.Name, maxEntityName)
	}
	switch {
	case !v.checkText("tenant", text.Mark("Die Verzeichnis-ID"), e.Tenant, maxHostName):
	case strings.TrimSpace(e.Tenant) == "":
		v.add("tenant", "Bitte die Verzeichnis-ID aus der Übersicht der App-Registrierung im Azure-Portal eingeben: eine GUID wie 6f1c2b7e-3d4a-4e59-9a1b-2c3d4e5f6a7b oder eine Domäne wie kanzlei.onmicrosoft.com.")
	case IsGUID(e.Tenant) || domainRE.MatchString(e.Tenant):
	case strings.EqualFold(e.Tenant, "common") || strings.EqualFold(e.Tenant, "organizations"):
		v.add("tenant", "„%s“ ist keine Verzeichnis-ID. Die App ist für einen einzelnen Mandanten registriert: bitte die Verzeichnis-ID (GUID) oder die Domäne des Mandanten eingeben.", e.Tenant)
	default:
		v.add("tenant", "Die Verzeichnis-ID muss eine GUID sein, z. B. 6f1c2b7e-3d4a-4e59-9a1b-2c3d4e5f6a7b, oder eine Domäne wie kanzlei.onmicrosoft.com.")
	}
	if v.checkText("clientId", text.Mark("Die Anwendungs-ID"), e.ClientID, 36) && !IsGUID(e.ClientID) {
		v.add("clientId", "Die Anwendungs-ID muss eine GUID sein, z. B. 1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b (Azure-Portal: App-Registrierung, „Übersicht“).")
	}
	if !e.SecretExpires.IsZero() && e.SecretExpires.After(now.AddDate(0, maxSecretLifetime, 1)) {
		v.add("secretExpires", "Ein geheimer Clientschlüssel gilt höchstens 24 Monate. Bitte das Ablaufdatum so eintragen, wie es im Azure-Portal unter „Zertifikate & Geheimnisse“ steht.")
	}
	for _, h := range []struct{ field, label, value, example string }{
		{"authorityHost", text.Mark("Die Anmeldeadresse"), e.AuthorityHost, "https://login.microsoftonline.com"},
		{"graphEndpoint", text.Mark("Die Graph-Adresse"), e.GraphEndpoint, "https://graph.microsoft.com"},
	} {
		if h.value != "" && v.checkText(h.field, h.label, h.value, maxURL) && !validHost(h.value) {
			v.add(h.field, "Die Adresse muss mit https:// beginnen und darf keinen Pfad haben, z. B. %s.", h.example)
		}
	}
	if e.CachePath != "" {
		v.checkText("cachePath", text.Mark("Der Pfad des Caches"), e.CachePath, maxPath)
	}
	return v.err()
}

// validHost accepts https://host[:port], and http:// only for loopback
// (the built-in emulator).
func validHost(s string) bool {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		ip := net.ParseIP(u.Hostname())
		return u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
	}
	return false
}

// ValidateSecret checks a client secret value before it goes into the keyring.
func ValidateSecret(secret string) error {
	var v ValidationError
	s := strings.TrimSpace(secret)
	switch {
	case s == "":
		v.add("secret", "Bitte den Wert des geheimen Clientschlüssels eingeben (Azure-Portal: „Zertifikate & Geheimnisse“, Spalte „Wert“).")
	case IsGUID(s):
		v.add("secret", "Das ist die Geheimnis-ID, nicht der Wert. Im Azure-Portal unter „Zertifikate & Geheimnisse“ bitte den Eintrag aus der Spalte „Wert“ kopieren – er wird nur direkt nach dem Anlegen angezeigt.")
	case s != secret:
		v.add("secret", "Der geheime Clientschlüssel beginnt oder endet mit Leerzeichen. Bitte ohne Leerzeichen einfügen.")
	case len(s) > 1000:
		v.add("secret", "Der geheime Clientschlüssel ist zu lang. Bitte nur den Wert kopieren.")
	default:
		// The portal's values are printable ASCII (letters, digits, ~ . _ -);
		// anything else is a copying accident: a typographic quote, a
		// non-breaking space, a line break, a text in another encoding.
		for i, r := range s {
			if r < '!' || r > '~' {
				v.add("secret", "Der geheime Clientschlüssel enthält an Stelle %d ein Zeichen, das in Schlüsseln aus dem Azure-Portal nicht vorkommt (dort nur Buchstaben, Ziffern und ~ . _ -). Bitte den Wert erneut aus der Spalte „Wert“ kopieren.", utf8.RuneCountInString(s[:i])+1)
				break
			}
		}
	}
	return v.err()
}

// Validate checks a worker. entities are the names of the known entities.
func (w Worker) Validate(entities []string) error {
	var v ValidationError
	if v.checkText("upn", text.Mark("Der Benutzername (UPN)"), w.UPN, maxUPN) && !emailRE.MatchString(w.UPN) {
		v.add("upn", "Der Benutzername (UPN) muss die Form einer E-Mail-Adresse haben, z. B. anna.mueller@kanzlei.de.")
	}
	if strings.TrimSpace(w.DisplayName) == "" {
		v.add("displayName", "Bitte den Namen des Sachbearbeiters eingeben.")
	} else {
		v.checkText("displayName", text.Mark("Der Name des Sachbearbeiters"), w.DisplayName, maxDisplayName)
	}
	found := false
	for _, e := range entities {
		if e == w.Entity {
			found = true
		}
	}
	if !found && v.checkText("entity", text.Mark("Der Name der Entität"), w.Entity, maxEntityName) {
		if w.Entity == "" {
			v.add("entity", "Bitte die Entität wählen, zu der der Sachbearbeiter gehört.")
		} else {
			v.add("entity", "Die Entität „%s“ gibt es nicht. Bitte zuerst die Entität anlegen.", w.Entity)
		}
	}
	seen := map[Module]bool{}
	for _, m := range w.Modules {
		switch m {
		case Calendar, Contacts, Tasks, Mail:
		default:
			v.add("modules", "Unbekanntes Modul „%s“. Möglich sind: calendar (Kalender), contacts (Kontakte), tasks (Aufgaben), mail (Mail).", m)
		}
		if seen[m] {
			v.add("modules", "Das Modul %s ist doppelt angegeben.", m.Label())
		}
		seen[m] = true
	}
	addrs := map[string]bool{}
	for i, a := range w.Accounts {
		if err := a.Validate(); err != nil {
			var ae *ValidationError
			if errors.As(err, &ae) {
				for _, f := range ae.Fields {
					v.add(fmt.Sprintf("accounts[%d].%s", i, f.Field), text.T("Konto %s: %s"), a.Address, f.Message)
				}
			}
		}
		key := strings.ToLower(a.Address)
		if addrs[key] {
			v.add(fmt.Sprintf("accounts[%d].address", i), text.T("Das Konto %s ist doppelt angegeben."), a.Address)
		}
		addrs[key] = true
	}
	return v.err()
}

// Validate checks a mail account.
func (a MailAccount) Validate() error {
	var v ValidationError
	if v.checkText("address", text.Mark("Die Adresse des Postfachs"), a.Address, maxAddress) && !emailRE.MatchString(a.Address) {
		v.add("address", "Die Adresse des Postfachs muss eine E-Mail-Adresse sein, z. B. kanzlei@kanzlei.de.")
	}
	if a.Mailbox != MainMailbox && a.Mailbox != ArchiveMailbox {
		v.add("mailbox", "Das Postfach ist entweder „main“ (Hauptpostfach) oder „archive“ (Archivpostfach).")
	}
	if a.Transport != POP3SMTP && a.Transport != GraphMail {
		v.add("transport", "Der Zugang ist entweder „pop3smtp“ (POP3 und SMTP) oder „graph“ (Microsoft Graph).")
	}
	if a.Transport == POP3SMTP {
		if !validServer(a.POP3Host) {
			v.add("pop3Host", "Der POP3-Server muss ein Rechnername sein, z. B. outlook.office365.com.")
		}
		if !validServer(a.SMTPHost) {
			v.add("smtpHost", "Der SMTP-Server muss ein Rechnername sein, z. B. smtp.office365.com.")
		}
		if a.POP3Port < 1 || a.POP3Port > 65535 {
			v.add("pop3Port", "Der POP3-Port muss zwischen 1 und 65535 liegen (Exchange Online: 995).")
		}
		if a.SMTPPort < 1 || a.SMTPPort > 65535 {
			v.add("smtpPort", "Der SMTP-Port muss zwischen 1 und 65535 liegen (Exchange Online: 587).")
		}
		if a.POP3TLS != TLSImplicit && a.POP3TLS != TLSStartTLS {
			v.add("pop3Tls", "Die Verschlüsselung für POP3 ist „implicit“ (TLS, Port 995) oder „starttls“ (Port 110).")
		}
	}
	if a.LeaveDays < KeepOnServer || a.LeaveDays > 3650 {
		v.add("leaveDays", "„Kopie auf dem Server lassen“ ist eine Zahl von Tagen zwischen 0 und 3650, oder „immer“.")
	}
	if a.GraphMoveTo != "" && v.checkText("graphMoveTo", text.Mark("Der Ordner für abgeholte Nachrichten"), a.GraphMoveTo, maxFolderName) &&
		(strings.TrimSpace(a.GraphMoveTo) != a.GraphMoveTo || strings.ContainsAny(a.GraphMoveTo, "/\\")) {
		v.add("graphMoveTo", "Der Ordner, in den abgeholte Nachrichten verschoben werden, ist ein Ordnername ohne „/“ (höchstens 255 Zeichen), z. B. „Von kanzleisync abgeholt“; leer lässt sie im Posteingang.")
	}
	if a.DropDir != "" && v.checkText("dropDir", text.Mark("Der Pfad der Mail-Ablage"), a.DropDir, maxPath) && !filepath.IsAbs(a.DropDir) {
		v.add("dropDir", "Die Mail-Ablage braucht einen vollständigen Pfad, z. B. C:\\Kanzlei\\Mail\\anna.")
	}
	return v.err()
}

// Validate checks the firm settings.
func (s Settings) Validate() error {
	var v ValidationError
	if s.DeadlinesTo != "todo" && s.DeadlinesTo != "calendar" {
		v.add("deadlinesTo", "Fristen und Wiedervorlagen gehen entweder nach „todo“ (Microsoft To Do) oder in den „calendar“ (Kalender).")
	}
	if s.DeadlinesTo == "todo" && strings.TrimSpace(s.TodoListName) == "" {
		v.add("todoListName", "Bitte einen Namen für die Aufgabenliste in To Do eingeben, z. B. „Fristen und Wiedervorlagen“.")
	}
	v.checkText("todoListName", text.Mark("Der Name der Aufgabenliste"), s.TodoListName, maxFolderName)
	if s.BodyFormat != "html" && s.BodyFormat != "text" {
		v.add("bodyFormat", "Texte werden entweder als „html“ oder als „text“ übertragen.")
	}
	if p := s.ScopeProbe; p != "" && v.checkText("scopeProbe", text.Mark("Das Prüfpostfach"), p, maxAddress) && (strings.Count(p, "@") != 1 || strings.ContainsAny(p, " ,;") || strings.HasPrefix(p, "@") || strings.HasSuffix(p, "@")) {
		v.add("scopeProbe", "Das Prüfpostfach für den Zugriffsbereich ist die Adresse eines Postfachs, das keinem Sachbearbeiter gehört, z. B. inhaberin@kanzlei.de.")
	}
	if s.MaxMessageMB < 0 || s.MaxMessageMB > MaxMessageMBLimit {
		v.add("maxMessageMB", "Die größte Nachricht liegt zwischen 1 und %d MB (Exchange Online: 35 MB, sofern die IT die Grenze der Postfächer nicht erhöht hat); 0 heißt 35 MB.", MaxMessageMBLimit)
	}
	for _, l := range []struct{ field, addr, name, example string }{
		{"localPop3", s.LocalPOP3Addr(), "POP3", DefaultLocalPOP3}, {"localSmtp", s.LocalSMTPAddr(), "SMTP", DefaultLocalSMTP}} {
		if l.addr == "" {
			continue
		}
		host, port, err := net.SplitHostPort(l.addr)
		n, perr := strconv.Atoi(port)
		if ip := net.ParseIP(host); err != nil || perr != nil || n < 0 || n > 65535 || ip == nil || !ip.IsLoopback() {
			v.add(l.field, "Der lokale %s-Server für den Kommunikator hat eine Adresse wie %s (nur diese Maschine; Port 1 bis 65535, 0 für einen freien), oder „aus“.", l.name, l.example)
		}
	}
	for _, d := range []struct {
		field, label, value string
		subject             bool
	}{
		{"terminBetreff", text.Mark("Der Betreff der Termine"), s.AppointmentSubject, true},
		{"terminOrt", text.Mark("Der Ort der Termine"), s.AppointmentLocation, false},
		{"terminText", text.Mark("Der Text der Termine"), s.AppointmentBody, false},
		{"fristBetreff", text.Mark("Der Betreff der Fristen"), s.DeadlineSubject, true},
		{"fristText", text.Mark("Der Text der Fristen"), s.DeadlineBody, false},
		{"wvBetreff", text.Mark("Der Betreff der Wiedervorlagen"), s.ResubmissionSubject, true},
		{"wvText", text.Mark("Der Text der Wiedervorlagen"), s.ResubmissionBody, false},
	} {
		fixed, isText := strings.CutPrefix(d.value, DiscloseText)
		switch {
		case d.value == DiscloseFull, d.value == "voll", d.value == DiscloseFileNo, d.value == DiscloseNone && !d.subject:
		case isText && d.subject:
			if strings.TrimSpace(fixed) == "" {
				v.add(d.field, "%s: nach „text:“ fehlt der feste Text, z. B. text:Gerichtstermin.", text.T(d.label))
			} else {
				v.checkText(d.field, d.label, fixed, maxFolderName)
			}
		case d.subject:
			v.add(d.field, "%s ist „voll“ (wie in der Kanzleisoftware), „aktenzeichen“ (Aktenzeichen statt Mandant) oder ein fester Text wie „text:Gerichtstermin“.", text.T(d.label))
		default:
			v.add(d.field, "%s ist „voll“ (wie in der Kanzleisoftware), „aktenzeichen“ (Aktenzeichen statt Mandant) oder „leer“.", text.T(d.label))
		}
	}
	for _, sa := range []struct{ field, label, value string }{
		{"fristAnzeigenAls", text.Mark("Fristen im Kalender"), s.DeadlineShowAs},
		{"wvAnzeigenAls", text.Mark("Wiedervorlagen im Kalender"), s.ResubmissionShowAs},
	} {
		switch sa.value {
		case "", "free", "busy", "oof":
		default:
			v.add(sa.field, "%s zeigen den Tag als „free“ (frei), „busy“ (beschäftigt) oder „oof“ (abwesend).", text.T(sa.label))
		}
	}
	if s.ConfidentialSubject != "" {
		v.checkText("vertraulichBetreff", text.Mark("Der Betreff vertraulicher Termine"), s.ConfidentialSubject, maxFolderName)
	}
	if s.KeepTakenDays < 0 || s.KeepTakenDays > 3650 {
		v.add("keepTakenDays", "Abgeholte Nachrichten behält kanzleisync zwischen 1 und 3650 Tagen; 0 heißt 30 Tage.")
	}
	if s.ExportServer != "" && v.checkText("exportServer", text.Mark("Die Adresse des kanzleisync-Servers"), s.ExportServer, maxURL) {
		u, err := url.Parse(s.ExportServer)
		host := ""
		if err == nil {
			host = u.Hostname()
		}
		ip := net.ParseIP(host)
		if err != nil || u.Scheme != "http" || u.Port() == "" || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			v.add("exportServer", "Die Adresse des kanzleisync-Servers hat die Form http://127.0.0.1:9465 (der Statusdienst des Servers antwortet nur auf derselben Maschine).")
		}
	}
	return v.err()
}

// validServer: a host name, an IP address or localhost.
func validServer(host string) bool {
	if len(host) > maxHostName {
		return false
	}
	return domainRE.MatchString(host) || net.ParseIP(host) != nil || host == "localhost"
}
