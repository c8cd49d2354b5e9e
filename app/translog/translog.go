// Package translog is the transfer log for IT, the counterpart of the
// vendor's "ExchangeSync.Log": a plain-text file with one line per transfer
// and per connection attempt, rotated by size. With the debug switch it
// also carries each Graph request's method, address, status and
// request-id. It never carries a token or a secret: fields that look like
// one are masked before they are written.
package translog

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Log is a rotating transfer log. Its methods are safe for concurrent use;
// a nil *Log writes nothing.
type Log struct {
	path     string
	maxBytes int64
	keep     int
	now      func() time.Time
	debug    atomic.Bool

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open appends to path; when the file passes maxBytes it becomes path.1
// (path.1 becomes path.2 …) and at most keep old files are kept.
func Open(path string, maxBytes int64, keep int) (*Log, error) {
	if maxBytes <= 0 {
		maxBytes = 10 << 20
	}
	if keep <= 0 {
		keep = 5
	}
	l := &Log{path: path, maxBytes: maxBytes, keep: keep, now: time.Now}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("transfer log: %w", err)
	}
	_ = f.Chmod(0o600) // one made before by an older version or another umask is private too
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("transfer log: %w", err)
	}
	l.f, l.size = f, info.Size()
	return nil
}

// SetDebug switches the request details on or off.
func (l *Log) SetDebug(on bool) {
	if l != nil {
		l.debug.Store(on)
	}
}

// Debug reports whether request details are written.
func (l *Log) Debug() bool { return l != nil && l.debug.Load() }

// Close closes the file.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// jwtRE matches a JSON web token (access and id tokens); bearerRE an
// Authorization value.
var (
	jwtRE    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`)
	bearerRE = regexp.MustCompile(`(?i)(bearer|auth=bearer)\s+\S+`)
)

func clean(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ", "|", "/").Replace(s)
	s = jwtRE.ReplaceAllString(s, "[Token entfernt]")
	return bearerRE.ReplaceAllString(s, "$1 [Token entfernt]")
}

// Line writes one line: the time, then the fields separated by " | ".
func (l *Log) Line(fields ...string) {
	if l == nil {
		return
	}
	parts := make([]string, 0, len(fields)+1)
	parts = append(parts, l.now().Local().Format("2006-01-02 15:04:05.000"))
	for _, f := range fields {
		parts = append(parts, clean(f))
	}
	line := strings.Join(parts, " | ") + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	if l.size+int64(len(line)) > l.maxBytes && l.size > 0 {
		l.rotate()
	}
	n, _ := l.f.WriteString(line)
	l.size += int64(n)
}

// rotate renames path → path.1 → path.2 …; l.mu is held.
func (l *Log) rotate() {
	l.f.Close()
	_ = os.Remove(fmt.Sprintf("%s.%d", l.path, l.keep))
	for i := l.keep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
	}
	_ = os.Rename(l.path, l.path+".1")
	if err := l.open(); err != nil {
		l.f = nil
	}
}

// Transfer writes one transferred item.
func (l *Log) Transfer(worker, item, action, result, requestID, errText string) {
	l.Line("ÜBERTRAGUNG", worker, item, action, result, requestID, errText)
}

// Connection writes one connection attempt (POP3, SMTP, Graph mail).
func (l *Log) Connection(service, account, target string, err error) {
	if err != nil {
		l.Line("VERBINDUNG", service, account, target, "Fehler", err.Error())
		return
	}
	l.Line("VERBINDUNG", service, account, target, "ok")
}

// Handler is a slog.Handler for the Graph client: with the debug switch on
// it writes each "graph request" record (method, address, status,
// request-id, sizes); everything else it ignores.
func (l *Log) Handler() slog.Handler { return handler{l} }

type handler struct{ l *Log }

func (h handler) Enabled(_ context.Context, level slog.Level) bool { return h.l.Debug() }

func (h handler) Handle(_ context.Context, r slog.Record) error {
	if !h.l.Debug() || r.Message != "graph request" {
		return nil
	}
	fields := []string{"GRAPH"}
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, a.Key+"="+a.Value.String())
		return true
	})
	h.l.Line(fields...)
	return nil
}

func (h handler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h handler) WithGroup(string) slog.Handler      { return h }

// Tee sends records to both handlers.
func Tee(a, b slog.Handler) slog.Handler { return tee{a, b} }

type tee struct{ a, b slog.Handler }

func (t tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}
func (t tee) Handle(ctx context.Context, r slog.Record) error {
	if t.a.Enabled(ctx, r.Level) {
		_ = t.a.Handle(ctx, r.Clone())
	}
	if t.b.Enabled(ctx, r.Level) {
		_ = t.b.Handle(ctx, r.Clone())
	}
	return nil
}
func (t tee) WithAttrs(as []slog.Attr) slog.Handler {
	return tee{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}
func (t tee) WithGroup(g string) slog.Handler { return tee{t.a.WithGroup(g), t.b.WithGroup(g)} }
