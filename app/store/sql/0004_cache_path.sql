-- Where the practice software keeps its cache for an entity on this workstation.
ALTER TABLE entity ADD COLUMN cache_path TEXT NOT NULL DEFAULT '';
