package m365sim

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// TenantFile is the emulator's configuration: the directories it hosts and
// the defaults of its token service. It is read from JSON (see
// docs/m365sim.md for an annotated example).
type TenantFile struct {
	// Seed makes generated ids, codes and fault decisions repeatable.
	Seed    int64    `json:"seed"`
	Tenants []Tenant `json:"tenants"`
	// AccessTokenLifetime is the lifetime of issued access tokens
	// (default 3599 s as Entra reports in expires_in).
	AccessTokenLifetime Duration `json:"accessTokenLifetime,omitempty"`
	// RefreshTokenInactivity is how long an unused refresh token stays valid
	// (Entra: 90 days).
	RefreshTokenInactivity Duration `json:"refreshTokenInactivity,omitempty"`
	// Throttle sets the Outlook limits per application and mailbox.
	Throttle ThrottleConfig `json:"throttle,omitempty"`
	// Faults are injected into Graph requests from the start.
	Faults Faults `json:"faults,omitempty"`
	// SMTPMaxSize is the SIZE announced by the SMTP service (Exchange Online: 35 MB).
	SMTPMaxSize int64 `json:"smtpMaxSize,omitempty"`
}

// Tenant is one Entra directory with its users and app registrations.
type Tenant struct {
	ID          string   `json:"id"`
	Domains     []string `json:"domains"`
	DisplayName string   `json:"displayName"`
	// SMTPAuthDisabled is the organisation-wide SmtpClientAuthenticationDisabled.
	SMTPAuthDisabled bool `json:"smtpAuthDisabled,omitempty"`
	// UserConsentDisabled means only an administrator may grant consent.
	UserConsentDisabled bool   `json:"userConsentDisabled,omitempty"`
	Users               []User `json:"users"`
	Apps                []App  `json:"apps"`
	// AppPolicy is the default app-management policy (graph_policy.go).
	AppPolicy *AppManagementPolicy `json:"appPolicy,omitempty"`
}

// User is one account with a mailbox.
type User struct {
	ID          string `json:"id"`
	UPN         string `json:"upn"`
	DisplayName string `json:"displayName"`
	GivenName   string `json:"givenName,omitempty"`
	Surname     string `json:"surname,omitempty"`
	Password    string `json:"password"`
	// Mail is the primary SMTP address; defaults to the UPN.
	Mail string `json:"mail,omitempty"`
	// Admin users can grant consent for the whole organisation.
	Admin bool `json:"admin,omitempty"`
	// POPDisabled is Set-CASMailbox -PopEnabled $false.
	POPDisabled bool `json:"popDisabled,omitempty"`
	// SMTPAuth overrides the tenant setting per mailbox (nil: tenant decides).
	SMTPAuth *bool `json:"smtpAuth,omitempty"`
	// NoMailbox makes Graph mailbox calls fail as for an unlicensed user.
	NoMailbox bool `json:"noMailbox,omitempty"`
}

// App is an app registration.
type App struct {
	ClientID    string   `json:"clientId"`
	DisplayName string   `json:"displayName"`
	Secrets     []Secret `json:"secrets"`
	// Certificates are the uploaded public certificates (entra_assertion.go).
	Certificates []Certificate `json:"certificates,omitempty"`
	RedirectURIs []string      `json:"redirectUris"`
	// PublicClient allows token requests without a secret (mobile/desktop platform).
	PublicClient bool `json:"publicClient,omitempty"`
	// DelegatedScopes are the configured delegated permissions, e.g.
	// "Calendars.ReadWrite" (Graph) or "https://outlook.office365.com/POP.AccessAsUser.All".
	DelegatedScopes []string `json:"delegatedScopes"`
	// AppRoles are the configured application permissions, e.g. "Calendars.ReadWrite".
	AppRoles []string `json:"appRoles"`
	// AdminConsent says whether an administrator granted the configured
	// permissions for the whole tenant.
	AdminConsent bool `json:"adminConsent"`
	// ScopedMailboxes, when set, is an Exchange RBAC for Applications
	// management scope: app tokens reach only these mailboxes (UPNs);
	// others answer 403 ErrorAccessDenied. To Do has no such role and stays
	// tenant-wide.
	ScopedMailboxes []string `json:"scopedMailboxes,omitempty"`
}

// Secret is a client secret of an app registration.
type Secret struct {
	KeyID   string    `json:"keyId"`
	Value   string    `json:"value"`
	Hint    string    `json:"hint,omitempty"`
	Expires time.Time `json:"expires"`
}

// ThrottleConfig holds Outlook's limits per application and mailbox.
type ThrottleConfig struct {
	Concurrency int      `json:"concurrency,omitempty"` // default 4
	Requests    int      `json:"requests,omitempty"`    // default 10000
	Window      Duration `json:"window,omitempty"`      // default 10 minutes
}

