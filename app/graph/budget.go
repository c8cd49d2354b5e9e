package graph

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits are Microsoft's limits for one application and one mailbox
// (Outlook's calendar, contacts and mail, To Do alike): Requests per
// Window, each request inside a $batch counted on its own, at most
// Concurrency at once.
type Limits struct {
	Requests    int
	Window      time.Duration
	Concurrency int
}

// MicrosoftLimits are the published Outlook limits.
var MicrosoftLimits = Limits{Requests: MailboxBudget, Window: MailboxWindow, Concurrency: MailboxConcurrency}

// BudgetEnv scales the mailbox budget for emulator runs whose window is
// scaled too (benchmarks, tests that export many items): "REQUESTS/WINDOW",
// e.g. "1000/1m". Against Microsoft it is never set.
const BudgetEnv = "KANZLEISYNC_MAILBOX_BUDGET"

// DefaultLimits are MicrosoftLimits, or the scaled budget of BudgetEnv.
func DefaultLimits() Limits {
	l := MicrosoftLimits
	if v := os.Getenv(BudgetEnv); v != "" {
		if scaled, err := ParseBudget(v); err == nil {
			l.Requests, l.Window = scaled.Requests, scaled.Window
		}
	}
	return l
}

// ParseBudget reads "REQUESTS/WINDOW" (e.g. "10000/10m").
func ParseBudget(s string) (Limits, error) {
	n, w, ok := strings.Cut(s, "/")
	req, err1 := strconv.Atoi(strings.TrimSpace(n))
	win, err2 := time.ParseDuration(strings.TrimSpace(w))
	if !ok || err1 != nil || err2 != nil || req < MaxBatch || win <= 0 {
		return Limits{}, fmt.Errorf("graph: budget %q is not REQUESTS/WINDOW with at least %d requests, e.g. 10000/10m", s, MaxBatch)
	}
	return Limits{Requests: req, Window: win, Concurrency: MailboxConcurrency}, nil
}

// Budget paces one mailbox so that Microsoft never has to say 429: at most
// Limits.Concurrency requests in flight, and at most Limits.Requests in any
// window of Limits.Window. Every client of the mailbox in this process
// (the export and the mail of the same Sachbearbeiter) shares one Budget
// (SharedBudget), and a Retry-After that one of them is given holds all.
//
// A request counts from when it leaves until Window after its answer came
// (Microsoft counts it on arrival, which lies in between), so that no
// window on the service's side can hold more than Requests, however the
// network delays each. Within that, a token bucket spreads the window's
// requests evenly (a burst of at most Burst, then Requests per Window),
// so that an export that has the whole budget still leaves room within
// seconds for a mail fetch or a changed Termin, and requests wait their
// turn first come, first served.
type Budget struct {
	limits Limits
	burst  float64
	rate   float64 // requests per second
	slots  chan struct{}
	turn   chan struct{} // held by the one request waiting for the budget

	mu        sync.Mutex
	tokens    float64
	refilled  time.Time
	inflight  int
	spent     []spent // answered requests still inside the window, oldest first
	spentSum  int
	changed   chan struct{} // closed when a request is answered
	notBefore time.Time     // the mailbox's Retry-After
	keep      HoldOffStore  // where the Retry-After outlives the process (Remember)
	keepKey   string
}

type spent struct {
	at time.Time
	n  int
}

// NewBudget returns a budget of its own (not shared) for the limits.
func NewBudget(l Limits) *Budget {
	if l.Concurrency <= 0 {
		l.Concurrency = MailboxConcurrency
	}
	if l.Requests < MaxBatch || l.Window <= 0 {
		l.Requests, l.Window = MicrosoftLimits.Requests, MicrosoftLimits.Window
	}
	burst := max(float64(l.Requests)/50, 2*MaxBatch)
	return &Budget{limits: l, burst: burst, rate: float64(l.Requests) / l.Window.Seconds(),
		slots: make(chan struct{}, l.Concurrency), turn: make(chan struct{}, 1),
		tokens: burst, refilled: time.Now(), changed: make(chan struct{})}
}

// Limits are the budget's limits.
func (b *Budget) Limits() Limits { return b.limits }

var shared = struct {
	sync.Mutex
	m map[string]*Budget
}{m: map[string]*Budget{}}

// SharedBudget is this process's budget for a mailbox at a Graph endpoint
// (DefaultLimits at its first use).
func SharedBudget(endpoint, mailbox string) *Budget {
	key := strings.ToLower(strings.TrimRight(endpoint, "/") + "|" + mailbox)
	shared.Lock()
	defer shared.Unlock()
	b := shared.m[key]
	if b == nil {
		b = NewBudget(DefaultLimits())
		shared.m[key] = b
	}
	return b
}

// slot takes n of the concurrency slots (released by the returned function).
func (b *Budget) slot(ctx context.Context, n int) (func(), error) {
	n = min(n, cap(b.slots))
	for k := 0; k < n; k++ {
		select {
		case b.slots <- struct{}{}:
		case <-ctx.Done():
			for ; k > 0; k-- {
				<-b.slots
			}
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for range n {
				<-b.slots
			}
		})
	}, nil
}

