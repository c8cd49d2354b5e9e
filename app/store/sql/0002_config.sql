-- Configuration: entities (Entitäten), case workers (Sachbearbeiter), their
-- mail accounts (Konten) and the firm-wide settings. Secrets are not here:
-- they live in the OS keyring.
CREATE TABLE entity (
    name           TEXT PRIMARY KEY,
    tenant         TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    secret_expires TEXT,                 -- YYYY-MM-DD, NULL when unknown
    authority_host TEXT NOT NULL,
    graph_endpoint TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;

CREATE TABLE worker (
    upn          TEXT PRIMARY KEY COLLATE NOCASE,
    display_name TEXT NOT NULL,
    entity       TEXT NOT NULL REFERENCES entity (name) ON UPDATE CASCADE,
    modules      TEXT NOT NULL,          -- comma-separated: calendar,contacts,tasks,mail
    last_sign_in TEXT,                   -- RFC 3339, UTC
    last_refresh TEXT,
    updated_at   TEXT NOT NULL
) STRICT;

CREATE TABLE mail_account (
    worker    TEXT NOT NULL REFERENCES worker (upn) ON DELETE CASCADE ON UPDATE CASCADE,
    address   TEXT NOT NULL COLLATE NOCASE,
    mailbox   TEXT NOT NULL CHECK (mailbox IN ('main', 'archive')),
    transport TEXT NOT NULL CHECK (transport IN ('pop3smtp', 'graph')),
    pop3_host TEXT NOT NULL,
    pop3_port INTEGER NOT NULL,
    pop3_tls  TEXT NOT NULL CHECK (pop3_tls IN ('implicit', 'starttls')),
    smtp_host TEXT NOT NULL,
    smtp_port INTEGER NOT NULL,
    PRIMARY KEY (worker, address)
) STRICT;

CREATE TABLE setting (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
