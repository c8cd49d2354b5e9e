-- The export's memory of what it put into Microsoft 365, and the journal of
-- every transfer (the counterpart of the vendor's "ExchangeSync.Log").

-- One row per exported item: which Graph object a source item became.
-- graph_id is NULL while a create is in flight; then pending_tx names the
-- transactionId (events) or the source key (contacts, tasks) to look for
-- after a crash, before anything is created again.
CREATE TABLE mapping (
    worker       TEXT NOT NULL COLLATE NOCASE,
    item_key     TEXT NOT NULL,             -- e.g. event/termin:4711, task/frist:12, contact/adresse:7
    graph_id     TEXT,
    container_id TEXT,                      -- To Do list of a task
    field_hashes TEXT NOT NULL DEFAULT '{}', -- JSON: field -> hash of the value sent
    pending_tx   TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (worker, item_key)
) STRICT;

CREATE TABLE journal (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,               -- UTC, RFC 3339
    worker     TEXT NOT NULL,
    item_key   TEXT NOT NULL,
    action     TEXT NOT NULL,               -- create, update, delete, recreate, skip, adopt
    result     TEXT NOT NULL,               -- ok, error
    request_id TEXT NOT NULL DEFAULT '',
    error      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX journal_at ON journal (at);
CREATE INDEX journal_worker ON journal (worker, at);
