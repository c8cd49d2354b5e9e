-- The outbox (issue 14): a message the Kommunikator submits to the local
-- SMTP server is answered 250 only after it is committed here; the outbox
-- worker sends it over the account's transport and records the outcome.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    account    TEXT NOT NULL COLLATE NOCASE,
    rcpts      TEXT NOT NULL,                -- JSON array of addresses
    raw        BLOB NOT NULL,
    state      TEXT NOT NULL DEFAULT 'queued', -- queued, sending, sent, failed
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    TEXT NOT NULL,                -- UTC; when to try (again)
    error      TEXT NOT NULL DEFAULT '',     -- German, the last failure
    created_at TEXT NOT NULL,
    sent_at    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_at);
