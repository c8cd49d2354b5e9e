-- The firm-wide switch "Schnittstelle aktiv" (settings key 'firm', field
-- interfaceActive) is off for a new installation. Installations configured
-- before the switch existed were exporting already: they stay active.
INSERT INTO setting (key, value)
SELECT 'firm', '{"deadlinesTo":"todo","todoListName":"Fristen und Wiedervorlagen","bodyFormat":"html","keepOutlookBodyEdits":false,"interfaceActive":true}'
WHERE EXISTS (SELECT 1 FROM entity) AND NOT EXISTS (SELECT 1 FROM setting WHERE key = 'firm');
UPDATE setting SET value = json_set(value, '$.interfaceActive', json('true'))
WHERE key = 'firm' AND EXISTS (SELECT 1 FROM entity);
