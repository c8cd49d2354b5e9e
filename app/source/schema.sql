-- The cache the practice software keeps of its data (schema version 3).
-- kanzleisync only reads it; the generator (demo data, tests) writes it.
-- A column marked "(schema 2)" may be missing in a cache of version 1,
-- one marked "(schema 3)" in a cache of version 1 or 2, which kanzleisync
-- still reads: the column then counts as its default.
CREATE TABLE schema_info (
    version INTEGER NOT NULL
);
CREATE TABLE sachbearbeiter (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    upn  TEXT NOT NULL
);
CREATE TABLE termin (
    id                INTEGER PRIMARY KEY,
    betreff           TEXT,
    ort               TEXT,
    beginn            TEXT,    -- local time Europe/Berlin, YYYY-MM-DDTHH:MM:SS (all-day: midnight)
    ende              TEXT,    -- local time; all-day: midnight after the last day
    ganztaegig        INTEGER NOT NULL DEFAULT 0,
    beschreibung      TEXT,
    aktenzeichen      TEXT,
    mandant           TEXT,
    sachbearbeiter_id TEXT,
    kategorie         TEXT,
    erinnerung_min    INTEGER, -- NULL: no reminder
    geaendert_am      TEXT,    -- UTC, RFC 3339
    vertraulich       INTEGER NOT NULL DEFAULT 0, -- (schema 2) 1: confidential, only neutral text leaves the firm
    serie_regel       TEXT,    -- (schema 3) a Serientermin: RFC 5545 RRULE (subset, docs/cache-schema.md); beginn/ende are the first occurrence
    serie_ausfall     TEXT,    -- (schema 3) EXDATE: cancelled occurrences, days YYYY-MM-DD separated by commas
    serie_id          INTEGER, -- (schema 3) a changed occurrence: the id of its series' row
    serie_original    TEXT     -- (schema 3) a changed occurrence: its original beginn, local time
);
CREATE TABLE termin_teilnehmer (
    -- (schema 2) the further Sachbearbeiter of a Termin (a court date for
    -- the lawyer and the assistant); each gets it in their own calendar
    termin_id         INTEGER NOT NULL,
    sachbearbeiter_id TEXT NOT NULL,
    PRIMARY KEY (termin_id, sachbearbeiter_id)
);
CREATE TABLE frist (
    id                INTEGER PRIMARY KEY,
    aktenzeichen      TEXT,
    bezeichnung       TEXT,
    fristdatum        TEXT,    -- YYYY-MM-DD
    vorfrist          TEXT,    -- YYYY-MM-DD or NULL
    erledigt          INTEGER NOT NULL DEFAULT 0,
    sachbearbeiter_id TEXT,
    geaendert_am      TEXT
);
CREATE TABLE wiedervorlage (
    id                INTEGER PRIMARY KEY,
    aktenzeichen      TEXT,
    grund             TEXT,
    datum             TEXT,    -- YYYY-MM-DD
    erledigt          INTEGER NOT NULL DEFAULT 0,
    sachbearbeiter_id TEXT,
    geaendert_am      TEXT
);
CREATE TABLE adresse (
    id                    INTEGER PRIMARY KEY,
    anrede                TEXT,
    titel                 TEXT,
    vorname               TEXT,
    nachname              TEXT,
    firma                 TEXT,
    email1                TEXT,
    email2                TEXT,
    email3                TEXT,
    telefon_geschaeftlich TEXT,
    telefon_privat        TEXT,
    mobil                 TEXT,
    strasse               TEXT,
    plz                   TEXT,
    ort                   TEXT,
    land                  TEXT,
    notiz                 TEXT,
    geaendert_am          TEXT
);
CREATE TABLE abo (
    adresse_id        INTEGER NOT NULL,
    sachbearbeiter_id TEXT NOT NULL,
    seit              TEXT,
    PRIMARY KEY (adresse_id, sachbearbeiter_id)
);
