// Package store is kanzleisync's own SQLite database: the mappings between
// the practice software's items and Microsoft 365, the journal of every
// transfer, and fetched mail. It never holds a secret.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, pure Go
)

//go:embed sql/*.sql
var migrationFiles embed.FS

// ErrNewerSchema means the database was written by a newer kanzleisync.
var ErrNewerSchema = errors.New("store: database schema is newer than this program")

// Store is an open database.
type Store struct {
	db      *sql.DB
	path    string
	version int

	mu     sync.Mutex
	mcache map[string]*mappingCache // by lower-case worker

	journalHook atomic.Pointer[func(JournalEntry)]
}

type options struct {
	busyTimeout time.Duration
	migrations  fs.FS
}

// Option changes how Open works.
type Option func(*options)

// WithBusyTimeout sets how long a writer waits for a lock (default 5 s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

func withMigrations(fsys fs.FS) Option { return func(o *options) { o.migrations = fsys } }

// Open opens (creating when missing) the database at path, in WAL mode, and
// brings its schema up to date.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: 5 * time.Second, migrations: migrationFiles}
	for _, opt := range opts {
		opt(&o)
	}
	if err := private(path); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	dsn := fmt.Sprintf("file:%s?_pragma=journal_mode(WAL)&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate",
		path, o.busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(context.Background(), o.migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// private makes the database file readable by its owner only before
// SQLite opens it; SQLite gives its -wal and -shm files the database's
// permissions. (On Windows the directory's ACL applies.)
func private(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// SchemaVersion is the number of the newest applied migration.
func (s *Store) SchemaVersion() int { return s.version }

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "sql/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", base)
		}
		body, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := range out {
		if out[i].version != i+1 {
			return nil, fmt.Errorf("migrations must be numbered 1, 2, 3 … without gaps; found %s", out[i].name)
		}
	}
	return out, nil
}

func (s *Store) migrate(ctx context.Context, fsys fs.FS) error {
	all, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(all) {
		return fmt.Errorf("%w: the file has schema %d, this program knows up to %d", ErrNewerSchema, current, len(all))
	}
	for _, m := range all[current:] {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback()
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit migration %s: %w", m.name, err)
		}
		current = m.version
	}
	s.version = current
	return nil
}

// InstallationID is a random id of this installation, made on first use.
func (s *Store) InstallationID(ctx context.Context) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'installation_id'`).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read installation id: %w", err)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	id = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	if _, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO meta (key, value) VALUES ('installation_id', ?)`, id); err != nil {
		return "", fmt.Errorf("store installation id: %w", err)
	}
	// another connection may have won the race: read what is there
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'installation_id'`).Scan(&id); err != nil {
		return "", fmt.Errorf("read installation id: %w", err)
	}
	return id, nil
}

// DB is the database for the packages that keep their tables here
// (config, export, mail); each uses only its own tables.
func (s *Store) DB() *sql.DB { return s.db }

// FirstTime records key and reports whether it was new: for things that
// must happen once, such as a warning notification per threshold.
func (s *Store) FirstTime(ctx context.Context, key string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)`, "once/"+key, at.UTC().Format(time.RFC3339))
	if err != nil {
		return false, fmt.Errorf("record %s: %w", key, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ConfigVersion counts the configuration's changes (entities, workers,
// mail accounts, settings) made by any process; a running kanzleisync
// compares it to notice them.
func (s *Store) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'config_version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read config version: %w", err)
	}
	return v, nil
}
