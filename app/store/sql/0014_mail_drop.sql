-- The mail drop (issue 14): per account an optional Maildir that receives
-- every fetched message too, for integrations that import files.
ALTER TABLE mail_account ADD COLUMN drop_dir TEXT NOT NULL DEFAULT '';
ALTER TABLE message ADD COLUMN dropped_at TEXT NOT NULL DEFAULT '';
