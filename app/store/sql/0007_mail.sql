-- Fetched mail: stored (and committed) before it is deleted on the server.
CREATE TABLE message (
    id         INTEGER PRIMARY KEY,
    account    TEXT NOT NULL COLLATE NOCASE,
    uidl       TEXT NOT NULL,
    raw        BLOB NOT NULL,            -- RFC 822 bytes as received
    size       INTEGER NOT NULL,
    fetched_at TEXT NOT NULL,
    UNIQUE (account, uidl)
) STRICT;

-- Messages left on the server on purpose (too large); each is journaled once.
CREATE TABLE message_skip (
    account TEXT NOT NULL COLLATE NOCASE,
    uidl    TEXT NOT NULL,
    reason  TEXT NOT NULL,
    at      TEXT NOT NULL,
    PRIMARY KEY (account, uidl)
) STRICT;
