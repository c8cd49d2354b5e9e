// Package diagnose is "Anbindung testen": for an entity (application
// permissions) and for a signed-in case worker (delegated), each module is
// probed with a harmless real Graph call and the permissions in the token
// are compared with what the module needs.
package diagnose

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/graph"
	"kanzleisync/app/mail"
	"kanzleisync/app/text"
)

// Status is the colour of a module's dot.
type Status string

const (
	Grey   Status = "grau" // module not switched on
	Green  Status = "grün" // works
	Yellow Status = "gelb" // works, but needs attention soon
	Red    Status = "rot"  // fails
)

// wireNames are the statuses in JSON (diagnose --json, /health): English
// words that scripts can rely on, whatever the language of the reader.
var wireNames = map[Status]string{Grey: "grey", Green: "green", Yellow: "yellow", Red: "red"}

// MarshalJSON writes the status's wire name.
func (s Status) MarshalJSON() ([]byte, error) {
	if n, ok := wireNames[s]; ok {
		return json.Marshal(n)
	}
	return json.Marshal(string(s))
}

// UnmarshalJSON reads a wire name, and the German names an older
// kanzleisync serve wrote.
func (s *Status) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Status(v)
	for st, n := range wireNames {
		if n == v {
			*s = st
		}
	}
	return nil
}

// Label is the status's colour in the current language, written beside
// the dot so that the state does not depend on seeing colours.
func (s Status) Label() string {
	switch s {
	case Grey:
		return text.T("grau")
	case Green:
		return text.T("grün")
	case Yellow:
		return text.T("gelb")
	case Red:
		return text.T("rot")
	}
	return string(s)
}

// Check is one line of the report.
type Check struct {
	Name   string `json:"name"`   // German label: Kalender, Kontakte, …
	Status Status `json:"status"` // grau, grün, gelb, rot
	Detail string `json:"detail"` // what was checked, or what failed, in plain German
	Fix    string `json:"fix,omitempty"`
	// Tech is the technical detail for IT and support (request, server
	// reply, address): under „Details“ in the window, on the command line.
	Tech string `json:"technical,omitempty"`
}

// Report is the result for one entity or one case worker.
type Report struct {
	Subject string  `json:"subject"` // "Entität Kanzlei" or the worker's UPN
	Checks  []Check `json:"checks"`
	// ConsentURL is where an administrator grants missing permissions.
	ConsentURL string `json:"consentUrl,omitempty"`
}

// OK reports whether every switched-on module is green.
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status != Green && c.Status != Grey {
			return false
		}
	}
	return true
}

// Diagnoser runs the checks. The token functions are the auth.Manager's.
type Diagnoser struct {
	Repo        *config.Repo
	GraphTokens func(upn string) graph.TokenSource
	AppTokens   func(entity string) graph.TokenSource
	// OutlookTokens give the worker's token for POP and SMTP; MailTLS the
	// trusted roots of the mail servers (nil: the system's).
	OutlookTokens func(upn string) graph.TokenSource
	MailTLS       *tls.Config
	Now           func() time.Time
	// RedirectURI is sent with the admin-consent URL.
	RedirectURI string
	// SecretHint gives the first three characters of the entity's stored
	// client secret, which Microsoft shows as the secret's "hint"; with it
	// the secret's end date is read from the application object.
	SecretHint func(entity string) string
	// CertificateEnd gives the end date of the entity's stored certificate
	// credential (zero: none); with one, it is rated instead of the secret.
	// CertificateID is its SHA-1 thumbprint as Graph names an uploaded
	// certificate (keyCredential.customKeyIdentifier).
	CertificateEnd func(entity string) time.Time
	CertificateID  func(entity string) string
}

type probe struct {
	module    config.Module
	name      string
	delegated string // scope in scp
	app       string // role in roles
	path      string // after /users/{upn}
	// optional: without the permission the module works, with less
	// (yellow, not red), and it does not count for "no permission at all"
	optional string // German: what is missing without it
}

