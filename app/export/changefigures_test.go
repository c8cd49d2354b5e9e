package export_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
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

// TestChangeFigures measures change_to_graph_ms (issue 18): from the commit
// of a changed Termin in a cache of 100,000 rows to the emulator's 2xx for
// the PATCH that carries it, with 50 ms of network latency per request,
// the mailbox's default work time and Microsoft's budget — with the cache
// watcher (the tray and serve), and beside it with the interval alone (2
// minutes, as before issue 18; fewer samples, each waits for the interval).
func TestChangeFigures(t *testing.T) {
	if os.Getenv("KANZLEISYNC_FIGURES") == "" {
		t.Skip("make bench sets KANZLEISYNC_FIGURES")
	}
	ctx := context.Background()
	dir := testsupport.TempDir(t)
	sim := simtest.Start(t, nil, m365sim.Options{})
	cachePath := filepath.Join(dir, "cache.db")
	if err := source.Generate(ctx, cachePath, source.GenOptions{Seed: 5, Workers: source.DemoWorkers[:1],
		Appointments: 70000, Deadlines: 15000, Resubmissions: 10000, Addresses: 5000, Subscriptions: 5000}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "kanzleisync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repo := config.NewRepo(st.DB())
	if err := repo.SaveEntity(ctx, config.Entity{Name: "Kanzlei", Tenant: m365sim.DemoTenantID, ClientID: m365sim.DemoClientID,
		AuthorityHost: sim.URL(), GraphEndpoint: sim.URL(), CachePath: cachePath}); err != nil {
		t.Fatal(err)
	}
	w := config.Worker{UPN: anna, DisplayName: "Anna Müller", Entity: "Kanzlei", Modules: config.AllModules}
	if err := repo.SaveWorker(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := repo.SaveSettings(ctx, activeSettings()); err != nil {
		t.Fatal(err)
	}
	token := simtest.AppToken(t, sim, "https://graph.microsoft.com")
	tokens := func(string) graph.TokenSource { return testsupport.StaticTokens{Token: token} }

	// the first export, done before and not measured: instant emulator,
	// widened window and budget (a client of its own)
	sim.SetFaults(m365sim.Faults{Instant: true})
	sim.SetThrottle(m365sim.ThrottleConfig{Requests: 10000000, Window: m365sim.Duration(10 * time.Minute)})
	cache, err := source.Open(ctx, cachePath)
	if err != nil {
		t.Fatal(err)
	}
	first := &export.Exporter{Store: st, Cache: cache, Settings: activeSettings(), Installation: "runner"}
	start := time.Now()
	res, err := first.Run(ctx, graph.New(sim.URL(), tokens(anna), graph.Options{Budget: graph.NewBudget(graph.Limits{Requests: 10000000, Window: 10 * time.Minute})}), w, "AM", true, export.PlanOptions{})
	cache.Close()
	if err != nil || res.Created != 100000 {
		t.Fatalf("first export: %+v %v", res, err)
	}
	t.Logf("first export of 100,000 items (instant emulator, no budget): %v", time.Since(start).Round(time.Second))

	// from here as in the field
	sim.SetThrottle(m365sim.ThrottleConfig{Requests: graph.MailboxBudget, Window: m365sim.Duration(graph.MailboxWindow)})
	sim.SetFaults(m365sim.Faults{Latency: m365sim.Duration(50 * time.Millisecond)})
	cdb, err := sql.Open("sqlite", "file:"+cachePath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	var mu sync.Mutex
	seen := map[string]time.Time{} // subject -> when the emulator answered its PATCH 2xx
	sim.Watch(func(r m365sim.LoggedRequest) {
		if r.Method == "PATCH" && r.Status/100 == 2 && strings.Contains(r.Body, "Figur ") {
			i := strings.Index(r.Body, "Figur ")
			subject := r.Body[i:min(len(r.Body), i+len("Figur 00-000"))]
			mu.Lock()
			if _, ok := seen[subject]; !ok {
				seen[subject] = time.Now()
			}
			mu.Unlock()
		}
	})
	rng := rand.New(rand.NewPCG(7, 18))
	measure := func(name string, watch export.Watch, samples int, pause func() time.Duration) []float64 {
		r := &export.Runner{Entity: "Kanzlei", Repo: repo, Store: st, Installation: "runner", Tokens: tokens, Watch: watch}
		cycles := make(chan struct{}, 100)
		r.OnProgress = func(p export.Progress) {
			if p.Done {
				t.Logf("%s: cycle: %s %v", name, p.Summary, p.Err)
				select {
				case cycles <- struct{}{}:
				default:
				}
			}
		}
		rctx, cancel := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() { _ = r.Run(rctx); close(stopped) }()
		defer func() { cancel(); <-stopped }()
		select { // its first cycle (a full check of 100,000 items) is not measured
		case <-cycles:
		case <-time.After(20 * time.Minute):
			t.Fatalf("%s: the first cycle did not end", name)
		}
		var ms []float64
		for k := range samples {
			time.Sleep(pause()) // a moment of the practice software's choosing, not a wait for a result
			subject := fmt.Sprintf("Figur %02d-%03d", len(name), k)
			id := 1 + rng.IntN(70000)
			if _, err := cdb.Exec(`UPDATE termin SET betreff = ?, geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`, subject, id); err != nil {
				t.Fatal(err)
			}
			committed := time.Now()
			var at time.Time
			testsupport.Eventually(t, 5*time.Minute, name+": "+subject+" in the mailbox", func() bool {
				mu.Lock()
				defer mu.Unlock()
				at = seen[subject]
				return !at.IsZero()
			})
			ms = append(ms, float64(at.Sub(committed).Microseconds())/1000)
		}
		return ms
	}
	watched := measure("watch", export.Watch{}, 20, func() time.Duration { return time.Duration(rng.IntN(2000)) * time.Millisecond })
	interval := measure("interval", export.Watch{Off: true}, 4, func() time.Duration { return time.Duration(rng.IntN(120)) * time.Second })
	p := func(v []float64, q float64) float64 {
		s := slices.Clone(v)
		slices.Sort(s)
		return s[min(len(s)-1, int(q*float64(len(s))))]
	}
	t.Logf("watch: %v", watched)
	t.Logf("interval: %v", interval)
	fmt.Printf("figure: change_to_graph_ms_p50 = %.0f ms\n", p(watched, 0.5))
	fmt.Printf("figure: change_to_graph_ms_p95 = %.0f ms\n", p(watched, 0.95))
	fmt.Printf("figure: change_to_graph_interval_ms_p50 = %.0f ms\n", p(interval, 0.5))
	fmt.Printf("figure: change_to_graph_interval_ms_max = %.0f ms\n", p(interval, 1))
}
