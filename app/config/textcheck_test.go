package config_test

import (
	"context"
	"strings"
	"testing"

	"kanzleisync/app/config"
)

// Every text kanzleisync stores is UTF-8 without control characters and of
// a sane length, or refused with the field named — a name that is not
// UTF-8 would otherwise become the name of a To Do list in Microsoft 365
// („Kanzlei �� M�ller“).
func TestTextFieldsAreRefusedWhenBroken(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	if err := r.SaveEntity(ctx, good); err != nil {
		t.Fatal(err)
	}
	latin1 := "Kanzlei \xc4rger M\xfcller" // „Kanzlei Ärger Müller“ saved as Windows-1252
	long := strings.Repeat("x", 100_000)
	const (
		encoding = "kein gültiges UTF-8"
		control  = "Steuerzeichen"
		length   = "höchstens"
	)
	worker := config.Worker{UPN: "anna@kanzlei.de", DisplayName: "Anna Müller", Entity: good.Name, Modules: []config.Module{config.Mail},
		Accounts: []config.MailAccount{{Address: "anna@kanzlei.de"}}}
	for _, tc := range []struct {
		name, field, want string
		save              func() error
	}{
		{"entity name latin-1", "name", encoding, func() error { e := good; e.Name = latin1; return r.SaveEntity(ctx, e) }},
		{"entity name replaced by a decoder", "name", encoding, func() error { e := good; e.Name = "Kanzlei \uFFFD M\uFFFDller"; return r.SaveEntity(ctx, e) }},
		{"entity name with a line break", "name", control, func() error { e := good; e.Name = "Kanzlei\nMüller"; return r.SaveEntity(ctx, e) }},
		{"entity name with a right-to-left override", "name", control, func() error { e := good; e.Name = "Kanzlei \u202eredlüM"; return r.SaveEntity(ctx, e) }},
		{"entity name too long", "name", length, func() error { e := good; e.Name = long; return r.SaveEntity(ctx, e) }},
		{"tenant latin-1", "tenant", encoding, func() error { e := good; e.Tenant = "kanzlei-m\xfcller.de"; return r.SaveEntity(ctx, e) }},
		{"cache path with a NUL", "cachePath", control, func() error { e := good; e.CachePath = "/tmp/cache\x00.sqlite"; return r.SaveEntity(ctx, e) }},
		{"worker name too long", "displayName", length, func() error { w := worker; w.DisplayName = long; return r.SaveWorker(ctx, w) }},
		{"worker name latin-1", "displayName", encoding, func() error { w := worker; w.DisplayName = "Anna M\xfcller"; return r.SaveWorker(ctx, w) }},
		{"worker name with a tab", "displayName", control, func() error { w := worker; w.DisplayName = "Anna\tMüller"; return r.SaveWorker(ctx, w) }},
		{"UPN latin-1", "upn", encoding, func() error { w := worker; w.UPN = "m\xfcller@kanzlei.de"; return r.SaveWorker(ctx, w) }},
		{"UPN with an escape", "upn", control, func() error { w := worker; w.UPN = "anna\x1b[31m@kanzlei.de"; return r.SaveWorker(ctx, w) }},
		{"account address with a line break", "accounts[0].address", control, func() error {
			w := worker
			w.Accounts = []config.MailAccount{{Address: "anna@kanzlei.de\r\nBcc: x@y.de"}}
			return r.SaveWorker(ctx, w)
		}},
		{"move-to folder latin-1", "accounts[0].graphMoveTo", encoding, func() error {
			w := worker
			w.Accounts = []config.MailAccount{{Address: "anna@kanzlei.de", Transport: config.GraphMail, GraphMoveTo: "Abgeholt f\xfcr Kommunikator"}}
			return r.SaveWorker(ctx, w)
		}},
		{"mail drop with a line break", "accounts[0].dropDir", control, func() error {
			w := worker
			w.Accounts = []config.MailAccount{{Address: "anna@kanzlei.de", DropDir: "/srv/mail\n/anna"}}
			return r.SaveWorker(ctx, w)
		}},
		{"POP3 host too long", "accounts[0].pop3Host", "Rechnername", func() error {
			w := worker
			w.Accounts = []config.MailAccount{{Address: "anna@kanzlei.de", POP3Host: strings.Repeat("a.", 200) + "de"}}
			return r.SaveWorker(ctx, w)
		}},
		{"To Do list latin-1", "todoListName", encoding, func() error {
			s := config.DefaultSettings()
			s.TodoListName = "Fristen f\xfcr M\xfcller"
			return r.SaveSettings(ctx, s)
		}},
		{"To Do list too long", "todoListName", length, func() error {
			s := config.DefaultSettings()
			s.TodoListName = strings.Repeat("Frist ", 50)
			return r.SaveSettings(ctx, s)
		}},
		{"scope probe with a NUL", "scopeProbe", control, func() error {
			s := config.DefaultSettings()
			s.ScopeProbe = "chefin@kanzlei.de\x00"
			return r.SaveSettings(ctx, s)
		}},
		{"keep taken days negative", "keepTakenDays", "3650", func() error {
			s := config.DefaultSettings()
			s.KeepTakenDays = -5
			return r.SaveSettings(ctx, s)
		}},
	} {
		err := tc.save()
		if msg := config.FieldMessage(err, tc.field); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message for %s = %q (err %v)", tc.name, tc.field, msg, err)
		}
	}
	// nothing of it was stored
	if es, _ := r.Entities(ctx); len(es) != 1 || es[0].Name != good.Name {
		t.Errorf("entities after the refusals: %+v", es)
	}
	if _, err := r.Worker(ctx, worker.UPN); err == nil {
		t.Error("a refused worker was stored")
	}
	if s, _ := r.Settings(ctx); s != config.DefaultSettings() {
		t.Errorf("refused settings were stored: %+v", s)
	}
	// what a firm really types is taken
	fine := worker
	fine.DisplayName = "Dr. Anna Müller-Lüdenscheidt (Fachanwältin für Arbeitsrecht) 👩‍⚖️"
	fine.Accounts = []config.MailAccount{{Address: "anna@kanzlei.de", Transport: config.GraphMail, GraphMoveTo: "Von kanzleisync abgeholt – Ärger & Co."}}
	if err := r.SaveWorker(ctx, fine); err != nil {
		t.Errorf("a real name refused: %v", err)
	}
	e := good
	e.Name = "Kanzlei Özdemir, Ünal & Weiß"
	if err := r.SaveEntity(ctx, e); err != nil {
		t.Errorf("a real entity name refused: %v", err)
	}
}

