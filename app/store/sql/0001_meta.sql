-- Facts about this installation, e.g. its id (prefix of transactionIds).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
