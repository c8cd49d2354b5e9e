package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// HeldDeletion is a deletion a cycle held back until an administrator
// releases it.
type HeldDeletion struct {
	Worker     string
	ItemKey    string
	Reason     string
	HeldAt     time.Time
	ReleasedAt time.Time // zero while held
	ReleasedBy string
}

// Released reports whether an administrator released the deletion.
func (h HeldDeletion) Released() bool { return !h.ReleasedAt.IsZero() }

// HeldDeletions lists the held deletions of a worker ("" for every worker),
// ordered by worker and item.
func (s *Store) HeldDeletions(ctx context.Context, worker string) ([]HeldDeletion, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT worker, item_key, reason, held_at, released_at, released_by FROM held_deletion
		WHERE ? = '' OR worker = ? ORDER BY worker COLLATE NOCASE, item_key`, worker, worker)
	if err != nil {
		return nil, fmt.Errorf("read held deletions: %w", err)
	}
	defer rows.Close()
	var out []HeldDeletion
	for rows.Next() {
		var h HeldDeletion
		var held, released string
		if err := rows.Scan(&h.Worker, &h.ItemKey, &h.Reason, &held, &released, &h.ReleasedBy); err != nil {
			return nil, fmt.Errorf("read held deletions: %w", err)
		}
		h.HeldAt, _ = time.Parse(tsLayout, held)
		if released != "" {
			h.ReleasedAt, _ = time.Parse(tsLayout, released)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// SetHeldDeletions replaces a worker's held deletions with those of the
// cycle that just ran: keys are held (a key held before keeps its first
// held_at), keep are left as they are (released deletions that failed and
// are tried again), every other row is dropped. A release is never taken
// back here: a cycle never holds a deletion it saw released, so a key held
// by the cycle that is released now was released while the cycle ran, and
// the next cycle — the one the release starts — carries it out.
func (s *Store) SetHeldDeletions(ctx context.Context, worker string, keys, keepAsIs []string, reason string, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	keep := map[string]bool{}
	for _, k := range append(keys[:len(keys):len(keys)], keepAsIs...) {
		keep[k] = true
	}
	rows, err := tx.QueryContext(ctx, `SELECT item_key FROM held_deletion WHERE worker = ?`, worker)
	if err != nil {
		return fmt.Errorf("read held deletions of %s: %w", worker, err)
	}
	var gone []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return err
		}
		if !keep[k] {
			gone = append(gone, k)
		}
	}
	rows.Close()
	for _, k := range gone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM held_deletion WHERE worker = ? AND item_key = ?`, worker, k); err != nil {
			return fmt.Errorf("forget held deletion %s of %s: %w", k, worker, err)
		}
	}
	if len(keys) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO held_deletion (worker, item_key, reason, held_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (worker, item_key) DO UPDATE SET reason = excluded.reason`)
		if err != nil {
			return err
		}
		defer st.Close()
		stamp := at.UTC().Format(tsLayout)
		for _, k := range keys {
			if _, err := st.ExecContext(ctx, worker, k, reason, stamp); err != nil {
				return fmt.Errorf("hold deletion %s of %s: %w", k, worker, err)
			}
		}
	}
	return tx.Commit()
}

// ReleaseHeldDeletions marks every held deletion of the workers (all when
// none is named) as released by who; it returns how many it released.
func (s *Store) ReleaseHeldDeletions(ctx context.Context, who string, at time.Time, workers ...string) (int, error) {
	q := `UPDATE held_deletion SET released_at = ?, released_by = ? WHERE released_at = ''`
	args := []any{at.UTC().Format(tsLayout), who}
	if len(workers) > 0 {
		q += ` AND worker IN (?` + strings.Repeat(",?", len(workers)-1) + `)`
		for _, w := range workers {
			args = append(args, w)
		}
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("release held deletions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
