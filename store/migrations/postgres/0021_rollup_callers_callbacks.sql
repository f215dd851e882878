-- The reports' last figures read from the raw rows come from the roll-ups
-- too (store/rollups.go): each hour's rollup_calls rows keep
--
--   - numbers and new_numbers: the numbers that called (of kind new), as
--     small integers (rollup_number_ids), each once; the store makes them
--     distinct over a range with a bitmap of the range's numbers, a pass
--     over the range's rows, not over every number that ever called
--     (0018's rollup_numbers read some 100,000 multiranges for a month);
--   - missed_numbered and callback_delays: the missed and abandoned calls
--     with a number, and the seconds from each to its first call back (an
--     outbound call to the number), for those called back. A call back
--     changes an earlier hour's figures: a call out marks stale the hours
--     of the missed calls it may be the first call back to.
--
-- The stale marks work as 0018 made them. rollup_rebuild marks every hour
-- stale and counts them again, as a refresh does.

CREATE TABLE rollup_number_ids (
    id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number text NOT NULL UNIQUE
);

ALTER TABLE rollup_calls
    ADD COLUMN numbers integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN new_numbers integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN missed_numbered integer NOT NULL DEFAULT 0,
    ADD COLUMN callback_delays double precision[] NOT NULL DEFAULT '{}';

DROP TABLE rollup_numbers;

-- rollup_mark_callbacks marks stale the hours of the missed calls of the
-- number that call r (going out) may be the first call back to: those
-- before it, and at or after the number's last other call out before it.
CREATE FUNCTION rollup_mark_callbacks(r calls) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF r.direction <> 'outbound' OR r.caller_e164 IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO rollup_stale (hour)
    SELECT DISTINCT date_trunc('hour', m.started_at, 'UTC') FROM calls m
    WHERE m.caller_e164 = r.caller_e164 AND m.direction = 'inbound' AND m.status IN ('missed', 'abandoned')
        AND m.started_at < r.started_at
        AND m.started_at >= coalesce((SELECT max(o.started_at) FROM calls o
            WHERE o.caller_e164 = r.caller_e164 AND o.direction = 'outbound' AND o.started_at < r.started_at
                AND (o.pbx, o.call_id) <> (r.pbx, r.call_id)), '-infinity')
    ON CONFLICT DO NOTHING;
END $$;

-- A call written, replaced or deleted marks the hour it started in (and
-- the one it started in before, if a replacing record moves it), and a
-- call out the hours of the missed calls it may call back.
CREATE OR REPLACE FUNCTION rollup_mark_call() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO rollup_stale (hour) VALUES (date_trunc('hour', OLD.started_at, 'UTC')) ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE'
            AND date_trunc('hour', NEW.started_at, 'UTC') IS DISTINCT FROM date_trunc('hour', OLD.started_at, 'UTC')) THEN
        INSERT INTO rollup_stale (hour) VALUES (date_trunc('hour', NEW.started_at, 'UTC')) ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.direction, NEW.caller_e164, NEW.started_at) IS NOT DISTINCT FROM (OLD.direction, OLD.caller_e164, OLD.started_at) THEN
        RETURN NULL; -- the same call back, if it is one
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM rollup_mark_callbacks(OLD);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM rollup_mark_callbacks(NEW);
    END IF;
    RETURN NULL;
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
    INSERT INTO rollup_number_ids (number)
    SELECT DISTINCT caller_e164 FROM rollup_calls_of(hours)
    WHERE direction = 'inbound' AND caller_e164 IS NOT NULL
    ORDER BY 1
    ON CONFLICT (number) DO NOTHING;
    -- The delay of a call back is the raw rows' (store/reports_postgres.go).
    INSERT INTO rollup_calls (hour, source, status, calls, new_callers, waits, numbers, new_numbers,
        missed_numbered, callback_delays)
    SELECT date_trunc('hour', c.started_at, 'UTC'), c.source, c.status, count(*), count(*) FILTER (WHERE c.caller_kind = 'new'),
        coalesce(array_agg(c.wait_seconds) FILTER (WHERE c.status = 'answered' AND NOT c.gaps && '{start,answer}'), '{}'),
        coalesce(array_agg(DISTINCT n.id) FILTER (WHERE n.id IS NOT NULL), '{}'),
        coalesce(array_agg(DISTINCT n.id) FILTER (WHERE n.id IS NOT NULL AND c.caller_kind = 'new'), '{}'),
        count(*) FILTER (WHERE c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL),
        coalesce(array_agg(b.delay) FILTER (WHERE b.delay IS NOT NULL), '{}')
    FROM rollup_calls_of(hours) c
    LEFT JOIN rollup_number_ids n ON n.number = c.caller_e164
    LEFT JOIN LATERAL (
        SELECT date_part('epoch', (SELECT min(r.started_at) FROM calls r
            WHERE r.caller_e164 = c.caller_e164 AND r.direction = 'outbound' AND r.started_at > c.started_at) - c.started_at) AS delay
        WHERE c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL
    ) b ON true
    WHERE c.direction = 'inbound'
    GROUP BY 1, 2, 3;
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
        JOIN rollup_calls_of(hours) c USING (pbx, call_id)
        WHERE c.direction = 'inbound'
        GROUP BY 1, 2
        UNION ALL
        SELECT date_trunc('hour', c.started_at, 'UTC'), op, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*), 0, 0
        FROM rollup_calls_of(hours) c CROSS JOIN LATERAL unnest(c.offered_to) AS op
        WHERE c.direction = 'inbound'
        GROUP BY 1, 2
        UNION ALL
        SELECT date_trunc('hour', started_at, 'UTC'), answered_by, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            count(*), count(*) FILTER (WHERE status = 'answered')
        FROM rollup_calls_of(hours)
        WHERE direction = 'outbound' AND answered_by IS NOT NULL
        GROUP BY 1, 2
    ) f
    GROUP BY hour, operator;
    RETURN cardinality(hours);
END $$;

-- rollup_rebuild makes the roll-ups again from the raw rows: every hour
-- with a call is stale, and counted again. Writers wait while it runs.
CREATE OR REPLACE FUNCTION rollup_rebuild() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    LOCK TABLE calls, offers IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM rollup_calls;
    DELETE FROM rollup_operators;
    DELETE FROM rollup_stale;
    INSERT INTO rollup_stale (hour) SELECT DISTINCT date_trunc('hour', started_at, 'UTC') FROM calls;
    PERFORM rollup_refresh();
END $$;

SELECT rollup_rebuild();
ANALYZE rollup_calls, rollup_operators, rollup_number_ids;
