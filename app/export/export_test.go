package export_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
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

	_ "modernc.org/sqlite"
)

const anna = "anna.mueller@kanzlei.example"

type bench struct {
	t      *testing.T
	sim    *m365sim.Server
	st     *store.Store
	cache  *source.Cache
	cdb    *sql.DB // the practice software writing its cache
	client *graph.Client
	ex     *export.Exporter
	worker config.Worker
}

func newBench(t *testing.T, o source.GenOptions) *bench {
	t.Helper()
	return newBenchWith(t, nil, o)
}

// newBenchWith runs the emulator with a tenant file of its own (nil: the demo tenant).
func newBenchWith(t *testing.T, tf *m365sim.TenantFile, o source.GenOptions) *bench {
	t.Helper()
	ctx := context.Background()
	dir := testsupport.TempDir(t)
	b := &bench{t: t, sim: simtest.Start(t, tf, m365sim.Options{})}
	cachePath := filepath.Join(dir, "cache.db")
	if err := source.Generate(ctx, cachePath, o); err != nil {
		t.Fatal(err)
	}
	var err error
	if b.cdb, err = sql.Open("sqlite", "file:"+cachePath+"?_pragma=busy_timeout(5000)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cdb.Close() })
	if b.cache, err = source.Open(ctx, cachePath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cache.Close() })
	if b.st, err = store.Open(filepath.Join(dir, "kanzleisync.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.st.Close() })
	p := graph.NewPacer()
	p.Base = 10 * time.Millisecond
	p.Sleep = func(_ context.Context, d time.Duration) error { b.sim.Advance(d); return nil }
	b.client = graph.New(b.sim.URL(), testsupport.StaticTokens{Token: simtest.AppToken(t, b.sim, "https://graph.microsoft.com")}, graph.Options{Pacer: p})
	b.ex = &export.Exporter{Store: b.st, Cache: b.cache, Settings: config.DefaultSettings(), Installation: "test"}
	b.worker = config.Worker{UPN: anna, Entity: "Kanzlei", Modules: config.AllModules}
	return b
}

func (b *bench) run(full bool) export.Result {
	b.t.Helper()
	res, err := b.ex.Run(context.Background(), b.client, b.worker, "AM", full, export.PlanOptions{})
	if err != nil {
		b.t.Fatalf("run: %v (%+v)", err, res)
	}
	return res
}

// runUntilDone runs up to n cycles until one has no failed item.
func (b *bench) runUntilDone(n int) {
	b.t.Helper()
	for range n {
		_, err := b.ex.Run(context.Background(), b.client, b.worker, "AM", false, export.PlanOptions{})
		if err == nil {
			return
		}
		if !errors.Is(err, export.ErrPartial) {
			b.t.Fatal(err)
		}
	}
}

func (b *bench) exec(q string, args ...any) {
	b.t.Helper()
	if _, err := b.cdb.Exec(q, args...); err != nil {
		b.t.Fatal(err)
	}
}

// mailbox counts what Microsoft 365 holds, by source key, and fails on doubles.
func (b *bench) mailbox() (events, tasks, contacts map[string]map[string]any) {
	b.t.Helper()
	st, err := b.sim.State(anna)
	if err != nil {
		b.t.Fatal(err)
	}
	key := func(m map[string]any) string {
		for _, x := range m["singleValueExtendedProperties"].([]any) {
			p := x.(map[string]any)
			if p["id"] == export.SourceKeyProperty {
				return p["value"].(string)
			}
		}
		return ""
	}
	events, tasks, contacts = map[string]map[string]any{}, map[string]map[string]any{}, map[string]map[string]any{}
	put := func(dst map[string]map[string]any, k string, m map[string]any) {
		if k == "" {
			b.t.Errorf("an item without source key: %v", m["subject"])
		}
		if _, dup := dst[k]; dup {
			b.t.Errorf("%s is there twice", k)
		}
		dst[k] = m
	}
	for _, e := range st.Events {
		put(events, key(e), e)
	}
	for _, c := range st.Contacts {
		put(contacts, key(c), c)
	}
	for _, l := range st.TaskLists {
		if l["displayName"] != config.DefaultSettings().TodoListName {
			continue
		}
		for _, x := range l["tasks"].([]any) {
			tk := x.(map[string]any)
			lr := tk["linkedResources"].([]any)
			put(tasks, lr[0].(map[string]any)["externalId"].(string), tk)
		}
	}
	return
}

func TestExportSemantics(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 3, Appointments: 6, Deadlines: 3, Resubmissions: 2, Addresses: 10, Subscriptions: 4})
	res := b.run(false)
	ev, tk, ct := b.mailbox()
	if len(ev) != 6 || len(tk) != 5 || len(ct) != 4 || res.Created != 15 {
		t.Fatalf("first run: %d events, %d tasks, %d contacts, result %+v", len(ev), len(tk), len(ct), res)
	}
	if !strings.HasPrefix(fmt.Sprint(tk["frist:1"]["title"]), "Frist: ") || tk["frist:1"]["dueDateTime"] == nil {
		t.Errorf("task: %v", tk["frist:1"])
	}

	t.Run("nothing changed: no request", func(t *testing.T) {
		b.sim.ResetRequests()
		if res := b.run(false); res != (export.Result{}) {
			t.Errorf("result %+v", res)
		}
		if n := len(b.sim.Requests()); n != 0 {
			t.Errorf("%d requests for a cycle without changes", n)
		}
	})
	t.Run("one field changed: PATCH carries only that field", func(t *testing.T) {
		b.exec(`UPDATE termin SET betreff = 'Verlegt: Güteverhandlung', geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1`)
		b.sim.ResetRequests()
		if res := b.run(false); res.Updated != 1 {
			t.Fatalf("result %+v", res)
		}
		var patches []string
		for _, r := range b.sim.Requests() {
			if r.Method == "PATCH" {
				patches = append(patches, r.Body)
			}
		}
		if len(patches) != 1 || patches[0] != `{"subject":"Verlegt: Güteverhandlung"}` {
			t.Errorf("PATCH bodies: %v", patches)
		}
		if ev, _, _ := b.mailbox(); ev["termin:1"]["subject"] != "Verlegt: Güteverhandlung" {
			t.Errorf("subject in Outlook: %v", ev["termin:1"]["subject"])
		}
	})
	t.Run("deleted in the cache: deleted in Outlook", func(t *testing.T) {
		b.exec(`DELETE FROM termin WHERE id = 2`)
		if res := b.run(false); res.Deleted != 1 {
			t.Fatalf("result %+v", res)
		}
		if ev, _, _ := b.mailbox(); len(ev) != 5 || ev["termin:2"] != nil {
			t.Errorf("events: %d", len(ev))
		}
	})
	t.Run("deleted in Outlook: created again", func(t *testing.T) {
		ev, _, _ := b.mailbox()
		id := ev["termin:3"]["id"].(string)
		if r := b.client.Do(context.Background(), graph.Request{Method: http.MethodDelete, URL: "/users/" + anna + "/events/" + id}); !r.OK() {
			t.Fatal(r.Err)
		}
		b.run(true)
		if ev, _, _ := b.mailbox(); len(ev) != 5 || ev["termin:3"] == nil {
			t.Errorf("after a full check: %d events, termin:3 %v", len(ev), ev["termin:3"] != nil)
		}
	})
	t.Run("changed in the cache but deleted in Outlook: re-created by the update", func(t *testing.T) {
		ev, _, _ := b.mailbox()
		id := ev["termin:4"]["id"].(string)
		b.client.Do(context.Background(), graph.Request{Method: http.MethodDelete, URL: "/users/" + anna + "/events/" + id})
		b.exec(`UPDATE termin SET ort = 'Saal 7', geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 4`)
		if res := b.run(false); res.Recreated != 1 {
			t.Errorf("result %+v", res)
		}
		if ev, _, _ := b.mailbox(); ev["termin:4"]["location"].(map[string]any)["displayName"] != "Saal 7" {
			t.Errorf("re-created event: %v", ev["termin:4"])
		}
	})
	t.Run("subscription ended: contact deleted", func(t *testing.T) {
		var addr int
		if err := b.cdb.QueryRow(`SELECT adresse_id FROM abo WHERE sachbearbeiter_id = 'AM' LIMIT 1`).Scan(&addr); err != nil {
			t.Fatal(err)
		}
		b.exec(`DELETE FROM abo WHERE adresse_id = ? AND sachbearbeiter_id = 'AM'`, addr)
		b.run(false)
		if _, _, ct := b.mailbox(); len(ct) != 3 || ct[fmt.Sprintf("adresse:%d", addr)] != nil {
			t.Errorf("contacts: %d", len(ct))
		}
	})
	t.Run("Frist done: task completed", func(t *testing.T) {
		b.exec(`UPDATE frist SET erledigt = 1, geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1`)
		b.run(false)
		if _, tk, _ := b.mailbox(); tk["frist:1"]["status"] != "completed" || tk["frist:1"]["completedDateTime"] == nil {
			t.Errorf("task: %v", tk["frist:1"])
		}
	})
	t.Run("Fristen switched from To Do to the calendar", func(t *testing.T) {
		b.ex.Settings.DeadlinesTo = "calendar"
		b.run(false)
		ev, tk, _ := b.mailbox()
		if len(tk) != 0 {
			t.Errorf("%d tasks left", len(tk))
		}
		if ev["frist:2"] == nil || ev["frist:2"]["isAllDay"] != true || ev["wiedervorlage:1"] == nil {
			t.Errorf("Fristen as all-day events: %v", ev["frist:2"])
		}
		if !strings.HasPrefix(fmt.Sprint(ev["frist:1"]["subject"]), "Erledigt: ") {
			t.Errorf("done Frist: %v", ev["frist:1"]["subject"])
		}
	})
	t.Run("worker switched off: nothing is written", func(t *testing.T) {
		before, _ := b.st.Mappings(context.Background(), anna)
		b.worker.Modules = nil
		b.sim.ResetRequests()
		b.exec(`UPDATE termin SET betreff = 'nicht mehr exportiert', geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1`)
		if _, err := b.ex.Run(context.Background(), b.client, b.worker, "AM", false, export.PlanOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := len(b.sim.Requests()); n != 0 {
			t.Errorf("a switched-off worker caused %d requests", n)
		}
		after, _ := b.st.Mappings(context.Background(), anna)
		if len(after) != len(before) {
			t.Errorf("mappings %d → %d", len(before), len(after))
		}
		if ev, _, _ := b.mailbox(); ev["termin:1"]["subject"] == "nicht mehr exportiert" || len(ev) == 0 {
			t.Error("a switched-off worker's items were changed or removed")
		}
	})
}

func TestLostStateRebuildsWithoutDoubles(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 5, Appointments: 25, Deadlines: 10, Resubmissions: 5, Addresses: 20, Subscriptions: 12})
	first := b.run(false)
	if err := b.st.ResetMappings(context.Background(), anna); err != nil {
		t.Fatal(err)
	}
	res := b.run(false)
	if res.Created != 0 || res.Adopted != first.Created {
		t.Errorf("after losing the state: %+v (first run created %d)", res, first.Created)
	}
	ev, tk, ct := b.mailbox()
	if len(ev) != 25 || len(tk) != 15 || len(ct) != 12 {
		t.Errorf("mailbox: %d events, %d tasks, %d contacts", len(ev), len(tk), len(ct))
	}
	b.sim.ResetRequests()
	if res := b.run(false); res.Updated != 0 && res.Created != 0 {
		t.Errorf("third run: %+v", res)
	}
}

