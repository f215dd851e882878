-- One row per inbound call, as screenpop.Call has it. Column names are the
-- JSON names of screenpop.Call: one name for one thing everywhere.
--
-- Times are text, RFC 3339 in UTC with milliseconds
-- (2006-01-02T15:04:05.000Z): fixed width, so they sort as times do.
-- offered_to and talked_to are JSON arrays of operator names.
CREATE TABLE calls (
    call_id           TEXT PRIMARY KEY NOT NULL,
    caller            TEXT NOT NULL,
    caller_e164       TEXT,
    caller_name       TEXT NOT NULL,
    withheld          INTEGER NOT NULL CHECK (withheld IN (0, 1)),
    did               TEXT NOT NULL,
    status            TEXT NOT NULL,
    offered_to        TEXT NOT NULL CHECK (json_valid(offered_to)),
    answered_by       TEXT,
    talked_to         TEXT NOT NULL CHECK (json_valid(talked_to)),
    ring_seconds      REAL NOT NULL,
    wait_seconds      REAL NOT NULL,
    talk_seconds      REAL NOT NULL,
    hangup_cause      INTEGER NOT NULL,
    hangup_cause_text TEXT NOT NULL,
    started_at        TEXT NOT NULL,
    answered_at       TEXT,
    ended_at          TEXT NOT NULL,
    close_reason      TEXT NOT NULL,
    recorded_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX calls_started_at ON calls (started_at);
CREATE INDEX calls_caller_e164 ON calls (caller_e164);
CREATE INDEX calls_did ON calls (did);

-- One row per operator's phone dialled for a call; seq keeps their order.
CREATE TABLE offers (
    call_id     TEXT NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    operator    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    dialed_at   TEXT NOT NULL,
    ringing_at  TEXT,
    answered_at TEXT,
    ended_at    TEXT,
    outcome     TEXT NOT NULL,
    dial_status TEXT NOT NULL,
    PRIMARY KEY (call_id, seq)
);

CREATE INDEX offers_operator ON offers (operator);
