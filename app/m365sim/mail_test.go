package m365sim_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/testsupport"
)

// lineConn speaks a line protocol (POP3, SMTP) as a test script.
type lineConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string, tlsConf *tls.Config) *lineConn {
	t.Helper()
	var conn net.Conn
	var err error
	if tlsConf != nil {
		conn, err = tls.Dial("tcp", addr, tlsConf)
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &lineConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *lineConn) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends a line and returns the first reply line.
func (c *lineConn) cmd(format string, args ...any) string {
	c.t.Helper()
	fmt.Fprintf(c.conn, format+"\r\n", args...)
	return c.line()
}

// multi reads the lines of a POP3 multi-line answer up to the dot.
func (c *lineConn) multi() []string {
	var out []string
	for {
		l := c.line()
		if l == "." {
			return out
		}
		out = append(out, l)
	}
}

// smtpReply reads a possibly multi-line SMTP reply.
func (c *lineConn) smtpReply() []string {
	var out []string
	for {
		l := c.line()
		out = append(out, l)
		if len(l) < 4 || l[3] != '-' {
			return out
		}
	}
}

func (c *lineConn) startTLS(srv *m365sim.Server) {
	tc := tls.Client(c.conn, simtest.TLSConfig(srv))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
}

func xoauth2(user, token string) string {
	return base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
}

func outlookToken(t *testing.T, srv *m365sim.Server, upn string) string {
	return simtest.SignIn(t, srv, upn, "https://outlook.office365.com/POP.AccessAsUser.All", "https://outlook.office365.com/SMTP.Send", "offline_access").AccessToken
}

const dotMail = "From: Gericht <poststelle@lg.example>\r\nTo: anna.mueller@kanzlei.example\r\nSubject: Ladung\r\n\r\nSehr geehrte Frau Müller,\r\n.ein Punkt am Zeilenanfang\r\nzweite Zeile\r\n"

func TestPOP3(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	for i := range 3 {
		if _, err := srv.Deliver(anna, []byte(strings.Replace(dotMail, "Ladung", fmt.Sprintf("Ladung %d", i+1), 1))); err != nil {
			t.Fatal(err)
		}
	}
	tok := outlookToken(t, srv, anna)

	c := dial(t, srv.POP3Addr(), nil)
	if g := c.line(); !strings.HasPrefix(g, "+OK The Microsoft Exchange POP3 service is ready.") {
		t.Fatalf("greeting %q", g)
	}
	c.cmd("CAPA")
	if capa := c.multi(); !contains(capa, "STLS") || !contains(capa, "SASL PLAIN XOAUTH2") || !contains(capa, "UIDL") {
		t.Errorf("CAPA before TLS: %v", capa)
	}
	if r := c.cmd("AUTH XOAUTH2 %s", xoauth2(anna, tok)); !strings.HasPrefix(r, "-ERR") {
		t.Errorf("AUTH without TLS: %q", r)
	}
	if r := c.cmd("STLS"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("STLS: %q", r)
	}
	c.startTLS(srv)
	c.cmd("CAPA")
	if capa := c.multi(); contains(capa, "STLS") {
		t.Errorf("STLS offered again after TLS: %v", capa)
	}
	c.cmd("USER %s", anna)
	if r := c.cmd("PASS %s", m365sim.DemoPassword); r != "-ERR Logon failure: unknown user name or bad password." {
		t.Errorf("basic auth: %q", r)
	}
	// the two-step form: AUTH XOAUTH2, "+ ", then the SASL string
	if r := c.cmd("AUTH XOAUTH2"); r != "+ " {
		t.Fatalf("continuation: %q", r)
	}
	if r := c.cmd("%s", xoauth2(anna, tok)); r != "+OK User successfully authenticated." {
		t.Fatalf("AUTH: %q", r)
	}
	if r := c.cmd("STAT"); !strings.HasPrefix(r, "+OK 3 ") {
		t.Errorf("STAT %q", r)
	}
	c.cmd("LIST")
	list := c.multi()
	c.cmd("UIDL")
	uidl := c.multi()
	if len(list) != 3 || len(uidl) != 3 {
		t.Fatalf("LIST %v UIDL %v", list, uidl)
	}
	var size int
	fmt.Sscanf(list[0], "1 %d", &size)
	if r := c.cmd("RETR 1"); r != "+OK" {
		t.Fatalf("RETR: %q", r)
	}
	lines := c.multi()
	msg := strings.Join(lines, "\r\n") + "\r\n"
	if !contains(lines, "..ein Punkt am Zeilenanfang") || len(strings.ReplaceAll(msg, "\r\n..", "\r\n.")) != size {
		t.Errorf("RETR not dot-stuffed or size %d differs from LIST %d: %q", len(msg), size, msg)
	}
	if r := c.cmd("TOP 2 0"); r != "+OK" {
		t.Fatalf("TOP: %q", r)
	}
	if top := c.multi(); contains(top, "zweite Zeile") || !contains(top, "Subject: Ladung 2") {
		t.Errorf("TOP 2 0 = %v", top)
	}
	if r := c.cmd("RETR 9"); r != "-ERR The specified message is out of range." {
		t.Errorf("RETR 9: %q", r)
	}
	c.cmd("DELE 1")
	c.cmd("DELE 2")
	if r := c.cmd("RETR 1"); !strings.HasPrefix(r, "-ERR") {
		t.Errorf("RETR of a deleted message: %q", r)
	}
	c.cmd("RSET")
	c.cmd("DELE 1")
	if r := c.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Errorf("QUIT %q", r)
	}
	st, _ := srv.State(anna)
	inbox := 0
	for _, m := range st.Messages {
		if m["_folder"] == "inbox" {
			inbox++
			if m["_uidl"] == strings.Fields(uidl[0])[1] {
				t.Error("the message deleted with DELE 1 is still there")
			}
		}
	}
	if inbox != 2 {
		t.Errorf("%d messages left, want 2 (RSET undid DELE 2)", inbox)
	}

	// implicit TLS, and the UIDL of a message stays the same across sessions
	c2 := dial(t, srv.POP3SAddr(), simtest.TLSConfig(srv))
	c2.line()
	if r := c2.cmd("AUTH XOAUTH2 %s", xoauth2(anna, tok)); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("AUTH on pop3s: %q", r)
	}
	c2.cmd("UIDL")
	if again := c2.multi(); strings.Fields(again[0])[1] != strings.Fields(uidl[1])[1] {
		t.Errorf("UIDL changed: %v vs %v", again, uidl)
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

func TestPOP3AuthFailures(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	tok := outlookToken(t, srv, anna)
	graphTok := simtest.SignIn(t, srv, anna).AccessToken
	try := func(user, token string) string {
		c := dial(t, srv.POP3SAddr(), simtest.TLSConfig(srv))
		c.line()
		r := c.cmd("AUTH XOAUTH2 %s", xoauth2(user, token))
		c.cmd("QUIT")
		return r
	}
	const fail = "-ERR Authentication failure: unknown user name or bad password."
	for name, r := range map[string]string{
		"Graph token":          try(anna, graphTok),
		"someone else's token": try(jens, tok),
		"garbage":              try(anna, "kein-token"),
	} {
		if r != fail {
			t.Errorf("%s: %q", name, r)
		}
	}
	if err := srv.PatchUser(anna, m365sim.UserPatch{POPDisabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if r := try(anna, tok); r != fail {
		t.Errorf("POP disabled: %q", r)
	}
	_ = srv.PatchUser(anna, m365sim.UserPatch{POPDisabled: ptr(false)})
	// one session holds the maildrop
	c := dial(t, srv.POP3SAddr(), simtest.TLSConfig(srv))
	c.line()
	if r := c.cmd("AUTH XOAUTH2 %s", xoauth2(anna, tok)); !strings.HasPrefix(r, "+OK") {
		t.Fatal(r)
	}
	if r := try(anna, tok); !strings.Contains(r, "lock") {
		t.Errorf("second session: %q", r)
	}
	c.cmd("QUIT")
	srv.Advance(2 * time.Hour)
	if r := try(anna, tok); r != fail {
		t.Errorf("expired token: %q", r)
	}
	var reasons []string
	for _, r := range srv.Requests() {
		if r.Service == "pop3" && r.ErrorCode != "" {
			reasons = append(reasons, r.ErrorCode)
		}
	}
	if !strings.Contains(strings.Join(reasons, "|"), "token is expired") {
		t.Errorf("request log reasons %v", reasons)
	}
}

func TestSMTPSubmission(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	tok := outlookToken(t, srv, anna)
	c := dial(t, srv.SMTPAddr(), nil)
	if g := c.line(); !strings.HasPrefix(g, "220 ") || !strings.Contains(g, "Microsoft ESMTP MAIL Service ready") {
		t.Fatalf("greeting %q", g)
	}
	fmt.Fprintf(c.conn, "EHLO kanzlei-pc\r\n")
	ehlo := strings.Join(c.smtpReply(), "\n")
	if !strings.Contains(ehlo, "250-STARTTLS") || strings.Contains(ehlo, "AUTH") {
		t.Errorf("EHLO before TLS: %s", ehlo)
	}
	if r := c.cmd("AUTH XOAUTH2 %s", xoauth2(anna, tok)); r != "504 5.7.4 Unrecognized authentication type" {
		t.Errorf("AUTH before TLS: %q", r)
	}
	if r := c.cmd("STARTTLS"); !strings.HasPrefix(r, "220 ") {
		t.Fatalf("STARTTLS: %q", r)
	}
	c.startTLS(srv)
	fmt.Fprintf(c.conn, "EHLO kanzlei-pc\r\n")
	ehlo = strings.Join(c.smtpReply(), "\n")
	if !strings.Contains(ehlo, "AUTH LOGIN XOAUTH2 OAUTHBEARER") || !strings.Contains(ehlo, "SIZE 36700160") {
		t.Errorf("EHLO after TLS: %s", ehlo)
	}
	if r := c.cmd("MAIL FROM:<%s>", anna); !strings.HasPrefix(r, "530 5.7.57") {
		t.Errorf("MAIL before AUTH: %q", r)
	}
	if r := c.cmd("AUTH XOAUTH2 %s", xoauth2(anna, "falsch")); !strings.HasPrefix(r, "535 5.7.3 Authentication unsuccessful") {
		t.Errorf("bad token: %q", r)
	}
	if r := c.cmd("AUTH XOAUTH2"); r != "334 " {
		t.Fatalf("continuation %q", r)
	}
	if r := c.cmd("%s", xoauth2(anna, tok)); r != "235 2.7.0 Authentication successful" {
		t.Fatalf("AUTH: %q", r)
	}
	if r := c.cmd("MAIL FROM:<%s>", jens); !strings.HasPrefix(r, "550 5.7.60") {
		t.Errorf("send as another sender: %q", r)
	}
	if r := c.cmd("MAIL FROM:<%s> SIZE=99999999999", anna); !strings.HasPrefix(r, "552 5.3.4") {
		t.Errorf("too big: %q", r)
	}
	send := func(from string) string {
		c.cmd("RSET")
		c.cmd("MAIL FROM:<%s>", anna)
		c.cmd("RCPT TO:<%s>", jens)
		if r := c.cmd("DATA"); !strings.HasPrefix(r, "354") {
			t.Fatalf("DATA: %q", r)
		}
		fmt.Fprintf(c.conn, "From: %s\r\nTo: <%s>\r\nSubject: =?utf-8?q?Pr=C3=BCfung?=\r\n\r\n..Punkt\r\nText\r\n.\r\n", from, jens)
		return c.line()
	}
	if r := send("Jens <" + jens + ">"); !strings.HasPrefix(r, "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException") {
		t.Errorf("From header of someone else: %q", r)
	}
	if r := send("=?utf-8?q?Anna_M=C3=BCller?= <" + anna + ">"); !strings.HasPrefix(r, "250 2.0.0 OK") {
		t.Fatalf("DATA end: %q", r)
	}
	c.cmd("QUIT")
	st, _ := srv.State(jens)
	if len(st.Messages) != 1 || st.Messages[0]["subject"] != "Prüfung" || st.Messages[0]["_folder"] != "inbox" {
		t.Fatalf("recipient's mailbox: %v", st.Messages)
	}
	if !strings.Contains(fmt.Sprint(st.Messages[0]["body"]), ".Punkt") || strings.Contains(fmt.Sprint(st.Messages[0]["body"]), "..Punkt") {
		t.Errorf("dot-stuffing not undone: %v", st.Messages[0]["body"])
	}
}

func TestSMTPAuthSwitchedOff(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	tok := outlookToken(t, srv, anna)
	auth := func(mech, resp string) string {
		c := dial(t, srv.SMTPAddr(), nil)
		c.line()
		fmt.Fprintf(c.conn, "EHLO x\r\n")
		c.smtpReply()
		c.cmd("STARTTLS")
		c.startTLS(srv)
		fmt.Fprintf(c.conn, "EHLO x\r\n")
		c.smtpReply()
		return c.cmd("AUTH %s %s", mech, resp)
	}
	bearer := base64.StdEncoding.EncodeToString([]byte("n,a=" + anna + ",\x01host=127.0.0.1\x01port=587\x01auth=Bearer " + tok + "\x01\x01"))
	if r := auth("OAUTHBEARER", bearer); !strings.HasPrefix(r, "235") {
		t.Errorf("OAUTHBEARER: %q", r)
	}
	if err := srv.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{TenantSMTPAuthDisabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if r := auth("XOAUTH2", xoauth2(anna, tok)); !strings.HasPrefix(r, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.") {
		t.Errorf("tenant switch: %q", r)
	}
	// a mailbox setting wins over the tenant's
	_ = srv.PatchUser(anna, m365sim.UserPatch{SMTPAuth: ptr(true)})
	if r := auth("XOAUTH2", xoauth2(anna, tok)); !strings.HasPrefix(r, "235") {
		t.Errorf("mailbox allows, tenant forbids: %q", r)
	}
	_ = srv.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{TenantSMTPAuthDisabled: ptr(false)})
	_ = srv.PatchUser(anna, m365sim.UserPatch{SMTPAuth: ptr(false)})
	if r := auth("XOAUTH2", xoauth2(anna, tok)); !strings.HasPrefix(r, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.") {
		t.Errorf("mailbox switch: %q", r)
	}
}

// TestMailWithPythonClients drives POP3 and SMTP with Python's poplib and
// smtplib: clients written by others than the emulator's authors.
func TestMailWithPythonClients(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil && runtime.GOOS == "windows" {
		t.Skip("python3 is not part of the Windows test run (.ci/wine-tests)")
	}
	if err != nil {
		t.Fatal("python3 is needed for this test (make test installs it)")
	}
	srv := simtest.Start(t, nil, m365sim.Options{})
	tok := outlookToken(t, srv, anna)
	ca := filepath.Join(testsupport.TempDir(t), "ca.pem")
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/mailclients.py")
	cmd.Env = append(os.Environ(), "SMTP_ADDR="+srv.SMTPAddr(), "POP3_ADDR="+srv.POP3Addr(), "POP3S_ADDR="+srv.POP3SAddr(),
		"CA_FILE="+ca, "MAIL_USER="+anna, "MAIL_TOKEN="+tok)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python clients: %v\n%s", err, out)
	}
	for _, want := range []string{"smtp: sent", "pop3: 1 message", "pop3: subject Testnachricht über smtplib", "pop3s: uidl ok", "pop3: deleted"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	st, _ := srv.State(anna)
	for _, m := range st.Messages {
		if m["_folder"] == "inbox" {
			t.Errorf("message left in the inbox after DELE and QUIT: %v", m["subject"])
		}
	}
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o600) }

// TestCloseEndsOpenSessions: a client that stays connected must not keep
// the emulator from stopping.
func TestCloseEndsOpenSessions(t *testing.T) {
	srv, err := m365sim.New(m365sim.DemoTenant(time.Now()), m365sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{srv.POP3Addr(), srv.SMTPAddr()} {
		c := dial(t, addr, nil)
		c.line()
	}
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for idle mail sessions")
	}
}

// Exchange Online takes three authenticated SMTP connections of a mailbox
// at a time; the fourth is refused with 432 4.3.2 and closed. A closed
// connection frees its place.
func TestSMTPConcurrentConnections(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	tok := outlookToken(t, srv, anna)
	login := func() (*lineConn, string) {
		c := dial(t, srv.SMTPAddr(), nil)
		c.line()
		fmt.Fprintf(c.conn, "EHLO kanzlei-pc\r\n")
		c.smtpReply()
		c.cmd("STARTTLS")
		c.startTLS(srv)
		fmt.Fprintf(c.conn, "EHLO kanzlei-pc\r\n")
		c.smtpReply()
		return c, c.cmd("AUTH XOAUTH2 %s", xoauth2(anna, tok))
	}
	var open []*lineConn
	for i := range 3 {
		c, r := login()
		if !strings.HasPrefix(r, "235 ") {
			t.Fatalf("connection %d: %q", i+1, r)
		}
		open = append(open, c)
	}
	c4, r := login()
	if !strings.HasPrefix(r, "432 4.3.2 Concurrent connections limit exceeded") {
		t.Fatalf("fourth connection: %q", r)
	}
	c4.conn.Close()
	open[0].cmd("QUIT")
	open[0].conn.Close()
	testsupport.Eventually(t, 5*time.Second, "a free place after QUIT", func() bool {
		c, r := login()
		defer c.conn.Close()
		return strings.HasPrefix(r, "235 ")
	})
}
