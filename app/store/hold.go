package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// HoldOff is the mailbox's Retry-After that a process of this
// installation was given (zero when none is known).
func (s *Store) HoldOff(ctx context.Context, mailbox string) (time.Time, error) {
	var until string
	err := s.db.QueryRowContext(ctx, `SELECT until FROM mailbox_hold WHERE mailbox = ?`, mailbox).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("retry-after of %s: %w", mailbox, err)
	}
	t, _ := time.Parse(leaseLayout, until)
	return t, nil
}

// SetHoldOff keeps a Retry-After for the mailbox; an earlier one never
// replaces a later.
func (s *Store) SetHoldOff(ctx context.Context, mailbox string, until time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO mailbox_hold (mailbox, until) VALUES (?, ?)
		ON CONFLICT (mailbox) DO UPDATE SET until = excluded.until WHERE excluded.until > mailbox_hold.until`,
		mailbox, until.UTC().Format(leaseLayout))
	if err != nil {
		return fmt.Errorf("retry-after of %s: %w", mailbox, err)
	}
	return nil
}
