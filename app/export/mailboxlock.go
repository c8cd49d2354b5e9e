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
const mailboxLockTTL = 30 * time.Second

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
	return text.F("Das Postfach %s wird gerade von einem anderen kanzleisync synchronisiert (Rechner %s, Prozess %s): zwei gleichzeitig würden Einträge doppelt anlegen. Dieser Durchlauf lässt es aus; der nächste nimmt es mit, sobald der andere fertig ist (ist jener abgestürzt, nach spätestens %d Sekunden).", e.UPN, host, pid, int(mailboxLockTTL.Seconds()))
}

// lockMailbox takes the mailbox's lock for this cycle. The returned context
// ends when the lock is lost (it could not be renewed in time); release
// gives it up.
func (r *Runner) lockMailbox(ctx context.Context, upn string) (context.Context, func(), error) {
	name := "export:" + strings.ToLower(upn)
	holder := fmt.Sprintf("%s/%d", processHolder, lockSeq.Add(1))
	ok, err := r.Store.AcquireLease(ctx, name, holder, time.Now(), mailboxLockTTL)
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
