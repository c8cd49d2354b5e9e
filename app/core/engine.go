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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
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
	// WatchCache starts a cycle when the practice software commits to its
	// cache (export.Watch); off, only the interval and SyncNow start one.
	WatchCache bool
}

// Engine runs the background work.
type Engine struct {
	o Options

	// maxMessage is the local SMTP server's current size limit (settings).
	maxMessage atomic.Int64

	mu       sync.Mutex
	subs     []func(Status)
	accounts map[string]*AccountStatus // key: upn|address
	syncs    map[string]*WorkerSync
	warnings []diagnose.Warning
	// lost sign-ins seen by the workers, and workers whose last cycle held
	// deletions back: each warning made anew (in the language of the
	// moment) whenever the warnings are collected
	signIn map[string]func() diagnose.Warning
	held   map[string]func() diagnose.Warning
	// entities whose last cycle failed before or beside the workers (the
	// cache missing, a Sachbearbeiter not in the cache)
	trouble  map[string]func() diagnose.Warning
	runners  map[string]*runnerEntry
	fetchers map[string]*fetcherEntry
	pop3     *listenerEntry // the local POP3 and SMTP servers for the Kommunikator
	smtp     *listenerEntry
	outboxes map[string]*outboxEntry
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
	return &Engine{o: o, accounts: map[string]*AccountStatus{}, syncs: map[string]*WorkerSync{}, signIn: map[string]func() diagnose.Warning{}, held: map[string]func() diagnose.Warning{},
		trouble: map[string]func() diagnose.Warning{}, runners: map[string]*runnerEntry{}, fetchers: map[string]*fetcherEntry{}, outboxes: map[string]*outboxEntry{}}
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
	c, err := e.readConfig(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ctx.Err() != nil {
		return nil // stopped meanwhile
	}
	e.version, e.inactive, e.exportServer = c.version, !c.settings.InterfaceActive, c.settings.ExportServer
	e.o.Transfer.SetDebug(c.settings.TransferLogDebug)
	graphLog := slog.New(translog.Tee(e.o.Logger.Handler(), e.o.Transfer.Handler()))
	e.reconcileRunners(c, graphLog)
	e.reconcileFetchers(c, graphLog)
	e.reconcileServers(c)
	e.reconcileOutboxes(c)
	return nil
}

// configuration is what reconcile applies, read in one go.
type configuration struct {
	version      int64
	entities     map[string]config.Entity
	workers      []config.Worker
	settings     config.Settings
	installation string
}

func (e *Engine) readConfig(ctx context.Context) (configuration, error) {
	var c configuration
	var err error
	if c.version, err = e.o.Store.ConfigVersion(ctx); err != nil {
		return c, err
	}
	ents, err := e.o.Repo.Entities(ctx)
	if err != nil {
		return c, err
	}
	c.entities = map[string]config.Entity{}
	for _, ent := range ents {
		c.entities[ent.Name] = ent
	}
	if c.workers, err = e.o.Repo.Workers(ctx); err != nil {
		return c, err
	}
	if c.settings, err = e.o.Repo.Settings(ctx); err != nil {
		return c, err
	}
	c.installation, err = e.o.Store.InstallationID(ctx)
	return c, err
}

// reconcileRunners keeps one export runner per entity with a cache (none
// while an export server exports); a running one only gets a trigger, so a
// cycle in progress finishes as it began. e.mu is held.
func (e *Engine) reconcileRunners(c configuration, graphLog *slog.Logger) {
	for name, re := range e.runners {
		if ent, ok := c.entities[name]; !ok || ent.CachePath == "" || e.exportServer != "" {
			re.cancel()
			delete(e.runners, name)
			delete(e.trouble, name)
		}
	}
	for _, ent := range c.entities {
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
		r := &export.Runner{Entity: ent.Name, Repo: e.o.Repo, Store: e.o.Store, Installation: c.installation,
			Interval: e.o.ExportInterval, Logger: graphLog, OnProgress: e.progress, Tokens: tokens, MaxParallel: e.o.MaxParallel}
		r.OnTrouble = func(err error) { e.cycleTrouble(r.Entity, err) }
		r.Watch.Off = !e.o.WatchCache
		rctx, cancel := context.WithCancel(e.base)
		e.runners[ent.Name] = &runnerEntry{r: r, cancel: cancel}
		e.done.Add(1)
		go func() { defer e.done.Done(); _ = r.Run(rctx) }()
	}
	syncs := map[string]*WorkerSync{}
	for _, w := range c.workers {
		if len(w.Modules) == 0 {
			continue
		}
		key := strings.ToLower(w.UPN)
		s := e.syncs[key]
		if s == nil {
			s = &WorkerSync{Worker: w.UPN}
		}
		s.Modules = w.Modules
		syncs[key] = s
	}
	e.syncs = syncs
}

// reconcileFetchers keeps one mail fetcher per account whose worker has
// the Mail module; a fetcher whose account or entity changed is rebuilt,
// the others keep running and keep what they reported. e.mu is held.
func (e *Engine) reconcileFetchers(c configuration, graphLog *slog.Logger) {
	accounts := map[string]*AccountStatus{}
	wanted := map[string]bool{}
	for _, w := range c.workers {
		ent := c.entities[w.Entity]
		for _, a := range w.Accounts {
			k := accountKey(w.UPN, a.Address)
			st := &AccountStatus{Worker: w.UPN, WorkerName: w.DisplayName, Account: a, Dot: diagnose.Grey, LastSignIn: w.LastSignIn}
			accounts[k] = st
			switch {
			case !w.Has(config.Mail):
				st.tell(func() string { return text.T("Modul Mail ist ausgeschaltet") })
				continue
			case e.inactive:
				st.tell(func() string { return text.T("Schnittstelle nicht aktiv: es wird nichts abgerufen") })
				continue
			case e.o.AppPermissions:
				st.tell(func() string { return text.T("Mail ruft der Arbeitsplatz ab, nicht der Server") })
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
			st.tell(func() string { return text.T("noch nicht abgerufen") })
			tr := e.transport(ent, w)
			tr.GraphLogger = graphLog
			mw := &mail.Worker{Source: tr.Source(a), Name: a.Address,
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
	e.accounts = accounts
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
	e.runners, e.fetchers, e.pop3, e.smtp, e.outboxes = map[string]*runnerEntry{}, map[string]*fetcherEntry{}, nil, nil, map[string]*outboxEntry{}
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

// transport builds a worker's mail transports.
func (e *Engine) transport(ent config.Entity, w config.Worker) mail.Transport {
	return mail.Transport{Store: e.o.Store, Logger: e.o.Logger, TLS: e.o.MailTLS, GraphEndpoint: ent.GraphEndpoint,
		Graph: e.o.Auth.Graph(w.UPN), Outlook: e.o.Auth.Outlook(w.UPN)}
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
			e.pruneTaken(ctx)
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

// SyncNow starts an export cycle for every entity, a fetch for every mail
// account and a pass of every outbox at once.
func (e *Engine) SyncNow() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, re := range e.runners {
		re.r.Trigger()
	}
	for _, fe := range e.fetchers {
		fe.w.FetchNow()
	}
	for _, ob := range e.outboxes {
		ob.o.Kick()
	}
}
