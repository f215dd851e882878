-- Sources, caller kinds and staff tokens: the tables, columns and rules
-- are PostgreSQL's (see its 0005_sources_staff.sql); times are text as in
-- calls.

CREATE TABLE sources (
    source_id  INTEGER PRIMARY KEY,
    did        TEXT NOT NULL CHECK (did <> ''),
    source     TEXT NOT NULL CHECK (source <> ''),
    campaign   TEXT NOT NULL DEFAULT '',
    valid_from TEXT NOT NULL,
    valid_to   TEXT CHECK (valid_to > valid_from),
    internal   INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX sources_did ON sources (did, valid_from);

ALTER TABLE calls ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN campaign TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN caller_kind TEXT NOT NULL DEFAULT 'new'
    CHECK (caller_kind IN ('client', 'lead', 'new', 'withheld', 'internal'));

UPDATE calls SET caller_kind = CASE
    WHEN withheld THEN 'withheld'
    WHEN caller_e164 IS NULL AND trim(caller) <> '' AND length(trim(caller)) < 7
         AND trim(caller) NOT GLOB '*[^0-9]*' THEN 'internal'
    WHEN caller_e164 IS NULL THEN 'new'
    WHEN EXISTS (SELECT 1 FROM client_phones p JOIN clients c USING (client_id)
                 WHERE p.e164 = calls.caller_e164 AND NOT c.lead) THEN 'client'
    WHEN EXISTS (SELECT 1 FROM calls o WHERE o.caller_e164 = calls.caller_e164 AND o.started_at < calls.started_at)
      OR EXISTS (SELECT 1 FROM client_phones p JOIN clients c USING (client_id)
                 WHERE p.e164 = calls.caller_e164 AND c.lead AND c.created_at < strftime('%Y-%m-%dT%H:%M:%fZ', calls.started_at, '-1 minute')) THEN 'lead'
    ELSE 'new' END;

CREATE TABLE staff (
    staff_id   INTEGER PRIMARY KEY,
    name       TEXT NOT NULL CHECK (name <> ''),
    role       TEXT NOT NULL CHECK (role IN ('analyst', 'admin')),
    token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