var probes = []probe{
	{config.Calendar, text.Mark("Kalender"), "Calendars.ReadWrite", "Calendars.ReadWrite", "/events?$top=1&$select=id", ""},
	{config.Calendar, text.Mark("Kategorienfarben"), "MailboxSettings.ReadWrite", "MailboxSettings.ReadWrite", "/outlook/masterCategories?$top=1",
		text.Mark("Fristen, Wiedervorlagen und die Kategorien der Termine erscheinen in Outlook ohne Farbe; alles andere wird übertragen.")},
	{config.Contacts, text.Mark("Kontakte"), "Contacts.ReadWrite", "Contacts.ReadWrite", "/contacts?$top=1&$select=id", ""},
	{config.Tasks, text.Mark("Aufgaben"), "Tasks.ReadWrite", "Tasks.ReadWrite.All", "/todo/lists", ""},
	{config.Mail, text.Mark("Mail lesen"), "Mail.ReadWrite", "Mail.ReadWrite", "/mailFolders/inbox", ""},
	{config.Mail, text.Mark("Mail senden"), "Mail.Send", "Mail.Send", "", ""}, // sending is checked by "Testmail senden"
}

func (d *Diagnoser) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Worker checks a signed-in case worker's delegated access.
func (d *Diagnoser) Worker(ctx context.Context, upn string) (Report, error) {
	w, err := d.Repo.Worker(ctx, upn)
	if err != nil {
		return Report{}, err
	}
	ent, err := d.Repo.Entity(ctx, w.Entity)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Subject: w.UPN, ConsentURL: ent.AdminConsentURL(d.RedirectURI)}
	d.run(ctx, &rep, ent, w.UPN, w.Modules, d.GraphTokens(w.UPN), false)
	if w.Has(config.Mail) && d.OutlookTokens != nil {
		d.mailChecks(ctx, &rep, ent, w)
	}
	return rep, nil
}

// mailChecks signs in to POP3 and SMTP for every POP3/SMTP account of the
// worker: nothing is fetched, deleted or sent.
func (d *Diagnoser) mailChecks(ctx context.Context, rep *Report, ent config.Entity, w config.Worker) {
	var tok string
	var tokErr error
	var granted []string
	for _, acc := range w.Accounts {
		if acc.Transport != config.POP3SMTP {
			continue
		}
		if tok == "" && tokErr == nil {
			// a fresh token, not a cached one: a revoked sign-in or a
			// withdrawn consent shows at once
			t, err := d.OutlookTokens(w.UPN).Renew(ctx)
			if tokErr = err; err == nil {
				tok, granted = t.AccessToken, permissions(t.AccessToken, false)
			}
		}
		pop, sub := mail.Endpoints(acc, d.MailTLS)
		for _, k := range []struct {
			name, scope string
			probe       func(context.Context, mail.Account, string) (string, error)
			a           mail.Account
		}{{"POP3 " + acc.Address, "POP.AccessAsUser.All", mail.ProbePOP3, pop}, {"SMTP " + acc.Address, "SMTP.Send", mail.ProbeSMTP, sub}} {
			c := Check{Name: k.name}
			switch {
			case tokErr != nil:
				a := auth.Explain(tokErr, auth.Context{Entity: ent, UPN: w.UPN})
				c.Status, c.Detail, c.Fix = Red, a.Problem, a.Fix
			case !slices.Contains(granted, k.scope):
				c.Status, c.Detail = Red, text.F("Berechtigung %s fehlt im Token.", k.scope)
				c.Fix = text.F("Ein Administrator muss der Berechtigung %s (Office 365 Exchange Online) zustimmen; danach den Sachbearbeiter neu anmelden.", k.scope)
			default:
				detail, err := k.probe(ctx, k.a, tok)
				if errors.Is(err, mail.ErrInUse) { // the server accepted the token; a fetch holds the mailbox
					c.Status, c.Detail, c.Tech = Green, text.T("Anmeldung angenommen (das Postfach wurde gerade abgerufen)"), k.a.Addr
				} else if err != nil {
					c.Status, c.Detail, c.Fix, c.Tech = Red, text.F("Anmeldung am %s-Server gescheitert.", strings.Fields(k.name)[0]), mailFix(err), k.a.Addr+": "+err.Error()
				} else {
					c.Status, c.Detail, c.Tech = Green, detail, k.a.Addr
				}
			}
			rep.Checks = append(rep.Checks, c)
		}
	}
}

