package handoff_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/handoff"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

const anna = "anna.mueller@kanzlei.example"

type server struct {
	st   *store.Store
	addr string
	pw   string
	srv  *handoff.POP3Server
}

func start(t *testing.T) *server {
	t.Helper()
	st, err := store.Open(filepath.Join(testsupport.TempDir(t), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &server{st: st, pw: "lokales-Passwort-0123456789abcd"}
	s.srv = &handoff.POP3Server{Store: st, FailDelay: 10 * time.Millisecond,
		Passwords: func(a string) (string, bool) { return s.pw, strings.EqualFold(a, anna) }}
	ln, err := s.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s
}

// messages as the upstream fetch stores them: CRLF, one with a line that
// begins with a dot, umlauts in 8 bit, one as bare LF (Graph's MIME).
var mails = [][]byte{
	[]byte("From: mandant@example.org\r\nTo: " + anna + "\r\nSubject: Klage\r\nMessage-ID: <1@example.org>\r\n\r\nSehr geehrte Frau Müller,\r\n.\r\n..zwei Punkte\r\nGruß\r\n"),
	[]byte("From: gericht@example.org\r\nSubject: =?utf-8?q?Ladung_M=C3=BCller?=\r\n\r\n" + strings.Repeat("Zeile mit Text für die Akte 12/26.\r\n", 3000)),
	[]byte("From: graph@example.org\nSubject: LF\n\nnur LF\n"),
}

func (s *server) fill(t *testing.T) []store.Message {
	t.Helper()
	for i, raw := range mails {
		if err := s.st.StoreMessages(context.Background(), store.Message{Account: anna, UIDL: "up" + string(rune('a'+i)), Raw: raw}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := s.st.Waiting(context.Background(), anna)
	if err != nil || len(w) != len(mails) {
		t.Fatalf("waiting %d: %v", len(w), err)
	}
	return w
}

func poplib(t *testing.T, s *server, user, pw, mode string, keep bool) (string, string, error) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is missing: run through make test (.ci/install-deps installs it)")
	}
	host, port, _ := net.SplitHostPort(s.addr)
	out := testsupport.TempDir(t)
	args := []string{"testdata/poplib_fetch.py", host, port, user, pw, out, mode}
	if keep {
		args = append(args, "keep")
	}
	b, err := exec.Command("python3", args...).CombinedOutput()
	return strings.TrimSpace(string(b)), out, err
}

// Python's poplib, an independent client, fetches byte-exact what the store
// holds; its DELE and QUIT mark the messages taken, and a second fetch
// finds nothing.
func TestPoplibFetchesAndTakes(t *testing.T) {
	for _, mode := range []string{"userpass", "plain"} {
		t.Run(mode, func(t *testing.T) {
			s := start(t)
			s.fill(t)
			got, dir, err := poplib(t, s, anna, s.pw, mode, false)
			if err != nil {
				t.Fatalf("poplib: %v: %s", err, got)
			}
			if !strings.HasPrefix(got, "3 ") || !strings.HasSuffix(got, " TOP") {
				t.Errorf("poplib says %q", got)
			}
			for i, raw := range mails {
				b, _ := os.ReadFile(filepath.Join(dir, string(rune('1'+i))+".eml"))
				want := raw
				if i == 2 {
					want = bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
				}
				if !bytes.Equal(b, want) {
					t.Errorf("message %d differs: %d bytes, want %d:\n%.200q", i+1, len(b), len(want), b)
				}
			}
			if w, _ := s.st.Waiting(context.Background(), anna); len(w) != 0 {
				t.Errorf("%d messages still waiting after DELE and QUIT", len(w))
			}
			msgs, _ := s.st.Messages(context.Background(), anna)
			for _, m := range msgs {
				if m.Taken.IsZero() {
					t.Errorf("message %d not marked taken", m.ID)
				}
			}
			if got, _, err := poplib(t, s, anna, s.pw, mode, false); err != nil || !strings.HasPrefix(got, "0 0") {
				t.Errorf("second fetch: %q %v", got, err)
			}
		})
	}
}

func TestWrongPasswordAndNoQuitTakeNothing(t *testing.T) {
	s := start(t)
	s.fill(t)
	if got, _, err := poplib(t, s, anna, "falsch", "userpass", false); err == nil || !strings.Contains(got, "Passwort falsch") {
		t.Errorf("wrong password: %v %q", err, got)
	}
	if got, _, err := poplib(t, s, "fremd@kanzlei.example", s.pw, "userpass", false); err == nil {
		t.Errorf("an unknown account logged in: %q", got)
	}
	// DELE without QUIT: the connection drops, nothing is taken
	c := dial(t, s)
	c.cmd(t, "USER "+anna, "+OK")
	c.cmd(t, "PASS "+s.pw, "+OK 3 Nachrichten")
	c.cmd(t, "DELE 1", "+OK")
	c.conn.Close()
	// the session's end frees the mailbox: a new one logs in
	testsupport.Eventually(t, 5*time.Second, "the dropped session released", func() bool {
		c := dial(t, s)
		defer c.conn.Close()
		c.cmd(t, "USER "+anna, "+OK")
		return strings.HasPrefix(c.send(t, "PASS "+s.pw), "+OK 3 ")
	})
	if w, _ := s.st.Waiting(context.Background(), anna); len(w) != 3 {
		t.Errorf("%d waiting after a session without QUIT, want 3", len(w))
	}
}

func TestSecondSessionIsRefused(t *testing.T) {
	s := start(t)
	s.fill(t)
	a := dial(t, s)
	a.cmd(t, "USER "+anna, "+OK")
	a.cmd(t, "PASS "+s.pw, "+OK")
	b := dial(t, s)
	b.cmd(t, "USER "+anna, "+OK")
	b.cmd(t, "PASS "+s.pw, "-ERR [IN-USE]")
	a.cmd(t, "RETR 4", "-ERR")
	a.cmd(t, "TOP 1 1", "+OK")
	if l := a.line(t); l != "From: mandant@example.org" {
		t.Errorf("TOP: %q", l)
	}
}

func TestTooManyFailuresCloseTheConnection(t *testing.T) {
	s := start(t)
	c := dial(t, s)
	for i := range 3 {
		c.cmd(t, "USER "+anna, "+OK")
		c.cmd(t, "PASS falsch", "-ERR [AUTH]")
		_ = i
	}
	if _, err := c.r.ReadString('\n'); err == nil {
		t.Error("the connection stayed open after three wrong passwords")
	}
}

func TestListensOnLoopbackOnly(t *testing.T) {
	s := &handoff.POP3Server{}
	if _, err := s.Listen("0.0.0.0:0"); !errors.Is(err, handoff.ErrNotLoopback) {
		t.Errorf("0.0.0.0: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = s.Listen(ln.Addr().String())
	var inUse *handoff.PortInUseError
	if !errors.As(err, &inUse) || !strings.Contains(err.Error(), "lokale POP3-Server") || !strings.Contains(err.Error(), "--local-pop3") {
		t.Errorf("taken port: %v", err)
	}
	// the SMTP server's says so, with its own flag
	_, err = (&handoff.SMTPServer{}).Listen(ln.Addr().String())
	if !errors.As(err, &inUse) || !strings.Contains(err.Error(), "lokale SMTP-Server") || !strings.Contains(err.Error(), "--local-smtp") {
		t.Errorf("taken port for SMTP: %v", err)
	}
}
