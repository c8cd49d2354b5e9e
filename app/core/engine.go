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
	"net"
	"slices"
	"strconv"
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
	"kanzleisync/app/translog"
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
	// ConfigPoll: how often the configuration is checked for changes made
	// by another process (default 2 s).
	ConfigPoll time.Duration
	// Notify is called once per warning threshold and installation.
	Notify func(diagnose.Warning)
	// Transfer is the transfer log for IT (nil: none).
	Transfer *translog.Log
	// MaxParallel caps the mailboxes exported at once (0: no cap).
	MaxParallel int
	// ServerPoll: how often the export server's state is read when the
	// settings name one (default 15 s).
	ServerPoll time.Duration
	// AppPermissions is the server mode: every mailbox is exported with
	// the entity's application permissions (/users/{upn}/…, no sign-in of
	// the Sachbearbeiter), and no mail is fetched (the workstations do).
	AppPermissions bool
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
	held     map[string]diagnose.Warning // workers whose last cycle held deletions back
	runners  map[string]*runnerEntry
	fetchers map[string]*fetcherEntry
	inactive bool // the firm's "Schnittstelle aktiv" is off
	// exportServer: a `kanzleisync serve` exports; server is its last answer.
	exportServer string
	server       *Health
	serverErr    error
	maxParallel  int
	version      int64 // configuration version last applied
	base         context.Context
	cancel       context.CancelFunc
	done         sync.WaitGroup
	// life orders Start, Stop, Reload and Close; closed refuses a Reload
	// that comes in after Close.
	life   sync.Mutex
	closed bool
}

type runnerEntry struct {
	r      *export.Runner
	cancel context.CancelFunc
}

type fetcherEntry struct {
	w      *mail.Worker
	cancel context.CancelFunc
	fp     string // what the fetcher was built from; a change rebuilds it
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
	if o.ConfigPoll <= 0 {
		o.ConfigPoll = 2 * time.Second
	}
	return &Engine{o: o, accounts: map[string]*AccountStatus{}, syncs: map[string]*WorkerSync{}, signIn: map[string]diagnose.Warning{}, held: map[string]diagnose.Warning{},
		runners: map[string]*runnerEntry{}, fetchers: map[string]*fetcherEntry{}}
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

// Start reads the configuration, starts one export runner per entity and
// one fetcher per mail account, and then follows configuration changes
// made by any process within ConfigPoll.
func (e *Engine) Start(ctx context.Context) error {
	e.life.Lock()
	defer e.life.Unlock()
	if e.closed {
		return errors.New("core: engine closed")
	}
	return e.start(ctx)
}

func (e *Engine) start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	e.mu.Lock()
	e.base, e.cancel = ctx, cancel
	e.mu.Unlock()
	if err := e.reconcile(ctx); err != nil {
		cancel()
		return err
	}
	e.done.Add(1)
	go func() { defer e.done.Done(); e.watch(ctx) }()
	e.RefreshWarnings(ctx)
	return nil
}