func mailFix(err error) string {
	var se *mail.SendError
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknownCA) || errors.As(err, &badHost) || errors.As(err, &verify):
		return text.T("Dem Zertifikat des Mailservers vertraut dieser Rechner nicht (ein falscher Servername, oder ein Proxy bzw. Virenscanner der Firma, der verschlüsselte Verbindungen aufbricht). Den Servernamen des Kontos prüfen; bei einem solchen Proxy dessen Stammzertifikat im Zertifikatspeicher von Windows hinterlegen.")
	case errors.As(err, &se):
		return se.Advice()
	case errors.Is(err, mail.ErrAuthFailed):
		return text.T("Der POP3-Server hat die Anmeldung abgelehnt. Im Microsoft 365 Admin Center beim Benutzer unter „E-Mail“ → „E-Mail-Apps verwalten“ POP einschalten; ist es eingeschaltet, den Sachbearbeiter neu anmelden.")
	}
	return text.T("Den Server und den Port des Kontos prüfen (Exchange Online: outlook.office365.com:995 und smtp.office365.com:587) und ob die Firewall sie erlaubt.")
}

// Entity checks the entity's client secret and its application permissions,
// probed on the mailbox of the entity's first case worker.
func (d *Diagnoser) Entity(ctx context.Context, name string) (Report, error) {
	ent, err := d.Repo.Entity(ctx, name)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Subject: text.F("Entität %s", ent.Name), ConsentURL: ent.AdminConsentURL(d.RedirectURI)}
	if end := d.certificateEnd(ent.Name); !end.IsZero() {
		rep.Checks = append(rep.Checks, d.certificateCheck(ctx, ent, end))
	} else {
		rep.Checks = append(rep.Checks, d.secretCheck(ctx, ent))
	}
	workers, err := d.Repo.Workers(ctx)
	if err != nil {
		return Report{}, err
	}
	var modules []config.Module
	upn := ""
	for _, w := range workers {
		if w.Entity != ent.Name {
			continue
		}
		if upn == "" {
			upn = w.UPN
		}
		for _, m := range w.Modules {
			if !slices.Contains(modules, m) {
				modules = append(modules, m)
			}
		}
	}
	if upn == "" {
		rep.Checks = append(rep.Checks, Check{Name: text.T("Sachbearbeiter"), Status: Red, Detail: text.T("Der Entität ist kein Sachbearbeiter zugeordnet."),
			Fix: text.T("Unter „Einstellungen“ einen Sachbearbeiter mit seinen Modulen anlegen.")})
		return rep, nil
	}
	d.run(ctx, &rep, ent, upn, modules, d.AppTokens(ent.Name), true)
	if set, err := d.Repo.Settings(ctx); err == nil && set.ScopeProbe != "" && !slices.ContainsFunc(workers, func(w config.Worker) bool { return strings.EqualFold(w.UPN, set.ScopeProbe) }) {
		rep.Checks = append(rep.Checks, d.scopeCheck(ctx, ent, set.ScopeProbe))
	}
	return rep, nil
}

