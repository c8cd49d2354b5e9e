package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/source"
)

// guideCommand is one command line of a ```sh block of docs/einrichtung.md.
type guideCommand struct {
	line  string
	args  []string
	stdin string
	env   map[string]string // export NAME='value'
}

// guideCommands reads the top-level ```sh blocks of the guide, in order:
// continuation lines joined, comments dropped, `echo 'x' | kanzleisync …`
// and `kanzleisync … < datei` as standard input.
func guideCommands(t *testing.T, path string) []guideCommand {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []guideCommand
	in := false
	pending := ""
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case !in && l == "```sh":
			in = true
			continue
		case in && l == "```":
			in = false
			continue
		case !in:
			continue
		}
		l = strings.TrimSpace(l)
		if strings.HasSuffix(l, "\\") {
			pending += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		l, pending = pending+l, ""
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		c := guideCommand{line: l}
		if rest, ok := strings.CutPrefix(l, "export "); ok {
			name, value, _ := strings.Cut(rest, "=")
			c.env = map[string]string{name: strings.Trim(value, `'"`)}
			out = append(out, c)
			continue
		}
		if before, after, ok := strings.Cut(l, " | "); ok && strings.HasPrefix(before, "echo ") {
			c.stdin = strings.Trim(strings.TrimPrefix(before, "echo "), `'"`) + "\n"
			l = after
		}
		if before, after, ok := strings.Cut(l, " < "); ok {
			c.stdin = "<" + strings.TrimSpace(after)
			l = before
		}
		words := shellWords(t, l)
		if len(words) == 0 || words[0] != "kanzleisync" {
			t.Fatalf("the guide's sh block has a line that is not a kanzleisync command: %q", c.line)
		}
		c.args = words[1:]
		out = append(out, c)
	}
	return out
}

// shellWords splits a command line as a POSIX shell would for the simple
// quoting the guide uses.
func shellWords(t *testing.T, l string) []string {
	var words []string
	var cur strings.Builder
	quote, inWord := rune(0), false
	for _, r := range l {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", l)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestSetupGuide walks docs/einrichtung.md: every command of its sh blocks,
// in the guide's order, against the emulator, must succeed. The guide's
// firm (kanzlei.de) is the emulator's (kanzlei.example); the entity points
// at the emulator, mail accounts at its POP3/SMTP; the cache path is a
// generated cache; the secret file holds the emulator's secret.
func TestSetupGuide(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	tf.Tenants[0].Users = append(tf.Tenants[0].Users, m365sim.User{ID: "0a1b2c3d-0000-4000-8000-0000000000a7", UPN: "archiv@kanzlei.example",
		DisplayName: "Archiv", Password: m365sim.DemoPassword})
	const entity = "Kanzlei Müller & Partner"
	w := newWorkstationWith(t, tf, "", auth.SecretKey(entity), auth.RefreshKey(anna), auth.CertificateKey(entity))
	w.deps.MailTLS = simtest.TLSConfig(w.sim)
	w.browser = func(u string) error {
		go simtest.NewBrowser().SignInAndDeliver(u, anna, m365sim.DemoPassword)
		return nil
	}
	env := map[string]string{}
	w.deps.AdminPassword = func() string { return env["KANZLEISYNC_ADMIN_PASSWORD"] }
	cache := filepath.Join(w.dir, "cache.sqlite")
	if err := source.Generate(context.Background(), cache, source.GenOptions{Seed: 3, Appointments: 5, Deadlines: 3, Addresses: 4, Subscriptions: 2}); err != nil {
		t.Fatal(err)
	}
	cmds := guideCommands(t, filepath.Join("..", "..", "docs", "einrichtung.md"))
	if len(cmds) < 8 {
		t.Fatalf("only %d commands found in the guide", len(cmds))
	}
	ran := map[string]bool{}
	certified := false
	for _, c := range cmds {
		if c.env != nil {
			for k, v := range c.env {
				env[k] = v
			}
			continue
		}
		args := make([]string, 0, len(c.args)+4)
		cer := ""
		for i, a := range c.args {
			a = strings.ReplaceAll(a, "@kanzlei.de", "@kanzlei.example")
			switch {
			case i > 0 && c.args[i-1] == "--file" && strings.HasSuffix(a, ".cer"):
				cer = filepath.Join(w.dir, a)
				a = cer
			case i > 0 && c.args[i-1] == "--cache":
				a = cache
			case i > 0 && c.args[i-1] == "--account" && !strings.Contains(a, "graph"):
				a += ",pop3=" + w.sim.POP3SAddr() + ",smtp=" + w.sim.SMTPAddr()
			}
			args = append(args, a)
		}
		if len(args) >= 3 && args[0] == "config" && args[1] == "entity" && args[2] == "set" && slices.Contains(args, "--tenant") {
			args = append(args, "--authority-host", w.sim.URL(), "--graph-endpoint", w.sim.URL())
		}
		stdin := c.stdin
		if stdin == "<schluessel.txt" {
			stdin = m365sim.DemoClientSecret + "\n"
		}
		code, out := w.run(stdin, args...)
		if code != 0 {
			t.Fatalf("the guide's command failed (exit %d):\n  %s\n%s", code, c.line, out)
		}
		if cer != "" {
			certified = true
			// the guide's next step in the Azure portal: upload the .cer
			der, err := os.ReadFile(cer)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.sim.AddCertificate(m365sim.DemoClientID, der); err != nil {
				t.Fatal(err)
			}
		}
		if slices.Contains(c.args, "diagnose") && certified && !strings.Contains(out, "(laut Zertifikat)") {
			t.Errorf("after the certificate, diagnose does not rate it:\n%s", out)
		}
		t.Logf("%s\n%s", c.line, out)
		ran[strings.Join(c.args[:min(2, len(c.args))], " ")] = true
	}
	if n := simtest.Items(t, w.sim, anna); n != 10 { // 5 appointments, 3 deadlines as tasks, 2 subscribed addresses
		t.Errorf("after the guide, Anna's mailbox has %d items, want 10", n)
	}
	for _, want := range []string{"admin password", "config entity", "config worker", "auth login", "diagnose", "mail testmail", "config settings", "sync --once"} {
		if !ran[want] {
			t.Errorf("the guide no longer shows %q", want)
		}
	}
}