func TestCrashAfterCreateBeforeRecord(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 9, Appointments: 3})
	ctx := context.Background()
	// the crash: a create was recorded as pending and reached Outlook, but
	// its Graph id was never stored
	if err := b.st.PutMapping(ctx, store.Mapping{Worker: anna, ItemKey: "event/termin:1", PendingTx: "termin:1", Hashes: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	r := b.client.Do(ctx, graph.Request{Method: http.MethodPost, URL: "/users/" + anna + "/events", Body: map[string]any{
		"subject": "halb fertig", "start": map[string]any{"dateTime": "2026-01-05T10:00:00", "timeZone": "UTC"},
		"end":                           map[string]any{"dateTime": "2026-01-05T11:00:00", "timeZone": "UTC"},
		"singleValueExtendedProperties": []any{map[string]any{"id": export.SourceKeyProperty, "value": "termin:1"}}}})
	if !r.OK() {
		t.Fatal(r.Err)
	}
	res := b.run(false)
	ev, _, _ := b.mailbox()
	if len(ev) != 3 || res.Adopted != 1 || res.Created != 2 {
		t.Errorf("after the crash: %d events, %+v", len(ev), res)
	}
	if ev["termin:1"]["subject"] == "halb fertig" {
		t.Error("the adopted event was not brought up to date")
	}
}

func TestBadRowsAreJournaled(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 2, Appointments: 4})
	bad := map[string]string{
		`(9001, 'x', '2026-05-05T11:00:00', '2026-05-05T10:00:00', 'AM', NULL)`:                                 "liegt vor dem Beginn",
		`(9002, '', '2026-05-05T10:00:00', '2026-05-05T11:00:00', 'AM', NULL)`:                                  "Betreff ist leer",
		`(9003, 'x', '2026-05-05T10:00:00', '2026-05-05T11:00:00', 'AM', '` + strings.Repeat("ü", 1<<19) + `')`: "zu lang",
		`(9004, CAST(X'4B6C61676520E4' AS TEXT), '2026-05-05T10:00:00', '2026-05-05T11:00:00', 'AM', NULL)`:     "kein UTF-8",
		`(9005, 'x', '0001-01-01T10:00:00', '0001-01-01T11:00:00', 'AM', NULL)`:                                 "außerhalb von 1900",
	}
	for values := range bad {
		b.exec(`INSERT INTO termin (id, betreff, beginn, ende, sachbearbeiter_id, beschreibung) VALUES ` + values)
	}
	res := b.run(false)
	if res.Created != 4 || res.Skipped != len(bad) {
		t.Errorf("result %+v", res)
	}
	j, _ := b.st.ReadJournal(context.Background(), store.JournalFilter{Result: "error"})
	all := ""
	for _, e := range j {
		all += e.ItemKey + " " + e.Error + "\n"
	}
	for _, reason := range bad {
		if !strings.Contains(all, reason) {
			t.Errorf("journal lacks %q:\n%s", reason, all)
		}
	}
	if ev, _, _ := b.mailbox(); len(ev) != 4 {
		t.Errorf("%d events, want the 4 good ones", len(ev))
	}
}

