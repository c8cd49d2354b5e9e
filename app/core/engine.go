// Package core is kanzleisync's engine behind the tray: it runs the Graph
// export per entity and the mail fetch per account in goroutines, collects
// their state into one Status (tray picture, reason, warnings, account dots,
// sync progress), and offers the actions the menu and the command line
// share: Anbindung testen, Testmail senden, Jetzt synchronisieren, Anmelden.
// It has no GUI; the ui package subscribes to it.
package core

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
)

// State is what the tray picture shows.
type State int

const (
	OK      State = iota // everything works
	Warning              // works, but something needs attention soon
	Error                // something fails
	Syncing              // an export is running
)

// Options wire an Engine.
type Options struct {
	Store *store.Store
	Repo  *config.Repo
	Auth  *auth.Manager
	// MailTLS are the trusted roots of the POP3/SMTP servers (nil: the system's).
	MailTLS *tls.Config
	Logger  *slog.Logger
	Now     func() time.Time
	// ExportInterval and MailInterval: defaults 2 min and 60 s.
	ExportInterval time.Duration
	MailInterval   time.Duration
	// WarningsEvery: how often expiry warnings are recomputed (default 1 h;
	// also after every export cycle and configuration change).
	WarningsEvery time.Duration
	// Notify is called once per warning threshold and installation.
	Notify func(diagnose.Warning)
}

// AccountStatus is one line of the account manager.
type AccountStatus struct {
	Worker     string // UPN
	WorkerName string
	Account    config.MailAccount
	Dot        diagnose.Status
	Detail     string // German: what happened last, or what to do
	LastFetch  time.Time
	NextFetch  time.Time
	LastSignIn time.Time
	Fetched    int // messages fetched since start
}

// WorkerSync is the export state of one case worker.
type WorkerSync struct {
	Worker    string
	Modules   []config.Module
	Running   bool
	Completed map[string]int // per kind: event, task, contact
	Total     map[string]int
	Summary   string
	Result    export.Result
	Err       string // German
	LastRun   time.Time
	NextRun   time.Time
}

// Status is the engine's state at one moment.
type Status struct {
	State    State
	Reason   string // the first line of the tray menu
	Warnings []diagnose.Warning
	Accounts []AccountStatus
	Sync     []WorkerSync
}

// Engine runs the background work.
type Engine struct {
	o Options

	mu       sync.Mutex
	subs     []func(Status)
	accounts map[string]*AccountStatus // key: upn|address
	syncs    map[string]*WorkerSync
	warnings []diagnose.Warning
	signIn   map[string]diagnose.Warning // lost sign-ins seen by the workers
	runners  map[string]*export.Runner
	fetchers map[string]*mail.Worker
	cancel   context.CancelFunc
	done     sync.WaitGroup
	// life orders Start, Stop and Restart; closed refuses a Restart that
	// comes in after Close.
	life   sync.Mutex
	closed bool
}

// New returns an engine; Start begins the work.
func New(o Options) *Engine {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.WarningsEvery <= 0 {
		o.WarningsEvery = time.Hour
	}
	return &Engine{o: o, accounts: map[string]*AccountStatus{}, syncs: map[string]*WorkerSync{}, signIn: map[string]diagnose.Warning{}}
}

// Subscribe calls f with every new status (from background goroutines).
func (e *Engine) Subscribe(f func(Status)) {
	e.mu.Lock()
	e.subs = append(e.subs, f)
	e.mu.Unlock()
}

func accountKey(upn, address string) string {
	return strings.ToLower(upn) + "|" + strings.ToLower(address)
}

// Start reads the configuration and starts one export runner per entity and
// one fetcher per mail account. Restart after a configuration change.
func (e *Engine) Start(ctx context.Context) error {
	e.life.Lock()
	defer e.life.Unlock()
	if e.closed {
		return errors.New("core: engine closed")
	}
	return e.start(ctx)
}

