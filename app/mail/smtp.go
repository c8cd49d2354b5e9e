package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"kanzleisync/app/text"
)

// Sender submits messages over SMTP with STARTTLS and XOAUTH2
// (Exchange Online: smtp.office365.com:587).
type Sender struct {
	Tokens TokenSource
	Logger *slog.Logger
	// Step, when set, is told each step of a submission with its outcome
	// (for "Testmail senden"); detail never contains the token.
	Step func(step Step)
}

// Step is one step of a submission as the test mail report shows it.
type Step struct {
	Name   string // "Token", "Verbindung", "TLS", "AUTH", "MAIL FROM", "RCPT", "DATA"
	OK     bool
	Detail string // the server's reply or what was checked
}

func (s *Sender) step(name string, err error, detail string) {
	if s.Step == nil {
		return
	}
	if err != nil {
		detail = err.Error()
		var se *SendError
		if errors.As(err, &se) && se.Code == 0 {
			detail = se.Err.Error()
		}
	}
	s.Step(Step{Name: name, OK: err == nil, Detail: detail})
}

// SendError is a refusal by the SMTP server, or a failure on the way to it,
// with the step it happened in. Temporary errors (4xx, lost connection)
// may succeed later; permanent ones need a person to change something.
type SendError struct {
	Step      string // "connect", "auth", "mail", "rcpt", "data"
	Code      int    // SMTP reply code; 0 when the connection failed
	Enhanced  string // enhanced status code such as "5.7.139"
	Message   string // the server's text
	Temporary bool
	// Uncertain: the connection broke after the end of the message was
	// sent, before the server's answer: it may have accepted the message.
	// Sending it again may deliver it twice.
	Uncertain bool
	Err       error
}

func (e *SendError) Error() string {
	where := "smtp " + e.Step
	if e.Step == "graph" {
		where = "graph sendMail"
	}
	if e.Code == 0 {
		return fmt.Sprintf("%s: %v", where, e.Err)
	}
	return fmt.Sprintf("%s: %d %s %s", where, e.Code, e.Enhanced, e.Message)
}

func (e *SendError) Unwrap() error { return e.Err }

// Advice says in German what a person can do about the error of a send
// that nothing keeps (the test mail): it was not sent, or it may have been.
func (e *SendError) Advice() string { return e.advice(false) }

// OutboxAdvice is the advice for a message of the outbox, which keeps a
// message after a temporary failure and sends it again.
func (e *SendError) OutboxAdvice() string { return e.advice(true) }