// scopeCheck tries the app's permissions on a mailbox that is no
// Sachbearbeiter's: readable means they reach every mailbox of the tenant
// (no RBAC for Applications scope, or an extra tenant-wide grant).
func (d *Diagnoser) scopeCheck(ctx context.Context, ent config.Entity, probe string) Check {
	c := Check{Name: text.T("Zugriffsbereich")}
	p := graph.NewPacer()
	p.MaxAttempts = 2
	r := graph.New(ent.GraphEndpoint, d.AppTokens(ent.Name), graph.Options{Pacer: p}).Do(ctx,
		graph.Request{Method: http.MethodGet, URL: "/users/" + url.PathEscape(probe) + "/events?$top=1&$select=id"})
	var ge *graph.Error
	switch {
	case r.Err == nil:
		c.Status = Yellow
		c.Detail = text.F("Zugriff auf alle Postfächer des Mandanten: die App liest auch das Postfach von %s, das keinem Sachbearbeiter gehört.", probe)
		c.Fix = text.T("Die Anwendungsberechtigungen mit RBAC for Applications auf die Postfächer der Kanzlei beschränken und die mandantenweite Zustimmung dieser Berechtigungen in Entra ID entfernen (docs/server.md).")
		c.Tech = fmt.Sprintf("GET …/users/%s/events → %d", probe, r.Status)
	case errors.As(r.Err, &ge) && (ge.Status == http.StatusForbidden || ge.Status == http.StatusNotFound):
		c.Status = Green
		c.Detail = text.F("auf die Postfächer der Kanzlei beschränkt (%s ist nicht lesbar). To Do lässt sich nicht beschränken: Tasks.ReadWrite.All gilt für den ganzen Mandanten.", probe)
		c.Tech = r.Err.Error()
	case temporary(r):
		c.Status, c.Detail = Yellow, text.T("Microsoft 365 ist gerade ausgelastet oder nicht erreichbar – wird automatisch wiederholt.")
		c.Tech = r.Err.Error()
	default:
		c.Status, c.Detail, c.Tech = Grey, text.T("nicht geprüft: die Anwendungsberechtigungen funktionieren noch nicht (oben)"), r.Err.Error()
	}
	return c
}

// certificateUploaded looks for the stored certificate among the
// registration's keyCredentials, when the app may read its registration.
func (d *Diagnoser) certificateUploaded(ctx context.Context, ent config.Entity) bool {
	if d.AppTokens == nil || d.CertificateID == nil {
		return false
	}
	id := d.CertificateID(ent.Name)
	r := graph.New(ent.GraphEndpoint, d.AppTokens(ent.Name), graph.Options{}).Do(ctx,
		graph.Request{Method: http.MethodGet, URL: "/applications(appId='" + url.PathEscape(ent.ClientID) + "')?$select=keyCredentials"})
	if r.Err != nil {
		return false
	}
	var app struct {
		KeyCredentials []struct {
			CustomKeyIdentifier string `json:"customKeyIdentifier"`
		} `json:"keyCredentials"`
	}
	if json.Unmarshal(r.Body, &app) != nil {
		return false
	}
	for _, k := range app.KeyCredentials {
		if k.CustomKeyIdentifier == id {
			return true
		}
	}
	return false
}

func (d *Diagnoser) certificateEnd(entity string) time.Time {
	if d.CertificateEnd == nil {
		return time.Time{}
	}
	return d.CertificateEnd(entity)
}

// certificateCheck rates the certificate credential's end date, read from
// the certificate itself: nothing to type, nothing to get wrong.
func (d *Diagnoser) certificateCheck(ctx context.Context, ent config.Entity, end time.Time) Check {
	c := Check{Name: text.T("Zertifikat")}
	// reading the registration needs the app token, which needs the
	// uploaded certificate: a missing upload shows as Entra's AADSTS700027
	// on the app's sign-in line; found here, it is confirmed
	if d.certificateUploaded(ctx, ent) {
		c.Tech = text.T("bei Microsoft hochgeladen (keyCredentials)")
	}
	date := end.Local().Format("02.01.2006")
	unused := ""
	if d.SecretHint != nil && d.SecretHint(ent.Name) != "" {
		unused = text.T(" Der ebenfalls hinterlegte geheime Clientschlüssel wird nicht verwendet.")
	}
	switch days := DaysUntil(d.now(), config.Date{Time: end}); {
	case days < 0 || !d.now().Before(end):
		c.Status, c.Detail = Red, text.F("abgelaufen am %s (laut Zertifikat)", date)+unused
		c.Fix = text.T("Ein neues anlegen (kanzleisync config entity certificate create), im Azure-Portal hochladen und das alte dort entfernen.")
	case days < 30:
		c.Status, c.Detail = Yellow, text.F("läuft am %s ab (%s, laut Zertifikat)", date, inDays(days))+unused
		c.Fix = text.T("Rechtzeitig ein neues anlegen (kanzleisync config entity certificate create) und im Azure-Portal hochladen; das alte erst danach entfernen.")
	default:
		c.Status, c.Detail = Green, text.F("gültig bis %s (laut Zertifikat)", date)+unused
	}
	return c
}

