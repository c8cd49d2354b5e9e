-- A covering index for the quick first pass of a cycle: it reads every
-- mapping of a worker without the wide field_hashes column.
CREATE INDEX mapping_quick ON mapping (worker, item_key, graph_id, container_id, pending_tx, source_modified, settings_fp);
