package mail_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/mail"
	"kanzleisync/app/testsupport"
)

func smtpToken(t testing.TB, srv *m365sim.Server) string {
	return simtest.SignIn(t, srv, anna, "https://outlook.office.com/SMTP.Send", "offline_access").AccessToken
}

func smtpAccount(srv *m365sim.Server) mail.Account {
	return mail.Account{Address: anna, Addr: srv.SMTPAddr(), TLS: simtest.TLSConfig(srv), Timeout: 5 * time.Second}
}

// renewingTokens hands out a refused token until Renew is called; with err
// set, Renew fails (the sign-in is gone).
type renewingTokens struct {
	bad, good string
	err       error
	renewed   atomic.Int32
}

func (r *renewingTokens) TokenContext(context.Context) (*oauth2.Token, error) {
	if r.renewed.Load() > 0 {
		return &oauth2.Token{AccessToken: r.good}, nil
	}
	return &oauth2.Token{AccessToken: r.bad}, nil
}

func (r *renewingTokens) Renew(ctx context.Context) (*oauth2.Token, error) {
	r.renewed.Add(1)
	if r.err != nil {
		return nil, r.err
	}
	return r.TokenContext(ctx)
}

const subject = "Ladung – Az. 12/26 Müller ./. Schäfer wegen Räumung, Termin am Landgericht"

func testMessage() *mail.Message {
	return &mail.Message{
		FromName: "Anna Müller",
		To:       []netmail.Address{{Name: "Mandant Größe", Address: "mandant@example.org"}},
		Cc:       []netmail.Address{{Address: "jens.schaefer@kanzlei.example"}},
		Bcc:      []netmail.Address{{Address: "akte@example.org"}},
		Subject:  subject,
		Text:     "Sehr geehrter Herr Größe,\n\nanbei der Schriftsatz.\n.\nMit freundlichen Grüßen\n" + strings.Repeat("Zeile mit Umlauten äöü ", 20),
		Attachments: []mail.Attachment{
			{Name: "Schriftsatz Überprüfung.pdf", Data: bytes.Repeat([]byte{0, 1, 2, 0xff, '\r', '\n', '.'}, 5000)},
		},
	}
}

