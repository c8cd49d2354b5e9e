package export_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

func newRunner(t *testing.T, o source.GenOptions) (*export.Runner, *m365sim.Server, *[]export.Progress, *sync.Mutex) {
	t.Helper()
	ctx := context.Background()
	dir := testsupport.TempDir(t)
	sim := simtest.Start(t, nil, m365sim.Options{})
	cachePath := filepath.Join(dir, "cache.db")
	if err := source.Generate(ctx, cachePath, o); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "kanzleisync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	repo := config.NewRepo(st.DB())
	if err := repo.SaveEntity(ctx, config.Entity{Name: "Kanzlei", Tenant: m365sim.DemoTenantID, ClientID: m365sim.DemoClientID,
		AuthorityHost: sim.URL(), GraphEndpoint: sim.URL(), CachePath: cachePath}); err != nil {
		t.Fatal(err)
	}
	for _, w := range source.DemoWorkers {
		if err := repo.SaveWorker(ctx, config.Worker{UPN: w.UPN, DisplayName: w.Name, Entity: "Kanzlei", Modules: config.AllModules}); err != nil {
			t.Fatal(err)
		}
	}
	token := simtest.AppToken(t, sim, "https://graph.microsoft.com")
	var mu sync.Mutex
	var events []export.Progress
	if err := repo.SaveSettings(ctx, activeSettings()); err != nil {
		t.Fatal(err)
	}
	r := &export.Runner{Entity: "Kanzlei", Repo: repo, Store: st, Installation: "runner",
		Tokens:     func(string) graph.TokenSource { return testsupport.StaticTokens{Token: token} },
		OnProgress: func(p export.Progress) { mu.Lock(); events = append(events, p); mu.Unlock() }}
	return r, sim, &events, &mu
}

func TestRunnerCyclesAndCancel(t *testing.T) {
	r, sim, events, mu := newRunner(t, source.GenOptions{Seed: 2, Appointments: 400, Deadlines: 50, Addresses: 50, Subscriptions: 20})
	wideBudget(t, sim) // 1,560 items: about stopping mid-cycle, not Microsoft's budget
	// the three workers' mailboxes in parallel, each slowed down
	sim.SetFaults(m365sim.Faults{ItemLatency: m365sim.Duration(20 * time.Millisecond)})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- r.Run(ctx) }()
	// in the middle of the first cycle: a chunk of events is done, not all
	testsupport.Eventually(t, 30*time.Second, "a cycle half done", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range *events {
			if p.Total != nil && p.Completed[export.Event] > 0 && p.Completed[export.Event] < p.Total[export.Event] {
				return true
			}
		}
		return false
	})
	start := time.Now()
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the runner did not stop")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("stopping took %v", d)
	}
	// a consistent state: a clean cycle finishes the job, exactly
	sim.SetFaults(m365sim.Faults{})
	if _, err := r.Cycle(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	for _, w := range source.DemoWorkers {
		st, _ := sim.State(w.UPN)
		if len(st.Events) != 400 {
			t.Errorf("%s: %d events, want 400", w.UPN, len(st.Events))
		}
	}
	// progress per kind while a cycle runs
	mu.Lock()
	var sawProgress bool
	for _, p := range *events {
		if p.Total != nil && p.Total[export.Event] > 0 && p.Completed[export.Event] > 0 && p.Completed[export.Event] <= p.Total[export.Event] {
			sawProgress = true
		}
	}
	mu.Unlock()
	if !sawProgress {
		t.Error("no progress with done and total per kind")
	}
}

func TestRunnerTriggerAndOverlap(t *testing.T) {
	r, _, events, mu := newRunner(t, source.GenOptions{Seed: 3, Appointments: 30})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Cycle(context.Background(), false); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	// cycles never overlap: per worker, each start is followed by its end
	open := map[string]bool{}
	for _, p := range *events {
		starting := !p.Done && p.Total == nil
		if starting && open[p.Worker] {
			t.Errorf("%s: overlapping cycles", p.Worker)
		}
		if starting {
			open[p.Worker] = true
		}
		if p.Done {
			open[p.Worker] = false
		}
	}
	r.Trigger()
	r.Trigger() // coalesces
}