func (e *SendError) advice(queued bool) string {
	var le *LimitError
	switch {
	case e.Uncertain && queued:
		return text.T("Die Verbindung zum Postausgangsserver ist nach dem Ende der Nachricht abgebrochen, bevor er geantwortet hat: er hat die Nachricht möglicherweise schon angenommen. kanzleisync sendet sie erneut, damit sie nicht verloren geht; sie kann beim Empfänger deshalb doppelt ankommen.")
	case e.Uncertain:
		return text.T("Die Verbindung zum Postausgangsserver ist nach dem Ende der Nachricht abgebrochen, bevor er geantwortet hat: er hat die Nachricht möglicherweise angenommen. Bitte beim Empfänger oder unter „Gesendete Elemente“ nachsehen, bevor sie erneut gesendet wird – sonst kommt sie womöglich doppelt an.")
	case errors.As(e.Err, &le):
		return text.T("Der Postausgangsserver hat fehlerhaft geantwortet; die Nachricht wurde nicht gesendet. Bitte die Meldung an die IT oder den Betreiber des Servers weitergeben.")
	case e.Code == 432 && !queued:
		return text.T("Über dieses Postfach senden gerade zu viele Programme zugleich (Microsoft 365 erlaubt drei Verbindungen). Die Nachricht wurde nicht gesendet; bitte in einigen Minuten erneut versuchen.")
	case e.Temporary && !queued && !strings.Contains(e.Message, "SubmissionQuotaExceeded"):
		return text.T("Der Postausgangsserver ist gerade nicht erreichbar oder überlastet. Die Nachricht wurde nicht gesendet und wird nicht aufbewahrt; bitte später erneut versuchen.")
	}
	switch {
	case strings.Contains(e.Message, "SubmissionQuotaExceeded"):
		return text.T("Das Postfach hat heute die Grenze von Microsoft 365 erreicht (10.000 Empfänger am Tag über SMTP). Bitte morgen erneut senden („Nicht gesendet“ → „Erneut senden“) oder die IT bitten, für Massenversand einen anderen Weg zu wählen.")
	case e.Code == 432:
		return text.T("Über dieses Postfach senden gerade zu viele Programme zugleich (Microsoft 365 erlaubt drei Verbindungen). Die Nachricht bleibt im Postausgang und wird später erneut gesendet.")
	case e.Enhanced == "5.7.139":
		return text.T("Microsoft 365 erlaubt für dieses Postfach kein SMTP-Versenden. Die IT muss im Microsoft 365 Admin Center beim Benutzer unter „E-Mail“ → „E-Mail-Apps verwalten“ die Option „Authentifiziertes SMTP“ einschalten (und die Organisation darf SMTP AUTH nicht abschalten). Die Änderung kann bis zu einer Stunde dauern.")
	case e.Enhanced == "5.7.3" || e.Step == "auth":
		return text.T("Die Anmeldung am Postausgangsserver wurde abgelehnt. Bitte das Konto unter „Konten“ neu anmelden; hilft das nicht, prüfen, ob die Absenderadresse zum angemeldeten Microsoft-365-Konto gehört.")
	case errors.Is(e.Err, ErrTooLargeToSend) || e.Code == 552 || e.Enhanced == "5.3.4":
		return text.T("Die Nachricht ist zu groß für das Postfach in Microsoft 365 (voreingestellt 35 MB für die ganze Nachricht; Anhänge werden beim Senden um etwa ein Drittel größer). Bitte Anhänge verkleinern oder auf mehrere Nachrichten verteilen; die IT kann die Grenze des Postfachs erhöhen.")
	case e.Enhanced == "ErrorInvalidRecipients":
		return text.T("Ein Empfänger wurde abgelehnt. Bitte die Empfängeradresse prüfen.")
	case e.Step == "graph" && (e.Code == 401 || e.Code == 403) && e.Enhanced != "ErrorSendAsDenied":
		return text.T("Microsoft 365 hat das Senden über Graph abgelehnt. Bitte das Konto unter „Konten“ neu anmelden; bleibt der Fehler, muss die IT der App die Berechtigung Mail.Send erteilen.")
	case e.Enhanced == "5.7.60" || e.Enhanced == "ErrorSendAsDenied" || e.Enhanced == "5.2.0" && strings.Contains(e.Message, "SendAsDenied"):
		return text.T("Das angemeldete Konto darf nicht mit dieser Absenderadresse senden. Bitte als Absender das eigene Postfach wählen oder die IT bitten, das Recht „Senden als“ zu vergeben.")
	case e.Enhanced == "5.7.57":
		return text.T("Der Server verlangt eine Anmeldung vor dem Versenden. Bitte das Konto unter „Konten“ neu anmelden.")
	case e.Step == "rcpt":
		return text.T("Ein Empfänger wurde abgelehnt. Bitte die Empfängeradresse prüfen.")
	case e.Temporary:
		return text.T("Der Postausgangsserver ist gerade nicht erreichbar oder überlastet. Die Nachricht bleibt im Postausgang und wird später erneut gesendet.")
	}
	return text.T("Der Postausgangsserver hat die Nachricht abgelehnt. Bitte die Meldung an die IT weitergeben.")
}

// ErrTooLargeToSend: the message is larger than the server's announced SIZE.
var ErrTooLargeToSend = errors.New("smtp: message larger than the server accepts")

