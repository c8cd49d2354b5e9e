package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// tsLayout has a fixed width, so that stored times sort as text.
const tsLayout = "2006-01-02T15:04:05.000000000Z"

// Mapping says which Graph object a source item became.
type Mapping struct {
	Worker      string
	ItemKey     string
	GraphID     string // "" while a create is pending
	ContainerID string
	// Hashes are not read by Mappings (a cycle rarely needs them); see FieldHashes.
	Hashes    map[string]string
	PendingTx string
	Updated   time.Time
	// SourceModified and SettingsFP say what the item was exported from.
	SourceModified string
	SettingsFP     string
}

// Pending reports whether a create was started but not confirmed.
func (m Mapping) Pending() bool { return m.GraphID == "" }

// mappingCache keeps a worker's mappings between cycles, so that a cycle
// without changes does not read 100,000 rows again. gen is the store's
// mapping generation it reflects: every write of mappings (from this
// process or another) raises the generation in the same transaction, so a
// stale cache is noticed with one small query.
type mappingCache struct {
	gen int64
	m   map[string]Mapping
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func mappingGen(ctx context.Context, q querier) (int64, error) {
	var v sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'mapping_gen'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v.Int64, err
}

// bumpGen raises the mapping generation inside a write transaction and
// returns the old and the new value.
func bumpGen(ctx context.Context, tx *sql.Tx) (int64, int64, error) {
	old, err := mappingGen(ctx, tx)
	if err != nil {
		return 0, 0, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('mapping_gen', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, fmt.Sprint(old+1))
	return old, old + 1, err
}

// Mappings returns a worker's mappings by item key (without field hashes).
// The map is shared with later calls: callers must not change it.
func (s *Store) Mappings(ctx context.Context, worker string) (map[string]Mapping, error) {
	gen, err := mappingGen(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("read mappings of %s: %w", worker, err)
	}
	key := strings.ToLower(worker)
	s.mu.Lock()
	if c := s.mcache[key]; c != nil && c.gen == gen {
		s.mu.Unlock()
		return c.m, nil
	}
	s.mu.Unlock()
	rows, err := s.db.QueryContext(ctx, `SELECT item_key, COALESCE(graph_id, ''), COALESCE(container_id, ''),
		COALESCE(pending_tx, ''), source_modified, settings_fp FROM mapping WHERE worker = ?`, worker)
	if err != nil {
		return nil, fmt.Errorf("read mappings of %s: %w", worker, err)
	}
	defer rows.Close()
	out := map[string]Mapping{}
	for rows.Next() {
		m := Mapping{Worker: worker}
		if err := rows.Scan(&m.ItemKey, &m.GraphID, &m.ContainerID, &m.PendingTx, &m.SourceModified, &m.SettingsFP); err != nil {
			return nil, fmt.Errorf("read mappings of %s: %w", worker, err)
		}
		out[m.ItemKey] = m
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.mcache == nil {
		s.mcache = map[string]*mappingCache{}
	}
	s.mcache[key] = &mappingCache{gen: gen, m: out}
	s.mu.Unlock()
	return out, nil
}

// afterWrite drops the caches of the workers a write touched (the next
// Mappings reads them again); the others stay current.
func (s *Store) afterWrite(workers map[string]bool, old, gen int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w, c := range s.mcache {
		switch {
		case workers[w] || c.gen != old:
			delete(s.mcache, w)
		default:
			c.gen = gen
		}
	}
}

// PutMapping stores a mapping (insert or replace).
func (s *Store) PutMapping(ctx context.Context, m Mapping) error { return s.PutMappings(ctx, m) }

// PutMappings stores mappings in one transaction: all or none.
func (s *Store) PutMappings(ctx context.Context, ms ...Mapping) error {
	if len(ms) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO mapping (worker, item_key, graph_id, container_id, field_hashes, pending_tx, updated_at, source_modified, settings_fp)
		VALUES (?, ?, NULLIF(?, ''), NULLIF(?, ''), ?, NULLIF(?, ''), ?, ?, ?)
		ON CONFLICT (worker, item_key) DO UPDATE SET graph_id = excluded.graph_id, container_id = excluded.container_id,
			field_hashes = excluded.field_hashes, pending_tx = excluded.pending_tx, updated_at = excluded.updated_at,
			source_modified = excluded.source_modified, settings_fp = excluded.settings_fp`)
	if err != nil {
		return err
	}
	defer st.Close()
	workers := map[string]bool{}
	for _, m := range ms {
		if m.Hashes == nil {
			m.Hashes = map[string]string{}
		}
		hashes, err := json.Marshal(m.Hashes)
		if err != nil {
			return err
		}
		if m.Updated.IsZero() {
			m.Updated = time.Now()
		}
		if _, err := st.ExecContext(ctx, m.Worker, m.ItemKey, m.GraphID, m.ContainerID, string(hashes), m.PendingTx, m.Updated.UTC().Format(tsLayout), m.SourceModified, m.SettingsFP); err != nil {
			return fmt.Errorf("store mapping %s of %s: %w", m.ItemKey, m.Worker, err)
		}
		workers[strings.ToLower(m.Worker)] = true
	}
	old, gen, err := bumpGen(ctx, tx)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.afterWrite(workers, old, gen)
	return nil
}

// FieldHashes reads the per-field fingerprints of some mappings.
func (s *Store) FieldHashes(ctx context.Context, worker string, keys []string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(keys))
	const chunk = 500
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		args := []any{worker}
		marks := make([]string, len(part))
		for i, k := range part {
			marks[i] = "?"
			args = append(args, k)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT item_key, field_hashes FROM mapping WHERE worker = ? AND item_key IN (`+strings.Join(marks, ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read field hashes of %s: %w", worker, err)
		}
		for rows.Next() {
			var key, raw string
			if err := rows.Scan(&key, &raw); err != nil {
				rows.Close()
				return nil, err
			}
			h := map[string]string{}
			if err := json.Unmarshal([]byte(raw), &h); err != nil {
				rows.Close()
				return nil, fmt.Errorf("mapping %s of %s: damaged field hashes: %w", key, worker, err)
			}
			out[key] = h
		}
		rows.Close()
	}
	return out, nil
}

// DeleteMapping forgets a mapping.
func (s *Store) DeleteMapping(ctx context.Context, worker, itemKey string) error {
	return s.deleteMappings(ctx, worker, `DELETE FROM mapping WHERE worker = ? AND item_key = ?`, worker, itemKey)
}

// ResetMappings forgets every mapping of a worker (the export then rebuilds
// them from the source keys stored in Microsoft 365).
func (s *Store) ResetMappings(ctx context.Context, worker string) error {
	return s.deleteMappings(ctx, worker, `DELETE FROM mapping WHERE worker = ?`, worker)
}

func (s *Store) deleteMappings(ctx context.Context, worker, query string, args ...any) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("delete mappings of %s: %w", worker, err)
	}
	old, gen, err := bumpGen(ctx, tx)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.afterWrite(map[string]bool{strings.ToLower(worker): true}, old, gen)
	return nil
}

