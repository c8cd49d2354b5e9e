package handoff

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// SMTPServer takes the Kommunikator's outgoing mail on the loopback
// interface (submission with AUTH PLAIN or LOGIN and the account's local
// password). A message is answered 250 only after it is committed to the
// outbox; the outbox worker sends it.
type SMTPServer struct {
	Store     *store.Store
	Passwords Passwords
	Logger    *slog.Logger
	Now       func() time.Time
	// MaxBytes is the largest message the protocol takes (default 150 MB,
	// the most Exchange Online can be set to; announced as SIZE).
	MaxBytes int64
	// Limit is the largest message taken now (the firm's „größte
	// Nachricht“; nil: 35 MB), read for every message so that a changed
	// setting applies to the next one.
	Limit func() int64
	// OnQueued is told when a message was queued for an account.
	OnQueued func(address string)
}

// Listen binds addr (loopback only).
func (s *SMTPServer) Listen(addr string) (net.Listener, error) {
	return listenLoopback("SMTP", "--local-smtp", addr)
}

// Serve answers connections on ln until ctx ends.
func (s *SMTPServer) Serve(ctx context.Context, ln net.Listener) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.MaxBytes <= 0 {
		s.MaxBytes = 150 << 20
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // loopback only: the connection never leaves the machine
	srv.MaxMessageBytes = s.MaxBytes
	srv.MaxRecipients = 500
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Minute, 10*time.Minute
	// STARTTLS for clients that refuse AUTH without it: a certificate for
	// 127.0.0.1 and localhost made at start, never written anywhere
	if conf, err := loopbackTLS(s.Now()); err == nil {
		srv.TLSConfig = conf
	} else {
		s.Logger.Warn("local smtp: no STARTTLS", "error", err.Error())
	}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	err := srv.Serve(ln)
	if ctx.Err() != nil || errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

type smtpSession struct {
	s       *SMTPServer
	account string
	rcpts   []string
	fails   int
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (p *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (p *smtpSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		want, ok := p.s.Passwords(user)
		if !ok || want == "" || subtle.ConstantTimeCompare([]byte(pass), []byte(want)) != 1 {
			p.fails++
			time.Sleep(time.Duration(p.fails) * 500 * time.Millisecond) // slows a guesser down
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
				Message: text.T("Benutzer oder Passwort falsch (das lokale Passwort steht in kanzleisync unter „Konten verwalten“)")}
		}
		p.account = strings.ToLower(user)
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && !strings.EqualFold(identity, user) {
				return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: text.T("Senden für ein anderes Konto ist nicht möglich")}
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (p *smtpSession) Mail(from string, opts *smtp.MailOptions) error {
	if p.account == "" {
		return smtp.ErrAuthRequired
	}
	if opts != nil && opts.Size > p.s.limit() {
		return p.s.tooLarge(opts.Size)
	}
	if !strings.EqualFold(from, p.account) {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: text.F("Absender %s passt nicht zum angemeldeten Konto %s: der Kommunikator sendet über jedes Konto nur in dessen Namen", from, p.account)}
	}
	return nil
}

func (p *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if p.account == "" {
		return smtp.ErrAuthRequired
	}
	p.rcpts = append(p.rcpts, to)
	return nil
}

func (p *smtpSession) Data(r io.Reader) error {
	if p.account == "" || len(p.rcpts) == 0 {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: text.T("zuerst MAIL FROM und RCPT TO")}
	}
	limit := p.s.limit()
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return err // over MaxBytes: go-smtp answers 552
	}
	if int64(len(raw)) > limit {
		p.s.Logger.Info("local smtp: refused a message over the limit", "account", p.account, "limit_bytes", limit)
		return p.s.tooLarge(0) // go-smtp reads the rest of the data
	}
	raw = completeHeaders(raw, p.account, p.s.Now())
	id, err := p.s.Store.Enqueue(context.Background(), p.account, p.rcpts, raw, p.s.Now())
	if err != nil {
		p.s.Logger.Error("local smtp: queue", "account", p.account, "error", err.Error())
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: text.T("Die Nachricht konnte nicht in den Postausgang gelegt werden; bitte erneut senden")}
	}
	p.s.Logger.Info("local smtp: queued", "account", p.account, "id", id, "recipients", len(p.rcpts), "bytes", len(raw))
	if p.s.OnQueued != nil {
		p.s.OnQueued(p.account)
	}
	return nil
}

func (s *SMTPServer) limit() int64 {
	if s.Limit == nil {
		return 35 << 20
	}
	return s.Limit()
}

// tooLarge is the refusal the Kommunikator shows its user.
func (s *SMTPServer) tooLarge(size int64) error {
	mb := s.limit() >> 20
	msg := text.F("Die Nachricht ist größer als %d MB, die das Postfach in Microsoft 365 versenden darf (Anhänge werden beim Senden um etwa ein Drittel größer). Bitte Anhänge verkleinern oder auf mehrere Nachrichten verteilen; die IT kann die Grenze erhöhen", mb)
	if size > 0 {
		msg = text.F("Die Nachricht hat %d MB, das Postfach darf höchstens %d MB versenden. Bitte Anhänge verkleinern oder auf mehrere Nachrichten verteilen; die IT kann die Grenze erhöhen", (size+(1<<20)-1)>>20, mb)
	}
	return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: msg}
}

func (p *smtpSession) Reset()        { p.rcpts = nil }
func (p *smtpSession) Logout() error { return nil }

// completeHeaders adds Date and Message-ID when the Kommunikator left them
// out (RFC 5322 requires Date; Exchange threads by Message-ID).
func completeHeaders(raw []byte, account string, now time.Time) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = bytes.Index(raw, []byte("\n\n"))
	}
	if end < 0 {
		end = len(raw)
	}
	head := strings.ToLower("\n" + string(raw[:end]))
	var add []byte
	if !strings.Contains(head, "\ndate:") {
		add = append(add, "Date: "+now.Format(time.RFC1123Z)+"\r\n"...)
	}
	if !strings.Contains(head, "\nmessage-id:") {
		_, domain, _ := strings.Cut(account, "@")
		add = append(add, fmt.Sprintf("Message-ID: <%d.kanzleisync@%s>\r\n", now.UnixNano(), domain)...)
	}
	if len(add) == 0 {
		return raw
	}
	return append(add, raw...)
}

// loginServer is SASL LOGIN (draft-murchison-sasl-login): user name and
// password, each asked for once.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) > 0 { // AUTH LOGIN with the user name given at once
			l.user, l.step = string(response), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = string(response), 2
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(response))
}

// loopbackTLS is a self-signed certificate for 127.0.0.1, ::1 and
// localhost, valid a year, its key only in memory.
func loopbackTLS(now time.Time) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "kanzleisync (nur dieser Rechner)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, nil
}
