package handoff

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"strconv"
	"strings"
	"sync"
	"time"

	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// Outbox sends one account's queued messages over its transport, oldest
// first: sent, or retried with a growing pause after a temporary failure
// (4xx, throttling, a lost connection), or failed with the German reason
// after a permanent one (5xx) or MaxAttempts.
type Outbox struct {
	Store   *store.Store
	Account string
	// Send submits a message upstream (mail.Sender.SendRaw for SMTP).
	Send        func(ctx context.Context, raw []byte, rcpts []string) error
	Logger      *slog.Logger
	Now         func() time.Time
	MaxAttempts int // default 12 (about a day with the pauses)
	// Pause is the wait after the n-th failed attempt (default: 30 s,
	// doubling, at most 2 h).
	Pause func(n int) time.Duration
	Poll  time.Duration // a look at the outbox without a kick (default 1 min)
	// AlreadySent looks upstream for a message left in "sending" by a
	// crash (Graph: Sent Items by Message-ID); nil: SMTP, which cannot tell.
	AlreadySent func(ctx context.Context, raw []byte) (bool, error)
	// OnFailed is told when a message failed for good (German reason);
	// maybeSent: the connection broke after its end, the server may have it.
	OnFailed func(o store.Outgoing, reason string, maybeSent bool)
	// OnDone is told after each pass.
	OnDone func()
	// DropDir is the account's mail drop: its outbox folder is read in
	// each pass, and sent or failed files are filed away (empty: none).
	DropDir string

	kick chan struct{}
	once sync.Once
}

