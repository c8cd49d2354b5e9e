package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kanzleisync/app/server"
	"kanzleisync/app/source"
	"kanzleisync/app/testsupport"
)

// recorder stands in for the Windows event log (platform/service.EventLog).
type recorder struct {
	mu  sync.Mutex
	evs []string // "level id: text"
}

func (r *recorder) add(level string, id uint32, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, fmt.Sprintf("%s %d: %s", level, id, msg))
	return nil
}
func (r *recorder) Info(id uint32, msg string) error    { return r.add("Information", id, msg) }
func (r *recorder) Warning(id uint32, msg string) error { return r.add("Warnung", id, msg) }
func (r *recorder) Error(id uint32, msg string) error   { return r.add("Fehler", id, msg) }

func (r *recorder) count(level string, id uint32) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.evs {
		if strings.HasPrefix(e, fmt.Sprintf("%s %d: ", level, id)) {
			n++
		}
	}
	return n
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.evs, "\n")
}

// What the Windows event log of a serve service gets, with serve's real
// exporter against the emulator: start, the lease won, a mailbox that
// fails (not in the tenant) once over two cycles, the cache gone as one
// red state and its end, held deletions once per episode, the lost lease,
// the stop. (The cache gone was a failure only the log file knew of.)
func TestServeEvents(t *testing.T) {
	gone := source.Worker{ID: "NN", Name: "Nora Niemand", UPN: "nora.niemand@kanzlei.example"} // in the cache, not in the tenant
	workers := []source.Worker{source.DemoWorkers[0], gone}
	gen := source.GenOptions{Seed: 31, Appointments: 6, Deadlines: 2, Resubmissions: 1, Addresses: 4, Subscriptions: 2}
	s := newServeSetup(t, nil, workers, gen)
	t.Setenv("KANZLEISYNC_KEYRING_SERVICE", s.service)
	t.Setenv("KANZLEISYNC_POLICY_FILE", filepath.Join(s.data, "keine-policy.json"))
	e, release, err := openEnv(s.data, false)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	srv := newServer(e, "127.0.0.1:0", 3*time.Second, time.Hour, 10)
	rec := &recorder{}
	srv.Events = rec
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	wait := func(what string, level string, id uint32, n int) {
		t.Helper()
		testsupport.Eventually(t, 2*time.Minute, what, func() bool { return rec.count(level, id) >= n })
	}
	// every mailbox's cycle has ended after its LastRun moved past since
	cycled := func(since time.Time) func() bool {
		return func() bool {
			h := srv.Health(context.Background())
			if len(h.Mailboxes) != len(workers) {
				return false
			}
			for _, m := range h.Mailboxes {
				if m.Running || !m.LastRun.After(since) {
					return false
				}
			}
			return true
		}
	}
	syncNow := func() time.Time {
		t.Helper()
		at := time.Now()
		resp, err := postSync(srv.Addr())
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /sync: %v %v", resp, err)
		}
		resp.Body.Close()
		return at
	}
	// cycles that end before any mailbox are counted in the log file
	failedCycles := func() int {
		b, _ := os.ReadFile(e.logPath)
		return strings.Count(string(b), `msg="export cycle failed"`)
	}
	wait("the start in the event log", "Information", server.EventStarted, 1)
	wait("the lease won", "Information", server.EventLeaseWon, 1)
	testsupport.Eventually(t, 2*time.Minute, "the first cycle of every mailbox", cycled(time.Time{}))
	at := syncNow()
	testsupport.Eventually(t, 2*time.Minute, "the second cycle of every mailbox", cycled(at))
	if n := rec.count("Fehler", server.EventMailboxFailed); n != 1 || !strings.Contains(rec.all(), gone.UPN) {
		t.Errorf("%d failure events over two cycles of one failing mailbox:\n%s", n, rec.all())
	}

	// the cache is gone for two cycles: one red state, over when it is back
	if err := os.Rename(s.cache, s.cache+".weg"); err != nil {
		t.Fatal(err)
	}
	before := failedCycles()
	syncNow()
	wait("the cache gone", "Fehler", server.EventRed, 1)
	testsupport.Eventually(t, time.Minute, "the failed cycle in the log", func() bool { return failedCycles() > before })
	before = failedCycles()
	syncNow()
	testsupport.Eventually(t, time.Minute, "a second failed cycle in the log", func() bool { return failedCycles() > before })
	if n := rec.count("Fehler", server.EventRed); n != 1 || !strings.Contains(rec.all(), "Kanzlei") {
		t.Errorf("%d red events over two cycles without the cache:\n%s", n, rec.all())
	}
	if err := os.Rename(s.cache+".weg", s.cache); err != nil {
		t.Fatal(err)
	}
	syncNow()
	wait("the cache back", "Information", server.EventRedOver, 1)

	// an emptied cache: the deletions are held, told once
	if err := source.Generate(context.Background(), s.cache, source.GenOptions{Seed: 31, Workers: workers}); err != nil {
		t.Fatal(err)
	}
	syncNow()
	wait("the held deletions", "Warnung", server.EventHeld, 1)
	at = syncNow()
	testsupport.Eventually(t, 2*time.Minute, "another held cycle", cycled(at))
	if n := rec.count("Warnung", server.EventHeld); n != 1 || !strings.Contains(rec.all(), workers[0].UPN) {
		t.Errorf("%d held events after two held cycles of one mailbox:\n%s", n, rec.all())
	}

	// another server takes the lease (this one's renewal fails): lost
	if err := e.store.ReleaseLease(context.Background(), server.LeaseName, srv.Holder()); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.store.AcquireLease(context.Background(), server.LeaseName, "anderer-server/1/x", time.Now(), time.Minute); err != nil || !ok {
		t.Fatalf("the other server's lease: %v %v", ok, err)
	}
	wait("the lost lease", "Warnung", server.EventLeaseLost, 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil
	if rec.count("Information", server.EventStopped) != 1 {
		t.Errorf("no stop event:\n%s", rec.all())
	}
	t.Logf("event log:\n%s", rec.all())
}
