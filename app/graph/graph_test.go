package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"kanzleisync/app/graph"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
)

const anna = "anna.mueller@kanzlei.example"

// simTokens hands out an emulator token; badFirst makes the first one invalid.
type simTokens struct {
	mu       sync.Mutex
	token    string
	badFirst bool
	renewals int
}

func (s *simTokens) TokenContext(context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.badFirst {
		return &oauth2.Token{AccessToken: "abgelaufen.x.y"}, nil
	}
	return &oauth2.Token{AccessToken: s.token}, nil
}

func (s *simTokens) Renew(context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renewals++
	s.badFirst = false
	return &oauth2.Token{AccessToken: s.token}, nil
}

func fastPacer() *graph.Pacer {
	p := graph.NewPacer()
	p.Base = 20 * time.Millisecond
	return p
}

func contactReqs(n int) []graph.Request {
	reqs := make([]graph.Request, n)
	for i := range reqs {
		reqs[i] = graph.Request{ID: fmt.Sprintf("c%d", i), Method: http.MethodPost, URL: "/users/" + anna + "/contacts",
			Body: map[string]any{"givenName": "Mandant", "surname": fmt.Sprintf("Nr. %03d", i)}}
	}
	return reqs
}

// TestBatchUnderFaults: 10 % injected 429/5xx and latency with jitter; every
// item arrives exactly once and no Retry-After is broken.
func TestBatchUnderFaults(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	ts := &simTokens{token: simtest.SignIn(t, srv, anna).AccessToken}
	// Retry-After: 1 s on the emulator's clock; the test advances that clock
	// instead of waiting, through the pacer's sleep
	p := fastPacer()
	p.Sleep = func(ctx context.Context, d time.Duration) error {
		srv.Advance(d)
		return nil
	}
	c := graph.New(srv.URL(), ts, graph.Options{Pacer: p})
	srv.SetFaults(m365sim.Faults{Status: map[int]float64{429: 0.04, 500: 0.02, 503: 0.02, 504: 0.02},
		Latency: m365sim.Duration(5 * time.Millisecond), Jitter: m365sim.Duration(20 * time.Millisecond), RetryAfter: 1, EnforceRetryAfter: true})
	answers := c.Batch(context.Background(), contactReqs(75))
	for _, a := range answers {
		if !a.OK() || a.Status != 201 {
			t.Errorf("%s: %d %v", a.ID, a.Status, a.Err)
		}
	}
	st, _ := srv.State(anna)
	if len(st.Contacts) != 75 {
		t.Errorf("%d contacts, want 75", len(st.Contacts))
	}
	seen := map[string]bool{}
	for _, ct := range st.Contacts {
		name := fmt.Sprint(ct["surname"])
		if seen[name] {
			t.Errorf("%s twice", name)
		}
		seen[name] = true
	}
	stats := srv.Stats()
	injected := 0
	for _, n := range stats.InjectedStatus {
		injected += n
	}
	if injected == 0 {
		t.Error("no fault was injected; the test proves nothing")
	}
	if stats.RetryAfterViolations != 0 {
		t.Errorf("%d retries came before their Retry-After", stats.RetryAfterViolations)
	}
	// at most four items of one mailbox at once: no MailboxConcurrency 429
	for _, r := range srv.Requests() {
		if r.ErrorCode == "ApplicationThrottled" {
			t.Errorf("the client exceeded the mailbox concurrency: %+v", r)
		}
	}
}

func TestFinalErrorsPerItem(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	c := graph.New(srv.URL(), &simTokens{token: simtest.SignIn(t, srv, anna).AccessToken}, graph.Options{Pacer: fastPacer()})
	reqs := contactReqs(6)
	reqs[2].Body = map[string]any{"schuhgroesse": 44}
	reqs[5] = graph.Request{ID: "fehlt", Method: http.MethodDelete, URL: "/users/" + anna + "/contacts/AAMkADgibtsnicht="}
	answers := c.Batch(context.Background(), reqs)
	var ge *graph.Error
	if !errors.As(answers[2].Err, &ge) || ge.Status != 400 || ge.Code != "RequestBodyRead" {
		t.Errorf("bad body: %+v", answers[2])
	}
	if !errors.As(answers[5].Err, &ge) || ge.Status != 404 || ge.Code != "ErrorItemNotFound" {
		t.Errorf("missing item: %+v", answers[5])
	}
	for _, i := range []int{0, 1, 3, 4} {
		if !answers[i].OK() {
			t.Errorf("item %d: %+v", i, answers[i])
		}
	}
	// item 3 depended on item 2 in its chain? No: chains start at the 5th item.
	st, _ := srv.State(anna)
	if len(st.Contacts) != 4 {
		t.Errorf("%d contacts, want 4", len(st.Contacts))
	}
}

