// Package config holds kanzleisync's configuration: the entities
// (Entitäten) with their Azure app registration, the case workers
// (Sachbearbeiter) with their modules and mail accounts, and the firm-wide
// settings. It is stored in kanzleisync's own SQLite and never holds a
// secret: client secrets and refresh tokens live in the OS keyring.
package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"kanzleisync/app/text"
)

// Module is one part of Microsoft 365 that kanzleisync keeps in step.
type Module string

const (
	Calendar Module = "calendar" // Kalender
	Contacts Module = "contacts" // Kontakte
	Tasks    Module = "tasks"    // Aufgaben (To Do)
	Mail     Module = "mail"     // Mail
)

// AllModules in the order the UI shows them.
var AllModules = []Module{Calendar, Contacts, Tasks, Mail}

// German is the module's name in the user interface.
func (m Module) German() string {
	switch m {
	case Calendar:
		return text.Mark("Kalender")
	case Contacts:
		return text.Mark("Kontakte")
	case Tasks:
		return text.Mark("Aufgaben")
	case Mail:
		return text.Mark("Mail")
	}
	return string(m)
}

// Label is the module's name in the current language.
func (m Module) Label() string { return text.T(m.German()) }

// Default hosts of the worldwide Microsoft cloud.
const (
	DefaultAuthorityHost = "https://login.microsoftonline.com"
	DefaultGraphEndpoint = "https://graph.microsoft.com"
	DefaultRedirectPort  = 50993
	DefaultRedirectPath  = "/authorize/"
)

// Entity is one data room of the practice software with its app registration.
type Entity struct {
	Name     string `json:"name"`
	Tenant   string `json:"tenant"`   // Verzeichnis-ID (GUID) or domain
	ClientID string `json:"clientId"` // Anwendungs-ID
	// SecretExpires is the expiry date of the client secret as the Azure
	// portal shows it; zero when not entered.
	SecretExpires Date   `json:"secretExpires,omitzero"`
	AuthorityHost string `json:"authorityHost,omitempty"` // national clouds: https://login.microsoftonline.us …
	GraphEndpoint string `json:"graphEndpoint,omitempty"` // national clouds: https://graph.microsoft.us …
	// CachePath is the practice software's SQLite cache on this workstation.
	CachePath string `json:"cachePath,omitempty"`
}

// WithDefaults fills in the worldwide cloud's hosts.
func (e Entity) WithDefaults() Entity {
	if e.AuthorityHost == "" {
		e.AuthorityHost = DefaultAuthorityHost
	}
	if e.GraphEndpoint == "" {
		e.GraphEndpoint = DefaultGraphEndpoint
	}
	e.AuthorityHost = strings.TrimRight(e.AuthorityHost, "/")
	e.GraphEndpoint = strings.TrimRight(e.GraphEndpoint, "/")
	return e
}

// Authority is the Entra authority of the entity's tenant.
func (e Entity) Authority() string { return e.WithDefaults().AuthorityHost + "/" + e.Tenant }

// AdminConsentURL is the address an administrator opens to grant the
// configured permissions for the whole tenant.
func (e Entity) AdminConsentURL(redirectURI string) string {
	return fmt.Sprintf("%s/v2.0/adminconsent?client_id=%s&scope=%s&redirect_uri=%s",
		e.Authority(), e.ClientID, "https%3A%2F%2Fgraph.microsoft.com%2F.default", urlQueryEscape(redirectURI))
}

// Worker is a case worker (Sachbearbeiter): one Microsoft 365 user.
type Worker struct {
	UPN         string        `json:"upn"`
	DisplayName string        `json:"displayName"`
	Entity      string        `json:"entity"`
	Modules     []Module      `json:"modules"`
	Accounts    []MailAccount `json:"accounts,omitempty"`
	// LastSignIn is when the worker last signed in in the browser;
	// LastRefresh when a refresh token was last redeemed. Zero: never.
	LastSignIn  time.Time `json:"-"`
	LastRefresh time.Time `json:"-"`
}

// Has reports whether a module is switched on.
func (w Worker) Has(m Module) bool { return slices.Contains(w.Modules, m) }

// Mailbox kinds and transports of a mail account.
const (
	MainMailbox    = "main"
	ArchiveMailbox = "archive"
	POP3SMTP       = "pop3smtp"
	GraphMail      = "graph"
	TLSImplicit    = "implicit"
	TLSStartTLS    = "starttls"
)

