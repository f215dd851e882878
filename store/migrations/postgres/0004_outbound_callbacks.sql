-- Operators' outbound calls in the call log, and the callback list.

-- Who placed the call: a client calling in, or an operator calling a
-- client out (whose number is then in caller and caller_e164).
ALTER TABLE calls ADD COLUMN direction text NOT NULL DEFAULT 'inbound'
    CHECK (direction IN ('inbound', 'outbound'));

-- The callback list is computed from the call log. It reads every missed
-- inbound call with a number (few: the partial index holds nothing else)
-- and, for each, looks for a later call that resolved it: an outbound
-- call to the number, or an answered call from it. Both lookups are a
-- range of one number's calls in the second index.
CREATE INDEX calls_missed ON calls (caller_e164, started_at)
    WHERE direction = 'inbound' AND status IN ('missed', 'abandoned') AND caller_e164 IS NOT NULL;
CREATE INDEX calls_resolving ON calls (caller_e164, started_at)
    WHERE direction = 'outbound' OR status = 'answered';

-- An operator closing a number's callback by hand: the missed calls up to
-- last_missed_at (the last the item held) are dealt with; a later one opens
-- a new item. Missed calls are compared with missed calls, by Asterisk's
-- clock; closed_at is the daemon's, for the record.
CREATE TABLE callback_closures (
    closure_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number         text NOT NULL CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    last_missed_at timestamptz NOT NULL,
    closed_at      timestamptz NOT NULL,
    closed_by      text NOT NULL, -- the operator's extension
    reason         text NOT NULL CHECK (reason <> '')
);
CREATE INDEX callback_closures_number ON callback_closures (number, last_missed_at);

-- The operator handling a number's callback, so that no one else calls
-- the client meanwhile. A claim holds for the item it was made for (the
-- one whose first missed call is first_missed_at), and lapses
-- (screenpop.ClaimLapse after claimed_at) if they do not call.
CREATE TABLE callback_claims (
    number          text PRIMARY KEY CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    operator        text NOT NULL, -- the operator's extension
    claimed_at      timestamptz NOT NULL,
    first_missed_at timestamptz NOT NULL
);