// reconcile brings the running work in line with the configuration. A
// runner whose entity stays is only triggered: its next cycle reads the
// new configuration, and a cycle in progress finishes as it began. A
// fetcher whose account changed or went away is stopped (a fetch cut off is
// safe: messages are stored before they are deleted) and a new one started.
func (e *Engine) reconcile(ctx context.Context) error {
	version, err := e.o.Store.ConfigVersion(ctx)
	if err != nil {
		return err
	}
	ents, err := e.o.Repo.Entities(ctx)
	if err != nil {
		return err
	}
	workers, err := e.o.Repo.Workers(ctx)
	if err != nil {
		return err
	}
	settings, err := e.o.Repo.Settings(ctx)
	if err != nil {
		return err
	}
	installation, err := e.o.Store.InstallationID(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ctx.Err() != nil {
		return nil // stopped meanwhile
	}
	e.version, e.inactive = version, !settings.InterfaceActive
	e.o.Transfer.SetDebug(settings.TransferLogDebug)
	graphLog := slog.New(translog.Tee(e.o.Logger.Handler(), e.o.Transfer.Handler()))
	entByName := map[string]config.Entity{}
	for _, ent := range ents {
		entByName[ent.Name] = ent
	}
	e.exportServer = settings.ExportServer
	for name, re := range e.runners {
		if ent, ok := entByName[name]; !ok || ent.CachePath == "" || e.exportServer != "" {
			re.cancel()
			delete(e.runners, name)
		}
	}
	for _, ent := range ents {
		if ent.CachePath == "" || e.exportServer != "" {
			continue
		}
		if re, ok := e.runners[ent.Name]; ok {
			re.r.Trigger()
			continue
		}
		tokens := func(upn string) graph.TokenSource { return e.o.Auth.Graph(upn) }
		if e.o.AppPermissions {
			name := ent.Name
			tokens = func(string) graph.TokenSource { return e.o.Auth.App(name) }
		}
		r := &export.Runner{Entity: ent.Name, Repo: e.o.Repo, Store: e.o.Store, Installation: installation,
			Interval: e.o.ExportInterval, Logger: graphLog, OnProgress: e.progress, Tokens: tokens, MaxParallel: e.o.MaxParallel}
		rctx, cancel := context.WithCancel(e.base)
		e.runners[ent.Name] = &runnerEntry{r: r, cancel: cancel}
		e.done.Add(1)
		go func() { defer e.done.Done(); _ = r.Run(rctx) }()
	}

	syncs := map[string]*WorkerSync{}
	accounts := map[string]*AccountStatus{}
	wanted := map[string]bool{}
	for _, w := range workers {
		key := strings.ToLower(w.UPN)
		if len(w.Modules) > 0 {
			s := e.syncs[key]
			if s == nil {
				s = &WorkerSync{Worker: w.UPN}
			}
			s.Modules = w.Modules
			syncs[key] = s
		}
		ent := entByName[w.Entity]
		for _, a := range w.Accounts {
			a = a.WithDefaults()
			k := accountKey(w.UPN, a.Address)
			st := &AccountStatus{Worker: w.UPN, WorkerName: w.DisplayName, Account: a, Dot: diagnose.Grey, LastSignIn: w.LastSignIn}
			accounts[k] = st
			switch {
			case !w.Has(config.Mail):
				st.Detail = "Modul Mail ist ausgeschaltet"
				continue
			case e.inactive:
				st.Detail = "Schnittstelle nicht aktiv: es wird nichts abgerufen"
				continue
			case e.o.AppPermissions:
				st.Detail = "Mail ruft der Arbeitsplatz ab, nicht der Server"
				continue
			}
			wanted[k] = true
			fp := fmt.Sprintf("%+v|%s|%s", a, ent.GraphEndpoint, w.Entity)
			if fe, ok := e.fetchers[k]; ok && fe.fp == fp {
				if old := e.accounts[k]; old != nil {
					*st = *old // keep what the running fetcher reported
					st.WorkerName, st.LastSignIn = w.DisplayName, w.LastSignIn
				}
				continue
			}
			if fe, ok := e.fetchers[k]; ok {
				fe.cancel()
			}
			st.Detail = "noch nicht abgerufen"
			mw := &mail.Worker{Source: e.mailSource(ent, w, a, graphLog), Name: a.Address,
				Logger: e.o.Logger, Interval: e.o.MailInterval, Report: e.fetchReport(ent, w, k)}
			fctx, cancel := context.WithCancel(e.base)
			e.fetchers[k] = &fetcherEntry{w: mw, cancel: cancel, fp: fp}
			e.done.Add(1)
			go func() { defer e.done.Done(); mw.Run(fctx) }()
		}
	}
	for k, fe := range e.fetchers {
		if !wanted[k] {
			fe.cancel()
			delete(e.fetchers, k)
		}
	}
	e.syncs, e.accounts = syncs, accounts
	return nil
}

// Stop ends all background work and waits for it; an export or fetch in
// progress is cut off, which their write-ahead order makes safe.
func (e *Engine) Stop() {
	e.life.Lock()
	defer e.life.Unlock()
	e.stop()
}

// Close stops the engine for good: a Reload that arrives later does nothing.
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
	e.mu.Lock()
	e.runners, e.fetchers = map[string]*runnerEntry{}, map[string]*fetcherEntry{}
	e.mu.Unlock()
}

// Reload applies a changed configuration at once (the engine also finds it
// by itself within ConfigPoll).
func (e *Engine) Reload(ctx context.Context) error {
	e.life.Lock()
	defer e.life.Unlock()
	e.mu.Lock()
	base := e.base
	e.mu.Unlock()
	if e.closed || base == nil || base.Err() != nil || ctx.Err() != nil {
		return nil
	}
	if err := e.reconcile(base); err != nil {
		return err
	}
	e.RefreshWarnings(ctx)
	return nil
}