// Send submits m from a.Address. The token is renewed once if the server
// refuses it; any other refusal is returned as a *SendError.
func (s *Sender) Send(ctx context.Context, a Account, m *Message) error {
	raw, err := m.Bytes(a.Address)
	if err != nil {
		return err
	}
	rcpts := m.Recipients()
	if len(rcpts) == 0 {
		return errors.New("smtp: the message has no recipient")
	}
	err = s.send(ctx, a, raw, rcpts, false)
	var se *SendError
	if errors.As(err, &se) && se.Step == "auth" && se.Enhanced == "5.7.3" {
		s.logger().Info("smtp token refused, renewing once", "account", a.Address)
		err = s.send(ctx, a, raw, rcpts, true)
	}
	return err
}

// SendRaw submits a ready message (the Kommunikator's MIME, unchanged)
// from a.Address to rcpts, renewing the token once if it is refused.
func (s *Sender) SendRaw(ctx context.Context, a Account, raw []byte, rcpts []string) error {
	if len(rcpts) == 0 {
		return errors.New("smtp: the message has no recipient")
	}
	err := s.send(ctx, a, raw, rcpts, false)
	var se *SendError
	if errors.As(err, &se) && se.Step == "auth" && se.Enhanced == "5.7.3" {
		s.logger().Info("smtp token refused, renewing once", "account", a.Address)
		err = s.send(ctx, a, raw, rcpts, true)
	}
	return err
}

func (s *Sender) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Sender) send(ctx context.Context, a Account, raw []byte, rcpts []string, renew bool) error {
	timeout := smtpTimeout(a)
	tok, err := s.Tokens.TokenContext(ctx)
	if renew {
		tok, err = s.Tokens.Renew(ctx)
	}
	if err != nil {
		s.step("Token", err, "")
		return err
	}
	if tok.Expiry.IsZero() {
		s.step("Token", nil, text.T("vorhanden"))
	} else {
		s.step("Token", nil, text.F("gültig bis %s", tok.Expiry.Local().Format("02.01.2006 15:04")))
	}
	c, closeConn, err := openSMTP(ctx, a, timeout, s.step)
	if err != nil {
		return err
	}
	defer closeConn()
	// fail reports a refusal at one step and returns it
	fail := func(name, step string, err error) error {
		se := classify(step, err)
		s.step(name, se, "")
		return se
	}
	c.SubmissionTimeout = 2 * timeout
	if size, ok := c.MaxMessageSize(); ok && size > 0 && len(raw) > size {
		_ = c.Quit()
		se := &SendError{Step: "mail", Code: 552, Enhanced: "5.3.4",
			Message: fmt.Sprintf("message of %d bytes, server accepts %d", len(raw), size), Err: ErrTooLargeToSend}
		s.step(text.T("Größe"), se, "")
		return se
	}
	x := &xoauth2{user: a.Address, token: tok.AccessToken}
	if err := c.Auth(x); err != nil {
		if x.detail != "" {
			s.logger().Info("smtp auth refused", "account", a.Address, "detail", x.detail)
		}
		return fail("AUTH", "auth", err)
	}
	s.step("AUTH", nil, text.F("XOAUTH2 als %s angenommen", a.Address))
	if err := c.Mail(a.Address, &smtp.MailOptions{Size: int64(len(raw))}); err != nil {
		return fail("MAIL FROM", "mail", err)
	}
	s.step("MAIL FROM", nil, a.Address)
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return fail("RCPT", "rcpt", err)
		}
		s.step("RCPT", nil, r)
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", "data", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fail("DATA", "data", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		se := classify("data", err)
		if se.Code == 0 {
			// the end of data went out, the answer did not come back
			se.Uncertain = true
		}
		s.step("DATA", se, "")
		return se
	}
	s.step("DATA", nil, text.F("%d Bytes angenommen: %s", len(raw), resp.StatusText))
	s.logger().Info("smtp message submitted", "account", a.Address, "recipients", len(rcpts), "bytes", len(raw), "queue_id", resp.StatusText)
	_ = c.Quit()
	return nil
}