func TestPreviewAndOnlyChangesAfterSetup(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 4, Appointments: 12, Deadlines: 3, Resubmissions: 1, Addresses: 6, Subscriptions: 5})
	p, err := b.ex.Plan(context.Background(), b.worker, "AM", export.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Summary(); s != "12 Kalendereinträge anlegen, 4 Aufgaben anlegen, 5 Kontakte anlegen" {
		t.Errorf("summary %q", s)
	}
	b.exec(`UPDATE termin SET geaendert_am = '2030-01-01T00:00:00Z' WHERE id IN (1, 2)`)
	res, err := b.ex.Run(context.Background(), b.client, b.worker, "AM", false, export.PlanOptions{OnlyChangedAfter: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || res.Created != 2 {
		t.Errorf("only changes after setup: %+v %v", res, err)
	}
}

func TestExportUnderFaults(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 6, Appointments: 60, Deadlines: 20, Resubmissions: 10, Addresses: 40, Subscriptions: 30})
	b.sim.SetFaults(m365sim.Faults{Status: map[int]float64{429: 0.04, 500: 0.02, 502: 0.01, 503: 0.02, 504: 0.01},
		Jitter: m365sim.Duration(200 * time.Millisecond), RetryAfter: 2, EnforceRetryAfter: true})
	b.runUntilDone(3)
	b.sim.SetFaults(m365sim.Faults{})
	b.run(true)
	ev, tk, ct := b.mailbox()
	if len(ev) != 60 || len(tk) != 30 || len(ct) != 30 {
		t.Errorf("final state: %d events, %d tasks, %d contacts", len(ev), len(tk), len(ct))
	}
	if v := b.sim.Stats().RetryAfterViolations; v != 0 {
		t.Errorf("%d requests broke their Retry-After", v)
	}
}