func TestSendThroughEmulator(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	s := &mail.Sender{Tokens: testsupport.StaticTokens{Token: smtpToken(t, srv)}}
	m := testMessage()
	if err := s.Send(context.Background(), smtpAccount(srv), m); err != nil {
		t.Fatal(err)
	}
	out := srv.Outbound()
	if len(out) != 2 {
		t.Fatalf("%d outbound messages, want 2 (To and Bcc outside the tenant)", len(out))
	}
	for _, o := range out {
		if o.Via != "smtp" || !strings.EqualFold(o.From, anna) {
			t.Errorf("outbound %+v", o)
		}
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(out[0].Raw))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	if got, _ := dec.DecodeHeader(msg.Header.Get("Subject")); got != subject {
		t.Errorf("subject %q", got)
	}
	if msg.Header.Get("Bcc") != "" || bytes.Contains(out[0].Raw, []byte("akte@example.org")) {
		t.Error("the Bcc recipient is visible in the message")
	}
	for _, l := range bytes.Split(out[0].Raw, []byte("\r\n")) {
		if len(l) > 998 {
			t.Fatalf("line of %d bytes", len(l))
		}
	}
	from, err := (&netmail.AddressParser{WordDecoder: dec}).Parse(msg.Header.Get("From"))
	if err != nil || from.Name != "Anna Müller" || from.Address != anna {
		t.Errorf("from %v %v", from, err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	text, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(text) // multipart decodes quoted-printable
	if want := strings.ReplaceAll(m.Text, "\n", "\r\n"); strings.TrimRight(string(body), "\r\n") != want {
		t.Errorf("text body differs:\n%q\n%q", body, want)
	}
	att, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if att.FileName() != "Schriftsatz Überprüfung.pdf" {
		t.Errorf("attachment name %q", att.FileName())
	}
	if ct := att.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/pdf") {
		t.Errorf("attachment type %q", ct)
	}
	data, _ := io.ReadAll(base64Reader(att))
	if !bytes.Equal(data, m.Attachments[0].Data) {
		t.Errorf("attachment: %d bytes arrived, %d sent", len(data), len(m.Attachments[0].Data))
	}
	// The colleague in Cc got it in the tenant, the sender has it in Sent Items.
	jens, _ := srv.State("jens.schaefer@kanzlei.example")
	annaState, _ := srv.State(anna)
	if !hasSubject(jens, "inbox", subject) || !hasSubject(annaState, "sentitems", subject) {
		t.Error("message missing in the colleague's inbox or the sender's Sent Items")
	}
}

func TestSendRenewsARefusedTokenOnce(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	tok := &renewingTokens{bad: "eyJ0eXAiOiJKV1QifQ.e30.c2lnbmF0dXJl", good: smtpToken(t, srv)}
	s := &mail.Sender{Tokens: tok}
	if err := s.Send(context.Background(), smtpAccount(srv), testMessage()); err != nil {
		t.Fatal(err)
	}
	if tok.renewed.Load() != 1 || len(srv.Outbound()) != 2 {
		t.Fatalf("renewed %d times, %d sent", tok.renewed.Load(), len(srv.Outbound()))
	}
	// A token that stays refused ends after one renewal with German advice.
	tok = &renewingTokens{bad: "x", good: "y"}
	err := (&mail.Sender{Tokens: tok}).Send(context.Background(), smtpAccount(srv), testMessage())
	var se *mail.SendError
	if !errors.As(err, &se) || se.Enhanced != "5.7.3" || se.Temporary || !strings.Contains(se.Advice(), "neu anmelden") {
		t.Fatalf("%v", err)
	}
	if tok.renewed.Load() != 1 || len(srv.Outbound()) != 2 {
		t.Fatalf("renewed %d times, %d sent", tok.renewed.Load(), len(srv.Outbound()))
	}
}

func TestSendSMTPAuthDisabled(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	token := smtpToken(t, srv)
	on, off := true, false
	if err := srv.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{TenantSMTPAuthDisabled: &on}); err != nil {
		t.Fatal(err)
	}
	err := (&mail.Sender{Tokens: testsupport.StaticTokens{Token: token}}).Send(context.Background(), smtpAccount(srv), testMessage())
	var se *mail.SendError
	if !errors.As(err, &se) || se.Enhanced != "5.7.139" || !strings.Contains(se.Advice(), "Authentifiziertes SMTP") {
		t.Fatalf("%v", err)
	}
	// The mailbox setting overrides the organisation's.
	if err := srv.PatchUser(anna, m365sim.UserPatch{SMTPAuth: &on}); err != nil {
		t.Fatal(err)
	}
	if err := (&mail.Sender{Tokens: testsupport.StaticTokens{Token: token}}).Send(context.Background(), smtpAccount(srv), testMessage()); err != nil {
		t.Fatal(err)
	}
	if err := srv.PatchUser(anna, m365sim.UserPatch{SMTPAuth: &off}); err != nil {
		t.Fatal(err)
	}
	err = (&mail.Sender{Tokens: testsupport.StaticTokens{Token: token}}).Send(context.Background(), smtpAccount(srv), testMessage())
	if !errors.As(err, &se) || se.Enhanced != "5.7.139" {
		t.Fatalf("%v", err)
	}
	if n := len(srv.Outbound()); n != 2 {
		t.Fatalf("%d sent, want only the one allowed message (2 outside recipients)", n)
	}
}

