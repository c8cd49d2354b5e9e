-- A mailbox's Retry-After (Microsoft said: nothing before until), kept so
-- that a restarted or a second process of this installation does not send
-- before it either.
CREATE TABLE mailbox_hold (
    mailbox TEXT PRIMARY KEY,   -- Graph endpoint and mailbox, lower case
    until   TEXT NOT NULL       -- UTC, fixed width, compares as text
) STRICT;
