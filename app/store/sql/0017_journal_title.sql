-- Issue 15: the Protokoll names an item by its title as it went to
-- Microsoft 365 ("Frist: Berufungsbegründung"), not by its key. Entries
-- written before keep an empty title and are named by their key.
ALTER TABLE journal ADD COLUMN title TEXT NOT NULL DEFAULT '';
