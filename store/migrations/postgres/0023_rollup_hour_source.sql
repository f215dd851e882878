-- The roll-ups of the calls in half the rows, read without decoding
-- arrays: one row per UTC hour and source (0015's were per hour, source
-- and status), the statuses' counts as columns, and its lists as bytea
-- of big-endian integers, ascending, which the store reads as they come
-- (store/rollups.go):
--
--   - waits: the answered calls' certain waits, in milliseconds, 4 bytes
--     each (rollup_ms: the reports count waits to the millisecond, as the
--     daemon records them);
--   - numbers and new_numbers: the numbers' IDs (rollup_number_ids), 4
--     bytes each, each once;
--   - callback_delays: the time from each missed call called back to its
--     first call back, in microseconds, 8 bytes each (rollup_us).
--
-- A year of a busy call centre read some 200,000 rows of arrays (780,000
-- waits and 940,000 IDs decoded element by element); now some 100,000
-- rows whose lists are copied as bytes.
--
-- The raw rows' queries (store/reports_postgres.go) count with the same
-- rollup_ms and rollup_us, so that both say the same to the last digit.
-- rollup_refresh counts the stale hours with rollup_count_calls and
-- rollup_count_operators, each the one definition of its roll-up, which
-- rollup_rebuild runs over every call in one pass. Upgrading counts every
-- hour again, writers waiting.

-- rollup_ms is seconds in whole milliseconds (an integer: a wait of 25
-- days or more is an error, not a wrong figure); rollup_us an interval in
-- whole microseconds, exactly. Neither sets a search_path, so that the
-- planner inlines them.
CREATE FUNCTION rollup_ms(seconds double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(seconds * 1000)::integer $$;

CREATE FUNCTION rollup_us(d interval) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (extract(epoch FROM d) * 1000000)::bigint $$;

DROP TABLE rollup_calls;

CREATE TABLE rollup_calls (
    hour            timestamptz NOT NULL,
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
    PRIMARY KEY (hour, source)
);

-- rollup_count_calls counts the inbound calls of the UTC hours given
-- (each hour's first instant, none of them in rollup_calls), or with
-- hours NULL of every hour in one pass over calls (rollup_rebuild), into
-- rollup_calls, the numbers' IDs first.
CREATE FUNCTION rollup_count_calls(hours timestamptz[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    src text := CASE WHEN hours IS NULL THEN 'calls' ELSE 'rollup_calls_of($1)' END;
BEGIN
    EXECUTE format($q$
    INSERT INTO rollup_number_ids (number)
    SELECT DISTINCT caller_e164 FROM %s c
    WHERE direction = 'inbound' AND caller_e164 IS NOT NULL
    ORDER BY 1
    ON CONFLICT (number) DO NOTHING$q$, src) USING hours;
    EXECUTE format($q$
    INSERT INTO rollup_calls (hour, source, calls, answered, missed, abandoned, busy, failed, new_callers, waits,
        numbers, new_numbers, missed_numbered, callback_delays)
    SELECT date_trunc('hour', c.started_at, 'UTC'), c.source, count(*),
        count(*) FILTER (WHERE c.status = 'answered'), count(*) FILTER (WHERE c.status = 'missed'),
        count(*) FILTER (WHERE c.status = 'abandoned'), count(*) FILTER (WHERE c.status = 'busy'),
        count(*) FILTER (WHERE c.status = 'failed'), count(*) FILTER (WHERE c.caller_kind = 'new'),
        coalesce(string_agg(int4send(rollup_ms(c.wait_seconds)), ''::bytea ORDER BY rollup_ms(c.wait_seconds))
            FILTER (WHERE c.status = 'answered' AND NOT c.gaps && '{start,answer}'), ''::bytea),
        coalesce(string_agg(DISTINCT int4send(n.id), ''::bytea ORDER BY int4send(n.id)) FILTER (WHERE n.id IS NOT NULL), ''::bytea),
        coalesce(string_agg(DISTINCT int4send(n.id), ''::bytea ORDER BY int4send(n.id))
            FILTER (WHERE n.id IS NOT NULL AND c.caller_kind = 'new'), ''::bytea),
        count(*) FILTER (WHERE c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL),
        coalesce(string_agg(int8send(b.delay), ''::bytea ORDER BY b.delay) FILTER (WHERE b.delay IS NOT NULL), ''::bytea)
    FROM %s c
    LEFT JOIN rollup_number_ids n ON n.number = c.caller_e164
    LEFT JOIN LATERAL (
        -- The first call back, as store/reports_postgres.go's raw rows.
        SELECT rollup_us((SELECT min(r.started_at) FROM calls r
            WHERE r.caller_e164 = c.caller_e164 AND r.direction = 'outbound' AND r.started_at > c.started_at) - c.started_at) AS delay
        WHERE c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL
    ) b ON true
    WHERE c.direction = 'inbound'
    GROUP BY 1, 2$q$, src) USING hours;
END $$;

-- rollup_count_operators counts the operators' figures of the UTC hours
-- given (none of them in rollup_operators), or with hours NULL of every
-- hour in one pass, into rollup_operators: 0018's figures.
CREATE FUNCTION rollup_count_operators(hours timestamptz[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    src text := CASE WHEN hours IS NULL THEN 'calls' ELSE 'rollup_calls_of($1)' END;
BEGIN
    EXECUTE format($q$
    INSERT INTO rollup_operators (hour, operator, offer_rows, offered, answered, answered_rung, no_answer,
        ring_n, ring_ms, ring_seconds, talk_n, talk_ms, talk_seconds, calls_answered, missed_calls,
        calls, outbound, outbound_answered)
    SELECT hour, operator, sum(offer_rows), sum(offered), sum(answered), sum(answered_rung), sum(no_answer),
        sum(ring_n), sum(ring_ms), sum(ring_seconds), sum(talk_n), sum(talk_ms), sum(talk_seconds),
        sum(calls_answered), sum(missed_calls), sum(calls), sum(outbound), sum(outbound_answered)
    FROM (
        SELECT date_trunc('hour', c.started_at, 'UTC') AS hour, o.operator,
            count(*) AS offer_rows,
            count(*) FILTER (WHERE o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AS offered,
            count(*) FILTER (WHERE o.outcome = 'answered') AS answered,
            count(*) FILTER (WHERE o.outcome = 'answered' AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL)) AS answered_rung,
            count(*) FILTER (WHERE o.outcome = 'no_answer' AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL)) AS no_answer,
            count(*) FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND NOT c.gaps && '{answer}') AS ring_n,
            coalesce(sum(round(date_part('epoch', o.answered_at - coalesce(o.ringing_at, o.dialed_at)) * 1000))
                FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND NOT c.gaps && '{answer}'), 0)::bigint AS ring_ms,
            coalesce(sum(extract(epoch FROM o.answered_at - coalesce(o.ringing_at, o.dialed_at)))
                FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND NOT c.gaps && '{answer}'), 0) AS ring_seconds,
            count(*) FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL
                AND NOT c.gaps && '{answer,end}') AS talk_n,
            coalesce(sum(round(date_part('epoch', o.ended_at - o.answered_at) * 1000))
                FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL
                    AND NOT c.gaps && '{answer,end}'), 0)::bigint AS talk_ms,
            coalesce(sum(extract(epoch FROM o.ended_at - o.answered_at))
                FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL
                    AND NOT c.gaps && '{answer,end}'), 0) AS talk_seconds,
            count(DISTINCT (o.pbx, o.call_id)) FILTER (WHERE o.outcome = 'answered') AS calls_answered,
            count(DISTINCT (o.pbx, o.call_id)) FILTER (WHERE o.outcome IN ('no_answer', 'cancelled')
                AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AND c.answered_by IS DISTINCT FROM o.operator) AS missed_calls,
            0 AS calls, 0 AS outbound, 0 AS outbound_answered
        FROM offers o
        JOIN %1$s c USING (pbx, call_id)
        WHERE c.direction = 'inbound'
        GROUP BY 1, 2
        UNION ALL
        SELECT date_trunc('hour', c.started_at, 'UTC'), op, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*), 0, 0
        FROM %1$s c CROSS JOIN LATERAL unnest(c.offered_to) AS op
        WHERE c.direction = 'inbound'
        GROUP BY 1, 2
        UNION ALL
        SELECT date_trunc('hour', started_at, 'UTC'), answered_by, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            count(*), count(*) FILTER (WHERE status = 'answered')
        FROM %1$s c
        WHERE direction = 'outbound' AND answered_by IS NOT NULL
        GROUP BY 1, 2
    ) f
    GROUP BY hour, operator$q$, src) USING hours;