func (e *Engine) start(ctx context.Context) error {
	ents, err := e.o.Repo.Entities(ctx)
	if err != nil {
		return err
	}
	workers, err := e.o.Repo.Workers(ctx)
	if err != nil {
		return err
	}
	installation, err := e.o.Store.InstallationID(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	e.mu.Lock()
	e.cancel = cancel
	e.runners = map[string]*export.Runner{}
	e.fetchers = map[string]*mail.Worker{}
	e.accounts = map[string]*AccountStatus{}
	e.syncs = map[string]*WorkerSync{}
	entByName := map[string]config.Entity{}
	for _, ent := range ents {
		entByName[ent.Name] = ent
		if ent.CachePath == "" {
			continue
		}
		r := &export.Runner{Entity: ent.Name, Repo: e.o.Repo, Store: e.o.Store, Installation: installation,
			Interval: e.o.ExportInterval, Logger: e.o.Logger, OnProgress: e.progress,
			Tokens: func(upn string) graph.TokenSource { return e.o.Auth.Graph(upn) }}
		e.runners[ent.Name] = r
	}
	for _, w := range workers {
		if len(w.Modules) > 0 {
			e.syncs[strings.ToLower(w.UPN)] = &WorkerSync{Worker: w.UPN, Modules: w.Modules}
		}
		if !w.Has(config.Mail) {
			for _, a := range w.Accounts {
				e.accounts[accountKey(w.UPN, a.Address)] = &AccountStatus{Worker: w.UPN, WorkerName: w.DisplayName, Account: a.WithDefaults(),
					Dot: diagnose.Grey, Detail: "Modul Mail ist ausgeschaltet", LastSignIn: w.LastSignIn}
			}
			continue
		}
		for _, a := range w.Accounts {
			a = a.WithDefaults()
			key := accountKey(w.UPN, a.Address)
			e.accounts[key] = &AccountStatus{Worker: w.UPN, WorkerName: w.DisplayName, Account: a, Dot: diagnose.Grey,
				Detail: "noch nicht abgerufen", LastSignIn: w.LastSignIn}
			e.fetchers[key] = &mail.Worker{Source: e.mailSource(entByName[w.Entity], w, a), Name: a.Address,
				Logger: e.o.Logger, Interval: e.o.MailInterval, Report: e.fetchReport(entByName[w.Entity], w, key)}
		}
	}
	runners, fetchers := e.runners, e.fetchers
	e.mu.Unlock()
	for _, r := range runners {
		e.done.Add(1)
		go func() { defer e.done.Done(); _ = r.Run(ctx) }()
	}
	for _, f := range fetchers {
		e.done.Add(1)
		go func() { defer e.done.Done(); f.Run(ctx) }()
	}
	e.done.Add(1)
	go func() { defer e.done.Done(); e.watchWarnings(ctx) }()
	e.RefreshWarnings(ctx)
	return nil
}

// Stop ends all background work and waits for it; an export or fetch in
// progress is cut off, which their write-ahead order makes safe.
func (e *Engine) Stop() {
	e.life.Lock()
	defer e.life.Unlock()
	e.stop()
}

// Close stops the engine for good: a Restart that arrives later does nothing.
func (e *Engine) Close() {
	e.life.Lock()
	defer e.life.Unlock()
	e.closed = true
	e.stop()
}

func (e *Engine) stop() {
	e.mu.Lock()
	cancel := e.cancel
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	e.done.Wait()
}

// Restart applies a changed configuration.
func (e *Engine) Restart(ctx context.Context) error {
	e.life.Lock()
	defer e.life.Unlock()
	if e.closed || ctx.Err() != nil {
		return nil
	}
	e.stop()
	return e.start(ctx)
}

func (e *Engine) mailSource(ent config.Entity, w config.Worker, a config.MailAccount) mail.Source {
	if a.Transport == config.GraphMail {
		return &mail.GraphMail{Client: graph.New(ent.WithDefaults().GraphEndpoint, e.o.Auth.Graph(w.UPN), graph.Options{Logger: e.o.Logger}),
			Store: e.o.Store, Logger: e.o.Logger, Mailbox: a.Address}
	}
	pop, _ := mail.Endpoints(a, e.o.MailTLS)
	return &mail.POP3Source{Fetcher: &mail.Fetcher{Store: e.o.Store, Tokens: e.o.Auth.Outlook(w.UPN), Logger: e.o.Logger}, Account: pop}
}

func (e *Engine) fetchReport(ent config.Entity, w config.Worker, key string) func(mail.Result, error, time.Duration) {
	return func(res mail.Result, err error, next time.Duration) {
		now := e.o.Now()
		e.mu.Lock()
		a := e.accounts[key]
		if a == nil { // replaced by a restart
			e.mu.Unlock()
			return
		}
		a.NextFetch = now.Add(next)
		changed := false
		if err != nil {
			a.Dot, a.Detail = diagnose.Red, Explain(err, ent, w.UPN)
			sw, ok := diagnose.SignInWarning(err, w, ent)
			changed = e.setSignInLocked(w.UPN, sw, ok)
		} else {
			a.Dot, a.LastFetch = diagnose.Green, now
			a.Fetched += res.Fetched
			a.Detail = fmt.Sprintf("abgerufen: %d neue Nachrichten", res.Fetched)
			if res.Skipped > 0 {
				a.Dot = diagnose.Yellow
				a.Detail += fmt.Sprintf(", %d übersprungen (siehe Protokoll)", res.Skipped)
			}
			changed = e.setSignInLocked(w.UPN, diagnose.Warning{}, false)
		}
		e.mu.Unlock()
		if changed {
			e.RefreshWarnings(context.Background())
			return
		}
		e.publish()
	}
}

// setSignInLocked records or clears a worker's lost sign-in and reports
// whether that changed anything. e.mu is held.
func (e *Engine) setSignInLocked(upn string, w diagnose.Warning, lost bool) bool {
	key := strings.ToLower(upn)
	old, had := e.signIn[key]
	if !lost {
		delete(e.signIn, key)
		return had
	}
	e.signIn[key] = w
	return !had || old.Key != w.Key
}

func (e *Engine) progress(p export.Progress) {
	e.mu.Lock()
	s := e.syncs[strings.ToLower(p.Worker)]
	if s == nil {
		e.mu.Unlock()
		return
	}
	s.Running = !p.Done
	s.Summary = p.Summary
	if p.Completed != nil {
		s.Completed, s.Total = p.Completed, p.Total
	}
	if p.Done {
		s.LastRun, s.Result, s.Err = p.At, p.Result, ""
		interval := e.o.ExportInterval
		if interval <= 0 {
			interval = 2 * time.Minute
		}
		s.NextRun = p.At.Add(interval)
		if p.Err != nil {
			w, werr := e.o.Repo.Worker(context.Background(), p.Worker)
			var ent config.Entity
			if werr == nil {
				ent, _ = e.o.Repo.Entity(context.Background(), w.Entity)
			}
			s.Err = Explain(p.Err, ent, p.Worker)
			sw, ok := diagnose.SignInWarning(p.Err, w, ent)
			e.setSignInLocked(p.Worker, sw, ok)
		}
	}
	e.mu.Unlock()
	if p.Done {
		e.RefreshWarnings(context.Background())
		return
	}
	e.publish()
}

// Explain turns an error into German for a person: what happened and what
// to do.
func Explain(err error, ent config.Entity, upn string) string {
	var se *mail.SendError
	if errors.As(err, &se) {
		return se.Error() + " " + se.Advice()
	}
	return auth.Explain(err, auth.Context{Entity: ent, UPN: upn}).String()
}

func (e *Engine) watchWarnings(ctx context.Context) {
	t := time.NewTicker(e.o.WarningsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.RefreshWarnings(ctx)
		}
	}
}

