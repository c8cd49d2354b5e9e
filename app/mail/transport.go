package mail

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"

	"kanzleisync/app/config"
	"kanzleisync/app/graph"
	"kanzleisync/app/store"
)

// Transport builds what one worker's mail accounts need — the fetch source
// and the test-mail sender — over POP3/SMTP with OAuth2 or over Graph, so
// that the choice between them is made in one place.
type Transport struct {
	Store  *store.Store
	Logger *slog.Logger
	// TLS are the trusted roots of the POP3/SMTP servers (nil: the system's).
	TLS           *tls.Config
	GraphEndpoint string
	Graph         graph.TokenSource // the worker's Graph token
	Outlook       TokenSource       // the worker's POP/SMTP token
	// GraphLogger receives each Graph request of the fetch (nil: Logger).
	GraphLogger *slog.Logger
}

// Source is where an account's mail is fetched from.
func (t Transport) Source(a config.MailAccount) Source {
	if a.Transport == config.GraphMail {
		log := t.GraphLogger
		if log == nil {
			log = t.Logger
		}
		return &GraphMail{Client: graph.New(t.GraphEndpoint, t.Graph, graph.Options{Logger: log, Budget: graph.SharedBudget(t.GraphEndpoint, a.Address)}), Store: t.Store, Logger: t.Logger, Mailbox: a.Address,
			MoveTo: a.GraphMoveTo, LeaveDays: a.LeaveDays}
	}
	pop, _ := Endpoints(a, t.TLS)
	return &POP3Source{Fetcher: &Fetcher{Store: t.Store, Tokens: t.Outlook, Logger: t.Logger}, Account: pop}
}

// SendTestMail sends a test mail from the account; to empty: the account
// itself. name is the sender's display name.
func (t Transport) SendTestMail(ctx context.Context, a config.MailAccount, name, to string) TestMailReport {
	if a.Transport == config.GraphMail {
		g := &GraphMail{Client: graph.New(t.GraphEndpoint, t.Graph, graph.Options{Budget: graph.SharedBudget(t.GraphEndpoint, a.Address)}), Mailbox: a.Address}
		return g.SendTestMail(ctx, name, to)
	}
	_, sub := Endpoints(a, t.TLS)
	return (&Sender{Tokens: t.Outlook}).SendTestMail(ctx, sub, name, to)
}

// Targets names the services an account talks to, for the transfer log:
// fetching and sending, each as service and address.
func (t Transport) Targets(a config.MailAccount) (fetch, fetchAddr, send, sendAddr string) {
	if a.Transport == config.GraphMail {
		return "Graph-Mail", t.GraphEndpoint, "Graph-sendMail", t.GraphEndpoint
	}
	return "POP3", net.JoinHostPort(a.POP3Host, strconv.Itoa(a.POP3Port)), "SMTP", net.JoinHostPort(a.SMTPHost, strconv.Itoa(a.SMTPPort))
}
