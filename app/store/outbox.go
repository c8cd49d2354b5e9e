package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Outgoing is one message in the outbox.
type Outgoing struct {
	ID       int64
	Account  string
	Rcpts    []string
	Raw      []byte
	State    string // queued, sending, sent, failed
	Attempts int
	NextAt   time.Time
	Error    string
	Created  time.Time
	Sent     time.Time
}

// Outbox states.
const (
	Queued  = "queued"
	Sending = "sending"
	Sent    = "sent"
	Failed  = "failed"
	// Discarded: a person decided not to send a failed message.
	Discarded = "discarded"
)

// Enqueue commits a message to the outbox and returns its id; only then
// may the local SMTP server answer 250.
func (s *Store) Enqueue(ctx context.Context, account string, rcpts []string, raw []byte, at time.Time) (int64, error) {
	b, err := json.Marshal(rcpts)
	if err != nil {
		return 0, err
	}
	stamp := at.UTC().Format(tsLayout)
	res, err := s.db.ExecContext(ctx, `INSERT INTO outbox (account, rcpts, raw, next_at, created_at) VALUES (?, ?, ?, ?, ?)`,
		account, string(b), raw, stamp, stamp)
	if err != nil {
		return 0, fmt.Errorf("queue a message of %s: %w", account, err)
	}
	return res.LastInsertId()
}

// EnqueueFrom queues a message that came from source (a mail-drop file);
// queuing the same source again returns the first one's id.
func (s *Store) EnqueueFrom(ctx context.Context, account, source string, rcpts []string, raw []byte, at time.Time) (int64, error) {
	b, err := json.Marshal(rcpts)
	if err != nil {
		return 0, err
	}
	stamp := at.UTC().Format(tsLayout)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO outbox (account, rcpts, raw, next_at, created_at, source) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, source) WHERE source != '' DO NOTHING`, account, string(b), raw, stamp, stamp, source); err != nil {
		return 0, fmt.Errorf("queue %s of %s: %w", source, account, err)
	}
	o, err := s.BySource(ctx, account, source)
	return o.ID, err
}

// BySource finds the outbox message of a source (sql.ErrNoRows: none).
func (s *Store) BySource(ctx context.Context, account, source string) (Outgoing, error) {
	out, err := s.outgoing(ctx, `WHERE account = ? AND source = ?`, account, source)
	if err != nil {
		return Outgoing{}, err
	}
	if len(out) == 0 {
		return Outgoing{}, sql.ErrNoRows
	}
	return out[0], nil
}

// Due lists the messages to send now: queued ones whose time has come, and
// ones left in "sending" by a crash (sent again: see docs/mail-handoff.md).
func (s *Store) Due(ctx context.Context, account string, now time.Time) ([]Outgoing, error) {
	return s.outgoing(ctx, `WHERE account = ? AND state IN ('queued', 'sending') AND next_at <= ? ORDER BY id`, account, now.UTC().Format(tsLayout))
}

// OutboxOf lists an account's outbox, newest first.
func (s *Store) OutboxOf(ctx context.Context, account string) ([]Outgoing, error) {
	return s.outgoing(ctx, `WHERE account = ? ORDER BY id DESC`, account)
}

func (s *Store) outgoing(ctx context.Context, where string, args ...any) ([]Outgoing, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, account, rcpts, raw, state, attempts, next_at, error, created_at, sent_at FROM outbox `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	defer rows.Close()
	var out []Outgoing
	for rows.Next() {
		var o Outgoing
		var rcpts, next, created, sent string
		if err := rows.Scan(&o.ID, &o.Account, &rcpts, &o.Raw, &o.State, &o.Attempts, &next, &o.Error, &created, &sent); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(rcpts), &o.Rcpts)
		o.NextAt, _ = time.Parse(tsLayout, next)
		o.Created, _ = time.Parse(tsLayout, created)
		if sent != "" {
			o.Sent, _ = time.Parse(tsLayout, sent)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// SetOutgoing records a send attempt's outcome: state, the next attempt
// and the German error.
func (s *Store) SetOutgoing(ctx context.Context, id int64, state string, next time.Time, errText string, at time.Time) error {
	sent := ""
	if state == Sent {
		sent = at.UTC().Format(tsLayout)
	}
	inc := 0
	if state != Sending {
		inc = 1
	}
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET state = ?, next_at = ?, error = ?, sent_at = ?, attempts = attempts + ? WHERE id = ?`,
		state, next.UTC().Format(tsLayout), errText, sent, inc, id)
	if err != nil {
		return fmt.Errorf("record the outbox message %d: %w", id, err)
	}
	return nil
}

// FailedOutgoing lists an account's messages that could not be sent.
func (s *Store) FailedOutgoing(ctx context.Context, account string) ([]Outgoing, error) {
	return s.outgoing(ctx, `WHERE account = ? AND state = 'failed' ORDER BY id`, account)
}

// RetryOutgoing queues a failed message again, to be sent at once.
func (s *Store) RetryOutgoing(ctx context.Context, account string, id int64, now time.Time) error {
	return s.changeFailed(ctx, `UPDATE outbox SET state = 'queued', next_at = ?, attempts = 0 WHERE id = ? AND account = ? AND state = 'failed'`,
		now.UTC().Format(tsLayout), id, account)
}

// DiscardOutgoing records that a failed message is not to be sent.
func (s *Store) DiscardOutgoing(ctx context.Context, account string, id int64) error {
	return s.changeFailed(ctx, `UPDATE outbox SET state = 'discarded' WHERE id = ? AND account = ? AND state = 'failed'`, id, account)
}

// ErrNotFailed: the message is not (any more) among the failed ones.
var ErrNotFailed = errors.New("store: outbox message is not failed")

func (s *Store) changeFailed(ctx context.Context, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("change an outbox message: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFailed
	}
	return nil
}

// OutboxCounts counts an account's outbox by state.
func (s *Store) OutboxCounts(ctx context.Context, account string) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM outbox WHERE account = ? GROUP BY state`, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}
