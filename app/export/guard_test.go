package export_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/export"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
)

// runHeld runs a cycle that must hold deletions and returns its error.
func (b *bench) runHeld() (export.Result, *export.HeldError) {
	b.t.Helper()
	res, err := b.ex.Run(context.Background(), b.client, b.worker, "AM", false, export.PlanOptions{})
	var held *export.HeldError
	if !errors.As(err, &held) {
		b.t.Fatalf("run: err = %v, want deletions held (%+v)", err, res)
	}
	return res, held
}

func (b *bench) held() []store.HeldDeletion {
	b.t.Helper()
	hs, err := b.st.HeldDeletions(context.Background(), anna)
	if err != nil {
		b.t.Fatal(err)
	}
	return hs
}

func (b *bench) journalHeld() int {
	b.t.Helper()
	n := 0
	entries, err := b.st.ReadJournal(context.Background(), store.JournalFilter{Worker: anna})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, e := range entries {
		if e.Result == "held" {
			n++
		}
	}
	return n
}

func (b *bench) counts() (int, int, int) {
	b.t.Helper()
	ev, tk, ct := b.mailbox()
	return len(ev), len(tk), len(ct)
}

var guardGen = source.GenOptions{Seed: 5, Appointments: 30, Deadlines: 10, Resubmissions: 5, Addresses: 40, Subscriptions: 20}

func TestGuardHoldsACacheRestoredEmpty(t *testing.T) {
	b := newBench(t, guardGen)
	b.run(false)
	ev, tk, ct := b.counts()
	if ev != 30 || tk != 15 || ct != 20 {
		t.Fatalf("first run: %d events, %d tasks, %d contacts", ev, tk, ct)
	}
	// a restore of an empty cache: every table of data empty, the
	// Sachbearbeiter still there
	b.exec(`DELETE FROM termin; DELETE FROM frist; DELETE FROM wiedervorlage; DELETE FROM abo; DELETE FROM adresse`)
	res, held := b.runHeld()
	if res.Deleted != 0 || res.Held != 65 || held.Count != 65 {
		t.Errorf("result %+v, held %d", res, held.Count)
	}
	for _, want := range []string{"Der Cache enthält plötzlich keine Termine (bisher 30 exportiert), Fristen (bisher 10 exportiert), Wiedervorlagen (bisher 5 exportiert) und abonnierten Adressen (bisher 20 exportiert) mehr.", "--confirm-deletions"} {
		if !strings.Contains(held.Error(), want) {
			t.Errorf("message lacks %q: %s", want, held.Error())
		}
	}
	if ev, tk, ct := b.counts(); ev != 30 || tk != 15 || ct != 20 {
		t.Fatalf("after the held cycle: %d events, %d tasks, %d contacts", ev, tk, ct)
	}
	if n := len(b.held()); n != 65 {
		t.Errorf("%d held deletions stored, want 65", n)
	}
	if n := b.journalHeld(); n != 65 {
		t.Errorf("%d journal entries 'held', want 65", n)
	}

	t.Run("the next cycle holds again and journals nothing twice", func(t *testing.T) {
		first := b.held()[0].HeldAt
		_, held := b.runHeld()
		if n := b.journalHeld(); n != 65 {
			t.Errorf("%d journal entries 'held' after the second cycle, want 65", n)
		}
		if !held.Since.Equal(first) || !b.held()[0].HeldAt.Equal(first) {
			t.Errorf("held since %v, stored %v, want %v", held.Since, b.held()[0].HeldAt, first)
		}
	})
	t.Run("a full check holds too", func(t *testing.T) {
		res, err := b.ex.Run(context.Background(), b.client, b.worker, "AM", true, export.PlanOptions{})
		var held *export.HeldError
		if !errors.As(err, &held) || res.Deleted != 0 {
			t.Errorf("full check: %v, %+v", err, res)
		}
	})
	t.Run("the state database lost: the adopted items are held too", func(t *testing.T) {
		if err := b.st.ResetMappings(context.Background(), anna); err != nil {
			t.Fatal(err)
		}
		res, _ := b.runHeld()
		if res.Adopted == 0 || res.Deleted != 0 {
			t.Errorf("result %+v", res)
		}
		if ev, tk, ct := b.counts(); ev != 30 || tk != 15 || ct != 20 {
			t.Errorf("%d events, %d tasks, %d contacts", ev, tk, ct)
		}
	})
	t.Run("released by an administrator: deleted", func(t *testing.T) {
		n, err := b.st.ReleaseHeldDeletions(context.Background(), "test", time.Now(), anna)
		if err != nil || n != 65 {
			t.Fatalf("released %d: %v", n, err)
		}
		res := b.run(false)
		if res.Deleted != 65 || res.Held != 0 {
			t.Errorf("result %+v", res)
		}
		if ev, tk, ct := b.counts(); ev+tk+ct != 0 {
			t.Errorf("left: %d events, %d tasks, %d contacts", ev, tk, ct)
		}
		if n := len(b.held()); n != 0 {
			t.Errorf("%d held deletions left", n)
		}
	})
}

