-- What an item was exported from: the cache row's geaendert_am and a
-- fingerprint of the settings that shape it. While both are unchanged, a
-- cycle skips the item without comparing its fields (a full check, hourly,
-- still compares every field).
ALTER TABLE mapping ADD COLUMN source_modified TEXT NOT NULL DEFAULT '';
ALTER TABLE mapping ADD COLUMN settings_fp TEXT NOT NULL DEFAULT '';
