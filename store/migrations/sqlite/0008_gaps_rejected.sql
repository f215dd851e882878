-- gaps: the parts of a call record the daemon could not see exactly
-- (screenpop.Gap: start, offers, answer, end), a JSON array; empty for an
-- exact record. Reports leave durations a gap makes uncertain out of
-- their averages.
ALTER TABLE calls ADD COLUMN gaps TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(gaps));

-- Call records the database refused, set aside so that the records after
-- them are written: record is the call as the daemon had it, in JSON
-- (screenpop.Call), reason the database's error.
CREATE TABLE rejected_calls (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id     TEXT NOT NULL,
    record      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    rejected_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