func (e *Engine) mailSource(ent config.Entity, w config.Worker, a config.MailAccount, graphLog *slog.Logger) mail.Source {
	if a.Transport == config.GraphMail {
		return &mail.GraphMail{Client: graph.New(ent.WithDefaults().GraphEndpoint, e.o.Auth.Graph(w.UPN), graph.Options{Logger: graphLog}),
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
		service, target := "POP3", net.JoinHostPort(a.Account.POP3Host, strconv.Itoa(a.Account.POP3Port))
		if a.Account.Transport == config.GraphMail {
			service, target = "Graph-Mail", ent.WithDefaults().GraphEndpoint
		}
		e.o.Transfer.Connection(service, a.Account.Address, target, err)
		if err == nil && res.Fetched+res.Skipped > 0 {
			e.o.Transfer.Line("ABRUF", a.Account.Address, fmt.Sprintf("%d abgerufen, %d vom Server gelöscht, %d übersprungen", res.Fetched, res.Deleted, res.Skipped))
		}
		if errors.Is(err, mail.ErrInUse) {
			a.Dot = diagnose.Yellow
			a.Detail = "Das Postfach war belegt: ein anderes Programm ruft es gerade per POP3 ab. Nächster Versuch um " + a.NextFetch.Local().Format("15:04:05") + "."
		} else if err != nil {
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
	running := 0
	for _, x := range e.syncs {
		if x.Running {
			running++
		}
	}
	e.maxParallel = max(e.maxParallel, running)
	if p.Completed != nil {
		s.Completed, s.Total = p.Completed, p.Total
	}
	if p.Done {
		result := "ok"
		if p.Err != nil {
			result = "Fehler: " + p.Err.Error()
		}
		e.o.Transfer.Line("ABGLEICH", p.Worker, p.Summary, result)
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
		var held *export.HeldError
		if errors.As(p.Err, &held) {
			// red until released, notified once per episode
			e.held[strings.ToLower(p.Worker)] = diagnose.Warning{Key: fmt.Sprintf("held/%s/%d", strings.ToLower(p.Worker), held.Since.Unix()),
				Status: diagnose.Red, Title: "Löschungen zurückgehalten",
				Text: fmt.Sprintf("%s: %d Einträge werden in Microsoft 365 nicht gelöscht. %s Prüfen und freigeben: „Synchronisation“.", p.Worker, held.Count, held.Reason)}
		} else {
			delete(e.held, strings.ToLower(p.Worker))
		}
	}
	e.mu.Unlock()
	if p.Done {
		e.RefreshWarnings(context.Background())
		return
	}
	e.publish()
}

// watch recomputes the warnings every WarningsEvery and applies
// configuration changes of other processes within ConfigPoll.
func (e *Engine) watch(ctx context.Context) {
	warn := time.NewTicker(e.o.WarningsEvery)
	defer warn.Stop()
	poll := time.NewTicker(e.o.ConfigPoll)
	defer poll.Stop()
	srv := time.NewTicker(e.serverPoll())
	defer srv.Stop()
	e.pollServer(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-srv.C:
			e.pollServer(ctx)
		case <-warn.C:
			e.RefreshWarnings(ctx)
		case <-poll.C:
			v, err := e.o.Store.ConfigVersion(ctx)
			e.mu.Lock()
			changed := err == nil && v != e.version
			e.mu.Unlock()
			if changed {
				if err := e.reconcile(ctx); err != nil && ctx.Err() == nil {
					e.o.Logger.Warn("apply configuration change", "error", err.Error())
					continue
				}
				e.pollServer(ctx)
				e.RefreshWarnings(ctx)
			}
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
	for _, hw := range e.held {
		ws = append(ws, hw)
	}
	if e.inactive && len(ents) > 0 {
		ws = append(ws, diagnose.Warning{Key: "inactive", Status: diagnose.Yellow, Title: "Schnittstelle nicht aktiv", Text: export.ErrInactive.Error()})
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
	st := Status{Warnings: slices.Clone(e.warnings), MaxParallel: e.maxParallel}
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
	if e.exportServer != "" {
		e.serverStatusLocked(&st)
	}
	st.State, st.Reason = summarize(st)
	return st
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
	for _, re := range e.runners {
		re.r.Trigger()
	}
	for _, fe := range e.fetchers {
		fe.w.FetchNow()
	}
}
