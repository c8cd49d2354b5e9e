package export_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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

// crashSize is the cache of the kill test: 2,500 Termine, 1,500 Fristen
// and Wiedervorlagen (To Do) and 1,000 subscribed Adressen = 5,000 items.
var crashSize = source.GenOptions{Seed: 11, Appointments: 2500, Deadlines: 1000, Resubmissions: 500, Addresses: 2000, Subscriptions: 1000, Series: 5}

// TestKilledExport kills an exporting process with SIGKILL at random
// moments, again and again (KANZLEISYNC_KILLS times, default 5; make bench
// uses 20), then runs one clean cycle: every item must be in Microsoft 365
// exactly once.
func TestKilledExport(t *testing.T) {
	kills := testsupport.Kills(t, "KANZLEISYNC_CRASH_CHILD", 5)
	ctx := context.Background()
	dir := testsupport.TempDir(t)
	sim := simtest.Start(t, nil, m365sim.Options{})
	wideBudget(t, sim) // about the write-ahead order, not Microsoft's budget; the children inherit it
	cachePath, storePath := filepath.Join(dir, "cache.db"), filepath.Join(dir, "kanzleisync.db")
	if err := source.Generate(ctx, cachePath, crashSize); err != nil {
		t.Fatal(err)
	}
	token := simtest.AppToken(t, sim, "https://graph.microsoft.com")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	cdb, err := sql.Open("sqlite", "file:"+cachePath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	// what the mailbox holds: a kill lands mid-export when it grew since the run before
	written := func() int {
		st, err := sim.State(anna)
		if err != nil {
			t.Fatal(err)
		}
		n := len(st.Events) + len(st.Contacts)
		for _, l := range st.TaskLists {
			n += len(l["tasks"].([]any))
		}
		return n
	}
	// the kill moment adapts: a run that finished before its kill makes the
	// moments earlier, a kill before the first write makes them later, a
	// kill mid-export lets them reach further into the run
	lo, hi := 20*time.Millisecond, 620*time.Millisecond
	finished, midRun, before := 0, 0, written()
	for i := range kills {
		// the practice software goes on working: changes and deletions between the runs
		if _, err := cdb.Exec(`UPDATE termin SET betreff = betreff || ' (geändert)', geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id % 97 = ?`, i%97); err != nil {
			t.Fatal(err)
		}
		if _, err := cdb.Exec(`DELETE FROM termin WHERE id = ?`, 1+rng.IntN(2500)); err != nil {
			t.Fatal(err)
		}
		child := testsupport.StartChild(t, "TestCrashChild", "KANZLEISYNC_CRASH_CHILD=1", "SIM_URL="+sim.URL(), "SIM_TOKEN="+token, "CACHE="+cachePath, "STORE="+storePath)
		// a random moment: the export's write-ahead order must hold at every one
		at := lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
		ended, err := child.KillOn(testsupport.After(at))
		now := written()
		switch {
		case ended && err != nil:
			t.Fatalf("run %d ended by itself with %v", i, err)
		case ended:
			finished++
			hi = max(lo+10*time.Millisecond, at*3/4)
		case now > before:
			midRun++
			hi = min(hi+hi/4, 5*time.Second) // later moments too, until runs finish
		default:
			lo = min(lo+lo/2+20*time.Millisecond, hi*3/4)
		}
		before = now
	}
	t.Logf("%d kills, %d landed mid-export (after writes had begun), %d before the first write; %d runs finished before their kill; kill moments at the end %v–%v",
		kills-finished, midRun, kills-finished-midRun, finished, lo, hi)
	if os.Getenv("KANZLEISYNC_KILLS") != "" { // make bench
		fmt.Printf("figure: export_kills_mid_export = %d kills\n", midRun)
		fmt.Printf("figure: export_kills_total = %d kills\n", kills)
	}
	// one clean cycle, in this process
	st, err := store.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cache, err := source.Open(ctx, cachePath)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	ex := &export.Exporter{Store: st, Cache: cache, Settings: config.DefaultSettings(), Installation: "crash"}
	c := graph.New(sim.URL(), testsupport.StaticTokens{Token: token}, graph.Options{})
	w := config.Worker{UPN: anna, Entity: "Kanzlei", Modules: config.AllModules}
	if _, err := ex.Run(ctx, c, w, "AM", true, export.PlanOptions{}); err != nil {
		t.Fatalf("clean cycle: %v", err)
	}
	var termine int
	// a changed occurrence of a series is no event of its own in the list
	if err := cdb.QueryRow(`SELECT COUNT(*) FROM termin WHERE sachbearbeiter_id = 'AM' AND serie_id IS NULL`).Scan(&termine); err != nil {
		t.Fatal(err)
	}
	b := &bench{t: t, sim: sim, client: c}
	// the Kanzleibesprechung's cancelled Monday is missing, its moved one there once
	kb := of(b.view("2026-01-01", "2027-01-10"), "Kanzleibesprechung")
	moved := 0
	for _, s := range kb {
		if s.Start.Format("2006-01-02") == "2026-04-06" {
			t.Errorf("the cancelled occurrence of 6 April is there after the kills")
		}
		if s.Subject == "Kanzleibesprechung (verschoben)" {
			moved++
		}
	}
	if len(kb) != 52 || moved != 1 || len(masterIDs(kb)) != 1 {
		t.Errorf("after the kills the Kanzleibesprechung has %d occurrences (want 52), %d moved (want 1), in %d series", len(kb), moved, len(masterIDs(kb)))
	}
	ev, tk, ct := b.mailbox()
	if len(ev) != termine || len(tk) != 1500 || len(ct) != 1000 {
		t.Errorf("after %d kills: %d events (want %d), %d tasks (want 1500), %d contacts (want 1000)", kills-finished, len(ev), termine, len(tk), len(ct))
	}
	for k, e := range ev {
		var subject string
		var id int
		fmt.Sscanf(k, "termin:%d", &id)
		if err := cdb.QueryRow(`SELECT betreff FROM termin WHERE id = ?`, id).Scan(&subject); err != nil || e["subject"] != subject {
			t.Errorf("%s: subject %q in Outlook, %q in the cache (%v)", k, e["subject"], subject, err)
			break
		}
	}
	// and nothing left to do
	res, err := ex.Run(ctx, c, w, "AM", true, export.PlanOptions{})
	if err != nil || res != (export.Result{}) {
		t.Errorf("a cycle after the clean one: %+v %v", res, err)
	}
}

// TestCrashChild is the process the kill test kills: it exports until done.
func TestCrashChild(t *testing.T) {
	if os.Getenv("KANZLEISYNC_CRASH_CHILD") == "" {
		t.Skip("run by TestKilledExport")
	}
	ctx := context.Background()
	st, err := store.Open(os.Getenv("STORE"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := source.Open(ctx, os.Getenv("CACHE"))
	if err != nil {
		t.Fatal(err)
	}
	ex := &export.Exporter{Store: st, Cache: cache, Settings: config.DefaultSettings(), Installation: "crash"}
	c := graph.New(os.Getenv("SIM_URL"), testsupport.StaticTokens{Token: os.Getenv("SIM_TOKEN")}, graph.Options{})
	w := config.Worker{UPN: anna, Entity: "Kanzlei", Modules: config.AllModules}
	start := time.Now()
	res, err := ex.Run(ctx, c, w, "AM", false, export.PlanOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if os.Getenv("KANZLEISYNC_CHILD_REPORT") != "" {
		childReport(res.Created, time.Since(start))
	}
}

// wideBudget is for tests that export thousands of items and are not about
// Microsoft's budget (graph.TestBudgetKeepsTheMailboxUnderItsWindow and
// the figures are): the client's mailbox budget and the emulator's window
// both widened to 480,000 requests per 10 minutes (800 a second, where
// Microsoft allows 16.7). Child processes inherit it.
func wideBudget(t *testing.T, sim *m365sim.Server) {
	t.Setenv(graph.BudgetEnv, "480000/10m")
	sim.SetThrottle(m365sim.ThrottleConfig{Requests: 480000, Window: m365sim.Duration(10 * time.Minute)})
}
