package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"kanzleisync/app/graph"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/source"
)

// TestServeFigures is make bench's figure of the server mode: 50
// Sachbearbeiter × 500 items (250 Termine, 100 Fristen, 50 Wiedervorlagen,
// 100 subscribed Adressen) exported by one `kanzleisync serve`, then a cycle
// in which nothing changed. Against the emulator's default (the mailbox's
// work time, Microsoft's window) and with Microsoft's budget in the client,
// so serve_share_of_budget is the mailboxes' items over what their budgets
// allowed in the time of the full export.
func TestServeFigures(t *testing.T) {
	if os.Getenv("KANZLEISYNC_FIGURES") == "" {
		t.Skip("a figure for make bench (KANZLEISYNC_FIGURES=1)")
	}
	n := 50
	if v, err := strconv.Atoi(os.Getenv("SERVE_WORKERS")); err == nil && v > 0 {
		n = v
	}
	tf := m365sim.DemoTenant(time.Now())
	workers := addUsers(tf, n)
	s := newServeSetup(t, tf, workers, source.GenOptions{Seed: 50, Appointments: 250, Deadlines: 100, Resubmissions: 50, Addresses: 200, Subscriptions: 100})
	args := []string{"--interval", "1h"}
	if v := os.Getenv("SERVE_PARALLEL"); v != "" { // a cap on mailboxes at once, to compare memory
		args = append(args, "--parallel", v)
	}
	p := s.start(t, args...)
	allDone := func(after time.Time) (bool, time.Time) {
		h := p.health(t)
		if !h.Leader || len(h.Mailboxes) != n {
			return false, time.Time{}
		}
		var last time.Time
		for _, m := range h.Mailboxes {
			if m.Running || !m.LastRun.After(after) {
				return false, time.Time{}
			}
			if m.Error != "" {
				t.Fatalf("%s: %s", m.UPN, m.Error)
			}
			if m.LastRun.After(last) {
				last = m.LastRun
			}
		}
		return true, last
	}
	wait := func(what string, after time.Time) time.Time {
		deadline := time.Now().Add(20 * time.Minute)
		for time.Now().Before(deadline) {
			if ok, last := allDone(after); ok {
				return last
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%s did not finish", what)
		return time.Time{}
	}
	last := wait("the full export", time.Time{})
	since := p.health(t).Since
	full := last.Sub(since)
	// the budgets are spent from the first request to Graph on (serve's own
	// start, the cache read and the sign-in come before)
	var firstGraph time.Time
	for _, r := range s.sim.Requests() {
		if r.Service == "graph" && (firstGraph.IsZero() || r.Time.Before(firstGraph)) {
			firstGraph = r.Time
		}
	}
	spent := last.Sub(firstGraph)
	ev, ct, tk, doubles := s.mailboxCheck(t)
	if len(doubles) > 0 || ev != n*250 || ct != n*100 || tk != n*150 {
		t.Fatalf("after the full export: %d events, %d contacts, %d tasks, doubles %v", ev, ct, tk, doubles)
	}
	t1 := time.Now()
	resp, err := postSync(p.addr)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /sync: %v %v", resp, err)
	}
	resp.Body.Close()
	last2 := wait("the no-change cycle", t1)
	nochange := last2.Sub(t1)
	parallel := p.health(t).MaxParallel
	hwm := memKB(t, p.cmd.Process.Pid, "VmHWM:")
	// what Microsoft's budget allowed the n mailboxes in that time: each its
	// client's burst plus 10,000 requests per 10 minutes
	rate := float64(graph.MailboxBudget) / graph.MailboxWindow.Seconds()
	allowed := float64(n) * (max(float64(graph.MailboxBudget)/50, 2*graph.MaxBatch) + rate*spent.Seconds())
	t.Logf("from the first Graph request to the last mailbox done: %.1f s", spent.Seconds())
	fmt.Printf("figure: serve_share_of_budget = %.3f ratio\n", float64(n*500)/allowed)
	t.Logf("%d mailboxes × 500 items: full export %.1f s (%.0f items/s), no-change cycle %d ms", n, full.Seconds(), float64(n*500)/full.Seconds(), nochange.Milliseconds())
	fmt.Printf("figure: serve_full_export_s = %.1f s\n", full.Seconds())
	fmt.Printf("figure: serve_nochange_cycle_ms = %d ms\n", nochange.Milliseconds())
	fmt.Printf("figure: serve_peak_rss_mb = %.1f MB\n", float64(hwm)/1024)
	fmt.Printf("figure: serve_parallel_mailboxes = %d mailboxes\n", parallel)
}

// addUsers adds n numbered Sachbearbeiter to the emulator's tenant and
// returns them as the cache's workers.
func addUsers(tf *m365sim.TenantFile, n int) []source.Worker {
	var workers []source.Worker
	for i := range n {
		upn := fmt.Sprintf("sb%02d@kanzlei.example", i+1)
		name := fmt.Sprintf("Sachbearbeiter %02d", i+1)
		tf.Tenants[0].Users = append(tf.Tenants[0].Users, m365sim.User{ID: fmt.Sprintf("5b000000-0000-4000-8000-%012d", i+1), UPN: upn,
			DisplayName: name, GivenName: "Sachbearbeiter", Surname: fmt.Sprintf("%02d", i+1), Password: m365sim.DemoPassword})
		workers = append(workers, source.Worker{ID: fmt.Sprintf("S%02d", i+1), Name: name, UPN: upn})
	}
	return workers
}
