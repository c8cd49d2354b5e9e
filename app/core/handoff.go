package core

import (
	"context"
	"fmt"
	"net"
	"strings"

	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/graph"
	"kanzleisync/app/handoff"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// The hand-off to the Kommunikator: the local POP3 and SMTP servers (one
// listener each for all of this user's accounts with the Mail module,
// restarted when the address changes) and one outbox worker per account
// that sends over POP3/SMTP. Not in server mode: the workstations hand the
// mail over.

// listenerEntry is one of the local servers as it runs, or why it cannot.
type listenerEntry struct {
	want   string // as configured (a port of 0: any free one)
	addr   string // where it listens
	cancel context.CancelFunc
	err    error // the address could not be bound
}

// localServer is the local POP3 or SMTP server.
type localServer interface {
	Listen(addr string) (net.Listener, error)
	Serve(ctx context.Context, ln net.Listener) error
}

// keepServing starts, moves or stops a local server so that it listens on
// want ("" for none); it returns the new state. e.mu is held.
func (e *Engine) keepServing(cur *listenerEntry, want, name string, srv localServer) *listenerEntry {
	if e.o.AppPermissions || e.inactive {
		want = ""
	}
	if cur != nil && cur.want == want && cur.err == nil {
		return cur
	}
	if cur != nil && cur.cancel != nil {
		cur.cancel()
	}
	if want == "" {
		return nil
	}
	ln, err := srv.Listen(want)
	if err != nil {
		e.o.Logger.Warn("local "+name, "addr", want, "error", err.Error())
		return &listenerEntry{want: want, addr: want, err: err}
	}
	ctx, cancel := context.WithCancel(e.base)
	e.done.Add(1)
	go func() {
		defer e.done.Done()
		if err := srv.Serve(ctx, ln); err != nil {
			e.o.Logger.Warn("local "+name+" stopped", "error", err.Error())
		}
	}()
	return &listenerEntry{want: want, addr: ln.Addr().String(), cancel: cancel}
}

// reconcileServers keeps the local POP3 and SMTP servers. e.mu is held.
func (e *Engine) reconcileServers(c configuration) {
	e.maxMessage.Store(c.settings.MaxMessageBytes())
	e.pop3 = e.keepServing(e.pop3, c.settings.LocalPOP3Addr(), "pop3",
		&handoff.POP3Server{Store: e.o.Store, Passwords: e.localPassword, Logger: e.o.Logger, Now: e.o.Now, OnTaken: e.onTaken})
	e.smtp = e.keepServing(e.smtp, c.settings.LocalSMTPAddr(), "smtp",
		&handoff.SMTPServer{Store: e.o.Store, Passwords: e.localPassword, Logger: e.o.Logger, Now: e.o.Now, OnQueued: e.kickOutbox,
			Limit: e.maxMessage.Load})
}

type outboxEntry struct {
	o      *handoff.Outbox
	cancel context.CancelFunc
	fp     string
}

// reconcileOutboxes keeps one outbox worker per account with the Mail
// module: it sends over SMTP with XOAUTH2, or over Graph (MIME sendMail).
// e.mu is held.
func (e *Engine) reconcileOutboxes(c configuration) {
	wanted := map[string]bool{}
	for _, w := range c.workers {
		if !w.Has(config.Mail) || e.inactive || e.o.AppPermissions {
			continue
		}
		ent := c.entities[w.Entity]
		for _, a := range w.Accounts {
			k := accountKey(w.UPN, a.Address)
			wanted[k] = true
			fp := fmt.Sprintf("%+v|%s", a, w.Entity)
			if ob, ok := e.outboxes[k]; ok && ob.fp == fp {
				continue
			}
			if ob, ok := e.outboxes[k]; ok {
				ob.cancel()
			}
			_, sub := mail.Endpoints(a, e.o.MailTLS)
			sender := &mail.Sender{Tokens: e.o.Auth.Outlook(w.UPN), Logger: e.o.Logger}
			gm := &mail.GraphMail{Client: graph.New(ent.GraphEndpoint, e.o.Auth.Graph(w.UPN), graph.Options{Logger: e.o.Logger, Budget: graph.SharedBudget(ent.GraphEndpoint, a.Address)}), Logger: e.o.Logger, Mailbox: a.Address}
			address, key, overGraph := a.Address, k, a.Transport == config.GraphMail
			ob := &handoff.Outbox{Store: e.o.Store, Account: a.Address, Logger: e.o.Logger, Now: e.o.Now, DropDir: a.DropDir,
				Send: func(ctx context.Context, raw []byte, rcpts []string) error {
					var err error
					if overGraph {
						err = gm.SendMIME(ctx, raw, rcpts)
					} else {
						err = sender.SendRaw(ctx, sub, raw, rcpts)
					}
					_, _, service, target := e.transport(ent, w).Targets(a)
					e.o.Transfer.Connection(service+" (Postausgang)", address, target, err)
					return err
				},
				OnFailed: func(o store.Outgoing, reason string, maybeSent bool) {
					e.outboxFailed(w.UPN, address, o, reason, maybeSent)
				},
				AlreadySent: func(ctx context.Context, raw []byte) (bool, error) {
					if !overGraph {
						return false, nil // SMTP cannot tell: the documented window
					}
					return gm.InSentItems(ctx, raw)
				},
				OnDone: func() { e.outboxCounted(key, address) }}
			octx, cancel := context.WithCancel(e.base)
			e.outboxes[k] = &outboxEntry{o: ob, cancel: cancel, fp: fp}
			e.done.Add(1)
			go func() { defer e.done.Done(); _ = ob.Run(octx) }()
		}
	}
	for k, ob := range e.outboxes {
		if !wanted[k] {
			ob.cancel()
			delete(e.outboxes, k)
		}
	}
}

// FailedOutgoing lists an account's messages that could not be sent.
func (e *Engine) FailedOutgoing(ctx context.Context, address string) ([]store.Outgoing, error) {
	return e.o.Store.FailedOutgoing(ctx, address)
}

// RetryOutgoing sends a failed message again, at once.
func (e *Engine) RetryOutgoing(ctx context.Context, address string, id int64) error {
	if err := e.o.Store.RetryOutgoing(ctx, address, id, e.o.Now()); err != nil {
		return err
	}
	e.kickOutbox(address)
	return nil
}

// DiscardOutgoing drops a failed message: it is not sent.
func (e *Engine) DiscardOutgoing(ctx context.Context, address string, id int64) error {
	if err := e.o.Store.DiscardOutgoing(ctx, address, id); err != nil {
		return err
	}
	e.o.Transfer.Line("POSTAUSGANG", address, fmt.Sprintf("Nachricht %d verworfen", id))
	e.kickOutbox(address) // the pass recounts
	return nil
}

// pruneTaken removes the bytes of mail the Kommunikator took long enough
// ago (Settings.KeepTakenDays); run with the hourly warnings.
func (e *Engine) pruneTaken(ctx context.Context) {
	set, err := e.o.Repo.Settings(ctx)
	if err != nil {
		return
	}
	n, err := e.o.Store.PruneTaken(ctx, e.o.Now().Add(-set.TakenRetention()))
	if err != nil {
		e.o.Logger.Warn("prune taken mail", "error", err.Error())
		return
	}
	if n > 0 {
		e.o.Logger.Info("taken mail pruned", "messages", n)
	}
}

// kickOutbox: the Kommunikator queued a message; its outbox sends now.
func (e *Engine) kickOutbox(address string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, ob := range e.outboxes {
		if _, a, _ := strings.Cut(k, "|"); strings.EqualFold(a, address) {
			ob.o.Kick()
		}
	}
}

// outboxCounted brings an account's outbox counts into the status.
func (e *Engine) outboxCounted(key, address string) {
	counts, err := e.o.Store.OutboxCounts(e.ctx(), address)
	if err != nil {
		return
	}
	e.mu.Lock()
	if a := e.accounts[key]; a != nil {
		a.Outbox, a.OutboxFailed = counts[store.Queued]+counts[store.Sending], counts[store.Failed]
	}
	e.mu.Unlock()
	e.publish()
}

// outboxFailed journals a message that cannot be sent, with the reason.
func (e *Engine) outboxFailed(upn, address string, o store.Outgoing, reason string, maybeSent bool) {
	what, title := text.F("Nachricht an %s nicht gesendet: %s", strings.Join(o.Rcpts, ", "), reason), text.T("Nachricht nicht gesendet")
	if maybeSent {
		what, title = text.F("Nachricht an %s vielleicht nicht gesendet: %s", strings.Join(o.Rcpts, ", "), reason), text.T("Nachricht vielleicht nicht gesendet")
	}
	e.o.Transfer.Line("POSTAUSGANG", address, fmt.Sprintf("Nachricht %d an %s %s: %s", o.ID, strings.Join(o.Rcpts, ", "), map[bool]string{false: "nicht gesendet", true: "vielleicht nicht gesendet"}[maybeSent], reason))
	_ = e.o.Store.Journal(e.ctx(), store.JournalEntry{At: e.o.Now(), Worker: upn, ItemKey: fmt.Sprintf("outbox:%d", o.ID), Action: "send", Result: "error", Error: what})
	// and where the Sachbearbeiter works: a notice in the Kommunikator's inbox
	notice := handoff.FailureNotice(address, o, reason, maybeSent, e.o.Now())
	if err := e.o.Store.StoreMessages(e.ctx(), store.Message{Account: address, UIDL: fmt.Sprintf("kanzleisync-notice-%d", o.ID), Raw: notice, Fetched: e.o.Now()}); err != nil {
		e.o.Logger.Warn("store the failure notice", "account", address, "error", err.Error())
	}
	if e.o.Notify != nil {
		e.o.Notify(diagnose.Warning{Key: fmt.Sprintf("outbox/%d", o.ID), Status: diagnose.Red, Title: title, Text: address + ": " + what})
	}
}

// localPassword is the password of a configured account with the Mail
// module; any other address has none.
func (e *Engine) localPassword(address string) (string, bool) {
	workers, err := e.o.Repo.Workers(e.ctx())
	if err != nil {
		return "", false
	}
	for _, w := range workers {
		if !w.Has(config.Mail) {
			continue
		}
		for _, a := range w.Accounts {
			if strings.EqualFold(a.Address, address) {
				pw, err := e.o.Auth.LocalPassword(a.Address)
				return pw, err == nil
			}
		}
	}
	return "", false
}

// LocalPassword is what the Kommunikator enters for an account.
func (e *Engine) LocalPassword(address string) (string, error) {
	return e.o.Auth.LocalPassword(address)
}

// RetryAside tries the account's messages that are set aside again at
// once (a person asked for it); it returns how many there were.
func (e *Engine) RetryAside(ctx context.Context, address string) (int, error) {
	n, err := e.o.Store.RetryAsideNow(ctx, address, e.o.Now())
	if err != nil {
		return 0, err
	}
	e.o.Transfer.Line("ABRUF", address, fmt.Sprintf("zurückgestellte Nachrichten erneut versuchen: %d", n))
	e.fetchNow(address)
	return n, nil
}

// fetchNow starts a fetch of every fetcher of the account at once.
func (e *Engine) fetchNow(address string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, fe := range e.fetchers {
		if _, a, _ := strings.Cut(k, "|"); strings.EqualFold(a, address) {
			fe.w.FetchNow()
		}
	}
}

// onTaken: the Kommunikator has messages; a fetch now deletes them upstream.
func (e *Engine) onTaken(address string, n int) {
	e.o.Transfer.Line("ÜBERGABE", address, fmt.Sprintf("an den Kommunikator übergeben: %d", n))
	e.fetchNow(address)
}

// localStatusLocked shows the local servers' addresses, or why one is
// missing. e.mu is held.
func (e *Engine) localStatusLocked(st *Status) {
	for _, l := range []struct {
		entry *listenerEntry
		addr  *string
		title string
	}{{e.pop3, &st.LocalPOP3, text.T("Kommunikator kann keine Mail abrufen")}, {e.smtp, &st.LocalSMTP, text.T("Kommunikator kann keine Mail senden")}} {
		switch {
		case l.entry == nil:
		case l.entry.err != nil:
			st.Warnings = append(st.Warnings, diagnose.Warning{Key: "local/" + l.entry.addr, Status: diagnose.Red, Title: l.title,
				Text: Explain(l.entry.err, config.Entity{}, "")})
		default:
			*l.addr = l.entry.addr
		}
	}
}
