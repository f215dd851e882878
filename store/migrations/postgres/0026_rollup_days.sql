-- Roll-ups of whole local days, for long ranges: a year's report added up
-- some 91,000 rows of hours and sources and 135,000 of hours and
-- operators on every read (0.7-1.4 s). A day here is the instants a
-- report's local day runs between (day_start to day_end, whole UTC hours:
-- a zone whose offset is whole hours), so days of different zones, or of
-- one zone before and after its rules changed, are rows apart and a read
-- takes only a day whose bounds are its own. Each day's rows are its hour
-- rows added up:
--
--   - rollup_days: the days held (a day with no calls has no other rows);
--   - rollup_day_calls: rollup_calls by source, the lists joined in the
--     order of their hours;
--   - rollup_day_hours: rollup_calls' counts by hour, the sources added
--     up (the report's hours of the day);
--   - rollup_day_operators: rollup_operators by operator, the figures the
--     report reads;
--   - rollup_day_purposes: rollup_purposes by source and purpose.
--
-- The store fills a report's whole past days that are not here yet from
-- the hours (store/rollup_days.go), holding rollup_days against a refresh;
-- rollup_refresh takes the days holding a recounted hour out, in its
-- transaction, so every committed day is exactly its hours; rollup_rebuild
-- takes them all out (the store fills the same days again). Upgrading
-- adds empty tables: the first reports fill them.

CREATE TABLE rollup_days (
    day_start timestamptz NOT NULL,
    day_end   timestamptz NOT NULL,
    PRIMARY KEY (day_start, day_end),
    -- rollup_forget_days looks two days back for the days holding an hour.
    CHECK (day_end > day_start AND day_end <= day_start + interval '48 hours')
);

CREATE TABLE rollup_day_calls (
    day_start       timestamptz NOT NULL,
    day_end         timestamptz NOT NULL,
    source          text NOT NULL,
    calls           integer NOT NULL,
    answered        integer NOT NULL,
    missed          integer NOT NULL,
    abandoned       integer NOT NULL,
    busy            integer NOT NULL,
    failed          integer NOT NULL,
    new_callers     integer NOT NULL,
    waits           bytea NOT NULL,
    numbers         bytea NOT NULL,
    new_numbers     bytea NOT NULL,
    missed_numbered integer NOT NULL,
    callback_delays bytea NOT NULL,
    PRIMARY KEY (day_start, day_end, source)
);

CREATE TABLE rollup_day_hours (
    day_start   timestamptz NOT NULL,
    day_end     timestamptz NOT NULL,
    hour        timestamptz NOT NULL,
    calls       integer NOT NULL,
    answered    integer NOT NULL,
    missed      integer NOT NULL,
    abandoned   integer NOT NULL,
    busy        integer NOT NULL,
    failed      integer NOT NULL,
    new_callers integer NOT NULL,
    PRIMARY KEY (day_start, day_end, hour)
);

CREATE TABLE rollup_day_operators (
    day_start      timestamptz NOT NULL,
    day_end        timestamptz NOT NULL,
    operator       text NOT NULL,
    offer_rows     integer NOT NULL,
    offered        integer NOT NULL,
    answered       integer NOT NULL,
    no_answer      integer NOT NULL,
    ring_n         integer NOT NULL,
    ring_ms        bigint NOT NULL,
    talk_n         integer NOT NULL,
    talk_ms        bigint NOT NULL,
    calls_answered integer NOT NULL,
    missed_calls   integer NOT NULL,
    calls          integer NOT NULL,
    PRIMARY KEY (day_start, day_end, operator)
);

CREATE TABLE rollup_day_purposes (
    day_start timestamptz NOT NULL,
    day_end   timestamptz NOT NULL,
    source    text NOT NULL,
    purpose   text NOT NULL,
    calls     integer NOT NULL,
    PRIMARY KEY (day_start, day_end, source, purpose)
);

-- rollup_forget_days takes out the days holding one of the UTC hours
-- given, with their rows.
CREATE FUNCTION rollup_forget_days(hours timestamptz[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    WITH gone AS (
        DELETE FROM rollup_days d
        USING unnest(hours) AS h (hour)
        WHERE d.day_start <= h.hour AND d.day_start > h.hour - interval '48 hours' AND d.day_end > h.hour
        RETURNING d.day_start, d.day_end
    ), c AS (
        DELETE FROM rollup_day_calls x USING gone g WHERE x.day_start = g.day_start AND x.day_end = g.day_end
    ), h AS (
        DELETE FROM rollup_day_hours x USING gone g WHERE x.day_start = g.day_start AND x.day_end = g.day_end
    ), o AS (
        DELETE FROM rollup_day_operators x USING gone g WHERE x.day_start = g.day_start AND x.day_end = g.day_end
    )
    DELETE FROM rollup_day_purposes x USING gone g WHERE x.day_start = g.day_start AND x.day_end = g.day_end;
END $$;

-- rollup_refresh as 0025's, and the days of the hours it counts again
-- taken out; rollup_days is held as the store holds it to fill days, so
-- that a day is filled from the hours before or after a refresh, never
-- during one.
CREATE OR REPLACE FUNCTION rollup_refresh() RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    hours timestamptz[];
BEGIN
    LOCK TABLE calls, offers, call_notes IN SHARE ROW EXCLUSIVE MODE;
    WITH taken AS (DELETE FROM rollup_stale RETURNING hour)
    SELECT coalesce(array_agg(hour), '{}') INTO hours FROM taken;
    IF cardinality(hours) = 0 THEN
        RETURN 0;
    END IF;
    LOCK TABLE rollup_days IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM rollup_calls WHERE hour = ANY (hours);
    DELETE FROM rollup_operators WHERE hour = ANY (hours);
    DELETE FROM rollup_purposes WHERE hour = ANY (hours);
    PERFORM rollup_count_calls(hours);
    PERFORM rollup_count_operators(hours);
    PERFORM rollup_count_purposes(hours);
    PERFORM rollup_forget_days(hours);
    RETURN cardinality(hours);
END $$;

CREATE OR REPLACE FUNCTION rollup_rebuild() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    LOCK TABLE calls, offers, call_notes IN SHARE ROW EXCLUSIVE MODE;
    LOCK TABLE rollup_days IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM rollup_calls;
    DELETE FROM rollup_operators;
    DELETE FROM rollup_purposes;
    DELETE FROM rollup_stale;
    DELETE FROM rollup_days;
    DELETE FROM rollup_day_calls;
    DELETE FROM rollup_day_hours;
    DELETE FROM rollup_day_operators;
    DELETE FROM rollup_day_purposes;
    PERFORM rollup_count_calls(NULL);
    PERFORM rollup_count_operators(NULL);
    PERFORM rollup_count_purposes(NULL);
END $$;
