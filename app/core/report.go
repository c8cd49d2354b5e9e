package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/export"
	"kanzleisync/app/handoff"
	"kanzleisync/app/mail"
	"kanzleisync/app/text"
)

// How the workers' reports become the status: export progress, fetch
// results, lost sign-ins, held deletions and expiry warnings. Every change
// is published to the subscribers (the tray, serve).

func (e *Engine) fetchReport(ent config.Entity, w config.Worker, key string) func(mail.Result, error, time.Duration) {
	return func(res mail.Result, err error, next time.Duration) {
		now := e.o.Now()
		_, address, _ := strings.Cut(key, "|")
		var dropErr error
		for _, acc := range w.Accounts {
			if strings.EqualFold(acc.Address, address) && acc.DropDir != "" && err == nil {
				// the mail drop gets every fetched message too
				_, dropErr = handoff.DropPending(e.ctx(), e.o.Store, acc.Address, acc.DropDir, now)
			}
		}
		waiting, werr := e.o.Store.WaitingCount(e.ctx(), address)
		aside, aerr := e.o.Store.AsideCount(e.ctx(), address, now)
		e.mu.Lock()
		a := e.accounts[key]
		if a == nil { // replaced by a restart
			e.mu.Unlock()
			return
		}
		a.NextFetch = now.Add(next)
		changed := false
		service, target, _, _ := e.transport(ent, w).Targets(a.Account)
		e.o.Transfer.Connection(service, a.Account.Address, target, err)
		if err == nil && res.Fetched+res.Skipped > 0 {
			e.o.Transfer.Line("ABRUF", a.Account.Address, fmt.Sprintf("%d abgerufen, %d nach der Übergabe an den Kommunikator vom Server gelöscht, %d übersprungen", res.Fetched, res.Deleted, res.Skipped))
		}
		if werr == nil {
			a.Waiting = waiting
		}
		if aerr == nil {
			a.Aside = aside
		}
		if errors.Is(err, mail.ErrInUse) {
			a.Dot = diagnose.Yellow
			next := a.NextFetch
			a.tell(func() string {
				return text.F("Das Postfach war belegt: ein anderes Programm ruft es gerade per POP3 ab. Nächster Versuch um %s.", next.Local().Format("15:04:05"))
			})
		} else if err != nil {
			a.Dot = diagnose.Red
			a.tell(func() string { return Explain(err, ent, w.UPN) })
			sw, ok := signInWarning(err, w, ent)
			changed = e.setSignInLocked(w.UPN, sw, ok)
		} else {
			a.Dot, a.LastFetch = diagnose.Green, now
			a.Fetched += res.Fetched
			fetched, skipped := res.Fetched, res.Skipped
			a.tell(func() string {
				s := text.F("abgerufen: %s", text.N(fetched, "neue Nachricht", "neue Nachrichten"))
				if skipped > 0 {
					s += text.F(", %d übersprungen (siehe Protokoll)", skipped)
				}
				return s
			})
			if res.Skipped > 0 {
				a.Dot = diagnose.Yellow
			}
			changed = e.setSignInLocked(w.UPN, nil, false)
			if dropErr != nil {
				a.Dot = diagnose.Yellow
				a.tell(func() string { return Explain(dropErr, ent, w.UPN) })
			}
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
func (e *Engine) setSignInLocked(upn string, w func() diagnose.Warning, lost bool) bool {
	key := strings.ToLower(upn)
	old, had := e.signIn[key]
	if !lost {
		delete(e.signIn, key)
		return had
	}
	e.signIn[key] = w
	return !had || old().Key != w().Key
}

// signInWarning is the warning of a lost sign-in, made anew each time.
func signInWarning(err error, w config.Worker, ent config.Entity) (func() diagnose.Warning, bool) {
	_, lost := diagnose.SignInWarning(err, w, ent)
	return func() diagnose.Warning { sw, _ := diagnose.SignInWarning(err, w, ent); return sw }, lost
}

func (e *Engine) progress(p export.Progress) {
	// what explaining a failure needs is read before the lock, under the
	// engine's own context
	var w config.Worker
	var ent config.Entity
	if p.Done && p.Err != nil {
		ctx := e.ctx()
		var werr error
		if w, werr = e.o.Repo.Worker(ctx, p.Worker); werr == nil {
			ent, _ = e.o.Repo.Entity(ctx, w.Entity)
		}
	}
	e.mu.Lock()
	s := e.syncs[strings.ToLower(p.Worker)]
	if s == nil {
		e.mu.Unlock()
		return
	}
	if !p.Done && !s.Running {
		s.Started = e.o.Now()
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
			result = text.F("Fehler: %s", p.Err.Error())
		}
		e.o.Transfer.Line("ABGLEICH", p.Worker, p.Summary, result)
		s.LastRun, s.Result, s.Err, s.explain = p.At, p.Result, "", nil
		interval := e.o.ExportInterval
		if interval <= 0 {
			interval = 2 * time.Minute
		}
		s.NextRun = p.At.Add(interval)
		if p.Err != nil {
			perr, worker := p.Err, p.Worker
			s.explain = func() string { return Explain(perr, ent, worker) }
			s.Err = s.explain()
			sw, ok := signInWarning(p.Err, w, ent)
			e.setSignInLocked(p.Worker, sw, ok)
		}
		var held *export.HeldError
		if errors.As(p.Err, &held) {
			// red until released, notified once per episode
			worker := p.Worker
			e.held[strings.ToLower(worker)] = func() diagnose.Warning {
				return diagnose.Warning{Key: fmt.Sprintf("held/%s/%d", strings.ToLower(worker), held.Since.Unix()),
					Status: diagnose.Red, Title: text.T("Löschungen zurückgehalten"),
					Text: text.F("%s: %d Einträge werden in Microsoft 365 nicht gelöscht. %s Prüfen und freigeben: „Synchronisation“.", worker, held.Count, held.Why())}
			}
		} else {
			delete(e.held, strings.ToLower(p.Worker))
		}
	}
	e.mu.Unlock()
	if p.Done {
		e.RefreshWarnings(e.ctx())
		return
	}
	e.publish()
}

// ctx is the engine's running context (Background before Start).
func (e *Engine) ctx() context.Context {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.base == nil {
		return context.Background()
	}
	return e.base
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
	for _, ent := range ents {
		if e.o.Auth == nil {
			break
		}
		if c, err := e.o.Auth.Certificate(ent.Name); err == nil {
			ws = append(ws, diagnose.CertificateWarnings(now, ent.Name, c.Cert.NotAfter)...)
		}
	}
	e.mu.Lock()
	for _, sw := range e.signIn {
		ws = append(ws, sw())
	}
	for _, hw := range e.held {
		ws = append(ws, hw())
	}
	for _, tw := range e.trouble {
		ws = append(ws, tw())
	}
	if e.inactive && len(ents) > 0 {
		ws = append(ws, diagnose.Warning{Key: "inactive", Status: diagnose.Yellow, Title: text.T("Schnittstelle nicht aktiv"), Text: export.ErrInactive.Error()})
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

// cycleTrouble records what an entity's cycle could not tell through its
// workers (nil: the cycle had none) as a red warning until a cycle runs
// without it; a new or different trouble is a new warning (notified once).
func (e *Engine) cycleTrouble(entity string, err error) {
	e.mu.Lock()
	_, had := e.trouble[entity]
	if err == nil {
		delete(e.trouble, entity)
		e.mu.Unlock()
		if had {
			e.RefreshWarnings(e.ctx())
		}
		return
	}
	ctx := e.base
	e.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	ent, _ := e.o.Repo.Entity(ctx, entity)
	sum := sha256.Sum256([]byte(err.Error()))
	key := fmt.Sprintf("trouble/%s/%x", entity, sum[:8])
	e.mu.Lock()
	old, had := e.trouble[entity]
	e.trouble[entity] = func() diagnose.Warning {
		return diagnose.Warning{Key: key, Status: diagnose.Red, Title: text.T("Synchronisation angehalten"),
			Text: entity + ": " + Explain(err, ent, "")}
	}
	e.mu.Unlock()
	if !had || old().Key != key {
		e.RefreshWarnings(ctx)
	}
}

// ReportSignInLost records a lost sign-in found outside the workers (by
// "Anbindung testen" or a test mail) and publishes it.
func (e *Engine) ReportSignInLost(ctx context.Context, err error, upn string) {
	w, werr := e.o.Repo.Worker(ctx, upn)
	if werr != nil {
		return
	}
	ent, _ := e.o.Repo.Entity(ctx, w.Entity)
	if sw, ok := signInWarning(err, w, ent); ok {
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
		c := *a
		if c.say != nil {
			c.Detail = c.say()
		}
		st.Accounts = append(st.Accounts, c)
	}
	slices.SortFunc(st.Accounts, func(a, b AccountStatus) int {
		return strings.Compare(a.Worker+a.Account.Mailbox+a.Account.Address, b.Worker+b.Account.Mailbox+b.Account.Address)
	})
	for _, s := range e.syncs {
		c := *s
		if c.explain != nil {
			c.Err = c.explain()
		}
		st.Sync = append(st.Sync, c)
	}
	slices.SortFunc(st.Sync, func(a, b WorkerSync) int { return strings.Compare(a.Worker, b.Worker) })
	if e.exportServer != "" {
		e.serverStatusLocked(&st)
	}
	e.localStatusLocked(&st)
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
