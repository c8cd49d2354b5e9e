package handoff_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"kanzleisync/app/testsupport"
)

func need(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s is missing: run through make test (.ci/install-deps installs it)", tool)
	}
}

// fetchmail, as a Kommunikator would, takes every waiting message through
// the local POP3 server (and deletes it there); each file it delivers is
// the stored message byte for byte, apart from the Received header
// fetchmail puts on top.
func TestFetchmailFetches(t *testing.T) {
	need(t, "fetchmail")
	s := start(t)
	s.fill(t)
	host, port, _ := net.SplitHostPort(s.addr)
	dir := testsupport.TempDir(t)
	rc := filepath.Join(dir, "fetchmailrc")
	out := filepath.Join(dir, "mail")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("set no bouncemail\npoll %s service %s protocol pop3 auth password\n  user %q password %q\n  sslproto '' nokeep fetchall no rewrite\n  mda \"/bin/sh -c 'cat > %s/$$.eml'\"\n",
		host, port, anna, s.pw, out)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("fetchmail", "-f", rc, "--nodetach", "--nosyslog", "-v", "--pidfile", filepath.Join(dir, "pid"))
	cmd.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fetchmail: %v\n%s", err, b)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.eml"))
	if len(files) != len(mails) {
		t.Fatalf("fetchmail delivered %d files, want %d:\n%s", len(files), len(mails), b)
	}
	var got []string
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		// fetchmail adds its Received header and hands LF line ends to the MDA
		_, rest, _ := strings.Cut(string(raw), "\n")
		for strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "\t") {
			_, rest, _ = strings.Cut(rest, "\n")
		}
		got = append(got, rest)
	}
	var want []string
	for _, m := range mails {
		want = append(want, string(bytes.ReplaceAll(m, []byte("\r\n"), []byte("\n"))))
	}
	sort.Strings(got)
	sort.Strings(want)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message differs:\n got %.120q\nwant %.120q", got[i], want[i])
		}
	}
	if w, _ := s.st.Waiting(context.Background(), anna); len(w) != 0 {
		t.Errorf("%d messages still waiting after fetchmail's QUIT", len(w))
	}
}

// swaks submits with AUTH LOGIN and an attachment; the message is queued.
func TestSwaksSubmits(t *testing.T) {
	need(t, "swaks")
	st := openStore(t)
	addr := startSMTP(t, st)
	host, port, _ := net.SplitHostPort(addr)
	att := filepath.Join(testsupport.TempDir(t), "Klageschrift.pdf")
	if err := os.WriteFile(att, bytes.Repeat([]byte("%PDF-1.7 Klage "), 20000), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command("swaks", "--server", host, "--port", port, "--auth", "LOGIN", "--auth-user", anna, "--auth-password", localPW,
		"--from", anna, "--to", "gericht@example.org", "--header", "Subject: Klage Müller", "--attach", "@"+att).CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, b)
	}
	out, _ := st.OutboxOf(context.Background(), anna)
	if len(out) != 1 || !bytes.Contains(out[0].Raw, []byte("Klageschrift.pdf")) || len(out[0].Raw) < 300000 {
		t.Fatalf("outbox after swaks: %d messages", len(out))
	}
	b, _ = exec.Command("swaks", "--server", host, "--port", port, "--auth", "LOGIN", "--auth-user", anna, "--auth-password", "falsch",
		"--from", anna, "--to", "gericht@example.org").CombinedOutput()
	if !strings.Contains(string(b), "535 5.7.8") {
		t.Errorf("swaks with a wrong password:\n%s", b)
	}
}
