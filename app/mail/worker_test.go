package mail_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/mail"
	"kanzleisync/app/testsupport"
)

type report struct {
	res  mail.Result
	err  error
	next time.Duration
}

func runWorker(t *testing.T, w *mail.Worker) (<-chan report, context.CancelFunc, <-chan struct{}) {
	reports := make(chan report, 100)
	w.Report = func(res mail.Result, err error, next time.Duration) { reports <- report{res, err, next} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return reports, cancel, done
}

func nextReport(t *testing.T, reports <-chan report) report {
	t.Helper()
	select {
	case r := <-reports:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no fetch reported within 10 s")
	}
	return report{}
}

func TestWorkerFetchesAtStartAndOnDemand(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	for i := range 3 {
		if _, err := srv.Deliver(anna, mailText(i, "Erste Runde")); err != nil {
			t.Fatal(err)
		}
	}
	st := openStore(t)
	w := &mail.Worker{Source: &mail.POP3Source{Fetcher: &mail.Fetcher{Store: st, Tokens: testsupport.StaticTokens{Token: outlookToken(t, srv)}}, Account: simAccount(srv)}, Name: anna, Interval: time.Hour}
	reports, cancel, done := runWorker(t, w)
	if r := nextReport(t, reports); r.err != nil || r.res.Fetched != 3 || r.next != time.Hour {
		t.Fatalf("first fetch %+v", r)
	}
	for i := 3; i < 5; i++ {
		if _, err := srv.Deliver(anna, mailText(i, "Zweite Runde")); err != nil {
			t.Fatal(err)
		}
	}
	w.FetchNow()
	if r := nextReport(t, reports); r.err != nil || r.res.Fetched != 2 {
		t.Fatalf("fetch on demand %+v", r)
	}
	msgs, _ := st.Messages(context.Background(), anna)
	if len(msgs) != 5 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the worker did not stop within 2 s of cancel")
	}
	t.Logf("stopped %v after cancel", time.Since(start))
}

// failingTokens fails the first n requests for a token.
type failingTokens struct {
	n     int32
	calls atomic.Int32
	token string
}

func (f *failingTokens) TokenContext(context.Context) (*oauth2.Token, error) {
	if c := f.calls.Add(1); c <= f.n {
		return nil, fmt.Errorf("token request %d: %w", c, errors.New("network unreachable"))
	}
	return &oauth2.Token{AccessToken: f.token}, nil
}
func (f *failingTokens) Renew(ctx context.Context) (*oauth2.Token, error) { return f.TokenContext(ctx) }

func TestWorkerBacksOffAndRecovers(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	if _, err := srv.Deliver(anna, mailText(1, "Nach dem Ausfall")); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	w := &mail.Worker{Source: &mail.POP3Source{Fetcher: &mail.Fetcher{Store: st, Tokens: &failingTokens{n: 4, token: outlookToken(t, srv)}},
		Account: simAccount(srv)}, Name: anna, Interval: 2 * time.Second, MaxBackoff: 500 * time.Millisecond}
	reports, _, _ := runWorker(t, w)
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}
	for i, d := range want {
		r := nextReport(t, reports)
		if r.err == nil || r.next != d {
			t.Fatalf("failure %d: %+v, want a retry in %v", i+1, r, d)
		}
	}
	if r := nextReport(t, reports); r.err != nil || r.res.Fetched != 1 || r.next != 2*time.Second {
		t.Fatalf("after recovery %+v", r)
	}
}

// Cancel stops the worker at once even while the server keeps it waiting.
func TestWorkerStopsDuringAHangingFetch(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan struct{})
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("+OK POP3 ready\r\n"))
		r := bufio.NewReader(c)
		_, _ = r.ReadString('\n') // the client's first command: it now waits for the answer
		close(accepted)
		_, _ = io.Copy(io.Discard, r) // reads the commands, never answers
	}()
	w := &mail.Worker{Source: &mail.POP3Source{Fetcher: &mail.Fetcher{Store: openStore(t), Tokens: testsupport.StaticTokens{Token: "t"}},
		Account: mail.Account{Address: anna, Addr: l.Addr().String(), Mode: mail.PlainLoopback, Timeout: time.Minute}}}
	_, cancel, done := runWorker(t, w)
	<-accepted
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the worker waited for the server instead of stopping")
	}
	t.Logf("stopped %v after cancel", time.Since(start))
}

// A Graph account runs in the same worker as a POP3 account.
func TestWorkerRunsGraphAccounts(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	deliverN(t, srv, 0, 3)
	g := graphMail(t, srv, 0)
	w := &mail.Worker{Source: g, Name: anna, Interval: time.Hour}
	reports, _, _ := runWorker(t, w)
	if r := nextReport(t, reports); r.err != nil || r.res.Fetched != 3 {
		t.Fatalf("first fetch %+v", r)
	}
	deliverN(t, srv, 3, 2)
	w.FetchNow()
	if r := nextReport(t, reports); r.err != nil || r.res.Fetched != 2 {
		t.Fatalf("fetch on demand %+v", r)
	}
}
