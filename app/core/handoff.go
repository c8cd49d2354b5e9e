package core

import (
	"context"
	"fmt"
	"strings"

	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/handoff"
)

// The local POP3 server for the Kommunikator: one listener for all of
// this user's accounts with the Mail module, restarted when its address
// changes. (Not in server mode: the workstations hand the mail over.)

type pop3Entry struct {
	want   string // as configured (a port of 0: any free one)
	addr   string // where it listens
	cancel context.CancelFunc
	err    error // the address could not be bound
}

// reconcilePOP3 starts, moves or stops the local POP3 server. e.mu is held.
func (e *Engine) reconcilePOP3(c configuration) {
	want := c.settings.LocalPOP3Addr()
	if e.o.AppPermissions || e.inactive {
		want = ""
	}
	if e.pop3 != nil && e.pop3.want == want && e.pop3.err == nil {
		return
	}
	if e.pop3 != nil && e.pop3.cancel != nil {
		e.pop3.cancel()
	}
	e.pop3 = nil
	if want == "" {
		return
	}
	srv := &handoff.POP3Server{Store: e.o.Store, Passwords: e.localPassword, Logger: e.o.Logger, Now: e.o.Now, OnTaken: e.onTaken}
	ln, err := srv.Listen(want)
	if err != nil {
		e.o.Logger.Warn("local pop3", "addr", want, "error", err.Error())
		e.pop3 = &pop3Entry{want: want, addr: want, err: err}
		return
	}
	ctx, cancel := context.WithCancel(e.base)
	e.pop3 = &pop3Entry{want: want, addr: ln.Addr().String(), cancel: cancel}
	e.done.Add(1)
	go func() {
		defer e.done.Done()
		if err := srv.Serve(ctx, ln); err != nil {
			e.o.Logger.Warn("local pop3 stopped", "error", err.Error())
		}
	}()
}

// localPassword is the password of a configured account with the Mail
// module; any other address has none.
func (e *Engine) localPassword(address string) (string, bool) {
	workers, err := e.o.Repo.Workers(e.ctx())
	if err != nil {
		return "", false
	}
	for _, w := range workers {
		if !w.Has(config.Mail) {
			continue
		}
		for _, a := range w.Accounts {
			if strings.EqualFold(a.Address, address) {
				pw, err := e.o.Auth.LocalPassword(a.Address)
				return pw, err == nil
			}
		}
	}
	return "", false
}

// LocalPassword is what the Kommunikator enters for an account.
func (e *Engine) LocalPassword(address string) (string, error) {
	return e.o.Auth.LocalPassword(address)
}

// onTaken: the Kommunikator has messages; a fetch now deletes them upstream.
func (e *Engine) onTaken(address string, n int) {
	e.o.Transfer.Line("ÜBERGABE", address, fmt.Sprintf("%d Nachricht(en) an den Kommunikator übergeben", n))
	e.mu.Lock()
	for k, fe := range e.fetchers {
		if _, a, _ := strings.Cut(k, "|"); strings.EqualFold(a, address) {
			fe.w.FetchNow()
		}
	}
	e.mu.Unlock()
}

// pop3StatusLocked shows the local server's address, or why it is missing.
func (e *Engine) pop3StatusLocked(st *Status) {
	if e.pop3 == nil {
		return
	}
	if e.pop3.err != nil {
		st.Warnings = append(st.Warnings, diagnose.Warning{Key: "local-pop3/" + e.pop3.addr, Status: diagnose.Red,
			Title: "Kommunikator kann keine Mail abrufen", Text: Explain(e.pop3.err, config.Entity{}, "")})
		return
	}
	st.LocalPOP3 = e.pop3.addr
}
