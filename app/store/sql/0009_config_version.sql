-- config_version counts changes to the configuration, so that a running
-- kanzleisync notices within seconds what another process (the command
-- line, a second window) changed. Sign-in and refresh times are not
-- configuration and do not count.
INSERT OR IGNORE INTO meta (key, value) VALUES ('config_version', '0');
CREATE TRIGGER config_version_entity_insert AFTER INSERT ON entity BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_entity_update AFTER UPDATE ON entity BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_entity_delete AFTER DELETE ON entity BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_worker_insert AFTER INSERT ON worker BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_worker_update AFTER UPDATE OF display_name, entity, modules ON worker BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_worker_delete AFTER DELETE ON worker BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_account_insert AFTER INSERT ON mail_account BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_account_update AFTER UPDATE ON mail_account BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_account_delete AFTER DELETE ON mail_account BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_setting_insert AFTER INSERT ON setting BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_setting_update AFTER UPDATE ON setting BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER config_version_setting_delete AFTER DELETE ON setting BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'; END;
