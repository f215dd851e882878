-- Operators' outbound calls in the call log, and the callback list. The
-- tables, columns and indexes are PostgreSQL's (see its
-- 0004_outbound_callbacks.sql); times are text as in calls.

ALTER TABLE calls ADD COLUMN direction TEXT NOT NULL DEFAULT 'inbound'
    CHECK (direction IN ('inbound', 'outbound'));

CREATE INDEX calls_missed ON calls (caller_e164, started_at)
    WHERE direction = 'inbound' AND status IN ('missed', 'abandoned') AND caller_e164 IS NOT NULL;
CREATE INDEX calls_resolving ON calls (caller_e164, started_at)
    WHERE direction = 'outbound' OR status = 'answered';

CREATE TABLE callback_closures (
    closure_id     INTEGER PRIMARY KEY,
    number         TEXT NOT NULL CHECK (number GLOB '+[1-9]*' AND substr(number, 2) NOT GLOB '*[^0-9]*' AND length(number) BETWEEN 8 AND 16),
    last_missed_at TEXT NOT NULL,
    closed_at      TEXT NOT NULL,
    closed_by      TEXT NOT NULL,
    reason         TEXT NOT NULL CHECK (reason <> '')
);
CREATE INDEX callback_closures_number ON callback_closures (number, last_missed_at);

CREATE TABLE callback_claims (
    number          TEXT PRIMARY KEY NOT NULL CHECK (number GLOB '+[1-9]*' AND substr(number, 2) NOT GLOB '*[^0-9]*' AND length(number) BETWEEN 8 AND 16),
    operator        TEXT NOT NULL,
    claimed_at      TEXT NOT NULL,
    first_missed_at TEXT NOT NULL
) WITHOUT ROWID;