// RefreshWarnings recomputes the expiry warnings, notifies new thresholds
// once, and publishes the status.
func (e *Engine) RefreshWarnings(ctx context.Context) {
	ents, err1 := e.o.Repo.Entities(ctx)
	workers, err2 := e.o.Repo.Workers(ctx)
	if err := errors.Join(err1, err2); err != nil {
		e.o.Logger.Warn("read configuration for warnings", "error", err.Error())
		return
	}
	now := e.o.Now()
	ws := diagnose.Warnings(now, ents, workers)
	e.mu.Lock()
	for _, sw := range e.signIn {
		ws = append(ws, sw)
	}
	e.warnings = ws
	e.mu.Unlock()
	if e.o.Notify != nil {
		if err := diagnose.NotifyOnce(ctx, e.o.Store, now, ws, e.o.Notify); err != nil {
			e.o.Logger.Warn("record notified warnings", "error", err.Error())
		}
	}
	e.publish()
}

// ReportSignInLost records a lost sign-in found outside the workers (by
// "Anbindung testen" or a test mail) and publishes it.
func (e *Engine) ReportSignInLost(ctx context.Context, err error, upn string) {
	w, werr := e.o.Repo.Worker(ctx, upn)
	if werr != nil {
		return
	}
	ent, _ := e.o.Repo.Entity(ctx, w.Entity)
	if sw, ok := diagnose.SignInWarning(err, w, ent); ok {
		e.mu.Lock()
		e.signIn[strings.ToLower(upn)] = sw
		e.mu.Unlock()
		e.RefreshWarnings(ctx)
	}
}