// MailAccount is a mail account (Konto) of the practice software's mail client.
type MailAccount struct {
	Address   string `json:"address"`
	Mailbox   string `json:"mailbox"`   // main or archive
	Transport string `json:"transport"` // pop3smtp or graph
	POP3Host  string `json:"pop3Host,omitempty"`
	POP3Port  int    `json:"pop3Port,omitempty"`
	POP3TLS   string `json:"pop3Tls,omitempty"` // implicit (995) or starttls (110)
	SMTPHost  string `json:"smtpHost,omitempty"`
	SMTPPort  int    `json:"smtpPort,omitempty"`
	// DropDir is a Maildir that receives every fetched message too (the
	// mail drop for integrations that import files; empty: none).
	DropDir string `json:"dropDir,omitempty"`
	// LeaveDays is „Kopie auf dem Server lassen (Tage)“: a message stays on
	// the server this many days after the Kommunikator took it (0: it goes
	// at the next fetch after that; KeepOnServer: always). A message the
	// Kommunikator has not taken always stays. Over Graph it counts only
	// with GraphMoveTo.
	LeaveDays int `json:"leaveDays,omitempty"`
	// GraphMoveTo: over Graph, messages the Kommunikator took are moved to
	// this folder. Empty (the default): the mailbox stays as the user sees
	// it in Outlook; new mail is found by the Inbox's delta query and copied.
	GraphMoveTo string `json:"graphMoveTo,omitempty"`
}

// KeepOnServer as LeaveDays: never delete a message on the server.
const KeepOnServer = -1

// WithDefaults fills in Exchange Online's servers.
func (a MailAccount) WithDefaults() MailAccount {
	if a.Mailbox == "" {
		a.Mailbox = MainMailbox
	}
	if a.Transport == "" {
		a.Transport = POP3SMTP
	}
	if a.POP3Host == "" {
		a.POP3Host = "outlook.office365.com"
	}
	if a.POP3TLS == "" {
		a.POP3TLS = TLSImplicit
	}
	if a.POP3Port == 0 {
		a.POP3Port = 995
		if a.POP3TLS == TLSStartTLS {
			a.POP3Port = 110
		}
	}
	if a.SMTPHost == "" {
		a.SMTPHost = "smtp.office365.com"
	}
	if a.SMTPPort == 0 {
		a.SMTPPort = 587
	}
	return a
}

// Settings are the firm-wide settings.
type Settings struct {
	// DeadlinesTo says where Fristen and Wiedervorlagen go: "todo" or "calendar".
	DeadlinesTo string `json:"deadlinesTo"`
	// TodoListName is the To Do list kanzleisync creates and fills.
	TodoListName string `json:"todoListName"`
	// BodyFormat of exported bodies: "html" or "text".
	BodyFormat string `json:"bodyFormat"`
	// KeepOutlookBodyEdits: once a user edited an event's body in Outlook,
	// kanzleisync no longer overwrites it.
	KeepOutlookBodyEdits bool `json:"keepOutlookBodyEdits"`
	// InterfaceActive is the firm-wide switch "Schnittstelle aktiv": until
	// an administrator switches it on, nothing is written to Microsoft 365
	// (Anbindung testen and the preview work).
	InterfaceActive bool `json:"interfaceActive"`
	// TransferLogDebug adds each Graph request (method, address, status,
	// request-id) to the transfer log for IT.
	TransferLogDebug bool `json:"transferLogDebug"`
	// ExportServer is the status address of a `kanzleisync serve` on this
	// machine (a terminal server), e.g. http://127.0.0.1:9465: the server
	// exports, the workstation application only fetches mail and shows the
	// server's state. Empty: this application exports.
	ExportServer string `json:"exportServer,omitempty"`
	// LocalPOP3 is where the local POP3 server for the Kommunikator
	// listens (loopback only; empty: DefaultLocalPOP3, "aus": off). On a
	// terminal server every user's installation needs a port of its own.
	LocalPOP3 string `json:"localPop3,omitempty"`
	// LocalSMTP is where the local SMTP server takes the Kommunikator's
	// outgoing mail (empty: DefaultLocalSMTP, "aus": off).
	LocalSMTP string `json:"localSmtp,omitempty"`
	// KeepTakenDays: the bytes of a message the Kommunikator took are
	// removed from kanzleisync's store this many days later (0: 30).
	KeepTakenDays int `json:"keepTakenDays,omitempty"`
	// MaxMessageMB is the largest message the local SMTP server takes
	// (0: DefaultMaxMessageMB). It should be the mailboxes' send limit in
	// Exchange Online (MaxSendSize, 35 MB unless the firm raised it; the
	// limit counts the message as sent, attachments about a third larger
	// than their files).
	MaxMessageMB int `json:"maxMessageMB,omitempty"`
	// ScopeProbe is a mailbox of the tenant that is no Sachbearbeiter's
	// (e.g. the firm's owner): the server's Anbindung testen tries to read
	// it with the app's permissions — if that works, the app can read every
	// mailbox of the tenant (no RBAC for Applications scope). Empty: not tried.
	ScopeProbe string `json:"scopeProbe,omitempty"`

	// What may leave the firm (§ 203 StGB, § 43e BRAO): per field of
	// Termine, Fristen and Wiedervorlagen a Disclosure; "" exports the
	// field as the practice software has it (docs/einrichtung.md,
	// „Was die Kanzlei verlässt“).
	AppointmentSubject  string `json:"terminBetreff,omitempty"`
	AppointmentLocation string `json:"terminOrt,omitempty"`
	AppointmentBody     string `json:"terminText,omitempty"`
	DeadlineSubject     string `json:"fristBetreff,omitempty"`
	DeadlineBody        string `json:"fristText,omitempty"`
	ResubmissionSubject string `json:"wvBetreff,omitempty"`
	ResubmissionBody    string `json:"wvText,omitempty"`
	// ConfidentialSubject is the whole text of a Termin the practice
	// software marks vertraulich ("": DefaultConfidentialSubject); it is
	// exported private, without location, body and category.
	ConfidentialSubject string `json:"vertraulichBetreff,omitempty"`
	// How a Frist (and its Vorfrist) and a Wiedervorlage in the calendar
	// show the day: "" (free), "busy" or "oof" (Graph's showAs).
	DeadlineShowAs     string `json:"fristAnzeigenAls,omitempty"`
	ResubmissionShowAs string `json:"wvAnzeigenAls,omitempty"`
	// Contacts leave out the notes / the private phone numbers.
	ContactsWithoutNotes         bool `json:"kontakteOhneNotiz,omitempty"`
	ContactsWithoutPrivatePhones bool `json:"kontakteOhnePrivat,omitempty"`
}

