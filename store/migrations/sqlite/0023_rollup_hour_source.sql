-- One roll-up row per UTC hour and source, the statuses' counts as
-- columns, its lists as blobs of big-endian integers: see the PostgreSQL
-- migration of the same number, whose table this is in SQLite's words.
-- The store counts the rows (store/reports_sqlite.go): every hour is
-- marked stale, and the first report counts them all again.

DROP TABLE rollup_calls;

CREATE TABLE rollup_calls (
    hour            TEXT NOT NULL,
    source          TEXT NOT NULL,
    calls           INTEGER NOT NULL,
    answered        INTEGER NOT NULL,
    missed          INTEGER NOT NULL,
    abandoned       INTEGER NOT NULL,
    busy            INTEGER NOT NULL,
    failed          INTEGER NOT NULL,
    new_callers     INTEGER NOT NULL,
    waits           BLOB NOT NULL,
    numbers         BLOB NOT NULL,
    new_numbers     BLOB NOT NULL,
    missed_numbered INTEGER NOT NULL,
    callback_delays BLOB NOT NULL,
    PRIMARY KEY (hour, source)
) WITHOUT ROWID;

INSERT INTO rollup_stale (hour)
SELECT DISTINCT substr(started_at, 1, 13) || ':00:00.000Z' FROM calls WHERE true
ON CONFLICT DO NOTHING;
