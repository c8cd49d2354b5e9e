package store

import (
	"context"
	"database/sql"
	"errors"
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
	Taken   time.Time // when the Kommunikator took it; zero while it waits
}

// Fetched is what the store knows of a message fetched before.
type Fetched struct {
	At    time.Time // stored
	Taken time.Time // taken by the Kommunikator (zero: waiting)
}

// FetchedUIDLs returns the UIDLs stored for an account, with when they were
// stored and taken.
func (s *Store) FetchedUIDLs(ctx context.Context, account string) (map[string]Fetched, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT uidl, fetched_at, taken_at FROM message WHERE account = ?`, account)
	if err != nil {
		return nil, fmt.Errorf("read fetched mail of %s: %w", account, err)
	}
	defer rows.Close()
	out := map[string]Fetched{}
	for rows.Next() {
		var u, at, taken string
		if err := rows.Scan(&u, &at, &taken); err != nil {
			return nil, err
		}
		var f Fetched
		f.At, _ = time.Parse(tsLayout, at)
		if taken != "" {
			f.Taken, _ = time.Parse(tsLayout, taken)
		}
		out[u] = f
	}
	return out, rows.Err()
}

// Waiting returns the messages of an account that the Kommunikator has not
// taken yet, in the order they arrived.
func (s *Store) Waiting(ctx context.Context, account string) ([]Message, error) {
	return s.messages(ctx, `WHERE account = ? AND taken_at = '' ORDER BY id`, account)
}

// PruneTaken removes the bytes of messages the Kommunikator took before
// the cutoff; the row stays, so the message is never fetched again. It
// returns how many it emptied. A message still waiting is never touched.
func (s *Store) PruneTaken(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE message SET raw = x'', size = 0 WHERE taken_at != '' AND taken_at < ? AND size > 0`,
		before.UTC().Format(tsLayout))
	if err != nil {
		return 0, fmt.Errorf("prune taken mail: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Undropped lists the messages of an account not yet delivered to its
// mail drop, in the order they arrived.
func (s *Store) Undropped(ctx context.Context, account string) ([]Message, error) {
	return s.messages(ctx, `WHERE account = ? AND dropped_at = '' AND size > 0 ORDER BY id`, account)
}

// MarkDropped records that a message is in the account's mail drop.
func (s *Store) MarkDropped(ctx context.Context, id int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE message SET dropped_at = ? WHERE id = ?`, at.UTC().Format(tsLayout), id)
	if err != nil {
		return fmt.Errorf("mark message %d dropped: %w", id, err)
	}
	return nil
}

// WaitingCount counts an account's messages waiting for the Kommunikator.
func (s *Store) WaitingCount(ctx context.Context, account string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM message WHERE account = ? AND taken_at = ''`, account).Scan(&n)
	return n, err
}

// MarkTaken records that the Kommunikator took these messages of the
// account, in one transaction: all or none.
func (s *Store) MarkTaken(ctx context.Context, account string, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stamp := at.UTC().Format(tsLayout)
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE message SET taken_at = ? WHERE id = ? AND account = ? AND taken_at = ''`, stamp, id, account); err != nil {
			return fmt.Errorf("mark message %d of %s taken: %w", id, account, err)
		}
	}
	return tx.Commit()
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
	return s.messages(ctx, `WHERE account = ? ORDER BY id`, account)
}

func (s *Store) messages(ctx context.Context, where string, args ...any) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, account, uidl, raw, fetched_at, taken_at FROM message `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		var at, taken string
		if err := rows.Scan(&m.ID, &m.Account, &m.UIDL, &m.Raw, &at, &taken); err != nil {
			return nil, err
		}
		m.Fetched, _ = time.Parse(tsLayout, at)
		if taken != "" {
			m.Taken, _ = time.Parse(tsLayout, taken)
		}
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

// SetAside records that a message broke a session and is not tried again
// before retryAt; it reports whether this is the first time (so that it is
// journaled once, and not again when it breaks after a retry).
func (s *Store) SetAside(ctx context.Context, account, key, reason string, retryAt time.Time) (bool, error) {
	retry := retryAt.UTC().Format(tsLayout)
	res, err := s.db.ExecContext(ctx, `INSERT INTO message_skip (account, uidl, reason, at, retry_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		account, key, reason, time.Now().UTC().Format(tsLayout), retry)
	if err != nil {
		return false, fmt.Errorf("set a message of %s aside: %w", account, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE message_skip SET retry_at = ? WHERE account = ? AND uidl = ?`, retry, account, key); err != nil {
		return false, fmt.Errorf("set a message of %s aside: %w", account, err)
	}
	return false, nil
}

// AsideCount is how many of an account's messages are set aside at now.
func (s *Store) AsideCount(ctx context.Context, account string, now time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM message_skip WHERE account = ? AND retry_at > ?`, account, now.UTC().Format(tsLayout)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count the messages of %s set aside: %w", account, err)
	}
	return n, nil
}

// RetryAsideNow ends the wait of an account's messages set aside (a person
// asked to try them again); it returns how many. One that breaks a session
// again is set aside once more, without a second journal entry.
func (s *Store) RetryAsideNow(ctx context.Context, account string, now time.Time) (int, error) {
	at := now.UTC().Format(tsLayout)
	res, err := s.db.ExecContext(ctx, `UPDATE message_skip SET retry_at = ? WHERE account = ? AND retry_at > ?`, at, account, at)
	if err != nil {
		return 0, fmt.Errorf("try the messages of %s set aside again: %w", account, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// AsideUntil returns the keys of an account's messages that are set aside
// at now.
func (s *Store) AsideUntil(ctx context.Context, account string, now time.Time) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT uidl FROM message_skip WHERE account = ? AND retry_at > ?`, account, now.UTC().Format(tsLayout))
	if err != nil {
		return nil, fmt.Errorf("read the messages of %s set aside: %w", account, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out[k] = true
	}
	return out, rows.Err()
}

// DeltaLink is the Graph delta link of an account's Inbox after its last
// complete round ("" before the first).
func (s *Store) DeltaLink(ctx context.Context, account string) (string, error) {
	var link string
	err := s.db.QueryRowContext(ctx, `SELECT link FROM mail_delta WHERE account = ?`, account).Scan(&link)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the delta link of %s: %w", account, err)
	}
	return link, nil
}

// SetDeltaLink keeps the delta link of a complete round ("" forgets it:
// the next round starts over).
func (s *Store) SetDeltaLink(ctx context.Context, account, link string, at time.Time) error {
	var err error
	if link == "" {
		_, err = s.db.ExecContext(ctx, `DELETE FROM mail_delta WHERE account = ?`, account)
	} else {
		_, err = s.db.ExecContext(ctx, `INSERT INTO mail_delta (account, link, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (account) DO UPDATE SET link = excluded.link, updated_at = excluded.updated_at`, account, link, at.UTC().Format(tsLayout))
	}
	if err != nil {
		return fmt.Errorf("keep the delta link of %s: %w", account, err)
	}
	return nil
}

// StoredMessage is the stored message of an account by its UIDL (nil when
// there is none).
func (s *Store) StoredMessage(ctx context.Context, account, uidl string) (*Message, error) {
	msgs, err := s.messages(ctx, `WHERE account = ? AND uidl = ?`, account, uidl)
	if err != nil || len(msgs) == 0 {
		return nil, err
	}
	return &msgs[0], nil
}