// Status returns the current state.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.statusLocked()
}

func (e *Engine) statusLocked() Status {
	st := Status{Warnings: slices.Clone(e.warnings)}
	for _, a := range e.accounts {
		st.Accounts = append(st.Accounts, *a)
	}
	slices.SortFunc(st.Accounts, func(a, b AccountStatus) int {
		return strings.Compare(a.Worker+a.Account.Mailbox+a.Account.Address, b.Worker+b.Account.Mailbox+b.Account.Address)
	})
	for _, s := range e.syncs {
		c := *s
		st.Sync = append(st.Sync, c)
	}
	slices.SortFunc(st.Sync, func(a, b WorkerSync) int { return strings.Compare(a.Worker, b.Worker) })
	st.State, st.Reason = summarize(st)
	return st
}

// summarize picks the tray picture and its reason: an error first, then a
// running export, then a warning.
func summarize(st Status) (State, string) {
	for _, w := range st.Warnings {
		if w.Status == diagnose.Red {
			return Error, w.Title + ": " + w.Text
		}
	}
	for _, s := range st.Sync {
		if s.Err != "" {
			return Error, "Abgleich für " + s.Worker + " fehlgeschlagen: " + s.Err
		}
	}
	for _, a := range st.Accounts {
		if a.Dot == diagnose.Red {
			return Error, "Mailkonto " + a.Account.Address + ": " + a.Detail
		}
	}
	for _, s := range st.Sync {
		if s.Running {
			return Syncing, "Abgleich läuft für " + s.Worker
		}
	}
	for _, w := range st.Warnings {
		return Warning, w.Title + ": " + w.Text
	}
	for _, a := range st.Accounts {
		if a.Dot == diagnose.Yellow {
			return Warning, "Mailkonto " + a.Account.Address + ": " + a.Detail
		}
	}
	return OK, "Alles in Ordnung"
}

func (e *Engine) publish() {
	e.mu.Lock()
	st := e.statusLocked()
	subs := slices.Clone(e.subs)
	e.mu.Unlock()
	for _, f := range subs {
		f(st)
	}
}

// SyncNow starts an export cycle for every entity and a fetch for every
// mail account at once.
func (e *Engine) SyncNow() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.runners {
		r.Trigger()
	}
	for _, f := range e.fetchers {
		f.FetchNow()
	}
}