// Duration is a time.Duration that reads and writes as "90s", "10m" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"90s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// LoadTenantFile reads and validates a tenant file.
func LoadTenantFile(path string) (*TenantFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tenant file: %w", err)
	}
	var tf TenantFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tf); err != nil {
		return nil, fmt.Errorf("parse tenant file %s: %w", path, err)
	}
	if err := tf.validate(); err != nil {
		return nil, fmt.Errorf("tenant file %s: %w", path, err)
	}
	return &tf, nil
}

func (tf *TenantFile) withDefaults() {
	if tf.AccessTokenLifetime == 0 {
		tf.AccessTokenLifetime = Duration(3599 * time.Second)
	}
	if tf.RefreshTokenInactivity == 0 {
		tf.RefreshTokenInactivity = Duration(90 * 24 * time.Hour)
	}
	if tf.Throttle.Concurrency == 0 {
		tf.Throttle.Concurrency = 4
	}
	if tf.Throttle.Requests == 0 {
		tf.Throttle.Requests = 10000
	}
	if tf.Throttle.Window == 0 {
		tf.Throttle.Window = Duration(10 * time.Minute)
	}
	if tf.SMTPMaxSize == 0 {
		tf.SMTPMaxSize = 35 * 1024 * 1024
	}
	for ti := range tf.Tenants {
		for ui := range tf.Tenants[ti].Users {
			u := &tf.Tenants[ti].Users[ui]
			if u.Mail == "" {
				u.Mail = u.UPN
			}
		}
	}
}

func (tf *TenantFile) validate() error {
	if len(tf.Tenants) == 0 {
		return fmt.Errorf("no tenants")
	}
	seen := map[string]bool{}
	for _, t := range tf.Tenants {
		if !isGUID(t.ID) {
			return fmt.Errorf("tenant %q: id must be a GUID", t.ID)
		}
		for _, u := range t.Users {
			if !isGUID(u.ID) {
				return fmt.Errorf("user %q: id must be a GUID", u.UPN)
			}
			if !strings.Contains(u.UPN, "@") {
				return fmt.Errorf("user %q: upn must contain @", u.UPN)
			}
			key := strings.ToLower(u.UPN)
			if seen[key] {
				return fmt.Errorf("user %q appears twice", u.UPN)
			}
			seen[key] = true
		}
		for _, a := range t.Apps {
			if !isGUID(a.ClientID) {
				return fmt.Errorf("app %q: clientId must be a GUID", a.DisplayName)
			}
		}
	}
	return nil
}

// Demo tenant identifiers, fixed so that docs and the demo can name them.
const (
	DemoTenantID     = "6f1c2b7e-3d4a-4e59-9a1b-2c3d4e5f6a7b"
	DemoTenantDomain = "kanzlei.onmicrosoft.com"
	DemoClientID     = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"
	DemoClientSecret = "demo~Secret.NurFuerDenEmulator-0000"
	DemoPassword     = "Demo-Passwort-1"
	DemoRedirectURI  = "http://localhost:50993/authorize/"
)

// DemoTenant returns the tenant that `make run` and most tests use: a firm
// with three case workers and the app registration the vendor documents
// describe, with admin consent granted.
func DemoTenant(now time.Time) *TenantFile {
	user := func(id, upn, name, given, sur string, admin bool) User {
		return User{ID: id, UPN: upn, DisplayName: name, GivenName: given, Surname: sur, Password: DemoPassword, Admin: admin}
	}
	return &TenantFile{
		Seed: 1,
		Tenants: []Tenant{{
			ID:          DemoTenantID,
			Domains:     []string{DemoTenantDomain, "kanzlei.example"},
			DisplayName: "Kanzlei Müller & Partner",
			Users: []User{
				user("0a1b2c3d-0000-4000-8000-000000000001", "anna.mueller@kanzlei.example", "Anna Müller", "Anna", "Müller", true),
				user("0a1b2c3d-0000-4000-8000-000000000002", "jens.schaefer@kanzlei.example", "Jens Schäfer", "Jens", "Schäfer", false),
				user("0a1b2c3d-0000-4000-8000-000000000003", "oezlem.yilmaz@kanzlei.example", "Özlem Yılmaz", "Özlem", "Yılmaz", false),
			},
			Apps: []App{{
				ClientID:    DemoClientID,
				DisplayName: "kanzleisync",
				Secrets: []Secret{{
					KeyID: "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a", Value: DemoClientSecret, Hint: "dem",
					Expires: now.AddDate(0, 18, 0).UTC().Truncate(time.Second),
				}},
				RedirectURIs: []string{DemoRedirectURI},
				DelegatedScopes: []string{
					"Calendars.ReadWrite", "Contacts.ReadWrite", "Tasks.ReadWrite",
					"Mail.ReadWrite", "Mail.Send", "User.Read", "offline_access", "MailboxSettings.ReadWrite",
					"https://outlook.office365.com/POP.AccessAsUser.All",
					"https://outlook.office365.com/SMTP.Send",
				},
				AppRoles:     []string{"Calendars.ReadWrite", "Contacts.ReadWrite", "Tasks.ReadWrite.All", "Mail.ReadWrite", "Mail.Send", "MailboxSettings.ReadWrite"},
				AdminConsent: true,
			}},
		}},
	}
}
