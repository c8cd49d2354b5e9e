package m365sim

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"time"
)

// throttler enforces Outlook's limits per application and mailbox: a number
// of concurrent requests and a number of requests in any window of the
// configured length (a sliding window: the strict reading of "10,000
// requests in a 10 minute period"; a fixed window would let a client send
// twice the number across a window's end).
type throttler struct {
	mu       sync.Mutex
	cfg      ThrottleConfig
	running  map[string]int
	arrivals map[string][]time.Time // admitted requests inside the window, oldest first
}

func newThrottler(cfg ThrottleConfig) *throttler {
	return &throttler{cfg: cfg, running: map[string]int{}, arrivals: map[string][]time.Time{}}
}

func (t *throttler) setConfig(cfg ThrottleConfig) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cfg.Concurrency > 0 {
		t.cfg.Concurrency = cfg.Concurrency
	}
	if cfg.Requests > 0 {
		t.cfg.Requests = cfg.Requests
	}
	if cfg.Window > 0 {
		t.cfg.Window = cfg.Window
	}
	t.arrivals = map[string][]time.Time{}
}

// acquire admits one request or answers 429 with Retry-After.
func (t *throttler) acquire(key string, now time.Time) (func(), *graphError) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running[key] >= t.cfg.Concurrency {
		return nil, &graphError{status: 429, code: "ApplicationThrottled", message: "Application is over its MailboxConcurrency limit.", retryAfter: 1}
	}
	win := time.Duration(t.cfg.Window)
	a := t.arrivals[key]
	k := 0
	for k < len(a) && !now.Before(a[k].Add(win)) {
		k++
	}
	a = a[k:]
	if len(a) >= t.cfg.Requests {
		t.arrivals[key] = a
		wait := int(math.Ceil(a[len(a)-t.cfg.Requests].Add(win).Sub(now).Seconds()))
		return nil, &graphError{status: 429, code: "ApplicationThrottled", message: "Application is over its MailboxConcurrency limit.", retryAfter: max(wait, 1)}
	}
	t.arrivals[key] = append(a, now)
	t.running[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			t.running[key]--
			t.mu.Unlock()
		})
	}, nil
}

// Faults are injected into Graph requests. Probabilities are per request
// (and per request inside a $batch), drawn from the seeded generator.
type Faults struct {
	// Status maps an HTTP status (429, 500, 502, 503, 504) to its probability.
	Status map[int]float64 `json:"status,omitempty"`
	// Reset is the probability that the connection is dropped without an answer.
	Reset float64 `json:"reset,omitempty"`
	// Latency is added to every HTTP request (the network's round trip),
	// plus a uniform Jitter.
	Latency Duration `json:"latency,omitempty"`
	Jitter  Duration `json:"jitter,omitempty"`
	// ItemLatency is the mailbox's work per request, batch items counted
	// one by one, plus a uniform ItemJitter; it is spent while the request
	// holds one of the mailbox's concurrency slots. Unless Instant is set,
	// zero means Exchange Online's usual 20–40 ms (DefaultItemLatency and
	// DefaultItemJitter), so that Outlook's limit of 4 concurrent requests
	// per app and mailbox fires as it does in the field.
	ItemLatency Duration `json:"itemLatency,omitempty"`
	ItemJitter  Duration `json:"itemJitter,omitempty"`
	// Instant answers without the mailbox's work time: kinder than
	// Microsoft, for tests that say why they need it.
	Instant bool `json:"instant,omitempty"`
	// RetryAfter is the Retry-After (seconds) sent with injected 429 and 503 (default 1).
	RetryAfter int `json:"retryAfter,omitempty"`
	// EnforceRetryAfter fails a client that retries before its Retry-After
	// has passed, as Microsoft Dev Proxy's RetryAfterPlugin does.
	EnforceRetryAfter bool `json:"enforceRetryAfter,omitempty"`
	// Script answers the next requests with these statuses, one each, before
	// the probabilities apply (0 lets a request through): deterministic
	// failures for tests.
	Script []int `json:"script,omitempty"`
	// SMTPTempFail is the probability that SMTP answers DATA with Exchange
	// Online's transient "451 4.7.500 Server busy", SMTPDrop that it drops
	// the connection after the data instead of answering (the message was
	// not accepted).
	SMTPTempFail float64 `json:"smtpTempFail,omitempty"`
	SMTPDrop     float64 `json:"smtpDrop,omitempty"`
}

// The mailbox's work per request when Faults name none.
const (
	DefaultItemLatency = 20 * time.Millisecond
	DefaultItemJitter  = 20 * time.Millisecond
)

// withDefaults fills in the mailbox's usual work time.
func (f Faults) withDefaults() Faults {
	if !f.Instant && f.ItemLatency == 0 && f.ItemJitter == 0 {
		f.ItemLatency, f.ItemJitter = Duration(DefaultItemLatency), Duration(DefaultItemJitter)
	}
	return f
}

// SetFaults replaces the fault rules while the emulator runs.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f.withDefaults()
	s.mu.Unlock()
}