END $$;

-- rollup_refresh counts the stale hours again from their calls, and says
-- how many it counted.
CREATE OR REPLACE FUNCTION rollup_refresh() RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    hours timestamptz[];
BEGIN
    LOCK TABLE calls, offers IN SHARE ROW EXCLUSIVE MODE;
    WITH taken AS (DELETE FROM rollup_stale RETURNING hour)
    SELECT coalesce(array_agg(hour), '{}') INTO hours FROM taken;
    IF cardinality(hours) = 0 THEN
        RETURN 0;
    END IF;
    DELETE FROM rollup_calls WHERE hour = ANY (hours);
    DELETE FROM rollup_operators WHERE hour = ANY (hours);
    PERFORM rollup_count_calls(hours);
    PERFORM rollup_count_operators(hours);
    RETURN cardinality(hours);
END $$;

-- rollup_rebuild makes the roll-ups again from the raw rows, in one pass
-- over the tables (0021's counted every hour as a refresh does: 4 to 20
-- minutes for a year of a busy call centre). Writers wait while it runs.
CREATE OR REPLACE FUNCTION rollup_rebuild() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    LOCK TABLE calls, offers IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM rollup_calls;
    DELETE FROM rollup_operators;
    DELETE FROM rollup_stale;
    PERFORM rollup_count_calls(NULL);
    PERFORM rollup_count_operators(NULL);
END $$;

SELECT rollup_rebuild();
ANALYZE rollup_calls, rollup_operators, rollup_number_ids;