// TestFullCheckFindsChangesWithoutTimestamp: a row changed without a new
// geaendert_am is skipped by the quick path, and caught by the full check.
func TestFullCheckFindsChangesWithoutTimestamp(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 8, Appointments: 3})
	b.run(false)
	b.exec(`UPDATE termin SET betreff = 'ohne Zeitstempel' WHERE id = 2`)
	if res := b.run(false); res.Updated != 0 {
		t.Errorf("quick cycle: %+v", res)
	}
	if res := b.run(true); res.Updated != 1 {
		t.Errorf("full check: %+v", res)
	}
	if ev, _, _ := b.mailbox(); ev["termin:2"]["subject"] != "ohne Zeitstempel" {
		t.Errorf("subject %v", ev["termin:2"]["subject"])
	}
}

// TestDeadlineOnDSTDayStaysOnThatDay: Fristen are days, not instants.
func TestDeadlineOnDSTDayStaysOnThatDay(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 12})
	b.exec(`INSERT INTO frist (id, aktenzeichen, bezeichnung, fristdatum, vorfrist, sachbearbeiter_id) VALUES (1, '12/26', 'Berufung', '2026-10-25', '2026-03-29', 'AM')`)
	b.run(false)
	_, tk, _ := b.mailbox()
	due := tk["frist:1"]["dueDateTime"].(map[string]any)
	// To Do keeps the due date in UTC: midnight of 25 October in Berlin (CEST)
	if due["dateTime"] != "2026-10-24T22:00:00.0000000" || due["timeZone"] != "UTC" {
		t.Errorf("due %v", due)
	}
	local, _ := time.Parse("2006-01-02T15:04:05.0000000", due["dateTime"].(string))
	if d := local.In(source.Berlin).Format("2006-01-02"); d != "2026-10-25" {
		t.Errorf("due date in Berlin: %s", d)
	}
	b.ex.Settings.DeadlinesTo = "calendar"
	b.run(false)
	ev, _, _ := b.mailbox()
	for key, day := range map[string]string{"frist:1": "2026-10-25", "vorfrist:1": "2026-03-29"} {
		e := ev[key]
		if e == nil || e["isAllDay"] != true || !strings.HasPrefix(e["start"].(map[string]any)["dateTime"].(string), day+"T00:00:00") {
			t.Errorf("%s: %v", key, e)
		}
	}
}