func TestSendBadInputSendsNothing(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	tf.SMTPMaxSize = 64 << 10
	srv := simtest.Start(t, tf, m365sim.Options{})
	s := &mail.Sender{Tokens: testsupport.StaticTokens{Token: smtpToken(t, srv)}}
	a := smtpAccount(srv)
	big := testMessage()
	big.Attachments[0].Data = make([]byte, 100<<10)
	err := s.Send(context.Background(), a, big)
	var se *mail.SendError
	if !errors.Is(err, mail.ErrTooLargeToSend) || !errors.As(err, &se) || !strings.Contains(se.Advice(), "zu groß") {
		t.Fatalf("%v", err)
	}
	for _, m := range []*mail.Message{
		{To: []netmail.Address{{Address: "kein-at-zeichen"}}, Subject: "x"},
		{To: []netmail.Address{{Address: "a@example.org>\r\nRCPT TO:<b@example.org"}}, Subject: "x"},
		{To: []netmail.Address{{Address: "a@example.org"}}, Subject: "x\r\nBcc: b@example.org"},
		{Subject: "niemand"},
	} {
		if err := s.Send(context.Background(), a, m); err == nil {
			t.Errorf("%+v was sent", m)
		}
	}
	if n := len(srv.Outbound()); n != 0 {
		t.Fatalf("%d messages went out", n)
	}
}

// A server that is busy (421) or drops the connection gives a temporary error.
func TestSendTemporaryFailures(t *testing.T) {
	for name, greet := range map[string]string{
		"busy":    "421 4.3.2 Service not available\r\n",
		"dropped": "",
	} {
		t.Run(name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte(greet))
				c.Close()
			}()
			err = (&mail.Sender{Tokens: testsupport.StaticTokens{Token: "t"}}).Send(context.Background(),
				mail.Account{Address: anna, Addr: l.Addr().String(), Timeout: 2 * time.Second}, testMessage())
			var se *mail.SendError
			if !errors.As(err, &se) || !se.Temporary || !strings.Contains(se.Advice(), "später erneut") {
				t.Fatalf("%v", err)
			}
		})
	}
}

// base64Reader decodes a base64 body part; the decoder skips line breaks.
func base64Reader(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }

func TestSendTestMailReportsEachStep(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	token := smtpToken(t, srv)
	rep := (&mail.Sender{Tokens: testsupport.StaticTokens{Token: token}}).SendTestMail(context.Background(), smtpAccount(srv), "Anna Müller", "")
	if rep.Err != nil {
		t.Fatal(rep.Text())
	}
	var names []string
	for _, s := range rep.Steps {
		names = append(names, s.Name)
		if !s.OK {
			t.Errorf("step %+v failed", s)
		}
		if strings.Contains(s.Detail, token) {
			t.Fatal("the report shows the token")
		}
	}
	if got := strings.Join(names, ","); got != "Token,Verbindung,TLS,AUTH,MAIL FROM,RCPT,DATA" {
		t.Errorf("steps %s", got)
	}
	if st, _ := srv.State(anna); !hasSubject(st, "inbox", "kanzleisync: Testmail") {
		t.Error("the test mail did not arrive in the own inbox")
	}
	on := true
	if err := srv.PatchApp(m365sim.DemoClientID, m365sim.AppPatch{TenantSMTPAuthDisabled: &on}); err != nil {
		t.Fatal(err)
	}
	rep = (&mail.Sender{Tokens: testsupport.StaticTokens{Token: token}}).SendTestMail(context.Background(), smtpAccount(srv), "Anna Müller", "")
	last := rep.Steps[len(rep.Steps)-1]
	if rep.Err == nil || last.Name != "AUTH" || last.OK || !strings.Contains(last.Detail, "5.7.139") ||
		!strings.Contains(rep.Text(), "Authentifiziertes SMTP") || !strings.Contains(rep.Text(), "✓ TLS") {
		t.Fatalf("report:\n%s", rep.Text())
	}
	t.Logf("report:\n%s", rep.Text())
}

func hasSubject(st *m365sim.MailboxState, folder, subj string) bool {
	for _, m := range st.Messages {
		if m["subject"] == subj && strings.EqualFold(m["_folder"].(string), folder) {
			return true
		}
	}
	return false
}
