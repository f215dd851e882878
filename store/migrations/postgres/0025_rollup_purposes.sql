-- The purposes of a report's calls from the roll-ups too: the summary
-- read them from the range's calls and their notes, a pass over the
-- range's calls (a year's million on every read). rollup_purposes counts
-- the inbound calls of each UTC hour by source and the purpose of their
-- note. A note written, changed or deleted marks its call's hour stale,
-- as a call does; rollup_refresh and rollup_rebuild count the purposes
-- with the rest. Upgrading counts them.

CREATE TABLE rollup_purposes (
    hour    timestamptz NOT NULL,
    source  text NOT NULL,
    purpose text NOT NULL,
    calls   integer NOT NULL,
    PRIMARY KEY (hour, source, purpose)
);

-- rollup_count_purposes counts the noted inbound calls of the UTC hours
-- given (none of them in rollup_purposes), or with hours NULL of every
-- hour in one pass, into rollup_purposes: summaryPurposes's figures
-- (store/reports_read.go).
CREATE FUNCTION rollup_count_purposes(hours timestamptz[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    src text := CASE WHEN hours IS NULL THEN 'calls' ELSE 'rollup_calls_of($1)' END;
BEGIN
    EXECUTE format($q$
    INSERT INTO rollup_purposes (hour, source, purpose, calls)
    SELECT date_trunc('hour', c.started_at, 'UTC'), c.source, n.purpose, count(*)
    FROM %s c
    JOIN call_notes n ON n.pbx = c.pbx AND n.call_id = c.call_id
    WHERE c.direction = 'inbound'
    GROUP BY 1, 2, 3$q$, src) USING hours;
END $$;

-- A note written, changed or deleted marks the hour of its call (a note
-- of a call not written yet finds none: the call marks it).
CREATE FUNCTION rollup_mark_note() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO rollup_stale (hour)
        SELECT date_trunc('hour', c.started_at, 'UTC') FROM calls c WHERE c.pbx = OLD.pbx AND c.call_id = OLD.call_id
        ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO rollup_stale (hour)
        SELECT date_trunc('hour', c.started_at, 'UTC') FROM calls c WHERE c.pbx = NEW.pbx AND c.call_id = NEW.call_id
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER rollup_mark_note AFTER INSERT OR UPDATE OR DELETE ON call_notes
    FOR EACH ROW EXECUTE FUNCTION rollup_mark_note();

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
    DELETE FROM rollup_calls WHERE hour = ANY (hours);
    DELETE FROM rollup_operators WHERE hour = ANY (hours);
    DELETE FROM rollup_purposes WHERE hour = ANY (hours);
    PERFORM rollup_count_calls(hours);
    PERFORM rollup_count_operators(hours);
    PERFORM rollup_count_purposes(hours);
    RETURN cardinality(hours);
END $$;

CREATE OR REPLACE FUNCTION rollup_rebuild() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    LOCK TABLE calls, offers, call_notes IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM rollup_calls;
    DELETE FROM rollup_operators;
    DELETE FROM rollup_purposes;
    DELETE FROM rollup_stale;
    PERFORM rollup_count_calls(NULL);
    PERFORM rollup_count_operators(NULL);
    PERFORM rollup_count_purposes(NULL);
END $$;

LOCK TABLE calls, call_notes IN SHARE ROW EXCLUSIVE MODE;
SELECT rollup_count_purposes(NULL);
ANALYZE rollup_purposes;
