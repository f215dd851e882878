-- The roll-ups of 0015 and 0016 kept up to date as the calls are written
-- made writing the call log four to five times as slow: each call and
-- offer updated its hour's roll-up rows in the writer's transaction, and
-- the writer's transactions queued on those rows. Now, as in the embedded
-- store, the triggers only mark the UTC hours a change touches as stale
-- (an insert that does nothing when the hour is marked already), and the
-- store counts the stale hours again from their calls before it reads the
-- roll-ups (rollup_refresh, store/rollups_postgres.go). Readers that find
-- an hour of their range stale in their snapshot (a call written since
-- the refresh) refresh again, or read the raw rows. operator_stats reads
-- the raw rows of a day that has a stale hour.
--
-- Every committed state keeps this: an hour is stale, or its roll-ups are
-- its calls' figures. A writer marks its hours in the transaction that
-- writes the calls; rollup_refresh takes the stale marks and counts their
-- hours again in one transaction that holds calls and offers against
-- writers (SHARE ROW EXCLUSIVE: in-flight writes commit first, later ones
-- wait the few milliseconds an hour's recount takes; refreshes run one at
-- a time).

CREATE TABLE rollup_stale (
    hour timestamptz PRIMARY KEY
);

-- The distinct callers of a range, as they do not add up by hour: a row
-- per number and source, and one per number over every source
-- (every_source, its source ''), with the UTC hours it called in (called)
-- and called in as a new caller (called_new), as multiranges. A range's
-- callers are the rows whose called overlaps it: a row or two per number
-- that ever called (some 70,000 rows for a year of a busy call centre),
-- not the range's calls, and counted without making anything distinct,
-- in one scan of the table (a GiST index on called, chosen on stale
-- statistics, read every row through a bitmap at five times the cost).
-- 0016's arrays of each hour's numbers go.
ALTER TABLE rollup_calls DROP COLUMN numbers, DROP COLUMN new_numbers;

CREATE TABLE rollup_numbers (
    number       text NOT NULL,
    every_source boolean NOT NULL,
    source       text NOT NULL,
    called       tstzmultirange NOT NULL,
    called_new   tstzmultirange NOT NULL,
    PRIMARY KEY (number, every_source, source)
);

DROP TRIGGER rollup_calls_insert ON calls;
DROP TRIGGER rollup_calls_update ON calls;
DROP TRIGGER rollup_calls_delete ON calls;
DROP TRIGGER rollup_offers_changed ON offers;
DROP FUNCTION rollup_calls_changed();
DROP FUNCTION rollup_offers_changed();
DROP FUNCTION rollup_add_call(calls, integer);
DROP FUNCTION rollup_add_offer(calls, offers, integer, integer[], boolean);

-- A call written, replaced or deleted marks the hour it started in (and
-- the one it started in before, if a replacing record moves it).
CREATE FUNCTION rollup_mark_call() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO rollup_stale (hour) VALUES (date_trunc('hour', OLD.started_at, 'UTC')) ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE'
            AND date_trunc('hour', NEW.started_at, 'UTC') IS DISTINCT FROM date_trunc('hour', OLD.started_at, 'UTC')) THEN
        INSERT INTO rollup_stale (hour) VALUES (date_trunc('hour', NEW.started_at, 'UTC')) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

-- An offer written, changed or deleted marks the hour of its call (an
-- offer deleted with its call finds none: the call marked it).
CREATE FUNCTION rollup_mark_offer() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO rollup_stale (hour)
        SELECT DISTINCT date_trunc('hour', c.started_at, 'UTC') FROM calls c WHERE c.pbx = OLD.pbx AND c.call_id = OLD.call_id
        ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.pbx, NEW.call_id) IS DISTINCT FROM (OLD.pbx, OLD.call_id)) THEN
        INSERT INTO rollup_stale (hour)
        SELECT DISTINCT date_trunc('hour', c.started_at, 'UTC') FROM calls c WHERE c.pbx = NEW.pbx AND c.call_id = NEW.call_id
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER rollup_mark_call AFTER INSERT OR UPDATE OR DELETE ON calls
    FOR EACH ROW EXECUTE FUNCTION rollup_mark_call();
CREATE TRIGGER rollup_mark_offer AFTER INSERT OR UPDATE OR DELETE ON offers
    FOR EACH ROW EXECUTE FUNCTION rollup_mark_offer();