// JournalEntry is one transfer.
type JournalEntry struct {
	ID        int64
	At        time.Time
	Worker    string
	ItemKey   string
	Title     string // the item's subject or name as exported ("" when not known)
	Action    string
	Result    string // ok or error
	RequestID string
	Error     string
}

// Journal appends entries in one transaction.
func (s *Store) Journal(ctx context.Context, entries ...JournalEntry) error {
	if len(entries) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO journal (at, worker, item_key, action, result, request_id, error, title) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, e := range entries {
		if e.At.IsZero() {
			e.At = time.Now()
		}
		if _, err := st.ExecContext(ctx, e.At.UTC().Format(tsLayout), e.Worker, e.ItemKey, e.Action, e.Result, e.RequestID, e.Error, e.Title); err != nil {
			return fmt.Errorf("write journal: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if hook := s.journalHook.Load(); hook != nil {
		for _, e := range entries {
			(*hook)(e)
		}
	}
	return nil
}

// OnJournal calls f with every journal entry after it was committed (the
// transfer log for IT).
func (s *Store) OnJournal(f func(JournalEntry)) { s.journalHook.Store(&f) }

// JournalFilter selects journal entries; zero fields match everything.
type JournalFilter struct {
	Worker string
	Result string
	Since  time.Time
	Limit  int // default 1000
}

// ReadJournal returns entries, newest first.
func (s *Store) ReadJournal(ctx context.Context, f JournalFilter) ([]JournalEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	q := `SELECT id, at, worker, item_key, action, result, request_id, error, title FROM journal
		WHERE (? = '' OR worker = ?) AND (? = '' OR result = ?) AND at >= ? ORDER BY id DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, f.Worker, f.Worker, f.Result, f.Result, f.Since.UTC().Format(tsLayout), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer rows.Close()
	var out []JournalEntry
	for rows.Next() {
		var e JournalEntry
		var at string
		if err := rows.Scan(&e.ID, &at, &e.Worker, &e.ItemKey, &e.Action, &e.Result, &e.RequestID, &e.Error, &e.Title); err != nil {
			return nil, err
		}
		e.At, _ = time.Parse(time.RFC3339Nano, at)
		out = append(out, e)
	}
	return out, rows.Err()
}