func smtpTimeout(a Account) time.Duration {
	if a.Timeout <= 0 {
		return 60 * time.Second
	}
	return a.Timeout
}

// openSMTP connects, starts TLS and says EHLO (which runs the handshake),
// reporting the steps "Verbindung" and "TLS". The returned function closes
// the connection.
func openSMTP(ctx context.Context, a Account, timeout time.Duration, step func(name string, err error, detail string)) (*smtp.Client, func(), error) {
	host, _, err := net.SplitHostPort(a.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("smtp: address %q: %w", a.Addr, err)
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", a.Addr)
	if err != nil {
		se := &SendError{Step: "connect", Temporary: true, Err: err}
		step(text.T("Verbindung"), se, "")
		return nil, nil, se
	}
	step(text.T("Verbindung"), nil, a.Addr)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	conn = &boundedConn{Conn: conn, server: a.Addr, limit: MaxSMTPReply}
	c, err := smtp.NewClientStartTLS(conn, tlsConfig(a.TLS, host))
	if err == nil {
		c.CommandTimeout = timeout
		err = c.Hello("localhost")
	}
	if err != nil {
		stop()
		conn.Close()
		se := classify("connect", err)
		step("TLS", se, "")
		return nil, nil, se
	}
	if st, ok := c.TLSConnectionState(); ok && len(st.PeerCertificates) > 0 {
		name := st.PeerCertificates[0].Subject.CommonName
		if name == "" && len(st.PeerCertificates[0].DNSNames) > 0 {
			name = st.PeerCertificates[0].DNSNames[0]
		}
		step("TLS", nil, text.F("%s, %s, Zertifikat für %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), name))
	}
	return c, func() { stop(); c.Close() }, nil
}

func classify(step string, err error) *SendError {
	var pe *smtp.SMTPError
	if errors.As(err, &pe) {
		enh := ""
		if pe.EnhancedCode != smtp.NoEnhancedCode && pe.EnhancedCode != (smtp.EnhancedCode{}) {
			enh = fmt.Sprintf("%d.%d.%d", pe.EnhancedCode[0], pe.EnhancedCode[1], pe.EnhancedCode[2])
		}
		return &SendError{Step: step, Code: pe.Code, Enhanced: enh, Message: truncateText(pe.Message, 500), Temporary: pe.Temporary(), Err: err}
	}
	var le *LimitError
	return &SendError{Step: step, Temporary: !errors.As(err, &le), Err: err}
}

// truncateText shortens a server's text for a person and the log.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf(" … (%d Bytes mehr)", len(s)-cut)
}

// MaxSMTPReply bounds what an SMTP server may send between two commands
// of ours (a reply, or the TLS handshake): one that answers without end
// must not fill the memory (issue 19).
const MaxSMTPReply = 128 << 10

// boundedConn counts what is read since the client last wrote; past limit
// a read fails with a LimitError and the connection is given up.
type boundedConn struct {
	net.Conn
	server string
	limit  int64
	read   atomic.Int64
}

func (b *boundedConn) Write(p []byte) (int, error) {
	b.read.Store(0)
	return b.Conn.Write(p)
}

func (b *boundedConn) Read(p []byte) (int, error) {
	left := b.limit - b.read.Load()
	if left <= 0 {
		return 0, &LimitError{Server: b.server, What: text.Mark("eine Antwort"), Limit: b.limit}
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.Conn.Read(p)
	b.read.Add(int64(n))
	return n, err
}

// xoauth2 is the SASL XOAUTH2 mechanism of Google and Microsoft: the initial
// response carries user and bearer token; an error challenge (JSON) is
// answered with an empty line, after which the server sends the final 535.
type xoauth2 struct {
	user, token string
	detail      string
}

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	x.detail = string(challenge)
	return []byte{}, nil
}
