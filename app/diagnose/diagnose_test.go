package diagnose_test

import (
	"context"
	"encoding/base64"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/graph"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

const anna = "anna.mueller@kanzlei.example"

func setup(t *testing.T, srv *m365sim.Server, modules []config.Module, secretExpires time.Time) *config.Repo {
	st, err := store.Open(filepath.Join(testsupport.TempDir(t), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	repo := config.NewRepo(st.DB())
	ctx := context.Background()
	if err := repo.SaveEntity(ctx, config.Entity{Name: "Kanzlei", Tenant: m365sim.DemoTenantID, ClientID: m365sim.DemoClientID,
		SecretExpires: config.Date{Time: secretExpires}, AuthorityHost: srv.URL(), GraphEndpoint: srv.URL()}); err != nil {
		t.Fatal(err)
	}
	if err := repo.SaveWorker(ctx, config.Worker{UPN: anna, DisplayName: "Anna Müller", Entity: "Kanzlei", Modules: modules}); err != nil {
		t.Fatal(err)
	}
	return repo
}

func statuses(r diagnose.Report) string {
	var parts []string
	for _, c := range r.Checks {
		parts = append(parts, c.Name+"="+string(c.Status))
	}
	return strings.Join(parts, ", ")
}

func TestWorkerAllGreen(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	repo := setup(t, srv, []config.Module{config.Calendar, config.Contacts, config.Tasks, config.Mail}, time.Now().AddDate(1, 0, 0))
	tok := simtest.SignIn(t, srv, anna).AccessToken
	d := &diagnose.Diagnoser{Repo: repo, GraphTokens: func(string) graph.TokenSource { return testsupport.StaticTokens{Token: tok} }}
	rep, err := d.Worker(context.Background(), anna)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || statuses(rep) != "Kalender=grün, Kategorienfarben=grün, Kontakte=grün, Aufgaben=grün, Mail lesen=grün, Mail senden=grün" {
		t.Fatalf("%s\n%+v", statuses(rep), rep.Checks)
	}
	for _, c := range rep.Checks {
		if strings.Contains(c.Detail, tok) {
			t.Fatal("the report shows the token")
		}
	}
}

// A module switched off is grey; a permission missing from the token is red
// with the fix, without a Graph call being needed to find out.
func TestWorkerMissingPermissionAndModuleOff(t *testing.T) {
	// the app registration lacks Tasks.ReadWrite: Entra puts every consented
	// scope of the resource into scp, so only the registration can leave it out
	tf := m365sim.DemoTenant(time.Now())
	app := &tf.Tenants[0].Apps[0]
	// nor MailboxSettings.ReadWrite: the categories' colours are optional (yellow)
	app.DelegatedScopes = slices.DeleteFunc(app.DelegatedScopes, func(s string) bool { return s == "Tasks.ReadWrite" || s == "MailboxSettings.ReadWrite" })
	srv := simtest.Start(t, tf, m365sim.Options{})
	repo := setup(t, srv, []config.Module{config.Calendar, config.Tasks}, time.Now().AddDate(1, 0, 0))
	tok := simtest.SignIn(t, srv, anna).AccessToken
	d := &diagnose.Diagnoser{Repo: repo, GraphTokens: func(string) graph.TokenSource { return testsupport.StaticTokens{Token: tok} }}
	rep, err := d.Worker(context.Background(), anna)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || statuses(rep) != "Kalender=grün, Kategorienfarben=gelb, Kontakte=grau, Aufgaben=rot, Mail lesen=grau, Mail senden=grau" {
		t.Fatalf("%s", statuses(rep))
	}
	if c := rep.Checks[1]; !strings.Contains(c.Detail, "ohne Farbe") || !strings.Contains(c.Fix, "MailboxSettings.ReadWrite") {
		t.Errorf("%+v", c)
	}
	if c := rep.Checks[3]; !strings.Contains(c.Detail, "Tasks.ReadWrite") || !strings.Contains(c.Fix, "Administratorzustimmung") {
		t.Errorf("%+v", c)
	}
	if !strings.Contains(rep.ConsentURL, "adminconsent?client_id="+m365sim.DemoClientID) {
		t.Errorf("consent URL %q", rep.ConsentURL)
	}
}

// A server error (here two 503s) passes by itself: yellow, „wird
// automatisch wiederholt“, not red.
func TestWorkerProbeRefused(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	repo := setup(t, srv, []config.Module{config.Calendar}, time.Now().AddDate(1, 0, 0))
	tok := simtest.SignIn(t, srv, anna).AccessToken
	d := &diagnose.Diagnoser{Repo: repo, GraphTokens: func(string) graph.TokenSource { return testsupport.StaticTokens{Token: tok} }}
	srv.SetFaults(m365sim.Faults{Script: []int{503, 503}})
	rep, _ := d.Worker(context.Background(), anna)
	if c := rep.Checks[0]; c.Status != diagnose.Yellow || !strings.Contains(c.Detail, "automatisch") || !strings.Contains(c.Fix, "erneut testen") {
		t.Fatalf("%+v", c)
	}
}

func TestEntitySecretAndAppPermissions(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	app := simtest.AppToken(t, srv, "https://graph.microsoft.com")
	for _, tc := range []struct {
		expires time.Time
		want    diagnose.Status
	}{
		{time.Now().AddDate(0, 6, 0), diagnose.Green},
		{time.Now().AddDate(0, 0, 10), diagnose.Yellow},
		{time.Now().AddDate(0, 0, -1), diagnose.Red},
		{time.Time{}, diagnose.Yellow},
	} {
		repo := setup(t, srv, []config.Module{config.Calendar, config.Contacts, config.Tasks, config.Mail}, tc.expires)
		d := &diagnose.Diagnoser{Repo: repo, AppTokens: func(string) graph.TokenSource { return testsupport.StaticTokens{Token: app} }}
		rep, err := d.Entity(context.Background(), "Kanzlei")
		if err != nil {
			t.Fatal(err)
		}
		if rep.Checks[0].Status != tc.want {
			t.Errorf("secret expiring %v: %+v", tc.expires, rep.Checks[0])
		}
		if got := statuses(diagnose.Report{Checks: rep.Checks[1:]}); got != "Kalender=grün, Kategorienfarben=grün, Kontakte=grün, Aufgaben=grün, Mail lesen=grün, Mail senden=grün" {
			t.Errorf("application permissions: %s %+v", got, rep.Checks)
		}
		if rep.OK() != (tc.want == diagnose.Green) {
			t.Errorf("OK() = %v with the secret %s", rep.OK(), tc.want)
		}
	}
}

func TestWorkerPOP3AndSMTP(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	repo := setup(t, srv, []config.Module{config.Mail}, time.Now().AddDate(1, 0, 0))
	popHost, popPort, _ := net.SplitHostPort(srv.POP3Addr())
	smtpHost, smtpPort, _ := net.SplitHostPort(srv.SMTPAddr())
	pp, _ := strconv.Atoi(popPort)
	sp, _ := strconv.Atoi(smtpPort)
	w, _ := repo.Worker(context.Background(), anna)
	w.Accounts = []config.MailAccount{
		{Address: anna, POP3Host: popHost, POP3Port: pp, POP3TLS: config.TLSStartTLS, SMTPHost: smtpHost, SMTPPort: sp},
		{Address: "archiv@kanzlei.example", Mailbox: config.ArchiveMailbox, Transport: config.GraphMail},
	}
	if err := repo.SaveWorker(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	graphTok := simtest.SignIn(t, srv, anna).AccessToken
	outlookTok := simtest.SignIn(t, srv, anna, "https://outlook.office.com/POP.AccessAsUser.All", "offline_access").AccessToken
	d := &diagnose.Diagnoser{Repo: repo, MailTLS: simtest.TLSConfig(srv),
		GraphTokens:   func(string) graph.TokenSource { return testsupport.StaticTokens{Token: graphTok} },
		OutlookTokens: func(string) graph.TokenSource { return testsupport.StaticTokens{Token: outlookTok} }}
	rep, _ := d.Worker(context.Background(), anna)
	want := "Kalender=grau, Kategorienfarben=grau, Kontakte=grau, Aufgaben=grau, Mail lesen=grün, Mail senden=grün, POP3 " + anna + "=grün, SMTP " + anna + "=grün"
	if !rep.OK() || statuses(rep) != want {
		t.Fatalf("%s\n%+v", statuses(rep), rep.Checks)
	}
	if st, _ := srv.State(anna); len(srv.Outbound()) != 0 || len(st.Messages) != 0 {
		t.Fatal("the probe sent or left something")
	}
	// a certificate this machine does not trust (here: the emulator's, without
	// its CA; in the field a TLS-inspecting proxy) is named as such, not as
	// a firewall
	untrusting := *d
	untrusting.MailTLS = nil
	rep, _ = untrusting.Worker(context.Background(), anna)
	for _, c := range rep.Checks[6:8] {
		if c.Status != diagnose.Red || !strings.Contains(c.Fix, "Zertifikat") || strings.Contains(c.Fix, "Firewall") {
			t.Errorf("untrusted certificate: %+v", c)
		}
	}
	on := true
	if err := srv.PatchUser(anna, m365sim.UserPatch{POPDisabled: &on}); err != nil {
		t.Fatal(err)
	}
	if err := srv.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{TenantSMTPAuthDisabled: &on}); err != nil {
		t.Fatal(err)
	}
	rep, _ = d.Worker(context.Background(), anna)
	pop, smtp := rep.Checks[6], rep.Checks[7]
	if pop.Status != diagnose.Red || !strings.Contains(pop.Fix, "POP einschalten") {
		t.Errorf("POP3 switched off: %+v", pop)
	}
	if smtp.Status != diagnose.Red || !strings.Contains(smtp.Tech, "5.7.139") || strings.Contains(smtp.Detail, "5.7.139") || !strings.Contains(smtp.Fix, "Authentifiziertes SMTP") {
		t.Errorf("SMTP AUTH switched off: %+v", smtp)
	}
}

// When the app may read its own application object, the secret's end date
// comes from Microsoft and a disagreeing entered date is flagged; without
// that permission the entered date stays the source and the test says so.
func TestSecretExpiryFromMicrosoft(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	app := &tf.Tenants[0].Apps[0]
	app.AppRoles = append(app.AppRoles, "Application.Read.All")
	end := time.Date(2027, 5, 31, 10, 0, 0, 0, time.UTC)
	app.Secrets[0].Expires = end
	srv := simtest.Start(t, tf, m365sim.Options{})
	tok := simtest.AppToken(t, srv, "https://graph.microsoft.com")
	hint := func(string) string { return m365sim.DemoClientSecret[:3] }
	check := func(entered time.Time, hint func(string) string, token string) diagnose.Check {
		t.Helper()
		repo := setup(t, srv, []config.Module{config.Calendar}, entered)
		d := &diagnose.Diagnoser{Repo: repo, SecretHint: hint, Now: func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) },
			AppTokens: func(string) graph.TokenSource { return testsupport.StaticTokens{Token: token} }}
		rep, err := d.Entity(context.Background(), "Kanzlei")
		if err != nil {
			t.Fatal(err)
		}
		return rep.Checks[0]
	}
	// entered and read agree: green, "laut Microsoft"
	if c := check(time.Date(2027, 5, 31, 0, 0, 0, 0, time.UTC), hint, tok); c.Status != diagnose.Green || c.Detail != "gültig bis 31.05.2027 (laut Microsoft)" {
		t.Errorf("agreeing: %+v", c)
	}
	// entered wrongly: yellow, the fix names both dates
	if c := check(time.Date(2028, 5, 31, 0, 0, 0, 0, time.UTC), hint, tok); c.Status != diagnose.Yellow ||
		!strings.Contains(c.Fix, "Das eingetragene Ablaufdatum (31.05.2028) weicht vom Datum bei Microsoft (31.05.2027) ab") {
		t.Errorf("disagreeing: %+v", c)
	}
	// nothing entered: Microsoft's date is used, and offered for entering
	if c := check(time.Time{}, hint, tok); c.Status != diagnose.Yellow || !strings.Contains(c.Detail, "gültig bis 31.05.2027") || !strings.Contains(c.Fix, "(kein Datum)") {
		t.Errorf("not entered: %+v", c)
	}
	// a stored secret Microsoft does not know
	if c := check(time.Date(2027, 5, 31, 0, 0, 0, 0, time.UTC), func(string) string { return "xyz" }, tok); !strings.Contains(c.Detail, "kein Schlüssel mit diesem Anfang") {
		t.Errorf("unknown hint: %+v", c)
	}
	// without Application.Read.All the entered date stays the source
	plain := simtest.Start(t, nil, m365sim.Options{})
	plainTok := simtest.AppToken(t, plain, "https://graph.microsoft.com")
	repo := setup(t, plain, []config.Module{config.Calendar}, time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC))
	d := &diagnose.Diagnoser{Repo: repo, SecretHint: hint, Now: func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) },
		AppTokens: func(string) graph.TokenSource { return testsupport.StaticTokens{Token: plainTok} }}
	rep, _ := d.Entity(context.Background(), "Kanzlei")
	if c := rep.Checks[0]; c.Status != diagnose.Green || !strings.HasPrefix(c.Detail, "gültig bis 31.01.2028 (eingetragen) Das Datum bei Microsoft ist nicht lesbar") {
		t.Errorf("without permission: %+v", c)
	}
}

