-- gaps: the parts of a call record the daemon could not see exactly
-- (screenpop.Gap: start, offers, answer, end); empty for an exact record.
-- Reports leave durations a gap makes uncertain out of their averages.
ALTER TABLE calls ADD COLUMN gaps text[] NOT NULL DEFAULT '{}';

-- The uncertain records, for analysts who look at them apart.
CREATE INDEX calls_uncertain ON calls (started_at) WHERE cardinality(gaps) > 0;

-- Call records the database refused (a value it cannot hold), set aside
-- so that the records after them are written: record is the call as the
-- daemon had it, in JSON (screenpop.Call), reason the database's error.
-- screenpopd calls --rejected lists them; the admin page counts them.
CREATE TABLE rejected_calls (
    id          bigserial PRIMARY KEY,
    call_id     text NOT NULL,
    record      text NOT NULL,
    reason      text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
