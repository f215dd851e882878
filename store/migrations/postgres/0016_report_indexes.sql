-- The figures the roll-ups cannot add up by hour are read from the calls
-- of the range: the distinct callers, and the missed calls to look for
-- call backs to. These indexes hold what those queries read, so that they
-- read the index alone (an index-only scan), not a row of calls each.
CREATE INDEX calls_inbound_callers ON calls (started_at) INCLUDE (source, caller_e164, caller_kind)
    WHERE direction = 'inbound';
CREATE INDEX calls_inbound_missed ON calls (started_at) INCLUDE (source, caller_e164)
    WHERE direction = 'inbound' AND status IN ('missed', 'abandoned') AND caller_e164 IS NOT NULL;

-- The roll-ups' triggers (0015) name their tables unqualified: they look
-- for them where this schema was migrated, whatever search_path the
-- session that writes a call has.
ALTER FUNCTION rollup_calls_changed() SET search_path FROM CURRENT;
ALTER FUNCTION rollup_offers_changed() SET search_path FROM CURRENT;

-- The distinct callers come from the roll-ups too: each hour's calls keep
-- their numbers (numbers, one per call with one; new_numbers, those of
-- calls of kind new), which the report makes distinct over its range.
ALTER TABLE rollup_calls ADD COLUMN numbers text[] NOT NULL DEFAULT '{}',
    ADD COLUMN new_numbers text[] NOT NULL DEFAULT '{}';

CREATE OR REPLACE FUNCTION rollup_add_call(c calls, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    h timestamptz := date_trunc('hour', c.started_at, 'UTC');
    certain boolean := c.status = 'answered' AND NOT c.gaps && '{start,answer}';
    fresh boolean := c.caller_kind = 'new' AND c.caller_e164 IS NOT NULL;
    o offers;
BEGIN
    IF c.direction = 'inbound' THEN
        IF sign > 0 THEN
            INSERT INTO rollup_calls AS r (hour, source, status, calls, new_callers, waits, numbers, new_numbers)
            VALUES (h, c.source, c.status, 1, (c.caller_kind = 'new')::int,
                CASE WHEN certain THEN ARRAY[c.wait_seconds] ELSE '{}' END,
                CASE WHEN c.caller_e164 IS NOT NULL THEN ARRAY[c.caller_e164] ELSE '{}' END,
                CASE WHEN fresh THEN ARRAY[c.caller_e164] ELSE '{}' END)
            ON CONFLICT (hour, source, status) DO UPDATE SET
                calls = r.calls + 1, new_callers = r.new_callers + excluded.new_callers, waits = r.waits || excluded.waits,
                numbers = r.numbers || excluded.numbers, new_numbers = r.new_numbers || excluded.new_numbers;
        ELSE
            -- One wait, and one number, equal to the call's go, whichever
            -- call they were.
            UPDATE rollup_calls SET calls = calls - 1, new_callers = new_callers - (c.caller_kind = 'new')::int,
                waits = CASE WHEN certain AND array_position(waits, c.wait_seconds) IS NOT NULL
                    THEN waits[:array_position(waits, c.wait_seconds) - 1] || waits[array_position(waits, c.wait_seconds) + 1:]
                    ELSE waits END,
                numbers = CASE WHEN array_position(numbers, c.caller_e164) IS NOT NULL
                    THEN numbers[:array_position(numbers, c.caller_e164) - 1] || numbers[array_position(numbers, c.caller_e164) + 1:]
                    ELSE numbers END,
                new_numbers = CASE WHEN fresh AND array_position(new_numbers, c.caller_e164) IS NOT NULL
                    THEN new_numbers[:array_position(new_numbers, c.caller_e164) - 1] || new_numbers[array_position(new_numbers, c.caller_e164) + 1:]
                    ELSE new_numbers END
            WHERE hour = h AND source = c.source AND status = c.status;
            DELETE FROM rollup_calls WHERE hour = h AND source = c.source AND status = c.status AND calls = 0
                AND waits = '{}' AND numbers = '{}' AND new_numbers = '{}';
        END IF;
        INSERT INTO rollup_operators AS r (hour, operator, calls)
        SELECT h, op, sign * count(*) FROM unnest(c.offered_to) AS op GROUP BY op
        ON CONFLICT (hour, operator) DO UPDATE SET calls = r.calls + excluded.calls;
        FOR o IN SELECT * FROM offers WHERE call_id = c.call_id ORDER BY seq LOOP
            PERFORM rollup_add_offer(c, o, sign, ARRAY[o.seq], true);
        END LOOP;
    ELSIF c.direction = 'outbound' AND c.answered_by IS NOT NULL THEN
        INSERT INTO rollup_operators AS r (hour, operator, outbound, outbound_answered)
        VALUES (h, c.answered_by, sign, sign * (c.status = 'answered')::int)
        ON CONFLICT (hour, operator) DO UPDATE SET
            outbound = r.outbound + excluded.outbound, outbound_answered = r.outbound_answered + excluded.outbound_answered;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION rollup_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE calls, offers IN SHARE MODE;
    DELETE FROM rollup_calls;
    DELETE FROM rollup_operators;
    INSERT INTO rollup_calls (hour, source, status, calls, new_callers, waits, numbers, new_numbers)
    SELECT date_trunc('hour', started_at, 'UTC'), source, status, count(*), count(*) FILTER (WHERE caller_kind = 'new'),
        coalesce(array_agg(wait_seconds) FILTER (WHERE status = 'answered' AND NOT gaps && '{start,answer}'), '{}'),
        coalesce(array_agg(caller_e164) FILTER (WHERE caller_e164 IS NOT NULL), '{}'),
        coalesce(array_agg(caller_e164) FILTER (WHERE caller_e164 IS NOT NULL AND caller_kind = 'new'), '{}')
    FROM calls
    WHERE direction = 'inbound'
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
            count(DISTINCT o.call_id) FILTER (WHERE o.outcome = 'answered') AS calls_answered,
            count(DISTINCT o.call_id) FILTER (WHERE o.outcome IN ('no_answer', 'cancelled')
                AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AND c.answered_by IS DISTINCT FROM o.operator) AS missed_calls,
            0 AS calls, 0 AS outbound, 0 AS outbound_answered
        FROM offers o
        JOIN calls c USING (call_id)
        WHERE c.direction = 'inbound'
        GROUP BY 1, 2
        UNION ALL
        SELECT date_trunc('hour', c.started_at, 'UTC'), op, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*), 0, 0
        FROM calls c CROSS JOIN LATERAL unnest(c.offered_to) AS op
        WHERE c.direction = 'inbound'
        GROUP BY 1, 2
        UNION ALL
        SELECT date_trunc('hour', started_at, 'UTC'), answered_by, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            count(*), count(*) FILTER (WHERE status = 'answered')
        FROM calls
        WHERE direction = 'outbound' AND answered_by IS NOT NULL
        GROUP BY 1, 2
    ) f
    GROUP BY hour, operator;
END $$;

SELECT rollup_rebuild();
