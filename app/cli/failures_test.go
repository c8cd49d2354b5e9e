package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"kanzleisync/app/auth"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/text"
)

// goErrors are the English texts of Go's and the libraries' errors that a
// person must never read in place of a German (or English) explanation.
var goErrors = regexp.MustCompile(`(?i)no such file or directory|permission denied|is a directory|invalid argument|connection refused|` +
	`flag provided but not defined|invalid value .* for flag|unexpected EOF|invalid character|cannot unmarshal|json: |strconv\.|` +
	`parsing time|sql: |sqlite|context deadline exceeded|context canceled|i/o timeout|no such host|x509: |tls: |` +
	`open [^ ]+: |dial tcp|EOF$|panic|goroutine`)

// Every failure of a command says what went wrong in the reader's
// language, never with a Go error's English text (in German, nor in the
// English output: there the catalog's English, not Go's).
func TestFailuresSpeakPlainly(t *testing.T) {
	defer text.SetLanguage(text.German)
	w := newWorkstationWith(t, nil, testAdminPassword, auth.SecretKey("Kanzlei"))
	missing := filepath.Join(w.dir, "fehlt", "entity.json")
	broken := filepath.Join(w.dir, "kaputt.json")
	if err := os.WriteFile(broken, []byte("{kein json"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(w.dir, "ordner")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		stdin string
		args  []string
	}{
		{"", []string{"gibtsnicht"}},
		{"", []string{"config"}},
		{"", []string{"config", "entity"}},
		{"", []string{"config", "entity", "set", "--gibtsnicht"}},
		{"", []string{"config", "entity", "set", "--name", "Kanzlei", "--tenant", "kein-guid", "--client-id", "x"}},
		{"", []string{"config", "entity", "set", "--name", "Kanzlei", "--tenant", "6f1c2b7e-3d4a-4e59-9a1b-2c3d4e5f6a7b", "--client-id", "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b", "--secret-expires", "morgen"}},
		{"", []string{"config", "entity", "import", "--file", missing}},
		{"", []string{"config", "entity", "import", "--file", broken}},
		{"", []string{"config", "entity", "import", "--file", dir}},
		{"", []string{"config", "entity", "export", "--name", "Gibtsnicht", "--file", missing}},
		{"", []string{"config", "worker", "set", "--upn", "kein-upn", "--name", "X", "--entity", "Gibtsnicht", "--modules", "kalender"}},
		{"", []string{"config", "worker", "set", "--upn", "a@b.de", "--name", "X", "--entity", "Gibtsnicht", "--account", "a@b.de,pop3=host"}},
		{"", []string{"config", "settings", "set", "--local-pop3", "irgendwo"}},
		{"", []string{"config", "settings", "set", "--max-message-mb", "viel"}},
		{"", []string{"config", "settings", "set", "--active=true"}},
		{"", []string{"auth", "login"}},
		{"", []string{"auth", "login", "--worker", "niemand@kanzlei.example"}},
		{"", []string{"auth", "logout", "--worker", "niemand@kanzlei.example"}},
		{"", []string{"sync"}},
		{"", []string{"sync", "--once", "--preview", "--confirm-deletions"}},
		{"", []string{"sync", "--once", "--entity", "Gibtsnicht"}},
		{"", []string{"mail", "testmail", "--worker", "niemand@kanzlei.example"}},
		{"", []string{"mail", "kommunikator", "--worker", "niemand@kanzlei.example"}},
		{"", []string{"admin", "password", "set"}},
		{"kurz\n", []string{"admin", "password", "set"}},
		{"", []string{"diagnose", "--gibtsnicht"}},
	}
	for _, lang := range []string{text.German, text.English} {
		text.SetLanguage(lang)
		failed := 0
		for _, c := range cases {
			code, out := w.run(c.stdin, c.args...)
			if code == 0 {
				continue
			}
			failed++
			if strings.TrimSpace(out) == "" {
				t.Errorf("%s %v: exit %d without a word", lang, c.args, code)
			}
			if m := goErrors.FindString(out); m != "" {
				t.Errorf("%s %v: Go's error text %q in\n%s", lang, c.args, m, out)
			}
			if m := germanMarks.FindString(englishValues.Replace(out)); lang == text.English && m != "" {
				t.Errorf("%v: German (%q) in the English\n%s", c.args, m, out)
			}
		}
		if failed < len(cases)-3 {
			t.Errorf("%s: only %d of %d failure cases failed", lang, failed, len(cases))
		}
	}
}

// englishValues are the German names and values English output keeps.
var englishValues = strings.NewReplacer("Anna Müller", "", "Fristen und Wiedervorlagen", "", "Kanzlei", "", "--local-pop3 127.0.0.1:1110|aus", "",
	"--local-smtp 127.0.0.1:1587|aus", "", "leave=DAYS|immer", "", "“aus”", "", "“immer”", "", "fehlt", "", "kaputt", "", "ordner", "", "Gibtsnicht", "", "gibtsnicht", "", "kalender", "", "kein-guid", "", "kein-upn", "", "irgendwo", "", "viel", "", "morgen", "", "niemand", "")

// germanMarks finds German in English output: its letters and quotation
// mark, and everyday words English does not have.
var germanMarks = regexp.MustCompile(`[äöüÄÖÜß„]|\b(der|die|das|und|nicht|ist|ein|eine|bitte|Bitte|wird|kein|keine|mit|von|zu|auf|im|den|dem|sind|oder|noch|wurde|bei|nach|aus|ja|nein|Fehler|Konto|Sachbearbeiter|Nachricht|Nachrichten|Termin|Fristen|Postfach|Passwort|jetzt|Schnittstelle|aktiv|eingetragen|hinterlegt|angemeldet|Entität|Anmeldung|Angabe|Unbekannte|Datei|Eingaben|gültige?|Einstellungen|Anmelden|Speichern|Ordner|Benutzer|geändert|verständigen|prüfen)\b`)

// The everyday commands of IT, in English from start to end: set-up,
// sign-in, status, a synchronisation, the Kommunikator's settings and the
// test. Names and values keep their German (the firm's names, "aus",
// "immer", the To Do list's default name).
func TestEnglishCommandLine(t *testing.T) {
	text.SetLanguage(text.English)
	defer text.SetLanguage(text.German)
	w := newWorkstation(t)
	w.browser = func(u string) error {
		go simtest.NewBrowser().SignInAndDeliver(u, anna, m365sim.DemoPassword)
		return nil
	}
	var seen int
	for _, c := range [][]string{
		{"help"},
		{"config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID, "--client-id", m365sim.DemoClientID, "--secret-expires", "31.05.2028",
			"--authority-host", w.sim.URL(), "--graph-endpoint", w.sim.URL(), "--cache", filepath.Join(w.dir, "fehlt.sqlite"), "--secret-stdin"},
		{"config", "worker", "set", "--upn", anna, "--name", "Anna Müller", "--entity", "Kanzlei", "--modules", "calendar,contacts,tasks,mail", "--account", anna},
		{"auth", "status"},
		{"auth", "login", "--worker", anna},
		{"auth", "status"},
		{"config", "settings", "set", "--active=true"},
		{"config", "settings", "set", "--active=true", "--confirm"},
		{"config", "show"},
		{"sync", "--once", "--preview"},
		{"sync", "--once"},
		{"mail", "kommunikator", "--worker", anna},
		{"diagnose"},
		{"diagnose", "--json"},
	} {
		stdin := ""
		if slices.Contains(c, "--secret-stdin") {
			stdin = m365sim.DemoClientSecret + "\n"
		}
		_, out := w.run(stdin, c...)
		if strings.TrimSpace(out) == "" {
			t.Errorf("%v says nothing", c)
		}
		for _, line := range strings.Split(out, "\n") {
			seen++
			if m := germanMarks.FindString(englishValues.Replace(line)); m != "" {
				t.Errorf("%v: German (%q) in %q", c, m, line)
			}
		}
	}
	if seen < 100 {
		t.Errorf("only %d lines read", seen)
	}
}

// IT makes the certificate on the server: the key goes into the keyring,
// the .cer (public part only) is written for the upload, and after the
// upload the app works without any client secret; a wrong PEM is refused
// in words and stores nothing.
func TestEntityCertificateCreate(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	// the app may read its registration: Anbindung testen finds the upload
	tf.Tenants[0].Apps[0].AppRoles = append(tf.Tenants[0].Apps[0].AppRoles, "Application.Read.All")
	w := newWorkstationWith(t, tf, testAdminPassword, auth.CertificateKey("Kanzlei"))
	if code, out := w.run("", "config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID, "--client-id", m365sim.DemoClientID,
		"--authority-host", w.sim.URL(), "--graph-endpoint", w.sim.URL()); code != 0 {
		t.Fatalf("entity set: %d %s", code, out)
	}
	cer := filepath.Join(w.dir, "kanzlei.cer")
	code, out := w.run("", "config", "entity", "certificate", "create", "--name", "Kanzlei", "--file", cer)
	if code != 0 || !strings.Contains(out, "Zertifikat für die Entität „Kanzlei“ angelegt, gültig bis") || !strings.Contains(out, "Zertifikat hochladen") {
		t.Fatalf("certificate create: %d %s", code, out)
	}
	der, err := os.ReadFile(cer)
	if err != nil || strings.Contains(string(der), "PRIVATE") {
		t.Fatalf("the .cer: %v", err)
	}
	if err := w.sim.AddCertificate(m365sim.DemoClientID, der); err != nil {
		t.Fatalf("the .cer is not what the portal takes: %v", err)
	}
	if _, err := w.deps.Auth.App("Kanzlei").TokenContext(t.Context()); err != nil {
		t.Fatalf("app token after the upload: %v", err)
	}
	if ok, _ := w.deps.Auth.HasClientSecret("Kanzlei"); ok {
		t.Error("a client secret is stored")
	}
	// Anbindung testen reads the end date from the certificate: nothing typed
	if _, out = w.run("", "diagnose"); !regexp.MustCompile(`grün +Zertifikat +gültig bis [0-9.]+ \(laut Zertifikat\) \[bei Microsoft hochgeladen \(keyCredentials\)\]`).MatchString(out) {
		t.Errorf("diagnose with a certificate:\n%s", out)
	}
	// a PFX as Windows exports it, with its password on stdin
	other, _ := auth.NewCertificate("Kanzlei", time.Now(), 24*time.Hour)
	pfx, err := pkcs12.Modern.Encode(other.Key, other.Cert, nil, "PFX-Passwort-1")
	if err != nil {
		t.Fatal(err)
	}
	pfxFile := filepath.Join(w.dir, "kanzlei.pfx")
	if err := os.WriteFile(pfxFile, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out = w.run("", "config", "entity", "certificate", "import", "--name", "Kanzlei", "--file", cer); code != 1 || !strings.Contains(out, "weder PEM noch eine lesbare PFX-Datei") {
		t.Errorf("a .cer is no key: %d %s", code, out)
	}
	if code, out = w.run("", "config", "entity", "certificate", "import", "--name", "Kanzlei", "--file", pfxFile); code != 2 || !strings.Contains(out, "Passwort der PFX-Datei bitte") {
		t.Errorf("PFX without a password: %d %s", code, out)
	}
	if code, out = w.run("falsch\n", "config", "entity", "certificate", "import", "--name", "Kanzlei", "--file", pfxFile); code != 1 || !strings.Contains(out, "Passwort der PFX-Datei ist falsch") {
		t.Errorf("PFX with a wrong password: %d %s", code, out)
	}
	if got, _ := w.deps.Auth.Certificate("Kanzlei"); got.Thumbprint() == other.Thumbprint() {
		t.Error("a refused PFX replaced the certificate")
	}
	if code, out = w.run("PFX-Passwort-1\n", "config", "entity", "certificate", "import", "--name", "Kanzlei", "--file", pfxFile); code != 0 || !strings.Contains(out, "übernommen") {
		t.Errorf("PFX import: %d %s", code, out)
	}
	if got, err := w.deps.Auth.Certificate("Kanzlei"); err != nil || got.Thumbprint() != other.Thumbprint() {
		t.Errorf("after the PFX import: %v", err)
	}
	code, out = w.run("kein PEM", "config", "entity", "certificate", "import", "--name", "Kanzlei")
	if code != 1 || !strings.Contains(out, "kein Zertifikat") {
		t.Errorf("import of no PEM: %d %s", code, out)
	}
	if code, out = w.run("", "config", "entity", "certificate", "create", "--name", "Kanzlei", "--years", "5"); code != 2 || !strings.Contains(out, "höchstens 3") {
		t.Errorf("--years 5: %d %s", code, out)
	}
}

// The server's Anbindung testen tries a mailbox that is no Sachbearbeiter's:
// readable → yellow „Zugriff auf alle Postfächer des Mandanten“ with the
// RBAC fix; with a management scope the members stay green and the
// outsider is refused (403) → green „beschränkt“, To Do named unscopable.
func TestScopeProbe(t *testing.T) {
	for _, scoped := range []bool{false, true} {
		tf := m365sim.DemoTenant(time.Now())
		if scoped {
			tf.Tenants[0].Apps[0].ScopedMailboxes = []string{anna}
		}
		w := newWorkstationWith(t, tf, testAdminPassword, auth.SecretKey("Kanzlei"))
		outsider := ""
		for _, u := range tf.Tenants[0].Users {
			if !strings.EqualFold(u.UPN, anna) {
				outsider = u.UPN
				break
			}
		}
		for _, c := range [][]string{
			{"config", "entity", "set", "--name", "Kanzlei", "--tenant", m365sim.DemoTenantID, "--client-id", m365sim.DemoClientID,
				"--authority-host", w.sim.URL(), "--graph-endpoint", w.sim.URL(), "--secret-stdin"},
			{"config", "worker", "set", "--upn", anna, "--name", "Anna Müller", "--entity", "Kanzlei", "--modules", "calendar,contacts"},
			{"config", "settings", "set", "--scope-probe", outsider},
		} {
			if code, out := w.run(m365sim.DemoClientSecret+"\n", c...); code != 0 {
				t.Fatalf("%v: %d %s", c, code, out)
			}
		}
		_, out := w.run("", "diagnose")
		entity := out[:strings.Index(out, "\n"+anna+"\n")]
		switch {
		case !scoped && !regexp.MustCompile(`gelb +Zugriffsbereich +Zugriff auf alle Postfächer des Mandanten`).MatchString(entity):
			t.Errorf("unscoped app:\n%s", entity)
		case scoped && (!regexp.MustCompile(`grün +Zugriffsbereich +auf die Postfächer der Kanzlei beschränkt`).MatchString(entity) || !strings.Contains(entity, "To Do lässt sich nicht beschränken")):
			t.Errorf("scoped app:\n%s", entity)
		case scoped && !regexp.MustCompile(`grün +Kalender +Zugriff funktioniert`).MatchString(entity):
			t.Errorf("the scoped app does not reach the Sachbearbeiter:\n%s", entity)
		}
	}
	w := newWorkstation(t)
	if code, out := w.run("", "config", "settings", "set", "--scope-probe", "kein postfach"); code != 1 || !strings.Contains(out, "Prüfpostfach") {
		t.Errorf("invalid probe: %d %s", code, out)
	}
}
