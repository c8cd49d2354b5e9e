package export

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch says how a Runner notices that the practice software committed to
// its cache, so that a Termin entered is in Outlook within seconds instead
// of at the next interval.
type Watch struct {
	// Off: only the interval (and Trigger) start cycles.
	Off bool
	// NoNotify leaves out the file system's notifications (tests: a network
	// share, where they do not arrive); the look at size and time remains.
	NoNotify bool
	// Quiet is how long the cache must stay unchanged before the cycle
	// starts (default 250 ms): a burst of writes is one cycle.
	Quiet time.Duration
	// MaxDelay bounds the wait of a burst that does not end (default 1 s).
	MaxDelay time.Duration
	// Poll is how often the size and time of the cache's files are looked
	// at, for file systems without notifications (default 5 s; negative:
	// never).
	Poll time.Duration
}

func (w Watch) withDefaults() Watch {
	if w.Quiet <= 0 {
		w.Quiet = 250 * time.Millisecond
	}
	if w.MaxDelay <= 0 {
		w.MaxDelay = time.Second
	}
	if w.Poll == 0 {
		w.Poll = 5 * time.Second
	}
	return w
}

// cacheFiles are the files a commit changes: the database and, in WAL or
// rollback-journal mode, its journal. The shared-memory index (-shm) is
// left out: readers — this program among them — write to it.
func cacheFiles(path string) []string {
	return []string{path, path + "-wal", path + "-journal"}
}

// signature is the size and modification time of the cache's files; a
// notification that does not change it (a reader touching a file) starts
// nothing.
type signature [3]struct {
	size int64
	mod  time.Time
}

func signatureOf(path string) signature {
	var s signature
	for i, f := range cacheFiles(path) {
		if fi, err := os.Stat(f); err == nil {
			s[i].size, s[i].mod = fi.Size(), fi.ModTime()
		}
	}
	return s
}

// watch triggers a cycle after each change of the cache until ctx ends.
// The cache's path is read from the entity at start and every sixth poll
// (30 s), so a path changed in the settings is followed.
func (r *Runner) watch(ctx context.Context) {
	w := r.Watch.withDefaults()
	if w.Off {
		return
	}
	var watcher *fsnotify.Watcher
	if !w.NoNotify {
		if nw, err := fsnotify.NewWatcher(); err == nil {
			watcher = nw
			defer nw.Close()
		} else {
			r.Logger.Warn("cache watch: no file notifications, looking every few seconds", "error", err.Error())
		}
	}
	path, dir, seen := "", "", signature{}
	follow := func() {
		ent, err := r.Repo.Entity(ctx, r.Entity)
		if err != nil || ent.CachePath == path {
			return
		}
		path, seen = ent.CachePath, signatureOf(ent.CachePath)
		if watcher == nil {
			return
		}
		if dir != "" {
			_ = watcher.Remove(dir)
		}
		dir = filepath.Dir(path)
		if err := watcher.Add(dir); err != nil {
			r.Logger.Warn("cache watch: no file notifications for the cache's folder, looking every few seconds", "dir", dir, "error", err.Error())
			dir = ""
		}
	}
	follow()
	polls := 0
	var notified <-chan fsnotify.Event
	var failed <-chan error
	if watcher != nil {
		notified, failed = watcher.Events, watcher.Errors
	}
	var poll <-chan time.Time
	if w.Poll > 0 {
		t := time.NewTicker(w.Poll)
		defer t.Stop()
		poll = t.C
	}
	// pending: a change seen, the cycle starts when the cache is quiet
	var quiet, deadline *time.Timer
	var quietC, deadlineC <-chan time.Time
	changed := func() {
		if quiet == nil {
			quiet, deadline = time.NewTimer(w.Quiet), time.NewTimer(w.MaxDelay)
			quietC, deadlineC = quiet.C, deadline.C
			return
		}
		quiet.Reset(w.Quiet)
	}
	fire := func() {
		quiet.Stop()
		deadline.Stop()
		quiet, deadline, quietC, deadlineC = nil, nil, nil, nil
		if now := signatureOf(path); now != seen {
			seen = now
			r.Trigger()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-notified:
			if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) == 0 {
				continue
			}
			for _, f := range cacheFiles(path) {
				if filepath.Clean(ev.Name) == filepath.Clean(f) {
					changed()
					break
				}
			}
		case err := <-failed:
			r.Logger.Warn("cache watch", "error", err.Error())
		case <-poll:
			if polls++; polls%6 == 0 {
				follow() // a path changed in the settings, read every sixth look
			}
			if quiet == nil && signatureOf(path) != seen {
				changed()
			}
		case <-quietC:
			fire()
		case <-deadlineC:
			fire()
		}
	}
}