// Held is how many Graph requests wait for the network's latency now (a
// test that makes Graph hang with a long Latency waits for a client's
// request to be held).
func (s *Server) Held() int { return int(s.held.Load()) }

// SetThrottle changes the throttling limits while the emulator runs.
func (s *Server) SetThrottle(cfg ThrottleConfig) { s.throttle.setConfig(cfg) }

// injectTransportFaults drops the connection or holds a request for the
// network's latency before it is served.
func (s *Server) injectTransportFaults(w http.ResponseWriter, r *http.Request) *graphError {
	s.mu.Lock()
	reset := s.faults.Reset > 0 && s.rng.Float64() < s.faults.Reset
	delay := time.Duration(s.faults.Latency)
	if s.faults.Jitter > 0 {
		delay += time.Duration(s.rng.Int64N(int64(s.faults.Jitter)))
	}
	s.mu.Unlock()
	if delay > 0 && !reset {
		s.held.Add(1)
		defer s.held.Add(-1)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		case <-s.closed:
		}
	}
	if reset {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				// counted before the close, so that a client seeing the reset also sees the count
				s.countStat(func(st *Stats) { st.InjectedResets++ })
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST instead of FIN
				}
				_ = conn.Close()
				return &graphError{status: -1, code: errConnReset.Error()}
			}
		}
	}
	return nil
}

// injectLatency holds a request while it counts against the mailbox's
// concurrency limit, as a busy mailbox would.
func (s *Server) injectLatency() {
	s.mu.Lock()
	delay := time.Duration(s.faults.ItemLatency)
	if s.faults.ItemJitter > 0 {
		delay += time.Duration(s.rng.Int64N(int64(s.faults.ItemJitter)))
	}
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-s.closed:
		}
	}
}

// injectStatusFault draws an injected error answer for one request.
func (s *Server) injectStatusFault() *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults.Script) > 0 {
		code := s.faults.Script[0]
		s.faults.Script = s.faults.Script[1:]
		if code == 0 {
			return nil
		}
		return s.faultFor(code)
	}
	for _, code := range []int{429, 500, 502, 503, 504} {
		p := s.faults.Status[code]
		if p <= 0 || s.rng.Float64() >= p {
			continue
		}
		return s.faultFor(code)
	}
	return nil
}

// faultFor builds an injected error answer. Caller holds s.mu.
func (s *Server) faultFor(code int) *graphError {
	{
		s.stats.InjectedStatus[code]++
		ra := s.faults.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		switch code {
		case 429:
			return &graphError{status: 429, code: "TooManyRequests", message: "Too many requests. Please retry after the time given in the Retry-After header.", retryAfter: ra}
		case 500:
			return &graphError{status: 500, code: "InternalServerError", message: "An internal server error occurred. The operation failed."}
		case 502:
			return &graphError{status: 502, code: "BadGateway", message: "The server received an invalid response from an upstream server."}
		case 503:
			return &graphError{status: 503, code: "ServiceUnavailable", message: "The service is temporarily unavailable. Please retry later.", retryAfter: ra}
		case 504:
			return &graphError{status: 504, code: "GatewayTimeout", message: "The gateway did not receive a timely response from the upstream server."}
		}
	}
	return &graphError{status: code, code: http.StatusText(code), message: fmt.Sprintf("Injected failure %d.", code)}
}

// retryWindow is a Retry-After handed to a client.
type retryWindow struct {
	told, until time.Time
}

// noteRetryAfter remembers when a throttled client may come back.
func (s *Server) noteRetryAfter(key string, e *graphError) { s.noteRetryAfterFrom(key, e, answerGrace) }

// noteRetryAfterFrom is noteRetryAfter for a client that learns of the
// throttling only after grace.
func (s *Server) noteRetryAfterFrom(key string, e *graphError, grace time.Duration) {
	if e.retryAfter <= 0 {
		return
	}
	s.mu.Lock()
	if e.status == 429 {
		s.stats.Throttled++
	}
	now := s.now()
	s.retryAfter[key] = retryWindow{told: now.Add(grace), until: now.Add(time.Duration(e.retryAfter) * time.Second)}
	s.mu.Unlock()
}

var errRetryTooEarly = errors.New("retried before Retry-After")

// checkRetryAfter fails a request that comes before the Retry-After it was
// given. sent is when the client sent the request (for a batch item: when
// the batch arrived), so that items that left with the throttled one are
// not held against the client.
func (s *Server) checkRetryAfter(key string, sent time.Time) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.retryAfter[key]
	if !ok {
		return nil
	}
	now := s.now()
	if !now.Before(w.until) {
		delete(s.retryAfter, key)
		return nil
	}
	if !s.faults.EnforceRetryAfter || !sent.After(w.told) {
		return nil
	}
	s.stats.RetryAfterViolations++
	wait := int(math.Ceil(w.until.Sub(now).Seconds()))
	return &graphError{status: 429, code: "TooManyRequests", message: "Retry-After was not honoured: the request came before the time given in the Retry-After header (" + errRetryTooEarly.Error() + ").", retryAfter: max(wait, 1)}
}