// Disclosures of a field (Settings.AppointmentSubject …).
const (
	DiscloseFull   = ""             // as the practice software has it
	DiscloseFileNo = "aktenzeichen" // the Mandant replaced by the Aktenzeichen; Fristen, Wiedervorlagen: only the kind and the Aktenzeichen
	DiscloseNone   = "leer"         // nothing (not for a subject)
	DiscloseText   = "text:"        // a fixed text, e.g. "text:Gerichtstermin" (subjects)
)

// DefaultConfidentialSubject is the text of a confidential Termin.
const DefaultConfidentialSubject = "Termin"

// ConfidentialText is the subject of a confidential Termin.
func (s Settings) ConfidentialText() string {
	if s.ConfidentialSubject == "" {
		return DefaultConfidentialSubject
	}
	return s.ConfidentialSubject
}

// DefaultMaxMessageMB is Exchange Online's default MaxSendSize.
const DefaultMaxMessageMB = 35

// MaxMessageMBLimit is the largest MaxSendSize Exchange Online allows.
const MaxMessageMBLimit = 150

// MaxMessageBytes is the largest message the local SMTP server takes.
func (s Settings) MaxMessageBytes() int64 {
	mb := s.MaxMessageMB
	if mb <= 0 {
		mb = DefaultMaxMessageMB
	}
	return int64(mb) << 20
}

// TakenRetention is how long kanzleisync keeps a taken message's bytes.
func (s Settings) TakenRetention() time.Duration {
	days := s.KeepTakenDays
	if days <= 0 {
		days = 30
	}
	return time.Duration(days) * 24 * time.Hour
}

// DefaultLocalSMTP is the local SMTP server's address unless set.
const DefaultLocalSMTP = "127.0.0.1:1587"

// LocalSMTPAddr is where the local SMTP server listens; "" when it is off.
func (s Settings) LocalSMTPAddr() string {
	switch s.LocalSMTP {
	case "":
		return DefaultLocalSMTP
	case "aus", "off":
		return ""
	}
	return s.LocalSMTP
}

// DefaultLocalPOP3 is the local POP3 server's address unless set.
const DefaultLocalPOP3 = "127.0.0.1:1110"

// LocalPOP3Addr is where the local POP3 server listens; "" when it is off.
func (s Settings) LocalPOP3Addr() string {
	switch s.LocalPOP3 {
	case "":
		return DefaultLocalPOP3
	case "aus", "off":
		return ""
	}
	return s.LocalPOP3
}

// DefaultSettings are the settings of a new installation.
func DefaultSettings() Settings {
	return Settings{DeadlinesTo: "todo", TodoListName: text.T("Fristen und Wiedervorlagen"), BodyFormat: "html"}
}

// Date is a calendar date (the expiry date the Azure portal shows).
type Date struct{ time.Time }

// ParseDate reads "2027-05-31" or "31.05.2027".
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", "02.01.2006", "2.1.2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return Date{t}, nil
		}
	}
	return Date{}, text.Errorf("kein Datum: %q", s)
}

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format("2006-01-02")
}

// German formats the date as the UI shows it.
func (d Date) German() string {
	if d.IsZero() {
		return text.T("unbekannt")
	}
	return d.Format("02.01.2006")
}

func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

func (d *Date) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}$`)
	emailRE  = regexp.MustCompile(`^[^@\s]+@([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}$`)
)

// IsGUID reports whether s has the form of a GUID.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

func urlQueryEscape(s string) string {
	r := strings.NewReplacer(":", "%3A", "/", "%2F", "?", "%3F", "&", "%26", "=", "%3D")
	return r.Replace(s)
}