// secretCheck rates the client secret's expiry. When the app registration
// may read its own application object, the end date comes from Microsoft
// (the passwordCredential whose hint matches the stored secret) and a
// manually entered date that disagrees is flagged; otherwise the entered
// date is the source.
func (d *Diagnoser) secretCheck(ctx context.Context, ent config.Entity) Check {
	c := Check{Name: text.T("Geheimer Clientschlüssel")}
	expires, source := ent.SecretExpires, text.T("eingetragen")
	fromMS, msNote := d.secretEndFromMicrosoft(ctx, ent)
	if !fromMS.IsZero() {
		expires, source = fromMS, text.T("laut Microsoft")
	}
	if d.SecretHint != nil && d.SecretHint(ent.Name) == "" && ent.SecretExpires.IsZero() && fromMS.IsZero() {
		c.Status, c.Detail = Grey, text.T("weder Zertifikat noch geheimer Clientschlüssel auf diesem Rechner – richtig für einen Arbeitsplatz, wenn die App-Registrierung ein öffentlicher Client ist")
		return c
	}
	if expires.IsZero() {
		c.Status, c.Detail = Yellow, text.F("Ablaufdatum nicht eingetragen.%s", msNote)
		c.Fix = text.T("Das Ablaufdatum aus dem Azure-Portal (App-Registrierung → Zertifikate & Geheimnisse) unter „Einstellungen“ eintragen, damit kanzleisync rechtzeitig warnt.")
		return c
	}
	days := DaysUntil(d.now(), expires)
	pol := d.secretPolicy(ctx, ent)
	renew := text.T("Im Azure-Portal einen neuen geheimen Clientschlüssel anlegen und unter „Einstellungen“ eintragen.")
	if pol.maxDays > 0 {
		renew = text.Nf(pol.maxDays, "Im Azure-Portal einen neuen geheimen Clientschlüssel anlegen (die Richtlinie des Mandanten erlaubt höchstens %d Tag Laufzeit) und unter „Einstellungen“ eintragen.",
			"Im Azure-Portal einen neuen geheimen Clientschlüssel anlegen (die Richtlinie des Mandanten erlaubt höchstens %d Tage Laufzeit) und unter „Einstellungen“ eintragen.")
	}
	if pol.blocked {
		// a new secret would be refused: the way out is the certificate
		renew = text.F("Die App-Verwaltungsrichtlinie des Mandanten lässt keine neuen geheimen Clientschlüssel zu, der Schlüssel lässt sich also nicht erneuern. Auf ein Zertifikat umstellen: kanzleisync config entity certificate create --name %q, die .cer-Datei im Azure-Portal hochladen, dann Anbindung testen.", ent.Name)
	}
	switch {
	case !expires.After(d.now()):
		c.Status, c.Detail = Red, text.F("abgelaufen am %s (%s)", expires.German(), source)
		c.Fix = renew
	case days < 30:
		c.Status, c.Detail = Yellow, text.F("läuft am %s ab (%s, %s)", expires.German(), inDays(days), source)
		c.Fix = text.F("Rechtzeitig: %s", renew)
		if pol.blocked {
			c.Fix = renew
		}
	default:
		c.Status, c.Detail = Green, text.F("gültig bis %s (%s)", expires.German(), source)
		if pol.blocked {
			c.Detail += text.T("; die Richtlinie des Mandanten lässt keine neuen geheimen Clientschlüssel zu – vor dem Ablauf auf ein Zertifikat umstellen")
		}
	}
	c.Detail += msNote
	c.Tech = pol.tech
	if !fromMS.IsZero() && fromMS.String() != ent.SecretExpires.String() {
		if c.Status == Green {
			c.Status = Yellow
		}
		entered := text.T("kein Datum")
		if !ent.SecretExpires.IsZero() {
			entered = ent.SecretExpires.German()
		}
		c.Fix = strings.TrimSpace(c.Fix + text.F(" Das eingetragene Ablaufdatum (%s) weicht vom Datum bei Microsoft (%s) ab: unter „Einstellungen“ → „Entität“ %s eintragen.",
			entered, fromMS.German(), fromMS.German()))
	}
	return c
}

