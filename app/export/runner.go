package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/graph"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// Progress reports a worker's cycle to the UI.
type Progress struct {
	Worker  string
	Summary string // German, e.g. "12 Kalendereinträge anlegen"
	// Completed and Total count the cycle's operations per target kind
	// (event, task, contact) while it runs.
	Completed, Total map[string]int
	Result           Result
	Err              error
	Done             bool // the worker's cycle has ended
	At               time.Time
}

// Runner exports all workers of one entity, every Interval and on demand.
// Its cycles never overlap.
type Runner struct {
	Entity string
	Repo   *config.Repo
	Store  *store.Store
	Tokens func(upn string) graph.TokenSource
	// Settings, when set, replace the stored ones in a preview (what a
	// change of the settings will do before it is saved).
	Settings   *config.Settings
	Interval   time.Duration // default 2 min
	FullEvery  time.Duration // a full check against Microsoft 365 at least this often (default 1 h)
	OnProgress func(Progress)
	// OnTrouble is told after each cycle of Run what no worker's progress
	// reports — the cache missing or unreadable, a Sachbearbeiter the
	// cache does not know, the configuration unreadable — or nil when
	// there was none: without it such a cycle would fail in silence.
	OnTrouble    func(error)
	Logger       *slog.Logger
	Installation string
	// MaxParallel caps the mailboxes exported at the same time (0: all of
	// the entity's at once). Each running mailbox holds its mappings and
	// batches in memory, so a server with many mailboxes may want a cap.
	MaxParallel int
	// Watch: a commit to the cache starts a cycle within about a second;
	// the interval stays as the safety net.
	Watch Watch

	running  sync.Mutex // cycles never overlap
	trigger  chan struct{}
	once     sync.Once
	lastFull time.Time
}