func TestGuardReleasesNothingWhenTheCacheComesBack(t *testing.T) {
	b := newBench(t, guardGen)
	b.run(false)
	b.exec(`CREATE TABLE termin_backup AS SELECT * FROM termin`)
	b.exec(`DELETE FROM termin`)
	b.runHeld()
	b.exec(`INSERT INTO termin SELECT * FROM termin_backup`)
	if res := b.run(false); res.Deleted != 0 || res.Created != 0 {
		t.Errorf("after the restore: %+v", res)
	}
	if n := len(b.held()); n != 0 {
		t.Errorf("%d held deletions left after the cache came back", n)
	}
	if ev, _, _ := b.counts(); ev != 30 {
		t.Errorf("%d events, want 30", ev)
	}
}

func TestGuardOneTable(t *testing.T) {
	for _, tc := range []struct {
		name, change, want string
		kind               int // 0 events, 1 tasks, 2 contacts: what must stay
	}{
		{"abo emptied", `DELETE FROM abo`, "keine abonnierten Adressen (bisher 20 exportiert) mehr", 2},
		{"termin emptied, frist intact", `DELETE FROM termin`, "keine Termine (bisher 30 exportiert) mehr", 0},
		{"half of the Fristen gone", `DELETE FROM frist WHERE id IN (SELECT id FROM frist WHERE sachbearbeiter_id = 'AM' LIMIT 6)`, "6 von 10 exportierten Fristen", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBench(t, guardGen)
			b.run(false)
			before := [3]int{}
			before[0], before[1], before[2] = b.counts()
			b.exec(tc.change)
			// a change elsewhere goes through while the deletions are held
			b.exec(`UPDATE wiedervorlage SET grund = 'Neu: Sachstand', geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE sachbearbeiter_id = 'AM' AND id = (SELECT MIN(id) FROM wiedervorlage WHERE sachbearbeiter_id = 'AM')`)
			res, held := b.runHeld()
			if !strings.Contains(held.Error(), tc.want) {
				t.Errorf("message lacks %q: %s", tc.want, held.Error())
			}
			if res.Updated != 1 || res.Deleted != 0 {
				t.Errorf("result %+v: want the update done, nothing deleted", res)
			}
			after := [3]int{}
			after[0], after[1], after[2] = b.counts()
			if after != before {
				t.Errorf("mailbox %v, before %v", after, before)
			}
		})
	}
}

func TestGuardLetsANormalDayThrough(t *testing.T) {
	b := newBench(t, guardGen)
	b.run(false)
	b.exec(`DELETE FROM termin WHERE id IN (SELECT id FROM termin WHERE sachbearbeiter_id = 'AM' LIMIT 3)`)
	if res := b.run(false); res.Deleted != 3 || res.Held != 0 {
		t.Errorf("3 deletions: %+v", res)
	}
	if ev, _, _ := b.counts(); ev != 27 {
		t.Errorf("%d events, want 27", ev)
	}
	t.Run("items that move are not counted", func(t *testing.T) {
		// all 15 tasks become events: 15 deletions whose rows are still there
		b.ex.Settings.DeadlinesTo = "calendar"
		res := b.run(false)
		if res.Held != 0 || res.Deleted != 15 {
			t.Errorf("switch to the calendar: %+v", res)
		}
	})
	t.Run("a row the export cannot read keeps its item", func(t *testing.T) {
		b.exec(`UPDATE termin SET beginn = 'morgen', geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = (SELECT MIN(id) FROM termin WHERE sachbearbeiter_id = 'AM')`)
		res := b.run(false)
		if res.Deleted != 0 || res.Skipped != 1 {
			t.Errorf("unreadable row: %+v", res)
		}
		if ev, _, _ := b.mailbox(); len(ev) < 27 {
			t.Errorf("%d events", len(ev))
		}
	})
}