// secretPolicyState is what the tenant's app-management policy says about
// client secrets, when the app may read it (Policy.Read.All).
type secretPolicyState struct {
	blocked bool   // restriction passwordAddition: no new secrets
	maxDays int    // restriction passwordLifetime, 0: none
	tech    string // for „Details“
}

// secretPolicy reads GET /policies/defaultAppManagementPolicy. Most app
// registrations may not (403): then nothing is known and nothing is said
// beyond a note under „Details“.
func (d *Diagnoser) secretPolicy(ctx context.Context, ent config.Entity) secretPolicyState {
	if d.AppTokens == nil || d.SecretHint == nil || d.SecretHint(ent.Name) == "" {
		return secretPolicyState{}
	}
	c := graph.New(ent.GraphEndpoint, d.AppTokens(ent.Name), graph.Options{})
	r := c.Do(ctx, graph.Request{Method: http.MethodGet, URL: "/policies/defaultAppManagementPolicy"})
	if r.Err != nil {
		if r.Status == http.StatusForbidden {
			return secretPolicyState{tech: text.T("App-Verwaltungsrichtlinie des Mandanten nicht lesbar (Policy.Read.All fehlt)")}
		}
		return secretPolicyState{}
	}
	var pol struct {
		IsEnabled    bool `json:"isEnabled"`
		Restrictions struct {
			Passwords []struct {
				Type        string `json:"restrictionType"`
				State       string `json:"state"`
				MaxLifetime string `json:"maxLifetime"`
			} `json:"passwordCredentials"`
		} `json:"applicationRestrictions"`
	}
	if json.Unmarshal(r.Body, &pol) != nil || !pol.IsEnabled {
		return secretPolicyState{tech: text.T("App-Verwaltungsrichtlinie des Mandanten: keine Einschränkung für geheime Clientschlüssel")}
	}
	var st secretPolicyState
	for _, p := range pol.Restrictions.Passwords {
		if !strings.EqualFold(p.State, "enabled") {
			continue
		}
		switch p.Type {
		case "passwordAddition":
			st.blocked = true
		case "passwordLifetime":
			st.maxDays = isoDays(p.MaxLifetime)
		}
	}
	switch {
	case st.blocked:
		st.tech = text.T("App-Verwaltungsrichtlinie des Mandanten: neue geheime Clientschlüssel verboten (passwordAddition)")
	case st.maxDays > 0:
		st.tech = text.F("App-Verwaltungsrichtlinie des Mandanten: geheime Clientschlüssel höchstens %d Tage (passwordLifetime)", st.maxDays)
	}
	return st
}

// isoDays reads the days of an ISO 8601 duration such as P90D or
// P1Y (365 days); 0 when it cannot.
func isoDays(s string) int {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "P") {
		return 0
	}
	days, n := 0, 0
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			n = n*10 + int(r-'0')
		case r == 'Y':
			days, n = days+365*n, 0
		case r == 'M':
			days, n = days+30*n, 0
		case r == 'W':
			days, n = days+7*n, 0
		case r == 'D':
			days, n = days+n, 0
		case r == 'T':
			return days // hours and less do not make a day
		default:
			return 0
		}
	}
	return days
}