func (r *Runner) init() {
	r.once.Do(func() {
		r.trigger = make(chan struct{}, 1)
		if r.Interval <= 0 {
			r.Interval = 2 * time.Minute
		}
		if r.FullEvery <= 0 {
			r.FullEvery = time.Hour
		}
		if r.Logger == nil {
			r.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Trigger asks for a cycle now; requests during a cycle coalesce into one.
func (r *Runner) Trigger() {
	r.init()
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Run runs cycles until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	r.init()
	go r.watch(ctx)
	deferred := false // the last cycle's trouble was put off (the cache was being written)
	for {
		before := r.cacheSignature(ctx)
		_, trouble, err := r.cycle(ctx, false)
		if err != nil && ctx.Err() == nil {
			r.Logger.Warn("export cycle failed", "entity", r.Entity, "error", err.Error())
		}
		if trouble != nil && !r.Watch.Off && !deferred && r.cacheSignature(ctx) != before {
			// The cache was written while the cycle read it: a rebuild in
			// progress looks incomplete (a table missing). Not a red state
			// yet: the cycle after the writes decides — once; trouble that
			// comes again is reported however busy the cache is.
			r.Logger.Info("export cycle met the cache while it was written; trying again", "entity", r.Entity)
			deferred = true
			r.Trigger()
		} else {
			deferred = false
			if r.OnTrouble != nil && ctx.Err() == nil {
				r.OnTrouble(trouble)
			}
		}
		t := time.NewTimer(r.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-r.trigger:
			t.Stop()
		case <-t.C:
		}
	}
}

// cacheSignature is the size and time of the entity's cache files (zero
// when the entity cannot be read).
func (r *Runner) cacheSignature(ctx context.Context) signature {
	ent, err := r.Repo.Entity(ctx, r.Entity)
	if err != nil || ent.CachePath == "" {
		return signature{}
	}
	return signatureOf(ent.CachePath)
}

// Cycle exports every worker of the entity once, the workers' mailboxes in
// parallel. With preview it only plans. It returns the plans (preview) or
// the results' summaries per worker.
func (r *Runner) Cycle(ctx context.Context, preview bool) (map[string]string, error) {
	out, _, err := r.cycle(ctx, preview)
	return out, err
}

// cycle is Cycle; trouble is the part of err that no worker's progress
// reports.
func (r *Runner) cycle(ctx context.Context, preview bool) (out map[string]string, trouble, err error) {
	r.init()
	r.running.Lock()
	defer r.running.Unlock()
	out, unknown, err := r.cycleLocked(ctx, preview)
	if out == nil {
		return nil, err, err // it ended before any worker
	}
	return out, errors.Join(unknown...), err
}

func (r *Runner) cycleLocked(ctx context.Context, preview bool) (map[string]string, []error, error) {
	ent, err := r.Repo.Entity(ctx, r.Entity)
	if err != nil {
		return nil, nil, err
	}
	settings, err := r.Repo.Settings(ctx)
	if err != nil {
		return nil, nil, err
	}
	if r.Settings != nil && preview {
		settings = *r.Settings // the preview of settings not saved yet
	}
	inactive := !settings.InterfaceActive && !preview
	if inactive {
		// Nothing may be written while the switch is off: only plan, so
		// the preview stays current, and say why.
		preview = true
	}
	if ent.CachePath == "" {
		return nil, nil, &NoCachePathError{Entity: ent.Name}
	}
	cache, err := source.Open(ctx, ent.CachePath)
	if err != nil {
		return nil, nil, err
	}
	defer cache.Close()
	cacheWorkers, err := cache.Workers(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !preview {
		if err := r.journalOrphans(ctx, cache); err != nil {
			return nil, nil, err
		}
	}
	byUPN := map[string]string{}
	for _, cw := range cacheWorkers {
		byUPN[strings.ToLower(cw.UPN)] = cw.ID
	}
	workers, err := r.Repo.Workers(ctx)
	if err != nil {
		return nil, nil, err
	}
	full := time.Since(r.lastFull) >= r.FullEvery
	ex := &Exporter{Store: r.Store, Cache: cache, Settings: settings, Logger: r.Logger, Installation: r.Installation}
	var mu sync.Mutex
	out := map[string]string{}
	var errs, unknown []error
	var wg sync.WaitGroup
	var slots chan struct{}
	if r.MaxParallel > 0 {
		slots = make(chan struct{}, r.MaxParallel)
	}
	for _, w := range workers {
		if w.Entity != ent.Name || len(w.Modules) == 0 {
			continue
		}
		cacheID, ok := byUPN[strings.ToLower(w.UPN)]
		if !ok {
			mu.Lock()
			uerr := &UnknownWorkerError{UPN: w.UPN, Cache: ent.CachePath}
			errs, unknown = append(errs, uerr), append(unknown, uerr)
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if slots != nil {
				select {
				case slots <- struct{}{}:
					defer func() { <-slots }()
				case <-ctx.Done():
					return
				}
			}
			summary, err := r.worker(ctx, ex, ent, w, cacheID, full, preview)
			mu.Lock()
			defer mu.Unlock()
			out[w.UPN] = summary
			if err != nil {
				errs = append(errs, fmt.Errorf("export %s: %w", w.UPN, err))
			}
		}()
	}
	wg.Wait()
	if full && !preview && len(errs) == 0 {
		r.lastFull = time.Now()
	}
	if inactive {
		errs = append(errs, ErrInactive)
	}
	return out, unknown, errors.Join(errs...)
}

// NoCachePathError: the entity names no cache file.
type NoCachePathError struct{ Entity string }

func (e *NoCachePathError) Error() string {
	return fmt.Sprintf("export %s: no cache path configured", e.Entity)
}

// UnknownWorkerError: the cache has no Sachbearbeiter with this UPN.
type UnknownWorkerError struct{ UPN, Cache string }

func (e *UnknownWorkerError) Error() string {
	return text.F("export %s: the cache %s has no Sachbearbeiter with this UPN", e.UPN, e.Cache)
}

// ErrInactive: the firm's switch "Schnittstelle aktiv" is off, so a cycle
// only planned. The message is German: it is shown as it is.
var ErrInactive = text.New("Die MS365-Schnittstelle ist noch nicht aktiviert: es wird nichts nach Microsoft 365 geschrieben. Ein Administrator schaltet sie unter „Einstellungen“ → „Kanzlei“ → „Schnittstelle aktiv“ ein (oder: kanzleisync config settings set --active=true --confirm).")

func (r *Runner) worker(ctx context.Context, ex *Exporter, ent config.Entity, w config.Worker, cacheID string, full, preview bool) (string, error) {
	report := func(p Progress) {
		if r.OnProgress != nil {
			p.Worker, p.At = w.UPN, time.Now()
			r.OnProgress(p)
		}
	}
	if preview {
		return ex.Preview(ctx, w, cacheID)
	}
	lctx, release, err := r.lockMailbox(ctx, w.UPN)
	if err != nil {
		s := text.T("ausgelassen: wird gerade anderswo synchronisiert")
		report(Progress{Summary: s, Err: err, Done: true})
		return s, err
	}
	defer release()
	ctx = lctx
	c := graph.New(ent.GraphEndpoint, r.Tokens(w.UPN), graph.Options{Logger: r.Logger, Budget: graph.SharedBudget(ent.GraphEndpoint, w.UPN)})
	report(Progress{Summary: text.T("Synchronisation läuft")})
	mine := *ex // one per worker: its progress counts are the worker's own
	mine.OnChunk = func(done, total map[string]int) {
		report(Progress{Summary: text.T("Synchronisation läuft"), Completed: copyCounts(done), Total: copyCounts(total)})
	}
	res, err := mine.Run(ctx, c, w, cacheID, full, PlanOptions{})
	s := res.Summary()
	report(Progress{Summary: s, Result: res, Err: err, Done: true})
	return s, err
}

// Summary says what a cycle did, in the current language.
func (r Result) Summary() string {
	var parts []string
	for _, p := range []struct {
		n    int
		text string
	}{{r.Created, text.T("angelegt")}, {r.Updated, text.T("geändert")}, {r.Deleted, text.T("gelöscht")}, {r.Recreated, text.T("neu angelegt (in Outlook gelöscht)")},
		{r.Adopted, text.T("aus Microsoft 365 wieder zugeordnet")}, {r.Held, text.T("Löschungen zurückgehalten")}, {r.ListsRenamed, text.T("To-Do-Liste umbenannt")}, {r.Failed, text.T("fehlgeschlagen (siehe Protokoll)")}, {r.Skipped, text.T("im Cache fehlerhaft, übersprungen")}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.text))
		}
	}
	if r.Cancelled > 0 {
		parts = append(parts, text.Nf(r.Cancelled, "%d Termin einer Serie abgesagt", "%d Termine von Serien abgesagt"))
	}
	if r.SeriesRecreated > 0 {
		parts = append(parts, text.Nf(r.SeriesRecreated, "%d Serie neu angelegt (ein abgesagter oder geänderter Termin gilt wieder wie die Serie)",
			"%d Serien neu angelegt (ein abgesagter oder geänderter Termin gilt wieder wie die Serie)"))
	}
	if len(parts) == 0 {
		return text.T("Alles aktuell.")
	}
	return strings.Join(parts, ", ")
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// journalOrphans reports rows that belong to no known Sachbearbeiter.
func (r *Runner) journalOrphans(ctx context.Context, cache *source.Cache) error {
	orphans, err := cache.OrphanRows(ctx)
	if err != nil || len(orphans) == 0 {
		return err
	}
	entries := make([]store.JournalEntry, len(orphans))
	for i, o := range orphans {
		entries[i] = store.JournalEntry{At: time.Now(), Worker: "–", ItemKey: o.Table + ":" + o.ID, Action: "skip", Result: "error", Error: o.Reason}
	}
	return r.Store.Journal(ctx, entries...)
}
