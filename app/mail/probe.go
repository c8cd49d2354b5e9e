package mail

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/text"
)

// Endpoints turns a configured account into the POP3 and SMTP accounts the
// fetcher and the sender use; trust is nil for the system's roots.
func Endpoints(a config.MailAccount, trust *tls.Config) (pop, sub Account) {
	a = a.WithDefaults()
	mode := ImplicitTLS
	if a.POP3TLS == config.TLSStartTLS {
		mode = StartTLS
	}
	pop = Account{Address: a.Address, Addr: net.JoinHostPort(a.POP3Host, strconv.Itoa(a.POP3Port)), Mode: mode, TLS: trust, Timeout: 30 * time.Second, LeaveDays: a.LeaveDays}
	sub = Account{Address: a.Address, Addr: net.JoinHostPort(a.SMTPHost, strconv.Itoa(a.SMTPPort)), TLS: trust, Timeout: 30 * time.Second}
	return pop, sub
}

// ProbePOP3 signs in and out again: no message is read or deleted.
func ProbePOP3(ctx context.Context, a Account, token string) (string, error) {
	c, err := Dial(ctx, a.Addr, a.Mode, a.TLS, a.Timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.AuthXOAUTH2(a.Address, token); err != nil {
		return c.Detail, err
	}
	list, err := c.List()
	if err != nil {
		return "", err
	}
	_ = c.Quit()
	return text.F("Anmeldung angenommen, %d Nachrichten auf dem Server", len(list)), nil
}

// ProbeSMTP connects, starts TLS, authenticates and quits: nothing is sent.
func ProbeSMTP(ctx context.Context, a Account, token string) (string, error) {
	c, closeConn, err := openSMTP(ctx, a, smtpTimeout(a), func(string, error, string) {})
	if err != nil {
		return "", err
	}
	defer closeConn()
	if err := c.Auth(&xoauth2{user: a.Address, token: token}); err != nil {
		return "", classify("auth", err)
	}
	_ = c.Quit()
	return text.T("STARTTLS und XOAUTH2 angenommen"), nil
}
