-- One row per inbound call, as screenpop.Call has it. Column names are the
-- JSON names of screenpop.Call: one name for one thing everywhere.
CREATE TABLE calls (
    call_id           text PRIMARY KEY,
    caller            text NOT NULL,
    caller_e164       text,
    caller_name       text NOT NULL,
    withheld          boolean NOT NULL,
    did               text NOT NULL,
    status            text NOT NULL,
    offered_to        text[] NOT NULL,
    answered_by       text,
    talked_to         text[] NOT NULL,
    ring_seconds      double precision NOT NULL,
    wait_seconds      double precision NOT NULL,
    talk_seconds      double precision NOT NULL,
    hangup_cause      integer NOT NULL,
    hangup_cause_text text NOT NULL,
    started_at        timestamptz NOT NULL,
    answered_at       timestamptz,
    ended_at          timestamptz NOT NULL,
    close_reason      text NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX calls_started_at ON calls (started_at);
CREATE INDEX calls_caller_e164 ON calls (caller_e164);
CREATE INDEX calls_did ON calls (did);

-- One row per operator's phone dialled for a call; seq keeps their order.
CREATE TABLE offers (
    call_id     text NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    operator    text NOT NULL,
    channel     text NOT NULL,
    dialed_at   timestamptz NOT NULL,
    ringing_at  timestamptz,
    answered_at timestamptz,
    ended_at    timestamptz,
    outcome     text NOT NULL,
    dial_status text NOT NULL,
    PRIMARY KEY (call_id, seq)
);

CREATE INDEX offers_operator ON offers (operator);
