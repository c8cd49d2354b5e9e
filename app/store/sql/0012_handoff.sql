-- The hand-off to the Kommunikator (issue 14): a fetched message waits in
-- the store until the Kommunikator took it over the local POP3 server
-- (DELE and QUIT); only then may it be deleted on the upstream server.
ALTER TABLE message ADD COLUMN taken_at TEXT NOT NULL DEFAULT '';
CREATE INDEX message_waiting ON message (account, taken_at, id);
