-- A message that broke a POP3 session (the connection dropped in the middle
-- of it, or it was larger than its server said) is set aside until
-- retry_at: the others are fetched meanwhile; it stays on the server.
ALTER TABLE message_skip ADD COLUMN retry_at TEXT NOT NULL DEFAULT '';
