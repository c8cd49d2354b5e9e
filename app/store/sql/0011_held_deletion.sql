-- Deletions a cycle held back instead of carrying them out (issue 12): a
-- cache that suddenly lost many rows (a broken restore, a wrong path) must
-- not empty a mailbox. The set is rewritten by every cycle of the worker,
-- so it is always what the last cycle would have deleted. An administrator
-- releases it ("Löschungen ausführen", sync --once --confirm-deletions);
-- the next cycle then carries out the released deletions that it still
-- plans and forgets the rest.
CREATE TABLE held_deletion (
    worker      TEXT NOT NULL COLLATE NOCASE,
    item_key    TEXT NOT NULL,             -- as in mapping
    reason      TEXT NOT NULL,             -- German, why the cycle held it
    held_at     TEXT NOT NULL,             -- UTC
    released_at TEXT NOT NULL DEFAULT '',  -- UTC, '' while held
    released_by TEXT NOT NULL DEFAULT '',  -- who released it (CLI, UI)
    PRIMARY KEY (worker, item_key)
) STRICT;
