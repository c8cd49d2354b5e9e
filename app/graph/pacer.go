// Package graph talks to Microsoft Graph: one retry policy (Pacer), JSON
// batches of up to 20 requests with each failed item retried on its own,
// at most four requests in flight per mailbox, Retry-After honoured, a 401
// answered by one token refresh. The HTTP pipeline is msgraph-sdk-go's
// (kiota-http-go) with a fixed middleware order and without kiota's retry
// handler, which is unsafe for requests with a body (docs/m365sim.md).
package graph

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Pacer runs calls with retries: Retry-After when the service gives one,
// exponential backoff with jitter otherwise, never after the context ends.
type Pacer struct {
	Base        time.Duration // first backoff (default 500 ms)
	Max         time.Duration // longest single wait (default 60 s)
	MaxAttempts int           // default 8
	// Sleep waits; tests replace it. It must return early when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error

	mu  sync.Mutex
	rng *rand.Rand
}

// NewPacer returns a pacer with the defaults.
func NewPacer() *Pacer {
	return &Pacer{Base: 500 * time.Millisecond, Max: 60 * time.Second, MaxAttempts: 8, Sleep: sleepCtx,
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x7061636572))}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrGaveUp wraps the last error when every attempt failed.
var ErrGaveUp = errors.New("graph: gave up after retries")

// Call runs fn until it succeeds, asks for no retry, or the attempts run
// out. fn returns whether to retry and how long the service asked to wait
// (0: back off on our own).
func (p *Pacer) Call(ctx context.Context, fn func() (retry bool, retryAfter time.Duration, err error)) error {
	var last error
	for attempt := 0; attempt < p.MaxAttempts; attempt++ {
		retry, after, err := fn()
		if err == nil {
			return nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			return err
		}
		if attempt == p.MaxAttempts-1 {
			break
		}
		wait := after
		if wait <= 0 {
			wait = p.backoff(attempt)
		}
		if wait > p.Max {
			wait = p.Max
		}
		if err := p.Sleep(ctx, wait); err != nil {
			return errors.Join(err, last)
		}
	}
	return errors.Join(ErrGaveUp, last)
}

// backoff is Base·2^attempt with full jitter.
func (p *Pacer) backoff(attempt int) time.Duration {
	d := p.Base << min(attempt, 16)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return d/2 + time.Duration(p.rng.Int64N(int64(d/2)+1))
}

// ShouldRetry is the single retry policy for Graph answers and errors:
// 429, 503 and 504 (and 500, 502) with their Retry-After, dropped
// connections and timeouts; never a cancelled context; other 4xx are final.
func ShouldRetry(ctx context.Context, status int, header http.Header, err error) (bool, time.Duration) {
	if ctx.Err() != nil {
		return false, 0
	}
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, context.Canceled):
			return false, 0
		case errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
			errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED):
			return true, 0
		}
		return false, 0
	}
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		http.StatusInternalServerError, http.StatusBadGateway:
		return true, retryAfter(header)
	}
	return false, 0
}

// retryAfter reads a Retry-After in seconds or as an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// Microsoft's budget for one app and one mailbox (Outlook resources:
// calendar, contacts, mail; To Do counts alike): MailboxBudget requests
// per MailboxWindow, each request inside a $batch counted on its own, at
// most MailboxConcurrency at once (client.go). The estimates of the
// remaining time are made from it.
const (
	MailboxBudget = 10000
	MailboxWindow = 10 * time.Minute
)
