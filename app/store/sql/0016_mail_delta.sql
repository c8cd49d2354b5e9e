-- Issue 14: over Graph, new mail is found by the Inbox's delta query and
-- copied (the mailbox stays as the user sees it in Outlook); the delta link
-- of the last complete round is kept per account. Per account also: how
-- many days a copy stays on the server after the Kommunikator took it
-- (-1: always), and the folder Graph moves taken messages to (empty: none).
CREATE TABLE mail_delta (
    account    TEXT PRIMARY KEY COLLATE NOCASE,
    link       TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
ALTER TABLE mail_account ADD COLUMN leave_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mail_account ADD COLUMN graph_move_to TEXT NOT NULL DEFAULT '';