func TestGuardPreviewSaysWhatWouldBeHeld(t *testing.T) {
	b := newBench(t, guardGen)
	b.run(false)
	b.exec(`DELETE FROM abo`)
	got, err := b.ex.Preview(context.Background(), b.worker, "AM")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "20 Kontakte löschen") || !strings.Contains(got, "würden 20 Löschungen zurückgehalten") {
		t.Errorf("preview: %s", got)
	}
}

func TestRepairedRowsAreSentCleanAndJournaledOnce(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 3, Appointments: 2})
	b.exec(`UPDATE termin SET betreff = 'Güteverhandlung' || char(0) || ' Saal 3', beginn = '2026-03-29T02:30:00', ende = '2026-03-29T04:00:00', ganztaegig = 0 WHERE id = 1`)
	b.run(false)
	ev, _, _ := b.mailbox()
	if got := ev["termin:1"]["subject"]; got != "Güteverhandlung Saal 3" {
		t.Errorf("subject sent: %q", got)
	}
	start := ev["termin:1"]["start"].(map[string]any)["dateTime"].(string)
	end := ev["termin:1"]["end"].(map[string]any)["dateTime"].(string)
	// Graph answers in UTC: 03:30–05:00 summer time
	if !strings.HasPrefix(start, "2026-03-29T01:30:00") || !strings.HasPrefix(end, "2026-03-29T03:00:00") {
		t.Errorf("spring gap stored as %s – %s UTC", start, end)
	}
	for _, r := range b.sim.Requests() {
		if strings.Contains(r.Body, `\u0000`) {
			t.Errorf("a NUL byte was sent: %s", r.Body)
		}
	}
	adjusts := func() (n int, text string) {
		entries, err := b.st.ReadJournal(context.Background(), store.JournalFilter{Worker: anna})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Action == "adjust" {
				n, text = n+1, e.Error
			}
		}
		return
	}
	if n, text := adjusts(); n != 1 || !strings.Contains(text, "1 Steuerzeichen entfernt") || !strings.Contains(text, "Dauer 1:30 beibehalten") {
		t.Errorf("%d adjust entries: %q", n, text)
	}
	b.run(true)
	b.run(false)
	if n, _ := adjusts(); n != 1 {
		t.Errorf("%d adjust entries after two more cycles, want 1", n)
	}
}

// An administrator who releases the held deletions while a cycle runs (the
// cycle read the held list before the release) keeps the release: the
// cycle holds the deletions once more and the next cycle carries them out.
// Before, the running cycle's record took the release back, and the click
// was lost without a word.
func TestReleaseDuringACycleIsKept(t *testing.T) {
	b := newBench(t, guardGen)
	b.run(false)
	b.exec(`DELETE FROM frist; DELETE FROM wiedervorlage; DELETE FROM abo; DELETE FROM adresse`)
	b.runHeld()
	// one changed Termin gives the cycle a chunk of work, after which the
	// administrator's release lands, before the cycle records its held list
	b.exec(`UPDATE termin SET betreff = betreff || ' (verlegt)', geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1`)
	released := 0
	b.ex.OnChunk = func(done, total map[string]int) {
		if released > 0 {
			return
		}
		n, err := b.st.ReleaseHeldDeletions(context.Background(), "Administrator", time.Now(), anna)
		if err != nil {
			t.Error(err)
		}
		released = n
	}
	res, _ := b.runHeld()
	b.ex.OnChunk = nil
	if released != 35 || res.Updated != 1 || res.Deleted != 0 {
		t.Fatalf("released %d during the cycle, result %+v", released, res)
	}
	for _, h := range b.held() {
		if !h.Released() || h.ReleasedBy != "Administrator" {
			t.Fatalf("the cycle took the release back: %+v", h)
		}
	}
	res = b.run(false)
	if res.Deleted != 35 || res.Held != 0 || len(b.held()) != 0 {
		t.Errorf("the cycle after the release: %+v, %d still held", res, len(b.held()))
	}
	if ev, tk, ct := b.counts(); ev != 30 || tk+ct != 0 {
		t.Errorf("left: %d events, %d tasks, %d contacts", ev, tk, ct)
	}
}