// TestRetryAfterOutlivesTheProcess: a process that Microsoft told to wait
// and that dies before the wait is over leaves the Retry-After in the
// state DB; the next process (after a crash, or the CLI beside the tray)
// waits for it before its first request.
func TestRetryAfterOutlivesTheProcess(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 9, Appointments: 5})
	tokens := testsupport.StaticTokens{Token: simtest.AppToken(t, b.sim, "https://graph.microsoft.com")}
	b.sim.SetFaults(m365sim.Faults{Script: []int{429}, RetryAfter: 30, EnforceRetryAfter: true})
	killed := errors.New("killed while waiting")
	dying := graph.NewPacer()
	dying.Sleep = func(context.Context, time.Duration) error { return killed }
	if _, err := b.ex.Run(context.Background(), graph.New(b.sim.URL(), tokens, graph.Options{Pacer: dying}), b.worker, "AM", false, export.PlanOptions{}); err == nil {
		t.Fatal("the first process did not stop at its 429")
	}
	var waits []time.Duration
	next := graph.NewPacer()
	next.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); b.sim.Advance(d); return nil }
	res, err := b.ex.Run(context.Background(), graph.New(b.sim.URL(), tokens, graph.Options{Pacer: next}), b.worker, "AM", false, export.PlanOptions{})
	if err != nil || res.Created != 5 {
		t.Fatalf("the next process: %+v %v", res, err)
	}
	if len(waits) == 0 || waits[0] < 25*time.Second || waits[0] > 30*time.Second {
		t.Errorf("the next process waited %v first, want the rest of the 30 s", waits)
	}
	if v := b.sim.Stats().RetryAfterViolations; v != 0 {
		t.Errorf("%d requests broke the Retry-After", v)
	}
}