func TestUnauthorizedRenewsTheTokenOnce(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	ts := &simTokens{token: simtest.SignIn(t, srv, anna).AccessToken, badFirst: true}
	c := graph.New(srv.URL(), ts, graph.Options{Pacer: fastPacer()})
	r := c.Do(context.Background(), graph.Request{Method: http.MethodGet, URL: "/users/" + anna + "/events"})
	if !r.OK() || ts.renewals != 1 {
		t.Fatalf("after a 401: %+v, renewals %d", r, ts.renewals)
	}
	// a token that stays bad is reported, not retried forever
	bad := &alwaysBad{}
	r = graph.New(srv.URL(), bad, graph.Options{Pacer: fastPacer()}).Do(context.Background(), graph.Request{Method: http.MethodGet, URL: "/users/" + anna + "/events"})
	var ge *graph.Error
	if !errors.As(r.Err, &ge) || ge.Status != 401 || bad.renewals != 1 {
		t.Errorf("bad token: %+v renewals %d", r, bad.renewals)
	}
}

type alwaysBad struct{ renewals int }

func (a *alwaysBad) TokenContext(context.Context) (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: "x.y.z"}, nil
}

func (a *alwaysBad) Renew(context.Context) (*oauth2.Token, error) {
	a.renewals++
	return &oauth2.Token{AccessToken: "x.y.z"}, nil
}

func TestCancelStopsRetrying(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	c := graph.New(srv.URL(), &simTokens{token: simtest.SignIn(t, srv, anna).AccessToken}, graph.Options{})
	srv.SetFaults(m365sim.Faults{Status: map[int]float64{503: 1}, RetryAfter: 30})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := c.Do(ctx, graph.Request{Method: http.MethodGet, URL: "/users/" + anna + "/events"})
	if r.OK() || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled call: %+v after %v", r, time.Since(start))
	}
}

func TestPacer(t *testing.T) {
	var waits []time.Duration
	p := graph.NewPacer()
	p.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	calls := 0
	err := p.Call(context.Background(), func() (bool, time.Duration, error) {
		calls++
		if calls < 3 {
			return true, 7 * time.Second, errors.New("429")
		}
		return false, 0, nil
	})
	if err != nil || calls != 3 || len(waits) != 2 || waits[0] != 7*time.Second {
		t.Errorf("Retry-After: err %v calls %d waits %v", err, calls, waits)
	}
	waits = nil
	err = p.Call(context.Background(), func() (bool, time.Duration, error) { return true, 0, errors.New("503") })
	if !errors.Is(err, graph.ErrGaveUp) || len(waits) != p.MaxAttempts-1 {
		t.Errorf("gave up: %v after %d waits", err, len(waits))
	}
	for i, w := range waits {
		if w <= 0 || w > p.Max {
			t.Errorf("wait %d = %v", i, w)
		}
	}
	calls = 0
	_ = p.Call(context.Background(), func() (bool, time.Duration, error) { calls++; return false, 0, errors.New("400") })
	if calls != 1 {
		t.Errorf("a final error was retried %d times", calls-1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		status int
		err    error
		want   bool
	}{{429, nil, true}, {503, nil, true}, {504, nil, true}, {400, nil, false}, {404, nil, false}, {412, nil, false}} {
		if got, _ := graph.ShouldRetry(context.Background(), tc.status, http.Header{}, tc.err); got != tc.want {
			t.Errorf("ShouldRetry(%d) = %v", tc.status, got)
		}
		if got, _ := graph.ShouldRetry(ctx, tc.status, http.Header{}, tc.err); got {
			t.Errorf("ShouldRetry(%d) with a cancelled context = true", tc.status)
		}
	}
	if _, after := graph.ShouldRetry(context.Background(), 429, http.Header{"Retry-After": {"12"}}, nil); after != 12*time.Second {
		t.Errorf("Retry-After 12 read as %v", after)
	}
}
