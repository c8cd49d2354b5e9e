-- Where an outbox message came from when not from the local SMTP server:
-- "drop:<file>" for a file of the mail drop's outbox folder. Unique, so a
-- file queued again after a crash is not sent twice.
ALTER TABLE outbox ADD COLUMN source TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX outbox_source ON outbox (account, source) WHERE source != '';
