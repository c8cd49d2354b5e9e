package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const leaseLayout = "2006-01-02T15:04:05.000000000Z"

// AcquireLease takes or renews the lease name for holder until now+ttl. It
// reports false when another holder's lease has not expired yet.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO lease (name, holder, expires) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE lease.holder = excluded.holder OR lease.expires < ?`,
		name, holder, now.Add(ttl).UTC().Format(leaseLayout), now.UTC().Format(leaseLayout))
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseLease gives the lease up at once, if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM lease WHERE name = ? AND holder = ?`, name, holder)
	return err
}

// Lease tells who holds the lease and until when (empty: nobody).
func (s *Store) Lease(ctx context.Context, name string) (holder string, expires time.Time, err error) {
	var exp string
	err = s.db.QueryRowContext(ctx, `SELECT holder, expires FROM lease WHERE name = ?`, name).Scan(&holder, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, err
	}
	expires, _ = time.Parse(leaseLayout, exp)
	return holder, expires, nil
}
