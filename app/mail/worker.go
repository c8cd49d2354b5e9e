package mail

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Worker fetches one account: at start, every Interval, and on demand
// (FetchNow). After a failure it waits longer each time, up to MaxBackoff,
// and returns to the interval after the next success. Run returns when ctx
// is cancelled; a fetch in progress is cut off, which the fetcher's
// store-before-delete order makes safe.
type Worker struct {
	// Source is the account's transport: a *POP3Source or a *GraphMail.
	Source   Source
	Name     string        // the account, for the log
	Logger   *slog.Logger  // default slog.Default()
	Interval time.Duration // default 60 s
	// MaxBackoff caps the wait after repeated failures (default 15 min).
	MaxBackoff time.Duration
	// Report, when set, is told the outcome of every fetch (for the tray
	// icon and the account list).
	Report func(res Result, err error, next time.Duration)

	once    sync.Once
	trigger chan struct{}
}

// Source fetches an account's new messages into the store once.
type Source interface {
	Fetch(ctx context.Context) (Result, error)
}

// POP3Source is a POP3 account as a worker's source.
type POP3Source struct {
	Fetcher *Fetcher
	Account Account
}

// Fetch runs one POP3 session.
func (p *POP3Source) Fetch(ctx context.Context) (Result, error) {
	return p.Fetcher.Fetch(ctx, p.Account)
}

func (w *Worker) init() { w.once.Do(func() { w.trigger = make(chan struct{}, 1) }) }

// FetchNow asks for a fetch at once; calls during a fetch coalesce into one.
func (w *Worker) FetchNow() {
	w.init()
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// Run fetches until ctx is cancelled.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	interval := w.Interval
	if interval <= 0 {
		interval = 60 * time.Second
	}
	maxBackoff := w.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 15 * time.Minute
	}
	log := w.Logger
	if log == nil {
		log = slog.Default()
	}
	failures := 0
	for {
		res, err := w.Source.Fetch(ctx)
		if ctx.Err() != nil {
			return
		}
		next := interval
		if err != nil {
			failures++
			next = backoff(interval, failures, maxBackoff)
			log.Warn("mail fetch failed", "account", w.Name, "failures", failures, "retry_in", next, "err", err)
		} else {
			failures = 0
			if res.Fetched > 0 || res.Skipped > 0 {
				log.Info("mail fetched", "account", w.Name, "fetched", res.Fetched, "deleted", res.Deleted, "skipped", res.Skipped)
			}
		}
		if w.Report != nil {
			w.Report(res, err, next)
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.trigger:
			t.Stop()
		case <-t.C:
		}
	}
}

// backoff doubles the wait with each failure, starting at a tenth of the
// interval (a network blip heals quickly), capped at limit.
func backoff(interval time.Duration, failures int, limit time.Duration) time.Duration {
	d := max(interval/10, 100*time.Millisecond)
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
