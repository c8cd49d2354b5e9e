package graph_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"kanzleisync/app/graph"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
)

// TestBudgetKeepsTheMailboxUnderItsWindow: the emulator enforces a sliding
// window of 150 requests per second per app and mailbox (Microsoft's rule,
// scaled down in time) with 10-30 ms of mailbox work per item; an export's
// 450 batched items and a mail fetch's single requests on the same mailbox,
// through two clients sharing the mailbox's budget, draw no 429 at all and
// break no Retry-After. The same load without the budget's window is
// throttled: the emulator is strict enough for the test to mean something.
func TestBudgetKeepsTheMailboxUnderItsWindow(t *testing.T) {
	limits := graph.Limits{Requests: 150, Window: time.Second}
	run := func(budget graph.Limits) m365sim.Stats {
		srv := simtest.Start(t, nil, m365sim.Options{})
		srv.SetThrottle(m365sim.ThrottleConfig{Requests: limits.Requests, Window: m365sim.Duration(limits.Window)})
		srv.SetFaults(m365sim.Faults{ItemLatency: m365sim.Duration(10 * time.Millisecond), ItemJitter: m365sim.Duration(20 * time.Millisecond), EnforceRetryAfter: true})
		ts := &simTokens{token: simtest.SignIn(t, srv, anna).AccessToken}
		b := graph.NewBudget(budget)
		export := graph.New(srv.URL(), ts, graph.Options{Pacer: fastPacer(), Budget: b})
		mail := graph.New(srv.URL(), ts, graph.Options{Pacer: fastPacer(), Budget: b})
		ctx := context.Background()
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var fetches int
		wg.Add(1)
		go func() { // the mail fetch of the same mailbox, while the export runs
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := mail.Do(ctx, graph.Request{Method: http.MethodGet, URL: "/users/" + anna + "/mailFolders/inbox/messages?$top=10"}); !r.OK() {
					t.Errorf("mail fetch: %d %v", r.Status, r.Err)
					return
				}
				fetches++
			}
		}()
		for _, a := range export.Batch(ctx, contactReqs(450)) {
			if !a.OK() {
				t.Errorf("%s: %d %v", a.ID, a.Status, a.Err)
			}
		}
		close(stop)
		wg.Wait()
		if fetches == 0 {
			t.Error("the mail fetch never got a turn beside the export")
		}
		st, _ := srv.State(anna)
		if len(st.Contacts) != 450 {
			t.Errorf("%d contacts, want 450 (none lost, none twice)", len(st.Contacts))
		}
		return srv.Stats()
	}
	paced := run(limits)
	if paced.Throttled != 0 || paced.RetryAfterViolations != 0 {
		t.Errorf("with the budget: %d answered 429, %d Retry-After violations; want none", paced.Throttled, paced.RetryAfterViolations)
	}
	unpaced := run(graph.Limits{Requests: 100000, Window: time.Second})
	if unpaced.Throttled == 0 {
		t.Error("without the budget's window the emulator throttled nothing: the test proves nothing")
	}
	if unpaced.RetryAfterViolations != 0 {
		t.Errorf("without the window the client still honours Retry-After: %d violations", unpaced.RetryAfterViolations)
	}
}

// TestSharedBudgetIsPerMailbox: the export and the mail of one mailbox
// share a budget (the address in any case), another mailbox or another
// endpoint has its own, with Microsoft's limits. (That a Retry-After given
// to one client holds the other is in TestBudgetKeepsTheMailboxUnderItsWindow's
// unpaced run: the mail's requests break none of the export's.)
func TestSharedBudgetIsPerMailbox(t *testing.T) {
	srv := simtest.Start(t, nil, m365sim.Options{})
	a := graph.SharedBudget(srv.URL(), anna)
	if graph.SharedBudget(srv.URL()+"/", "Anna.Mueller@Kanzlei.example") != a {
		t.Error("the same mailbox has two budgets")
	}
	if graph.SharedBudget(srv.URL(), "jens.schaefer@kanzlei.example") == a || graph.SharedBudget("https://graph.microsoft.de", anna) == a {
		t.Error("two mailboxes share a budget")
	}
	if l := a.Limits(); l != graph.MicrosoftLimits {
		t.Errorf("default limits %+v, want Microsoft's %+v", l, graph.MicrosoftLimits)
	}

}
