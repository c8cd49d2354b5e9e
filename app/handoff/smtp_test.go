package handoff_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/handoff"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

const localPW = "lokales-Passwort-0123456789abcd"

func startSMTP(t *testing.T, st *store.Store) string { return startSMTPLimit(t, st, 0) }

// startSMTPLimit starts a local SMTP server taking messages up to limit
// bytes (0: the default).
func startSMTPLimit(t *testing.T, st *store.Store, limit int64) string {
	t.Helper()
	srv := &handoff.SMTPServer{Store: st, Passwords: func(a string) (string, bool) { return localPW, strings.EqualFold(a, anna) }}
	if limit > 0 {
		srv.Limit = func() int64 { return limit }
	}
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

func smtplib(t *testing.T, addr, user, pw, from, to, mech string, attach int) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is missing: run through make test")
	}
	host, port, _ := net.SplitHostPort(addr)
	b, err := exec.Command("python3", "testdata/smtplib_send.py", host, port, user, pw, from, to, mech, strconv.Itoa(attach)).CombinedOutput()
	if err != nil {
		t.Fatalf("smtplib: %v: %s", err, b)
	}
	return strings.TrimSpace(string(b))
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(testsupport.TempDir(t), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Python's smtplib submits through the local SMTP server; the message is in
// the outbox when 250 comes, with Date and Message-ID added; a foreign
// sender and a wrong password are refused in German.
func TestSmtplibQueues(t *testing.T) {
	st := openStore(t)
	addr := startSMTP(t, st)
	for _, mech := range []string{"PLAIN", "LOGIN", "TLS+PLAIN"} { // the last after STARTTLS
		if got := smtplib(t, addr, anna, localPW, anna, "gericht@example.org", mech, 1<<20); got != "ok" {
			t.Fatalf("%s: %s", mech, got)
		}
	}
	out, _ := st.OutboxOf(context.Background(), anna)
	if len(out) != 3 || out[0].State != store.Queued || len(out[0].Rcpts) != 1 || out[0].Rcpts[0] != "gericht@example.org" {
		t.Fatalf("outbox %+v", out)
	}
	raw := string(out[0].Raw)
	for _, want := range []string{"Date: ", "Message-ID: <", "Klageschrift.pdf", "Subject: "} {
		if !strings.Contains(raw, want) {
			t.Errorf("queued message lacks %q", want)
		}
	}
	if len(out[0].Raw) < 1<<20 {
		t.Errorf("queued %d bytes, the attachment alone is 1 MB", len(out[0].Raw))
	}
	if got := smtplib(t, addr, anna, localPW, "chef@kanzlei.example", "gericht@example.org", "PLAIN", 0); !strings.HasPrefix(got, "553") || !strings.Contains(got, "passt nicht zum angemeldeten Konto") {
		t.Errorf("foreign sender: %s", got)
	}
	if got := smtplib(t, addr, anna, "falsch", anna, "gericht@example.org", "PLAIN", 0); !strings.HasPrefix(got, "535") || !strings.Contains(got, "Passwort falsch") {
		t.Errorf("wrong password: %s", got)
	}
	if out, _ := st.OutboxOf(context.Background(), anna); len(out) != 3 {
		t.Errorf("%d in the outbox after the refusals, want 3", len(out))
	}
}

// The outbox worker sends what the Kommunikator queued over SMTP with
// XOAUTH2 to the emulator; it arrives in the recipient's mailbox.
func TestOutboxSendsOverSMTP(t *testing.T) {
	sim := simtest.Start(t, nil, m365sim.Options{})
	st := openStore(t)
	addr := startSMTP(t, st)
	jens := "jens.schaefer@kanzlei.example"
	if got := smtplib(t, addr, anna, localPW, anna, jens, "PLAIN", 300<<10); got != "ok" {
		t.Fatal(got)
	}
	tok := simtest.SignIn(t, sim, anna, "https://outlook.office.com/SMTP.Send").AccessToken
	sender := &mail.Sender{Tokens: testsupport.StaticTokens{Token: tok}}
	acc := mail.Account{Address: anna, Addr: sim.SMTPAddr(), TLS: simtest.TLSConfig(sim), Timeout: 10 * time.Second}
	passes := make(chan struct{}, 10)
	ob := &handoff.Outbox{Store: st, Account: anna, Send: func(ctx context.Context, raw []byte, rcpts []string) error {
		return sender.SendRaw(ctx, acc, raw, rcpts)
	},
		OnDone: func() { passes <- struct{}{} }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ob.Run(ctx)
	<-passes
	out, _ := st.OutboxOf(context.Background(), anna)
	if len(out) != 1 || out[0].State != store.Sent {
		t.Fatalf("outbox after a pass: %+v", out)
	}
	state, err := sim.State(jens)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range state.Messages {
		found = found || strings.Contains(m["subject"].(string), "Schriftsatz")
	}
	if !found {
		t.Errorf("the message did not arrive in %s's mailbox: %d messages", jens, len(state.Messages))
	}
}

func TestOutboxRetriesAndFails(t *testing.T) {
	st := openStore(t)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, to := range []string{"a@example.org", "b@example.org"} {
		if _, err := st.Enqueue(context.Background(), anna, []string{to}, []byte("Subject: x\r\n\r\ny\r\n"), now); err != nil {
			t.Fatal(err)
		}
	}
	calls := map[string]int{}
	ob := &handoff.Outbox{Store: st, Account: anna, Now: func() time.Time { return now }, Send: func(_ context.Context, _ []byte, rcpts []string) error {
		calls[rcpts[0]]++
		if rcpts[0] == "b@example.org" {
			return &mail.SendError{Step: "rcpt", Code: 550, Enhanced: "5.1.1", Message: "Recipient address rejected"}
		}
		if calls[rcpts[0]] == 1 {
			return &mail.SendError{Step: "data", Code: 451, Enhanced: "4.3.0", Message: "Temporary server error"}
		}
		return nil
	}}
	var failed []string
	ob.OnFailed = func(o store.Outgoing, reason string, _ bool) { failed = append(failed, reason) }
	passes := make(chan struct{}, 10)
	ob.OnDone = func() { passes <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ob.Run(ctx)
	<-passes
	out, _ := st.OutboxOf(context.Background(), anna)
	byTo := map[string]store.Outgoing{}
	for _, o := range out {
		byTo[o.Rcpts[0]] = o
	}
	if a := byTo["a@example.org"]; a.State != store.Queued || !a.NextAt.After(now) || a.Attempts != 1 {
		t.Errorf("a temporary failure: %+v", a)
	}
	if b := byTo["b@example.org"]; b.State != store.Failed || len(failed) != 1 || b.Error == "" {
		t.Errorf("a permanent failure: %+v, %v", b, failed)
	}
	now = now.Add(time.Minute)
	ob.Kick()
	<-passes
	if a, _ := st.OutboxOf(context.Background(), anna); a[len(a)-1].State != store.Sent {
		t.Errorf("after the pause: %+v", a[len(a)-1])
	}
	if calls["b@example.org"] != 1 {
		t.Errorf("the refused message was sent %d times", calls["b@example.org"])
	}
}

// The notice of a message that cannot be sent reads well in German and is
// served to the Kommunikator like any mail.
func TestFailureNoticeReachesTheKommunikator(t *testing.T) {
	o := store.Outgoing{ID: 7, Account: anna, Rcpts: []string{"gericht@example.org"},
		Raw: []byte("From: " + anna + "\r\nSubject: =?utf-8?q?Schriftsatz_M=C3=BCller?=\r\n\tnach Fristverlängerung\r\nDate: Tue, 01 Dec 2026 10:00:00 +0100\r\n\r\nText\r\n")}
	notice := string(handoff.FailureNotice(anna, o, "Der Empfänger ist unbekannt (550 5.1.1).", false, time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC)))
	for _, want := range []string{"From: kanzleisync <" + anna + ">", "Subject: =?utf-8?b?", "Content-Type: text/plain; charset=utf-8",
		"Ihre Nachricht „Schriftsatz Müller nach Fristverlängerung“ vom Tue, 01 Dec 2026 10:00:00 +0100 an gericht@example.org wurde nicht gesendet.",
		"Grund: Der Empfänger ist unbekannt (550 5.1.1).", "outbox:7"} {
		if !strings.Contains(notice, want) {
			t.Errorf("notice lacks %q:\n%s", want, notice)
		}
	}
	s := start(t)
	if err := s.st.StoreMessages(context.Background(), store.Message{Account: anna, UIDL: "kanzleisync-notice-7", Raw: []byte(notice)}); err != nil {
		t.Fatal(err)
	}
	got, dir, err := poplib(t, s, anna, s.pw, "userpass", false)
	if err != nil || !strings.HasPrefix(got, "1 ") {
		t.Fatalf("poplib: %v %s", err, got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "1.eml")); string(b) != notice {
		t.Errorf("served %q", b)
	}
}

// A message left in "sending" by a crash is looked up first (Graph: Sent
// Items); found there, it is marked sent and not sent again.
func TestOutboxDoesNotResendWhatWasSent(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	gone, err := st.Enqueue(ctx, anna, []string{"a@example.org"}, []byte("Message-ID: <gone@k>\r\n\r\nx\r\n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	again, _ := st.Enqueue(ctx, anna, []string{"b@example.org"}, []byte("Message-ID: <again@k>\r\n\r\nx\r\n"), time.Now())
	for _, id := range []int64{gone, again} {
		if err := st.SetOutgoing(ctx, id, store.Sending, time.Now(), "", time.Now()); err != nil { // the crash
			t.Fatal(err)
		}
	}
	sends := map[string]int{}
	passes := make(chan struct{}, 4)
	ob := &handoff.Outbox{Store: st, Account: anna,
		AlreadySent: func(_ context.Context, raw []byte) (bool, error) {
			return strings.Contains(string(raw), "<gone@k>"), nil
		},
		Send:   func(_ context.Context, _ []byte, rcpts []string) error { sends[rcpts[0]]++; return nil },
		OnDone: func() { passes <- struct{}{} }}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go ob.Run(cctx)
	<-passes
	if sends["a@example.org"] != 0 || sends["b@example.org"] != 1 {
		t.Errorf("sends %v: the one in Sent Items went again, or the other did not", sends)
	}
	if c, _ := st.OutboxCounts(ctx, anna); c[store.Sent] != 2 {
		t.Errorf("counts %v", c)
	}
}

// The mail drop: every stored message lands in the Maildir once, also when
// the delivery is repeated after a crash; Python's mailbox reads it.
func TestMailDrop(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is missing: run through make test")
	}
	st := openStore(t)
	ctx := context.Background()
	for i := range 3 {
		raw := "From: a@example.org\r\nMessage-ID: <d" + strconv.Itoa(i) + "@example.org>\r\nSubject: Ablage\r\n\r\nText\r\n"
		if err := st.StoreMessages(ctx, store.Message{Account: anna, UIDL: "u" + strconv.Itoa(i), Raw: []byte(raw)}); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(testsupport.TempDir(t), "Ablage")
	if n, err := handoff.DropPending(ctx, st, anna, dir, time.Now()); err != nil || n != 3 {
		t.Fatalf("dropped %d: %v", n, err)
	}
	// a crash after the rename, before the mark: delivered again, found, not doubled
	if _, err := st.DB().Exec(`UPDATE message SET dropped_at = ''`); err != nil {
		t.Fatal(err)
	}
	if n, err := handoff.DropPending(ctx, st, anna, dir, time.Now()); err != nil || n != 0 {
		t.Fatalf("second delivery wrote %d: %v", n, err)
	}
	b, err := exec.Command("python3", "testdata/maildir_read.py", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mailbox.Maildir: %v\n%s", err, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "<d0@example.org> ") {
		t.Errorf("Maildir holds:\n%s", b)
	}
	// a folder that cannot be written: German, nothing marked
	if err := st.StoreMessages(ctx, store.Message{Account: anna, UIDL: "u9", Raw: []byte("Subject: x\r\n\r\ny\r\n")}); err != nil {
		t.Fatal(err)
	}
	blocked := filepath.Join(testsupport.TempDir(t), "datei")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = handoff.DropPending(ctx, st, anna, blocked, time.Now())
	var de *handoff.DropError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "Mail-Ablage") {
		t.Errorf("unwritable folder: %v", err)
	}
	if u, _ := st.Undropped(ctx, anna); len(u) != 1 {
		t.Errorf("%d undropped after the failure, want 1", len(u))
	}
}

// The mail drop's outbox folder: a good file is sent and moved to sent/,
// a foreign sender and a broken file go to failed/ with the German reason,
// and a file taken before a crash is not queued twice.
func TestDropOutboxFolder(t *testing.T) {
	st := openStore(t)
	dir := filepath.Join(testsupport.TempDir(t), "Ablage")
	box := filepath.Join(dir, "outbox")
	if err := os.MkdirAll(filepath.Join(box, ".in-kanzleisync"), 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(path, body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(box, "gut.eml"), "From: "+anna+"\r\nTo: gericht@example.org\r\nSubject: Klage\r\n\r\nText\r\n")
	write(filepath.Join(box, "fremd.eml"), "From: chef@kanzlei.example\r\nTo: gericht@example.org\r\nSubject: x\r\n\r\nText\r\n")
	write(filepath.Join(box, "kaputt.eml"), "kein Kopf, keine Leerzeile")
	write(filepath.Join(box, "noch-nicht.tmp"), "From: "+anna+"\r\n") // still being written
	// taken before a crash, already in the outbox
	crashed := "From: " + anna + "\r\nTo: b@example.org\r\nSubject: vorher\r\n\r\nText\r\n"
	write(filepath.Join(box, ".in-kanzleisync", "vorher.eml"), crashed)
	if _, err := st.EnqueueFrom(context.Background(), anna, "drop:vorher.eml", []string{"b@example.org"}, []byte(crashed), time.Now()); err != nil {
		t.Fatal(err)
	}
	sends := map[string]int{}
	passes := make(chan struct{}, 4)
	ob := &handoff.Outbox{Store: st, Account: anna, DropDir: dir,
		Send:   func(_ context.Context, _ []byte, rcpts []string) error { sends[rcpts[0]]++; return nil },
		OnDone: func() { passes <- struct{}{} }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ob.Run(ctx)
	<-passes
	if sends["gericht@example.org"] != 1 || sends["b@example.org"] != 1 {
		t.Errorf("sends %v", sends)
	}
	for _, want := range []string{"sent/gut.eml", "sent/vorher.eml", "failed/fremd.eml", "failed/fremd.txt", "failed/kaputt.eml", "failed/kaputt.txt", "noch-nicht.tmp"} {
		if _, err := os.Stat(filepath.Join(box, want)); err != nil {
			t.Errorf("%s: %v", want, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(box, "failed", "fremd.txt")); !strings.Contains(string(b), "Der Absender (From) muss "+anna+" sein") {
		t.Errorf("reason: %s", b)
	}
	if c, _ := st.OutboxCounts(context.Background(), anna); c[store.Sent] != 2 || len(c) != 1 {
		t.Errorf("outbox %v", c)
	}
}
