-- The figures the roll-ups cannot add up by hour are read from the calls
-- of the range (see the PostgreSQL migration of the same number): these
-- indexes cover what those queries read.
CREATE INDEX calls_inbound_callers ON calls (started_at, source, caller_e164, caller_kind)
    WHERE direction = 'inbound';
CREATE INDEX calls_inbound_missed ON calls (started_at, source, caller_e164)
    WHERE direction = 'inbound' AND status IN ('missed', 'abandoned') AND caller_e164 IS NOT NULL;