// Kick asks for a pass now (a message was queued).
func (o *Outbox) Kick() {
	o.init()
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

func (o *Outbox) init() {
	o.once.Do(func() { o.kick = make(chan struct{}, 1) }) // Kick may come before Run
}

// pause after the n-th failed attempt: 30 s, 1, 2, 4 … minutes, at most 2 h.
func pause(n int) time.Duration {
	d := 30 * time.Second << min(n-1, 8)
	return min(d, 2*time.Hour)
}

// Run sends until ctx ends.
func (o *Outbox) Run(ctx context.Context) error {
	o.init()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.Poll <= 0 {
		o.Poll = time.Minute
	}
	for {
		if err := o.pass(ctx); err != nil && ctx.Err() == nil {
			o.Logger.Warn("outbox pass", "account", o.Account, "error", err.Error())
		}
		if o.OnDone != nil {
			o.OnDone()
		}
		t := time.NewTimer(o.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-o.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

func (o *Outbox) pass(ctx context.Context) error {
	if o.DropDir != "" {
		if _, err := DropOutbox(ctx, o.Store, o.Account, o.DropDir, o.Now()); err != nil {
			o.Logger.Warn("mail drop outbox", "account", o.Account, "error", err.Error())
		}
		defer func() {
			if _, err := DropOutbox(ctx, o.Store, o.Account, o.DropDir, o.Now()); err != nil {
				o.Logger.Warn("mail drop outbox", "account", o.Account, "error", err.Error())
			}
		}()
	}
	due, err := o.Store.Due(ctx, o.Account, o.Now())
	if err != nil {
		return err
	}
	for _, m := range due {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if m.State == store.Sending && o.AlreadySent != nil {
			// left by a crash: it may have gone out already
			if sent, err := o.AlreadySent(ctx, m.Raw); err != nil {
				return err
			} else if sent {
				if err := o.Store.SetOutgoing(ctx, m.ID, store.Sent, o.Now(), "", o.Now()); err != nil {
					return err
				}
				continue
			}
		}
		// sending first: a crash now leaves it to be sent again (the
		// documented window for a double over SMTP)
		if err := o.Store.SetOutgoing(ctx, m.ID, store.Sending, m.NextAt, m.Error, o.Now()); err != nil {
			return err
		}
		serr := o.Send(ctx, m.Raw, m.Rcpts)
		if serr != nil {
			o.Logger.Warn("outbox send", "account", o.Account, "id", m.ID, "error", serr.Error())
		}
		if ctx.Err() != nil {
			return ctx.Err() // stopped: it stays "sending" and goes again next start
		}
		attempts := m.Attempts + 1
		switch {
		case serr == nil:
			err = o.Store.SetOutgoing(ctx, m.ID, store.Sent, o.Now(), "", o.Now())
		case permanent(serr) || attempts >= o.MaxAttempts:
			reason := explainSend(serr)
			err = o.Store.SetOutgoing(ctx, m.ID, store.Failed, o.Now(), reason, o.Now())
			if err == nil && o.OnFailed != nil {
				o.OnFailed(m, reason, uncertain(serr))
			}
		default:
			wait := pause(attempts)
			if o.Pause != nil {
				wait = o.Pause(attempts)
			}
			err = o.Store.SetOutgoing(ctx, m.ID, store.Queued, o.Now().Add(wait), explainSend(serr), o.Now())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// permanent: the server refused the message itself (5xx), so sending it
// again cannot help.
func permanent(err error) bool {
	var se *mail.SendError
	return errors.As(err, &se) && se.Code >= 500
}

// uncertain: the connection broke after the end of the message, so the
// server may have it. The outbox sends it again all the same (a lost
// client mail costs more than a double; docs/mail.md), and says so.
func uncertain(err error) bool {
	var se *mail.SendError
	return errors.As(err, &se) && se.Uncertain
}

func explainSend(err error) string {
	var se *mail.SendError
	if errors.As(err, &se) {
		return se.Error() + " " + se.OutboxAdvice()
	}
	return text.T("Der Mailserver von Microsoft 365 war nicht erreichbar oder hat nicht geantwortet; die Nachricht bleibt im Postausgang und wird später erneut gesendet.")
}

// FailureNotice is the message put into the account's inbox (served to the
// Kommunikator) when one of its messages cannot be sent: the Sachbearbeiter
// sees it where they work, with the reason and the original headers.
func FailureNotice(address string, o store.Outgoing, reason string, maybeSent bool, now time.Time) []byte {
	subject, date := header(o.Raw, "Subject"), header(o.Raw, "Date")
	title, what := text.F("Nicht gesendet: %s", decodedOr(subject)), text.T("Ihre Nachricht „%s“ vom %s an %s wurde nicht gesendet.\r\n\r\nGrund: %s\r\n\r\n")
	if maybeSent {
		title = text.F("Vielleicht nicht gesendet: %s", decodedOr(subject))
		what = text.T("Ob Ihre Nachricht „%s“ vom %s an %s gesendet wurde, ist unklar.\r\n\r\nGrund: %s\r\n\r\n")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: kanzleisync <%s>\r\nTo: <%s>\r\n", address, address)
	fmt.Fprintf(&b, "Subject: =?utf-8?b?%s?=\r\n", base64.StdEncoding.EncodeToString([]byte(title)))
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <notice-%d-%d.kanzleisync@%s>\r\n", now.Format(time.RFC1123Z), o.ID, now.UnixNano(), domainOf(address))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	fmt.Fprintf(&b, what, decodedOr(subject), date, strings.Join(o.Rcpts, ", "), reason)
	if maybeSent {
		b.WriteString(text.F("Die Nachricht liegt weiter im Postausgang von kanzleisync (Protokoll: „outbox:%s“) und wird nicht von selbst erneut gesendet. Fehlt sie unter „Gesendete Elemente“ und beim Empfänger, bitte im Kommunikator erneut senden.\r\n", strconv.FormatInt(o.ID, 10)))
	} else {
		b.WriteString(text.F("Die Nachricht liegt weiter im Postausgang von kanzleisync (Protokoll: „outbox:%s“). Bitte den Fehler beheben und die Nachricht im Kommunikator erneut senden.\r\n", strconv.FormatInt(o.ID, 10)))
	}
	return []byte(b.String())
}

// Subject is a message's subject for a person (decoded).
func Subject(raw []byte) string { return decodedOr(header(raw, "Subject")) }

// header reads one header of a message (unfolded, not decoded).
func header(raw []byte, name string) string {
	head, _, _ := strings.Cut(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n\n")
	var out string
	in := false
	for _, l := range strings.Split(head, "\n") {
		switch {
		case in && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")):
			out += " " + strings.TrimSpace(l)
		case strings.HasPrefix(strings.ToLower(l), strings.ToLower(name)+":"):
			out, in = strings.TrimSpace(l[len(name)+1:]), true
		default:
			if in {
				return out
			}
		}
	}
	return out
}

// decodedOr decodes RFC 2047 words; what cannot be decoded stays as it is.
func decodedOr(s string) string {
	if d, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
		return d
	}
	return s
}

func domainOf(address string) string {
	_, d, _ := strings.Cut(address, "@")
	return d
}
