package export_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"kanzleisync/app/export"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/source"
	"kanzleisync/app/testsupport"
)

// watchSetup is a runner with a long interval, its first cycle done, and
// the cache opened for writing as the practice software would (WAL).
type watchSetup struct {
	r      *export.Runner
	sim    *m365sim.Server
	cache  *sql.DB
	cycles func() int // finished cycles so far (all three mailboxes)
	cancel context.CancelFunc
}

func startWatched(t *testing.T, interval time.Duration, w export.Watch) *watchSetup {
	t.Helper()
	r, sim, events, mu := newRunner(t, source.GenOptions{Seed: 41, Appointments: 30, Deadlines: 6, Addresses: 6, Subscriptions: 3})
	r.Interval, r.Watch = interval, w
	ent, err := r.Repo.Entity(context.Background(), "Kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := sql.Open("sqlite", "file:"+ent.CachePath+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	s := &watchSetup{r: r, sim: sim, cache: cache, cycles: func() int {
		mu.Lock()
		defer mu.Unlock()
		done := 0
		for _, p := range *events {
			if p.Done {
				done++
			}
		}
		return done / len(source.DemoWorkers)
	}}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() { _ = r.Run(ctx); close(finished) }()
	s.cancel = cancel
	t.Cleanup(func() { cancel(); <-finished })
	testsupport.Eventually(t, time.Minute, "the first cycle", func() bool { return s.cycles() >= 1 })
	return s
}

// subjectIn reports whether the mailbox that owns Termin id has an event
// with that subject.
func (s *watchSetup) subjectIn(t *testing.T, id int, subject string) bool {
	t.Helper()
	var upn string
	if err := s.cache.QueryRow(`SELECT s.upn FROM termin t JOIN sachbearbeiter s ON s.id = t.sachbearbeiter_id WHERE t.id = ?`, id).Scan(&upn); err != nil {
		t.Fatal(err)
	}
	st, err := s.sim.State(upn)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range st.Events {
		if strings.Contains(fmt.Sprint(e["subject"]), subject) {
			return true
		}
	}
	return false
}

func (s *watchSetup) rename(t *testing.T, id int, subject string) {
	t.Helper()
	if _, err := s.cache.Exec(`UPDATE termin SET betreff = ?, geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`, subject, id); err != nil {
		t.Fatal(err)
	}
}

// A Termin changed in the cache is in the mailbox within seconds, long
// before the hour's interval.
func TestCommitStartsACycle(t *testing.T) {
	s := startWatched(t, time.Hour, export.Watch{})
	committed := time.Now()
	s.rename(t, 3, "Verlegt: Güteverhandlung")
	testsupport.Eventually(t, 30*time.Second, "the changed Termin in the mailbox", func() bool { return s.subjectIn(t, 3, "Verlegt: Güteverhandlung") })
	t.Logf("commit to the mailbox: %v", time.Since(committed).Round(time.Millisecond))
	testsupport.Eventually(t, 30*time.Second, "the cycle's end", func() bool { return s.cycles() >= 2 })
	// the commit writes the -wal and, at a checkpoint, the database: one
	// or two cycles after the first
	if n := s.cycles(); n < 2 || n > 3 {
		t.Errorf("%d cycles, want the first and one or two the commit started", n)
	}
}

// 500 commits in a row are one or two cycles, not 500.
func TestBurstOfWritesIsOneOrTwoCycles(t *testing.T) {
	s := startWatched(t, time.Hour, export.Watch{})
	for i := 1; i <= 500; i++ {
		s.rename(t, 1+i%30, fmt.Sprintf("Termin Nr. %d", i))
	}
	last := fmt.Sprintf("Termin Nr. %d", 500)
	// the cycle that exported the last write reports its end after the write
	testsupport.Eventually(t, time.Minute, "the last write in the mailbox and its cycle ended", func() bool {
		return s.subjectIn(t, 1+500%30, last) && s.cycles() >= 2
	})
	if n := s.cycles() - 1; n < 1 || n > 2 {
		t.Errorf("500 writes gave %d cycles", n)
	}
}

// Where notifications do not come (a network share): the look at size and
// time finds the commit, and without that the interval still exports it.
func TestCacheWithoutNotifications(t *testing.T) {
	t.Run("polled", func(t *testing.T) {
		s := startWatched(t, time.Hour, export.Watch{NoNotify: true, Poll: 300 * time.Millisecond})
		s.rename(t, 5, "Vom Netzlaufwerk")
		testsupport.Eventually(t, 30*time.Second, "the change found by polling", func() bool { return s.subjectIn(t, 5, "Vom Netzlaufwerk") })
	})
	t.Run("interval only", func(t *testing.T) {
		s := startWatched(t, 3*time.Second, export.Watch{NoNotify: true, Poll: -1})
		s.rename(t, 5, "Mit dem Intervall")
		testsupport.Eventually(t, 30*time.Second, "the change exported on the interval", func() bool { return s.subjectIn(t, 5, "Mit dem Intervall") })
	})
	t.Run("off", func(t *testing.T) {
		s := startWatched(t, time.Hour, export.Watch{Off: true})
		s.rename(t, 5, "Nicht beobachtet")
		s.r.Trigger() // only a trigger (Jetzt synchronisieren) starts a cycle
		testsupport.Eventually(t, 30*time.Second, "the change after Trigger", func() bool { return s.subjectIn(t, 5, "Nicht beobachtet") })
	})
}
