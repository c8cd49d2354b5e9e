package handoff

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// DropError is a failure to write into a mail drop, in German; the
// messages stay in the store and are delivered at the next fetch.
type DropError struct {
	Dir string
	Err error
}

func (e *DropError) Error() string {
	if errors.Is(e.Err, syscall.ENOSPC) {
		return text.F("Der Ordner %s für die Mail-Ablage ist voll: es wird nichts abgelegt, die Nachrichten bleiben in kanzleisync und werden nach dem Aufräumen abgelegt.", e.Dir)
	}
	if errors.Is(e.Err, os.ErrPermission) {
		return text.F("In den Ordner %s für die Mail-Ablage darf dieser Benutzer nicht schreiben; die Nachrichten bleiben in kanzleisync.", e.Dir)
	}
	return text.F("In den Ordner %s für die Mail-Ablage kann nicht geschrieben werden (Einzelheiten im Protokoll); die Nachrichten bleiben in kanzleisync.", e.Dir)
}

func (e *DropError) Unwrap() error { return e.Err }

// DropPending delivers the account's messages that are not yet in its
// Maildir (dir/new), each written to tmp/, synced and then renamed, as the
// Maildir format asks; it returns how many it delivered.
func DropPending(ctx context.Context, st *store.Store, account, dir string, now time.Time) (int, error) {
	msgs, err := st.Undropped(ctx, account)
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return 0, &DropError{Dir: dir, Err: err}
		}
	}
	host, _ := os.Hostname()
	n := 0
	for _, m := range msgs {
		// one name per stored message: after a crash between the rename and
		// the mark, the file is found and not delivered twice
		name := fmt.Sprintf("%d.K%d.%s", m.Fetched.Unix(), m.ID, host)
		// delivered means in new/ or cur/ (a reader may have moved it and
		// added flags to its name); a file in tmp/ is a crash before the
		// rename and is written again
		found, _ := filepath.Glob(filepath.Join(dir, "new", name+"*"))
		inCur, _ := filepath.Glob(filepath.Join(dir, "cur", name+"*"))
		if len(found)+len(inCur) > 0 {
			if err := st.MarkDropped(ctx, m.ID, now); err != nil {
				return n, err
			}
			continue
		}
		_ = os.Remove(filepath.Join(dir, "tmp", name)) // a half-written one from a crash
		if err := writeSynced(filepath.Join(dir, "tmp", name), m.Raw); err != nil {
			return n, &DropError{Dir: dir, Err: err}
		}
		if err := os.Rename(filepath.Join(dir, "tmp", name), filepath.Join(dir, "new", name)); err != nil {
			return n, &DropError{Dir: dir, Err: err}
		}
		if d, err := os.Open(filepath.Join(dir, "new")); err == nil {
			_ = d.Sync()
			d.Close()
		}
		if err := st.MarkDropped(ctx, m.ID, now); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