// A secret as the Azure portal shows it is printable ASCII; what a copy
// adds (a line break inside, a non-breaking space, a typographic quote,
// another encoding) is named with its position before it reaches the keyring.
func TestSecretWithForeignCharacters(t *testing.T) {
	for secret, want := range map[string]string{
		"Abc8Q~xYz.12\n34567890abcdefghijKLMNOP":   "an Stelle 13",
		"Abc8Q~xYz.1234\u00a0567890abcdefghijKLMN": "an Stelle 15",
		"„Abc8Q~xYz.1234567890abcdefghijKLMNOP“":   "an Stelle 1",
		"Abc8Q~xYz.1234567890abc\xe4efghijKLMNOP":  "an Stelle 24",
	} {
		if msg := config.FieldMessage(config.ValidateSecret(secret), "secret"); !strings.Contains(msg, want) || !strings.Contains(msg, "Spalte „Wert“") {
			t.Errorf("%q: %q", secret, msg)
		}
	}
}

// An import file is exactly one JSON object in UTF-8: a second object after
// it (here one holding a secret) and a file saved as Windows-1252 are
// refused, not silently cut or turned into „�“.
func TestImportIsOneUTF8Object(t *testing.T) {
	ctx := context.Background()
	src, dst := newRepo(t), newRepo(t)
	if err := src.SaveEntity(ctx, good); err != nil {
		t.Fatal(err)
	}
	data, err := src.ExportEntity(ctx, good.Name)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		file []byte
		want string
	}{
		"trailing object":  {append(append([]byte{}, data...), []byte("\n{\"clientSecret\": \"Abc8Q~geheim\"}\n")...), "genau ein JSON-Objekt"},
		"trailing garbage": {append(append([]byte{}, data...), []byte(" x")...), "genau ein JSON-Objekt"},
		"windows-1252":     {[]byte(strings.Replace(string(data), "Müller", "M\xfcller", 1)), "nicht als UTF-8 gespeichert"},
	} {
		_, err := dst.ImportEntity(ctx, tc.file)
		if msg := config.FieldMessage(err, "file"); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %q (err %v)", name, msg, err)
		}
	}
	if es, _ := dst.Entities(ctx); len(es) != 0 {
		t.Errorf("a refused import was stored: %+v", es)
	}
	if _, err := dst.ImportEntity(ctx, append(data, '\n', '\n')); err != nil {
		t.Errorf("an export with trailing blank lines refused: %v", err)
	}
}

// The disclosure and show-as settings take only their documented values;
// anything else is refused with the field named and the choices listed.
func TestDisclosureSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		name, field, want string
		mod               func(*config.Settings)
	}{
		{"a location as fixed text", "terminOrt", "„leer“", func(s *config.Settings) { s.AppointmentLocation = "text:Gericht" }},
		{"an empty subject", "fristBetreff", "text:Gerichtstermin", func(s *config.Settings) { s.DeadlineSubject = config.DiscloseNone }},
		{"a fixed text without text", "wvBetreff", "fehlt der feste Text", func(s *config.Settings) { s.ResubmissionSubject = "text: " }},
		{"a typo", "terminText", "„aktenzeichen“", func(s *config.Settings) { s.AppointmentBody = "aktenzeichenn" }},
		{"a fixed text with a line break", "terminBetreff", "Steuerzeichen", func(s *config.Settings) { s.AppointmentSubject = "text:Gericht\ntermin" }},
		{"a confidential text too long", "vertraulichBetreff", "höchstens 255", func(s *config.Settings) { s.ConfidentialSubject = strings.Repeat("T", 256) }},
		{"show-as in German", "fristAnzeigenAls", "„oof“", func(s *config.Settings) { s.DeadlineShowAs = "abwesend" }},
	} {
		s := config.DefaultSettings()
		tc.mod(&s)
		if msg := config.FieldMessage(s.Validate(), tc.field); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message for %s = %q", tc.name, tc.field, msg)
		}
	}
	s := config.DefaultSettings()
	s.AppointmentSubject, s.AppointmentLocation, s.AppointmentBody = "text:Gerichtstermin", config.DiscloseFileNo, "voll"
	s.DeadlineSubject, s.DeadlineBody, s.ResubmissionSubject, s.ResubmissionBody = config.DiscloseFileNo, config.DiscloseNone, "text:Wiedervorlage", config.DiscloseNone
	s.ConfidentialSubject, s.DeadlineShowAs, s.ResubmissionShowAs = "Privat", "oof", "busy"
	if err := s.Validate(); err != nil {
		t.Errorf("valid choices refused: %v", err)
	}
}
