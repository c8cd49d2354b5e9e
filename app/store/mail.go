package store

import (
	"context"
	"fmt"
	"time"
)

// Message is one fetched mail.
type Message struct {
	ID      int64
	Account string
	UIDL    string
	Raw     []byte
	Fetched time.Time
}

// FetchedUIDLs returns the UIDLs stored for an account with their fetch time.
func (s *Store) FetchedUIDLs(ctx context.Context, account string) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT uidl, fetched_at FROM message WHERE account = ?`, account)
	if err != nil {
		return nil, fmt.Errorf("read fetched mail of %s: %w", account, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var u, at string
		if err := rows.Scan(&u, &at); err != nil {
			return nil, err
		}
		out[u], _ = time.Parse(tsLayout, at)
	}
	return out, rows.Err()
}

// StoreMessages writes fetched messages in one transaction and commits it:
// only then may they be deleted on the server. A message already stored
// (same account and UIDL) is kept as it is.
func (s *Store) StoreMessages(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO message (account, uidl, raw, size, fetched_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account, uidl) DO NOTHING`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, m := range msgs {
		if m.Fetched.IsZero() {
			m.Fetched = time.Now()
		}
		if _, err := st.ExecContext(ctx, m.Account, m.UIDL, m.Raw, len(m.Raw), m.Fetched.UTC().Format(tsLayout)); err != nil {
			return fmt.Errorf("store message %s of %s: %w", m.UIDL, m.Account, err)
		}
	}
	return tx.Commit()
}

// Messages returns an account's messages in the order they were stored.
func (s *Store) Messages(ctx context.Context, account string) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, account, uidl, raw, fetched_at FROM message WHERE account = ? ORDER BY id`, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		var at string
		if err := rows.Scan(&m.ID, &m.Account, &m.UIDL, &m.Raw, &at); err != nil {
			return nil, err
		}
		m.Fetched, _ = time.Parse(tsLayout, at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// SkipMessage records a message left on the server on purpose; it reports
// whether this is the first time (so that it is journaled once).
func (s *Store) SkipMessage(ctx context.Context, account, uidl, reason string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO message_skip (account, uidl, reason, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		account, uidl, reason, time.Now().UTC().Format(tsLayout))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