-- rollup_calls_of gives the calls that started in the UTC hours given
-- (each hour's first instant), by calls_started_at. It has no search_path
-- of its own, so that the planner inlines it: its callers set theirs.
CREATE FUNCTION rollup_calls_of(hours timestamptz[]) RETURNS SETOF calls
LANGUAGE sql STABLE AS $$
    SELECT c.* FROM unnest(hours) AS h (hour)
    JOIN calls c ON c.started_at >= h.hour AND c.started_at < h.hour + interval '1 hour'
$$;

-- rollup_refresh counts the stale hours again from their calls, as
-- 0016's rollup_rebuild counted every hour, and says how many it counted.
CREATE FUNCTION rollup_refresh() RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    hours timestamptz[];
    stale tstzmultirange;
BEGIN
    LOCK TABLE calls, offers IN SHARE ROW EXCLUSIVE MODE;
    WITH taken AS (DELETE FROM rollup_stale RETURNING hour)
    SELECT coalesce(array_agg(hour), '{}') INTO hours FROM taken;
    IF cardinality(hours) = 0 THEN
        RETURN 0;
    END IF;
    DELETE FROM rollup_calls WHERE hour = ANY (hours);
    DELETE FROM rollup_operators WHERE hour = ANY (hours);
    SELECT range_agg(tstzrange(h, h + interval '1 hour')) INTO stale FROM unnest(hours) AS h;
    UPDATE rollup_numbers SET called = called - stale, called_new = called_new - stale WHERE called && stale;
    INSERT INTO rollup_numbers AS r (number, every_source, source, called, called_new)
    SELECT caller_e164, GROUPING(source) = 1, coalesce(source, ''),
        range_agg(tstzrange(date_trunc('hour', started_at, 'UTC'), date_trunc('hour', started_at, 'UTC') + interval '1 hour')),
        coalesce(range_agg(tstzrange(date_trunc('hour', started_at, 'UTC'), date_trunc('hour', started_at, 'UTC') + interval '1 hour'))
            FILTER (WHERE caller_kind = 'new'), '{}')
    FROM rollup_calls_of(hours)
    WHERE direction = 'inbound' AND caller_e164 IS NOT NULL
    GROUP BY GROUPING SETS ((caller_e164, source), (caller_e164))
    ON CONFLICT (number, every_source, source) DO UPDATE SET called = r.called + excluded.called, called_new = r.called_new + excluded.called_new;
    DELETE FROM rollup_numbers WHERE isempty(called);
    INSERT INTO rollup_calls (hour, source, status, calls, new_callers, waits)
    SELECT date_trunc('hour', started_at, 'UTC'), source, status, count(*), count(*) FILTER (WHERE caller_kind = 'new'),
        coalesce(array_agg(wait_seconds) FILTER (WHERE status = 'answered' AND NOT gaps && '{start,answer}'), '{}')
    FROM rollup_calls_of(hours)
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

-- rollup_rebuild makes the roll-ups again from the raw rows, as
-- rollup_refresh counts the stale hours, over every call at once (one
-- pass over the tables, not an index scan per hour). Writers wait while
-- it runs.
CREATE OR REPLACE FUNCTION rollup_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE calls, offers IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM rollup_calls;
    DELETE FROM rollup_operators;
    DELETE FROM rollup_numbers;
    DELETE FROM rollup_stale;
    INSERT INTO rollup_numbers (number, every_source, source, called, called_new)
    SELECT caller_e164, GROUPING(source) = 1, coalesce(source, ''),
        range_agg(tstzrange(date_trunc('hour', started_at, 'UTC'), date_trunc('hour', started_at, 'UTC') + interval '1 hour')),
        coalesce(range_agg(tstzrange(date_trunc('hour', started_at, 'UTC'), date_trunc('hour', started_at, 'UTC') + interval '1 hour'))
            FILTER (WHERE caller_kind = 'new'), '{}')
    FROM calls
    WHERE direction = 'inbound' AND caller_e164 IS NOT NULL
    GROUP BY GROUPING SETS ((caller_e164, source), (caller_e164));
    INSERT INTO rollup_calls (hour, source, status, calls, new_callers, waits)
    SELECT date_trunc('hour', started_at, 'UTC'), source, status, count(*), count(*) FILTER (WHERE caller_kind = 'new'),
        coalesce(array_agg(wait_seconds) FILTER (WHERE status = 'answered' AND NOT gaps && '{start,answer}'), '{}')
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
            count(DISTINCT (o.pbx, o.call_id)) FILTER (WHERE o.outcome = 'answered') AS calls_answered,
            count(DISTINCT (o.pbx, o.call_id)) FILTER (WHERE o.outcome IN ('no_answer', 'cancelled')
                AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AND c.answered_by IS DISTINCT FROM o.operator) AS missed_calls,
            0 AS calls, 0 AS outbound, 0 AS outbound_answered
        FROM offers o
        JOIN calls c USING (pbx, call_id)
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
ALTER FUNCTION rollup_rebuild() SET search_path FROM CURRENT;

SELECT rollup_rebuild();
ANALYZE rollup_calls, rollup_operators, rollup_numbers;

-- operator_stats reads the roll-ups of a day only when none of its hours
-- is stale in the reader's snapshot; else, as for a day of a zone half an
-- hour off UTC, the raw rows. Its figures are 0009's.
CREATE OR REPLACE VIEW operator_stats AS
SELECT d.day_start::date AS day, d.day_start, s.operator, o.name AS operator_name,
    s.offered, s.answered, s.offered - s.answered AS missed, s.no_answer,
    round(s.answered::numeric / nullif(s.offered, 0), 4) AS answer_rate,
    s.avg_ring_seconds, s.avg_talk_seconds, s.talk_seconds, s.outbound, s.outbound_answered
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
    SELECT extract(epoch FROM d.day_start) % 3600 = 0 AND extract(epoch FROM d.day_start + interval '1 day') % 3600 = 0
        AND NOT EXISTS (SELECT 1 FROM rollup_stale st
            WHERE st.hour >= d.day_start AND st.hour < d.day_start + interval '1 day') AS served
) AS u
CROSS JOIN LATERAL (
    SELECT r.operator,
        sum(r.offered) AS offered, sum(r.answered_rung) AS answered, sum(r.no_answer) AS no_answer,
        round(sum(r.ring_seconds) / nullif(sum(r.ring_n), 0), 1) AS avg_ring_seconds,
        round(sum(r.talk_seconds) / nullif(sum(r.talk_n), 0), 1) AS avg_talk_seconds,
        round(sum(r.talk_seconds), 1) AS talk_seconds,
        sum(r.outbound) AS outbound, sum(r.outbound_answered) AS outbound_answered
    FROM rollup_operators r
    WHERE u.served
        AND r.hour >= d.day_start AND r.hour < d.day_start + interval '1 day'
    GROUP BY r.operator
    HAVING sum(r.offered) + sum(r.outbound) > 0
    UNION ALL
    SELECT t.operator,
        count(*) FILTER (WHERE t.inbound) AS offered,
        count(*) FILTER (WHERE t.inbound AND t.outcome = 'answered') AS answered,
        count(*) FILTER (WHERE t.inbound AND t.outcome = 'no_answer') AS no_answer,
        round(avg(t.ring_seconds), 1) AS avg_ring_seconds,
        round(avg(t.talk_seconds), 1) AS avg_talk_seconds,
        round(coalesce(sum(t.talk_seconds), 0), 1) AS talk_seconds,
        count(*) FILTER (WHERE NOT t.inbound) AS outbound,
        count(*) FILTER (WHERE NOT t.inbound AND t.outcome = 'answered') AS outbound_answered
    FROM (
        SELECT f.operator, true AS inbound, f.outcome,
            CASE WHEN f.outcome = 'answered' AND NOT c.gaps && '{answer}'
                THEN extract(epoch FROM f.answered_at - coalesce(f.ringing_at, f.dialed_at)) END AS ring_seconds,
            CASE WHEN f.outcome = 'answered' AND NOT c.gaps && '{answer,end}'
                THEN extract(epoch FROM f.ended_at - f.answered_at) END AS talk_seconds
        FROM calls c JOIN offers f ON f.pbx = c.pbx AND f.call_id = c.call_id
        WHERE c.direction = 'inbound'
            AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
            AND (f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL)
        UNION ALL
        SELECT c.answered_by, false, c.status, NULL, NULL
        FROM calls c
        WHERE c.direction = 'outbound' AND c.answered_by IS NOT NULL
            AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
    ) t
    WHERE NOT u.served
    GROUP BY t.operator
) s
LEFT JOIN operators o ON o.extension = s.operator;