// errHeldOff: the mailbox's Retry-After came while a request waited for
// its turn; it waits for that first.
var errHeldOff = errors.New("graph: the mailbox is held off by a Retry-After")

// reserve waits until n requests fit into the window and the bucket, and
// counts them in flight; answered ends the reservation when the answer
// (or the failure) has come. It fails with errHeldOff while a Retry-After
// holds the mailbox: nothing leaves once the client knows that deadline.
func (b *Budget) reserve(ctx context.Context, n int) (answered func(), err error) {
	n = min(n, b.limits.Requests)
	select {
	case b.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-b.turn }()
	for {
		b.mu.Lock()
		now := time.Now()
		if b.notBefore.After(now) {
			b.mu.Unlock()
			return nil, errHeldOff
		}
		wait, changed := b.tryLocked(now, n)
		if wait == 0 {
			b.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { b.answered(n) }) }, nil
		}
		b.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		case <-changed:
			t.Stop()
		}
	}
}

// tryLocked takes n if they fit, returning 0; otherwise how long to wait
// at most before trying again (and a channel that closes sooner when an
// answer frees room). Caller holds b.mu.
func (b *Budget) tryLocked(now time.Time, n int) (time.Duration, <-chan struct{}) {
	for len(b.spent) > 0 && !now.Before(b.spent[0].at.Add(b.limits.Window)) {
		b.spentSum -= b.spent[0].n
		b.spent = b.spent[1:]
	}
	if len(b.spent) == 0 {
		b.spent = nil // let the backing array go
	}
	b.tokens = min(b.burst, b.tokens+now.Sub(b.refilled).Seconds()*b.rate)
	b.refilled = now
	var wait time.Duration
	if b.tokens < float64(n) {
		wait = time.Duration((float64(n) - b.tokens) / b.rate * float64(time.Second))
	}
	if over := b.inflight + b.spentSum + n - b.limits.Requests; over > 0 {
		// room comes when the oldest answered requests leave the window;
		// if those in flight are in the way, when one of them is answered
		freed, until := 0, time.Duration(0)
		for _, s := range b.spent {
			freed += s.n
			if freed >= over {
				until = s.at.Add(b.limits.Window).Sub(now)
				break
			}
		}
		if freed < over {
			until = b.limits.Window
		}
		wait = max(wait, until)
	}
	if wait > 0 {
		return max(wait, time.Millisecond), b.changed
	}
	b.tokens -= float64(n)
	b.inflight += n
	return 0, nil
}

// answered moves n requests from in flight into the window.
func (b *Budget) answered(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight -= n
	b.spent = append(b.spent, spent{at: time.Now(), n: n})
	b.spentSum += n
	close(b.changed)
	b.changed = make(chan struct{})
}

// holdOff remembers a Retry-After for the whole mailbox: Outlook throttles
// per application and mailbox, so no request of any client of it may go
// out before it has passed.
func (b *Budget) holdOff(d time.Duration) {
	if d <= 0 {
		return
	}
	b.mu.Lock()
	until := time.Now().Add(d)
	later := until.After(b.notBefore)
	if later {
		b.notBefore = until
	}
	keep, key := b.keep, b.keepKey
	b.mu.Unlock()
	if later && keep != nil {
		// written before the next request may leave: a process killed
		// now leaves the deadline to the one started next
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = keep.SetHoldOff(ctx, key, until)
	}
}

// HoldOffStore keeps a mailbox's Retry-After where the next process of
// the installation finds it (the state DB: *store.Store).
type HoldOffStore interface {
	HoldOff(ctx context.Context, mailbox string) (time.Time, error)
	SetHoldOff(ctx context.Context, mailbox string, until time.Time) error
}

// remember makes the budget's Retry-Afters outlive the process under key:
// one the store holds from a process before is taken at once, each new one
// is written. The first store given is kept.
func (b *Budget) remember(ctx context.Context, s HoldOffStore, key string) {
	b.mu.Lock()
	if b.keep != nil {
		b.mu.Unlock()
		return
	}
	b.keep, b.keepKey = s, key
	b.mu.Unlock()
	until, err := s.HoldOff(ctx, key)
	if err != nil || !until.After(time.Now()) {
		return
	}
	b.mu.Lock()
	if until.After(b.notBefore) {
		b.notBefore = until
	}
	b.mu.Unlock()
}

// heldOff is the mailbox's Retry-After (zero when none holds it).
func (b *Budget) heldOff() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.notBefore
}

// clearHoldOff forgets the Retry-After until once a pacer whose clock is
// not the wall clock (tests) has waited it out; a later one that came
// meanwhile from another request stays.
func (b *Budget) clearHoldOff(until time.Time) {
	b.mu.Lock()
	if b.notBefore.Equal(until) {
		b.notBefore = time.Time{}
	}
	b.mu.Unlock()
}
