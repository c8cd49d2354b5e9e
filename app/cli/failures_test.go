package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"kanzleisync/app/auth"
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
		}
		if failed < len(cases)-3 {
			t.Errorf("%s: only %d of %d failure cases failed", lang, failed, len(cases))
		}
	}
}