// secretEndFromMicrosoft reads the end date of the stored secret from the
// application object; zero with a note when that is not possible.
func (d *Diagnoser) secretEndFromMicrosoft(ctx context.Context, ent config.Entity) (config.Date, string) {
	if d.AppTokens == nil || d.SecretHint == nil {
		return config.Date{}, ""
	}
	hint := d.SecretHint(ent.Name)
	if hint == "" {
		return config.Date{}, ""
	}
	c := graph.New(ent.GraphEndpoint, d.AppTokens(ent.Name), graph.Options{})
	r := c.Do(ctx, graph.Request{Method: http.MethodGet, URL: "/applications(appId='" + url.PathEscape(ent.ClientID) + "')?$select=passwordCredentials"})
	if r.Err != nil {
		if r.Status == http.StatusForbidden {
			return config.Date{}, text.T(" Das Datum bei Microsoft ist nicht lesbar (dafür bräuchte die App die Anwendungsberechtigung Application.Read.All); es gilt das eingetragene.")
		}
		return config.Date{}, ""
	}
	var app struct {
		PasswordCredentials []struct {
			Hint        string    `json:"hint"`
			EndDateTime time.Time `json:"endDateTime"`
		} `json:"passwordCredentials"`
	}
	if json.Unmarshal(r.Body, &app) != nil {
		return config.Date{}, ""
	}
	var end time.Time
	for _, p := range app.PasswordCredentials {
		if p.Hint == hint && p.EndDateTime.After(end) {
			end = p.EndDateTime
		}
	}
	if end.IsZero() {
		return config.Date{}, text.T(" Bei Microsoft ist kein Schlüssel mit diesem Anfang hinterlegt – stimmt der eingetragene Schlüssel?")
	}
	// the portal shows the date in the firm's time zone
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		loc = time.Local
	}
	y, m, dd := end.In(loc).Date()
	return config.Date{Time: time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)}, ""
}

func (d *Diagnoser) run(ctx context.Context, rep *Report, ent config.Entity, upn string, modules []config.Module, ts graph.TokenSource, app bool) {
	// a fresh token, not a cached one: Anbindung testen tests the present
	// (a withdrawn consent, revoked sign-ins, an expired secret)
	tok, tokErr := ts.Renew(ctx)
	var granted []string
	if tokErr == nil {
		granted = permissions(tok.AccessToken, app)
	} else { // one cause, one line with its fix; the modules are not tested without a token
		a := auth.Explain(tokErr, auth.Context{Entity: ent, UPN: upn})
		name, status := text.T("Anmeldung"), Red
		if app {
			name = text.T("Anmeldung der App")
			if errors.Is(tokErr, auth.ErrNoSecret) {
				// no credential here at all: a public-client workstation,
				// whose application checks belong to the server
				status = Grey
			}
		}
		rep.Checks = append(rep.Checks, Check{Name: name, Status: status, Detail: a.Problem, Fix: a.Fix})
	}
	// no permission at all (consent withdrawn, never granted): one cause,
	// one line with its fix, not one per module
	var missing []string
	enabled := 0
	for _, pr := range probes {
		need := pr.delegated
		if app {
			need = pr.app
		}
		if slices.Contains(modules, pr.module) && pr.optional == "" {
			enabled++
			if tokErr == nil && !slices.Contains(granted, need) && !slices.Contains(missing, need) {
				missing = append(missing, need)
			}
		}
	}
	noneGranted := len(missing) > 1 && len(missing) == enabled
	if noneGranted {
		c := Check{Name: text.T("Berechtigungen"), Status: Red, Detail: text.F("Der App fehlen alle Berechtigungen der eingeschalteten Module: %s.", strings.Join(missing, ", "))}
		if app {
			c.Fix = text.T("Ein Administrator muss der App die Anwendungsberechtigungen erteilen (Schaltfläche „Administratorzustimmung“).")
		} else {
			c.Fix = text.T("Ein Administrator muss den Berechtigungen zustimmen (Schaltfläche „Administratorzustimmung“); danach den Sachbearbeiter neu anmelden.")
		}
		rep.Checks = append(rep.Checks, c)
	}
	p := graph.NewPacer()
	p.MaxAttempts = 2
	client := graph.New(ent.GraphEndpoint, ts, graph.Options{Pacer: p})
	for _, pr := range probes {
		c := Check{Name: text.T(pr.name)}
		need := pr.delegated
		if app {
			need = pr.app
		}
		switch {
		case !slices.Contains(modules, pr.module):
			c.Status, c.Detail = Grey, text.T("Modul nicht eingeschaltet")
		case tokErr != nil:
			c.Status, c.Detail = Grey, text.T("nicht geprüft – zuerst die Anmeldung (oben)")
		case noneGranted:
			c.Status, c.Detail = Grey, text.T("nicht geprüft – zuerst die Berechtigungen (oben)")
		case !slices.Contains(granted, need) && pr.optional != "":
			c.Status, c.Detail = Yellow, text.F("Berechtigung %s fehlt: %s", need, text.T(pr.optional))
			c.Fix = text.F("Wer die Farben möchte: ein Administrator erteilt der App die Berechtigung %s (Schaltfläche „Administratorzustimmung“).", need)
		case !slices.Contains(granted, need):
			c.Status, c.Detail = Red, text.F("Berechtigung %s fehlt im Token.", need)
			if app {
				c.Fix = text.F("Ein Administrator muss der App die Anwendungsberechtigung %s erteilen (Schaltfläche „Administratorzustimmung“).", need)
			} else {
				c.Fix = text.F("Ein Administrator muss der Berechtigung %s zustimmen (Schaltfläche „Administratorzustimmung“); danach den Sachbearbeiter neu anmelden.", need)
			}
		case pr.path == "":
			c.Status, c.Detail = Green, text.F("Berechtigung %s vorhanden; das Senden prüft „Testmail senden“.", need)
		default:
			r := client.Do(ctx, graph.Request{Method: http.MethodGet, URL: "/users/" + url.PathEscape(upn) + pr.path})
			if temporary(r) {
				c.Status, c.Detail = Yellow, text.T("Microsoft 365 ist gerade ausgelastet oder nicht erreichbar – wird automatisch wiederholt.")
				c.Fix = text.T("Nichts zu tun; bleibt es, in einigen Minuten erneut testen.")
				c.Tech = r.Err.Error()
			} else if r.Err != nil {
				c.Status, c.Detail, c.Fix, c.Tech = Red, text.T("Der Zugriff wurde abgelehnt."), probeFix(r), r.Err.Error()
				if r.RequestID != "" {
					c.Tech += " (request-id " + r.RequestID + ")"
				}
			} else {
				c.Status, c.Detail = Green, text.T("Zugriff funktioniert.")
				c.Tech = fmt.Sprintf("GET …%s → %d", strings.SplitN(pr.path, "?", 2)[0], r.Status)
			}
		}
		rep.Checks = append(rep.Checks, c)
	}
}

