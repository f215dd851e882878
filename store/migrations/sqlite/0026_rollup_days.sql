-- Roll-ups of whole local days: see the PostgreSQL migration of the same
-- number, whose tables these are in SQLite's words. The store fills them
-- (store/rollup_days.go) and takes a day out when it counts one of its
-- hours again (store/reports_sqlite.go), in the same transaction.

CREATE TABLE rollup_days (
    day_start TEXT NOT NULL,
    day_end   TEXT NOT NULL,
    PRIMARY KEY (day_start, day_end)
) WITHOUT ROWID;

CREATE TABLE rollup_day_calls (
    day_start       TEXT NOT NULL,
    day_end         TEXT NOT NULL,
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
    PRIMARY KEY (day_start, day_end, source)
) WITHOUT ROWID;

CREATE TABLE rollup_day_hours (
    day_start   TEXT NOT NULL,
    day_end     TEXT NOT NULL,
    hour        TEXT NOT NULL,
    calls       INTEGER NOT NULL,
    answered    INTEGER NOT NULL,
    missed      INTEGER NOT NULL,
    abandoned   INTEGER NOT NULL,
    busy        INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    new_callers INTEGER NOT NULL,
    PRIMARY KEY (day_start, day_end, hour)
) WITHOUT ROWID;

CREATE TABLE rollup_day_operators (
    day_start      TEXT NOT NULL,
    day_end        TEXT NOT NULL,
    operator       TEXT NOT NULL,
    offer_rows     INTEGER NOT NULL,
    offered        INTEGER NOT NULL,
    answered       INTEGER NOT NULL,
    no_answer      INTEGER NOT NULL,
    ring_n         INTEGER NOT NULL,
    ring_ms        INTEGER NOT NULL,
    talk_n         INTEGER NOT NULL,
    talk_ms        INTEGER NOT NULL,
    calls_answered INTEGER NOT NULL,
    missed_calls   INTEGER NOT NULL,
    calls          INTEGER NOT NULL,
    PRIMARY KEY (day_start, day_end, operator)
) WITHOUT ROWID;

CREATE TABLE rollup_day_purposes (
    day_start TEXT NOT NULL,
    day_end   TEXT NOT NULL,
    source    TEXT NOT NULL,
    purpose   TEXT NOT NULL,
    calls     INTEGER NOT NULL,
    PRIMARY KEY (day_start, day_end, source, purpose)
) WITHOUT ROWID;
