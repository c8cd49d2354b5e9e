package export

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"kanzleisync/app/text"
)

// Only one exporter at a time writes into a mailbox, across processes (the
// tray, `sync --once`, `serve` on the same state database): two at once
// both create what neither has confirmed yet, and the mailbox holds items
// twice until a full check repairs it. The lock is a lease in the state DB
// (like serve's), renewed while the cycle runs and given up at its end; a
// process killed mid-cycle leaves it to expire after mailboxLockTTL.
const mailboxLockTTL = 15 * time.Second

// mailboxLockWait is how long a cycle waits for a mailbox another exporter
// holds before it leaves it out: long enough for a killed holder's lock to
// expire (a serve that takes over from a crashed one exports at once).
const mailboxLockWait = mailboxLockTTL + 5*time.Second

var (
	processHolder = func() string {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
	}()
	lockSeq atomic.Int64
)

// MailboxBusyError: another exporter holds the mailbox. The message is
// German: it is shown as it is.
type MailboxBusyError struct {
	UPN, Holder string
}

func (e *MailboxBusyError) Error() string {
	parts := strings.Split(e.Holder, "/")
	if len(parts) >= 2 && strings.HasPrefix(e.Holder, processHolder+"/") {
		return text.F("Das Postfach %s wird in diesem Programm gerade schon synchronisiert; dieser Durchlauf lässt es aus, der nächste nimmt es wieder mit.", e.UPN)
	}
	host, pid := parts[0], ""
	if len(parts) >= 2 {
		pid = parts[1]
	}
	return text.F("Das Postfach %s wird gerade von einem anderen kanzleisync synchronisiert (Rechner %s, Prozess %s): zwei gleichzeitig würden Einträge doppelt anlegen. Nach %d Sekunden Warten lässt dieser Durchlauf es aus; der nächste nimmt es mit, sobald der andere fertig ist.", e.UPN, host, pid, int(mailboxLockWait.Seconds()))
}

// lockMailbox takes the mailbox's lock for this cycle, waiting up to
// mailboxLockWait while another exporter holds it. The returned context
// ends when the lock is lost (it could not be renewed in time); release
// gives it up.
func (r *Runner) lockMailbox(ctx context.Context, upn string) (context.Context, func(), error) {
	name := "export:" + strings.ToLower(upn)
	holder := fmt.Sprintf("%s/%d", processHolder, lockSeq.Add(1))
	deadline := time.Now().Add(mailboxLockWait)
	ok, err := r.Store.AcquireLease(ctx, name, holder, time.Now(), mailboxLockTTL)
	for err == nil && !ok && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		ok, err = r.Store.AcquireLease(ctx, name, holder, time.Now(), mailboxLockTTL)
	}
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		other, _, err := r.Store.Lease(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, &MailboxBusyError{UPN: upn, Holder: other}
	}
	lctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(mailboxLockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-lctx.Done():
				return
			case <-t.C:
				ok, err := r.Store.AcquireLease(lctx, name, holder, time.Now(), mailboxLockTTL)
				if err == nil && !ok {
					cancel(fmt.Errorf("export %s: the mailbox lock was lost", upn))
					return
				}
			}
		}
	}()
	release := func() {
		close(done)
		cancel(nil)
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		_ = r.Store.ReleaseLease(rctx, name, holder)
	}
	return lctx, release, nil
}