func TestRunnerPreview(t *testing.T) {
	r, sim, _, _ := newRunner(t, source.GenOptions{Seed: 4, Appointments: 3, Deadlines: 1, Addresses: 3, Subscriptions: 2})
	out, err := r.Cycle(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := out["anna.mueller@kanzlei.example"]; got != "3 Kalendereinträge anlegen, 1 Aufgabe anlegen, 2 Kontakte anlegen" {
		t.Errorf("preview %q", got)
	}
	for _, req := range sim.Requests() {
		if req.Service == "graph" {
			t.Errorf("the preview called Graph: %s %s", req.Method, req.Path)
		}
	}
}

func TestRunnerJournalsRowsOfUnknownWorkers(t *testing.T) {
	r, _, _, _ := newRunner(t, source.GenOptions{Seed: 5, Appointments: 2})
	ent, _ := r.Repo.Entity(context.Background(), "Kanzlei")
	db, err := sql.Open("sqlite", "file:"+ent.CachePath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO termin (id, betreff, beginn, ende, sachbearbeiter_id) VALUES (777, 'x', '2026-05-05T10:00:00', '2026-05-05T11:00:00', 'ZZ')`); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Cycle(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	j, _ := r.Store.ReadJournal(context.Background(), store.JournalFilter{Result: "error"})
	if len(j) != 1 || j[0].ItemKey != "termin:777" || !strings.Contains(j[0].Error, "„ZZ“ ist unbekannt") {
		t.Errorf("journal %+v", j)
	}
}

func activeSettings() config.Settings {
	s := config.DefaultSettings()
	s.InterfaceActive = true
	return s
}

// MaxParallel caps the mailboxes exported at the same time; all are done.
func TestRunnerMaxParallel(t *testing.T) {
	r, sim, events, mu := newRunner(t, source.GenOptions{Seed: 3, Appointments: 60, Addresses: 10, Subscriptions: 5})
	sim.SetFaults(m365sim.Faults{ItemLatency: m365sim.Duration(5 * time.Millisecond)})
	r.MaxParallel = 1
	if _, err := r.Cycle(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	running, most, done := map[string]bool{}, 0, 0
	for _, p := range *events {
		running[p.Worker] = !p.Done
		n := 0
		for _, on := range running {
			if on {
				n++
			}
		}
		most = max(most, n)
		if p.Done {
			done++
		}
	}
	if most != 1 || done != 3 {
		t.Fatalf("at most %d mailboxes at once (want 1), %d done (want 3)", most, done)
	}
}

// TestOneExporterPerMailbox: a second exporter on the same state database
// (here a second Runner; across processes the same lease) meets the first
// mid-cycle: it waits for the first to finish and then has nothing to do;
// nothing is created twice. (One that waits longer than mailboxLockWait
// leaves the mailbox out with the German message tested at the end.)
func TestOneExporterPerMailbox(t *testing.T) {
	r, sim, events, mu := newRunner(t, source.GenOptions{Seed: 2, Appointments: 600})
	// chunks of 200: the first exporter is seen after its first chunk, about
	// 2 s before its end (20 ms a request, 4 at once)
	wideBudget(t, sim)
	sim.SetFaults(m365sim.Faults{ItemLatency: m365sim.Duration(20 * time.Millisecond)})
	second := &export.Runner{Entity: r.Entity, Repo: r.Repo, Store: r.Store, Installation: r.Installation, Tokens: r.Tokens}
	firstDone := make(chan error, 1)
	go func() { _, err := r.Cycle(context.Background(), false); firstDone <- err }()
	testsupport.Eventually(t, 30*time.Second, "the first exporter mid-cycle", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range *events {
			if p.Completed[export.Event] > 0 && p.Completed[export.Event] < p.Total[export.Event] {
				return true
			}
		}
		return false
	})
	// the second waits for the first (at most 20 s) and then finds nothing to do
	out, err := second.Cycle(context.Background(), false)
	if err != nil {
		t.Fatalf("the second exporter: %v", err)
	}
	select {
	case err := <-firstDone:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Error("the second exporter ran while the first was still exporting")
	}
	for upn, summary := range out {
		if summary != "Alles aktuell." {
			t.Errorf("%s: the second exporter did %q, want nothing", upn, summary)
		}
	}
	for _, w := range source.DemoWorkers {
		st, _ := sim.State(w.UPN)
		seen := map[string]bool{}
		for _, e := range st.Events {
			k := fmt.Sprint(e["subject"], e["start"])
			if seen[k] {
				t.Errorf("%s: %v twice", w.UPN, k)
			}
			seen[k] = true
		}
		if len(st.Events) != 600 {
			t.Errorf("%s: %d events, want 600", w.UPN, len(st.Events))
		}
	}
	// another process's lock is named by host and process
	msg := (&export.MailboxBusyError{UPN: anna, Holder: "kanzlei-ts01/4711/abcd/1"}).Error()
	if !strings.Contains(msg, "Rechner kanzlei-ts01, Prozess 4711") || !strings.Contains(msg, "doppelt") || !strings.Contains(msg, "Nach 20 Sekunden Warten") {
		t.Errorf("message for another process: %s", msg)
	}
}