// Without any of the needed permissions (consent withdrawn) the report has
// one red line with the fix, not one per module.
func TestNoPermissionIsOneCause(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	repo := setup(t, srv, []config.Module{config.Calendar, config.Contacts, config.Tasks, config.Mail}, time.Now().AddDate(1, 0, 0))
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"idtyp":"app","roles":[]}`))
	tok := "eyJhbGciOiJub25lIn0." + claims + ".x"
	d := &diagnose.Diagnoser{Repo: repo, AppTokens: func(string) graph.TokenSource { return testsupport.StaticTokens{Token: tok} }}
	rep, err := d.Entity(context.Background(), "Kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	red := 0
	for _, c := range rep.Checks {
		if c.Status == diagnose.Red {
			red++
			if c.Name != "Berechtigungen" || !strings.Contains(c.Fix, "Administratorzustimmung") || !strings.Contains(c.Detail, "Tasks.ReadWrite.All") {
				t.Errorf("%+v", c)
			}
		}
	}
	if red != 1 || !strings.Contains(statuses(rep), "Kalender=grau") {
		t.Errorf("%d red lines: %s", red, statuses(rep))
	}
}

// A tenant whose app-management policy forbids new client secrets: the
// portal refuses a new one, the secret that exists still signs in, and
// Anbindung testen's fix for an expiring secret is the certificate, not a
// new secret. Without Policy.Read.All nothing is claimed.
func TestSecretForbiddenByPolicy(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	tf.Tenants[0].AppPolicy = &m365sim.AppManagementPolicy{BlockPasswordAddition: true}
	app := &tf.Tenants[0].Apps[0]
	app.AppRoles = append(app.AppRoles, "Application.Read.All", "Policy.Read.All")
	now := time.Now().UTC() // the emulator's clock: the secret must still sign in
	app.Secrets[0].Expires = now.AddDate(0, 0, 10)
	srv := simtest.Start(t, tf, m365sim.Options{})
	// the IT supporter's "New client secret" in the portal
	if _, err := srv.AddSecret(m365sim.DemoClientID, 0); err == nil || !strings.Contains(err.Error(), "CredentialTypeNotAllowedAsPerAppPolicy") {
		t.Fatalf("a new secret against the policy: %v", err)
	}
	tok := simtest.AppToken(t, srv, "https://graph.microsoft.com") // the existing secret still works
	hint := func(string) string { return m365sim.DemoClientSecret[:3] }
	run := func(srv *m365sim.Server, token string, entered time.Time) diagnose.Check {
		t.Helper()
		// the IT supporter enters the date the portal shows: the firm's day
		// (after 23:00 UTC that is the next day in Berlin)
		berlin, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			t.Fatal(err)
		}
		y, m, day := entered.In(berlin).Date()
		repo := setup(t, srv, []config.Module{config.Calendar}, time.Date(y, m, day, 0, 0, 0, 0, time.UTC))
		d := &diagnose.Diagnoser{Repo: repo, SecretHint: hint, Now: func() time.Time { return now },
			AppTokens: func(string) graph.TokenSource { return testsupport.StaticTokens{Token: token} }}
		rep, err := d.Entity(context.Background(), "Kanzlei")
		if err != nil {
			t.Fatal(err)
		}
		return rep.Checks[0]
	}
	c := run(srv, tok, now.AddDate(0, 0, 10))
	if c.Status != diagnose.Yellow || !strings.Contains(c.Fix, "lässt keine neuen geheimen Clientschlüssel zu") ||
		!strings.Contains(c.Fix, `kanzleisync config entity certificate create --name "Kanzlei"`) || strings.Contains(c.Fix, "neuen geheimen Clientschlüssel anlegen") ||
		!strings.Contains(c.Tech, "passwordAddition") {
		t.Errorf("expiring secret under the policy: %+v", c)
	}
	// a secret valid for long: green, with the note
	if err := srv.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{SecretExpires: ptr(now.AddDate(1, 0, 0))}); err != nil {
		t.Fatal(err)
	}
	if c := run(srv, tok, now.AddDate(1, 0, 0)); c.Status != diagnose.Green || !strings.Contains(c.Detail, "vor dem Ablauf auf ein Zertifikat umstellen") {
		t.Errorf("long-valid secret under the policy: %+v", c)
	}
	// only a lifetime limit: a new secret is the fix, with the limit
	if err := srv.SetAppPolicy(m365sim.DemoTenantID, &m365sim.AppManagementPolicy{MaxPasswordLifetime: m365sim.Duration(90 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.AddSecret(m365sim.DemoClientID, 365*24*time.Hour); err == nil || !strings.Contains(err.Error(), "P90D") {
		t.Errorf("a secret for a year under a 90-day limit: %v", err)
	}
	if sec, err := srv.AddSecret(m365sim.DemoClientID, 60*24*time.Hour); err != nil || sec.Value == "" {
		t.Errorf("a secret for 60 days under a 90-day limit: %v", err)
	}
	if err := srv.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{SecretExpires: ptr(now.AddDate(0, 0, -1))}); err != nil {
		t.Fatal(err)
	}
	if c := run(srv, tok, now.AddDate(0, 0, -1)); c.Status != diagnose.Red || !strings.Contains(c.Fix, "höchstens 90 Tage Laufzeit") {
		t.Errorf("expired secret under a lifetime limit: %+v", c)
	}
	// without Policy.Read.All: the usual fix, and a note under Details only
	plain := simtest.Start(t, nil, m365sim.Options{})
	if err := plain.SetAppPolicy(m365sim.DemoTenantID, &m365sim.AppManagementPolicy{BlockPasswordAddition: true}); err != nil {
		t.Fatal(err)
	}
	c = run(plain, simtest.AppToken(t, plain, "https://graph.microsoft.com"), now.AddDate(0, 0, -1))
	if c.Status != diagnose.Red || !strings.Contains(c.Fix, "neuen geheimen Clientschlüssel anlegen") || !strings.Contains(c.Tech, "Policy.Read.All fehlt") {
		t.Errorf("policy not readable: %+v", c)
	}
}

func ptr[T any](v T) *T { return &v }
