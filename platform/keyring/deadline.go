package keyring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Timeout is how long one call into the OS keyring may take. A Secret
// Service that never answers (a D-Bus session without a keyring daemon, a
// hung gnome-keyring) would otherwise hold a sign-in, a cycle or the
// command line for minutes. An unlock dialog of the keyring that takes
// longer makes the call fail; the dialog stays, and once it is answered
// the next call works.
var Timeout = 5 * time.Second

var (
	// ErrNoAnswer: the keyring did not answer within Timeout, or an
	// earlier call that did not has still not ended (both ErrUnavailable).
	ErrNoAnswer  = errors.New("the keyring did not answer in time")
	errStillOpen = fmt.Errorf("%w: an earlier call into the keyring has not answered yet", ErrNoAnswer)
)

// deadline gives every call of its backend Timeout. A call that has not
// answered keeps running in the background (the OS call cannot be
// cancelled); until it ends, further calls fail at once instead of piling
// up behind it.
type deadline struct {
	b       Backend
	pending *atomic.Int32 // calls that passed their deadline and still run
}

// hanging counts the OS keyring's calls past their deadline, for every Store.
var hanging atomic.Int32

func withDeadline(b Backend, pending *atomic.Int32) Backend { return deadline{b: b, pending: pending} }

func (d deadline) Set(s, u, p string) error {
	_, err := call(d.pending, func() (string, error) { return "", d.b.Set(s, u, p) })
	return err
}

func (d deadline) Get(s, u string) (string, error) {
	return call(d.pending, func() (string, error) { return d.b.Get(s, u) })
}

func (d deadline) Delete(s, u string) error {
	_, err := call(d.pending, func() (string, error) { return "", d.b.Delete(s, u) })
	return err
}

func call(pending *atomic.Int32, f func() (string, error)) (string, error) {
	if pending.Load() > 0 {
		return "", errStillOpen
	}
	type result struct {
		v   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-timer.C:
		pending.Add(1)
		go func() { <-done; pending.Add(-1) }()
		return "", fmt.Errorf("%w (%s)", ErrNoAnswer, Timeout)
	}
}