// temporary: throttled, a server error or no answer — it passes by itself.
func temporary(r graph.Response) bool {
	if r.Err == nil {
		return false
	}
	var ge *graph.Error
	if errors.As(r.Err, &ge) {
		return ge.Status == 429 || ge.Status >= 500
	}
	return !errors.Is(r.Err, context.Canceled)
}

func probeFix(r graph.Response) string {
	var ge *graph.Error
	if errors.As(r.Err, &ge) {
		switch {
		case ge.Status == 401:
			return text.T("Microsoft 365 hat die Anmeldung nicht angenommen. Bitte den Sachbearbeiter neu anmelden.")
		case ge.Status == 403:
			return text.T("Microsoft 365 verweigert den Zugriff. Die Berechtigungen der App prüfen und die Administratorzustimmung erteilen.")
		case ge.Status == 404 && (ge.Code == "MailboxNotEnabledForRESTAPI" || ge.Code == "ResourceNotFound" || ge.Code == "ErrorItemNotFound"):
			return text.T("Für diesen Benutzer gibt es kein Exchange-Online-Postfach. Im Microsoft 365 Admin Center eine Lizenz mit Exchange Online zuweisen.")
		case ge.Status == 429 || ge.Status >= 500:
			return text.T("Microsoft 365 ist gerade überlastet oder nicht erreichbar. Bitte in einigen Minuten erneut testen.")
		}
	}
	return text.T("Die Netzwerkverbindung zu Microsoft 365 prüfen und erneut testen.")
}

// permissions reads scp (delegated) or roles (application) from an access
// token's claims. The token is not verified here: Graph does that; this
// only explains which permission is missing.
func permissions(token string, app bool) []string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims struct {
		Scp   string   `json:"scp"`
		Roles []string `json:"roles"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return nil
	}
	if app {
		return claims.Roles
	}
	return strings.Fields(claims.Scp)
}
