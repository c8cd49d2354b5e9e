-- A lease names the one process that may do a job (the server's export):
-- it holds it until expires and renews it well before; another process
-- takes over only after it has expired.
CREATE TABLE lease (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires TEXT NOT NULL   -- UTC, fixed width, compares as text
) STRICT;
