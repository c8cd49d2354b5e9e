package config_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

func newRepo(t *testing.T) *config.Repo {
	t.Helper()
	st, err := store.Open(filepath.Join(testsupport.TempDir(t), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return config.NewRepo(st.DB())
}

var good = config.Entity{Name: "Kanzlei Müller & Partner", Tenant: "6f1c2b7e-3d4a-4e59-9a1b-2c3d4e5f6a7b", ClientID: "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"}

func TestEntityValidation(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		mod    func(*config.Entity)
		field  string
		expect string
	}{
		{"empty name", func(e *config.Entity) { e.Name = " " }, "name", "Namen"},
		{"client id not a GUID", func(e *config.Entity) { e.ClientID = "kanzleisync" }, "clientId", "Die Anwendungs-ID muss eine GUID sein, z. B. 1b2c3d4e-"},
		{"tenant garbage", func(e *config.Entity) { e.Tenant = "meine kanzlei" }, "tenant", "GUID"},
		{"tenant common", func(e *config.Entity) { e.Tenant = "common" }, "tenant", "einzelnen Mandanten"},
		{"secret over 24 months", func(e *config.Entity) { e.SecretExpires = config.Date{Time: now.AddDate(2, 1, 0)} }, "secretExpires", "24 Monate"},
		{"authority http", func(e *config.Entity) { e.AuthorityHost = "http://login.microsoftonline.com" }, "authorityHost", "https://"},
		{"graph with path", func(e *config.Entity) { e.GraphEndpoint = "https://graph.microsoft.com/v1.0" }, "graphEndpoint", "keinen Pfad"},
	} {
		e := good
		tc.mod(&e)
		err := e.Validate(now)
		if msg := config.FieldMessage(err, tc.field); !strings.Contains(msg, tc.expect) {
			t.Errorf("%s: message for %s = %q (err %v)", tc.name, tc.field, msg, err)
		}
	}
	ok := good
	ok.Tenant = "kanzlei.onmicrosoft.com"
	ok.AuthorityHost = "http://127.0.0.1:8365" // the emulator
	ok.SecretExpires = config.Date{Time: now.AddDate(0, 23, 0)}
	if err := ok.Validate(now); err != nil {
		t.Errorf("valid entity refused: %v", err)
	}
}

func TestSecretValidation(t *testing.T) {
	for secret, want := range map[string]string{
		"":                                     "Wert",
		"9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a": "Geheimnis-ID, nicht der Wert",
		" abc~def ":                            "Leerzeichen",
	} {
		if msg := config.FieldMessage(config.ValidateSecret(secret), "secret"); !strings.Contains(msg, want) {
			t.Errorf("%q: %q", secret, msg)
		}
	}
	if err := config.ValidateSecret("Abc8Q~xYz.1234567890abcdefghijKLMNOP"); err != nil {
		t.Errorf("valid secret refused: %v", err)
	}
}

func TestWorkersSettingsAndRoundTrip(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	w := config.Worker{UPN: "anna@kanzlei.de", DisplayName: "Anna Müller", Entity: good.Name, Modules: []config.Module{config.Calendar, config.Mail},
		Accounts: []config.MailAccount{{Address: "anna@kanzlei.de"}, {Address: "archiv@kanzlei.de", Mailbox: config.ArchiveMailbox}}}
	err := r.SaveWorker(ctx, w)
	if msg := config.FieldMessage(err, "entity"); !strings.Contains(msg, "gibt es nicht") {
		t.Fatalf("worker before its entity: %v", err)
	}
	if err := r.SaveEntity(ctx, good); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveWorker(ctx, w); err != nil {
		t.Fatal(err)
	}
	got, err := r.Worker(ctx, "ANNA@kanzlei.de")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Accounts) != 2 || got.Accounts[0].POP3Host != "outlook.office365.com" || got.Accounts[0].POP3Port != 995 || got.Accounts[1].Mailbox != "archive" {
		t.Errorf("accounts: %+v", got.Accounts)
	}
	if !got.Has(config.Mail) || got.Has(config.Tasks) {
		t.Errorf("modules %v", got.Modules)
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	if err := r.RecordSignIn(ctx, "anna@kanzlei.de", at); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveWorker(ctx, w); err != nil { // saving settings keeps the times
		t.Fatal(err)
	}
	if got, _ = r.Worker(ctx, "anna@kanzlei.de"); !got.LastSignIn.Equal(at) {
		t.Errorf("last sign-in %v, want %v", got.LastSignIn, at)
	}
	if _, err := r.Worker(ctx, "niemand@kanzlei.de"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("unknown worker: %v", err)
	}
	bad := w
	bad.Modules = []config.Module{"faxe"}
	bad.Accounts = []config.MailAccount{{Address: "kein-mail", Mailbox: "main", Transport: "pop3smtp", POP3Host: "x.de", POP3Port: 99999, POP3TLS: "implicit", SMTPHost: "y.de", SMTPPort: 587}}
	err = r.SaveWorker(ctx, bad)
	for _, f := range []string{"modules", "accounts[0].address", "accounts[0].pop3Port"} {
		if config.FieldMessage(err, f) == "" {
			t.Errorf("no message for %s in %v", f, err)
		}
	}

	s, _ := r.Settings(ctx)
	if s != config.DefaultSettings() {
		t.Errorf("defaults %+v", s)
	}
	s.DeadlinesTo = "kalender"
	if msg := config.FieldMessage(r.SaveSettings(ctx, s), "deadlinesTo"); !strings.Contains(msg, "calendar") {
		t.Errorf("bad deadlinesTo: %q", msg)
	}
	s.DeadlinesTo, s.KeepOutlookBodyEdits = "calendar", true
	if err := r.SaveSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	if again, _ := r.Settings(ctx); again != s {
		t.Errorf("settings %+v, want %+v", again, s)
	}
}

func TestEntityExportImport(t *testing.T) {
	ctx := context.Background()
	src, dst := newRepo(t), newRepo(t)
	e := good
	e.SecretExpires, _ = config.ParseDate("31.05.2028")
	if err := src.SaveEntity(ctx, e); err != nil {
		t.Fatal(err)
	}
	data, err := src.ExportEntity(ctx, e.Name)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(data)), "secret\"") && !strings.Contains(string(data), "secretExpires") {
		t.Errorf("export mentions a secret: %s", data)
	}
	got, err := dst.ImportEntity(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientID != e.ClientID || got.SecretExpires.String() != "2028-05-31" || got.AuthorityHost != config.DefaultAuthorityHost {
		t.Errorf("imported %+v", got)
	}
	withSecret := strings.Replace(string(data), `"name"`, `"clientSecret": "geheim", "name"`, 1)
	if _, err := dst.ImportEntity(ctx, []byte(withSecret)); !strings.Contains(config.FieldMessage(err, "file"), "geheimer Schlüssel gehört nie in die Datei") {
		t.Errorf("import with a secret: %v", err)
	}
	if _, err := dst.ImportEntity(ctx, []byte(`{"format":"kanzleisync-entity/1","name":"x","tenant":"y","clientId":"z"}`)); config.FieldMessage(err, "clientId") == "" {
		t.Errorf("invalid import accepted: %v", err)
	}
	if _, err := dst.ImportEntity(ctx, []byte(`kein json`)); config.FieldMessage(err, "file") == "" {
		t.Errorf("garbage accepted: %v", err)
	}
}
