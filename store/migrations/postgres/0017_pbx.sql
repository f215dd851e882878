-- Several Asterisk boxes. Asterisk's linkedids are unique only within a
-- box (two boxes started in the same second count alike), so a call is
-- keyed (pbx, call_id), pbx being the box's name (asterisk.boxes[].name,
-- screenpop.Call.PBX). With one box pbx is '': the rows stored before this
-- get '' and read as they did, and so does everything that names them.
ALTER TABLE calls ADD COLUMN pbx text NOT NULL DEFAULT '';
ALTER TABLE offers ADD COLUMN pbx text NOT NULL DEFAULT '';
ALTER TABLE call_notes ADD COLUMN pbx text NOT NULL DEFAULT '';
ALTER TABLE complaints ADD COLUMN pbx text NOT NULL DEFAULT '';
ALTER TABLE rejected_calls ADD COLUMN pbx text NOT NULL DEFAULT '';

ALTER TABLE offers DROP CONSTRAINT offers_call_id_fkey;
ALTER TABLE offers DROP CONSTRAINT offers_pkey;
ALTER TABLE calls DROP CONSTRAINT calls_pkey;
ALTER TABLE calls ADD PRIMARY KEY (pbx, call_id);
ALTER TABLE offers ADD PRIMARY KEY (call_id, pbx, seq); -- readOffers asks for call IDs
ALTER TABLE offers ADD FOREIGN KEY (pbx, call_id) REFERENCES calls (pbx, call_id) ON DELETE CASCADE;
ALTER TABLE call_notes DROP CONSTRAINT call_notes_pkey;
ALTER TABLE call_notes ADD PRIMARY KEY (pbx, call_id);

-- operator_stats' and operator_calls' offers, read by (pbx, call_id) now.
DROP INDEX offers_rang;
CREATE INDEX offers_rang ON offers (call_id, pbx)
    INCLUDE (operator, outcome, dialed_at, ringing_at, answered_at, ended_at)
    WHERE ringing_at IS NOT NULL OR answered_at IS NOT NULL;

-- The views of 0011, 0012 and 0015, joining a call's offers and note on
-- (pbx, call_id); those that name a call get its pbx as their last column
-- (the columns before stay as they were, for analysts' own SQL).
CREATE OR REPLACE VIEW operator_stats AS
SELECT d.day_start::date AS day, d.day_start, s.operator, o.name AS operator_name,
    s.offered, s.answered, s.offered - s.answered AS missed, s.no_answer,
    round(s.answered::numeric / nullif(s.offered, 0), 4) AS answer_rate,
    s.avg_ring_seconds, s.avg_talk_seconds, s.talk_seconds, s.outbound, s.outbound_answered
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
    SELECT r.operator,
        sum(r.offered) AS offered, sum(r.answered_rung) AS answered, sum(r.no_answer) AS no_answer,
        round(sum(r.ring_seconds) / nullif(sum(r.ring_n), 0), 1) AS avg_ring_seconds,
        round(sum(r.talk_seconds) / nullif(sum(r.talk_n), 0), 1) AS avg_talk_seconds,
        round(sum(r.talk_seconds), 1) AS talk_seconds,
        sum(r.outbound) AS outbound, sum(r.outbound_answered) AS outbound_answered
    FROM rollup_operators r
    WHERE extract(epoch FROM d.day_start) % 3600 = 0 AND extract(epoch FROM d.day_start + interval '1 day') % 3600 = 0
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
    WHERE NOT (extract(epoch FROM d.day_start) % 3600 = 0 AND extract(epoch FROM d.day_start + interval '1 day') % 3600 = 0)
    GROUP BY t.operator
) s
LEFT JOIN operators o ON o.extension = s.operator;

CREATE OR REPLACE VIEW missed_without_callback AS
SELECT d.day_start::date AS day, m.started_at, m.call_id, m.caller_e164 AS number, m.caller,
    m.caller_kind, m.did, m.source, m.campaign, m.status, m.offered_to, m.ring_seconds, m.wait_seconds, m.pbx
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
    SELECT c.started_at, c.call_id, c.caller_e164, c.caller, c.caller_kind, c.did, c.source,
        c.campaign, c.status, c.offered_to, c.ring_seconds, c.wait_seconds, c.pbx
    FROM calls c
    WHERE c.direction = 'inbound' AND c.status IN ('missed', 'abandoned', 'failed') AND c.caller_e164 IS NOT NULL
        AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
        AND NOT EXISTS (SELECT 1 FROM calls r
            WHERE r.caller_e164 = c.caller_e164 AND (r.direction = 'outbound' OR r.status = 'answered')
                AND r.started_at > c.started_at)
        AND NOT EXISTS (SELECT 1 FROM callback_closures x
            WHERE x.number = c.caller_e164 AND x.last_missed_at >= c.started_at)
) m;

-- SELECT * FROM calls now ends with pbx: report_calls names its columns
-- as it did, and adds pbx last.
CREATE OR REPLACE VIEW report_calls AS
SELECT d.day_start::date AS day, d.day_start, c.started_at, c.call_id, c.caller_e164 AS number, c.caller_kind,
    c.did, c.source, c.campaign, c.status, c.wait_seconds, n.purpose,
    cb.called_back_at,
    round(extract(epoch FROM cb.called_back_at - c.started_at), 3) AS callback_seconds, c.pbx
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
    SELECT * FROM calls c
    WHERE c.direction = 'inbound'
        AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
) c
LEFT JOIN call_notes n ON n.pbx = c.pbx AND n.call_id = c.call_id
LEFT JOIN LATERAL (
    SELECT min(r.started_at) AS called_back_at FROM calls r
    WHERE c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL
        AND r.caller_e164 = c.caller_e164 AND r.direction = 'outbound' AND r.started_at > c.started_at
) cb ON true;

CREATE OR REPLACE VIEW operator_calls AS
SELECT d.day_start::date AS day, d.day_start, s.operator, o.name AS operator_name,
    s.calls, s.calls_answered, s.taken_by_colleague, s.calls - s.calls_answered - s.taken_by_colleague AS missed_calls,
    round(s.calls_answered::numeric / nullif(s.calls - s.taken_by_colleague, 0), 4) AS answer_rate
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
    SELECT x.operator, count(*) AS calls, count(*) FILTER (WHERE x.answered) AS calls_answered,
        count(*) FILTER (WHERE NOT x.answered AND x.elsewhere) AS taken_by_colleague
    FROM (
        SELECT f.operator, bool_or(f.outcome = 'answered') AS answered,
            bool_and(f.outcome = 'answered_elsewhere') AS elsewhere
        FROM calls c JOIN offers f ON f.pbx = c.pbx AND f.call_id = c.call_id
        WHERE c.direction = 'inbound'
            AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
            AND (f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL)
        GROUP BY f.operator, f.pbx, f.call_id
    ) x
    GROUP BY x.operator
) s
LEFT JOIN operators o ON o.extension = s.operator;

-- The roll-ups' functions as 0015 and 0016 made them, finding a call's
-- offers, and an offer's call, by (pbx, call_id). The roll-ups themselves
-- hold no call IDs: every call so far is the one box's, and their figures
-- stand.
CREATE OR REPLACE FUNCTION rollup_add_offer(c calls, o offers, sign integer, skip integer[], first_only boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    rang boolean := o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL;
    ring boolean := o.outcome = 'answered' AND o.answered_at IS NOT NULL AND NOT c.gaps && '{answer}';
    talk boolean := o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL AND NOT c.gaps && '{answer,end}';
    answered boolean := o.outcome = 'answered';
    missed boolean := o.outcome IN ('no_answer', 'cancelled') AND rang AND c.answered_by IS DISTINCT FROM o.operator;
BEGIN
    IF c.direction <> 'inbound' THEN
        RETURN;
    END IF;
    IF o.outcome = 'answered' AND EXISTS (SELECT 1 FROM offers x WHERE x.pbx = c.pbx AND x.call_id = c.call_id AND x.operator = o.operator
            AND x.seq <> ALL (skip) AND (NOT first_only OR x.seq < o.seq) AND x.outcome = 'answered') THEN
        answered := false;
    END IF;
    IF missed AND EXISTS (SELECT 1 FROM offers x WHERE x.pbx = c.pbx AND x.call_id = c.call_id AND x.operator = o.operator
            AND x.seq <> ALL (skip) AND (NOT first_only OR x.seq < o.seq)
            AND x.outcome IN ('no_answer', 'cancelled') AND (x.ringing_at IS NOT NULL OR x.answered_at IS NOT NULL)) THEN
        missed := false;
    END IF;
    INSERT INTO rollup_operators AS r (hour, operator, offer_rows, offered, answered, answered_rung, no_answer,
        ring_n, ring_ms, ring_seconds, talk_n, talk_ms, talk_seconds, calls_answered, missed_calls)
    VALUES (date_trunc('hour', c.started_at, 'UTC'), o.operator, sign,
        sign * rang::int,
        sign * (o.outcome = 'answered')::int,
        sign * (o.outcome = 'answered' AND rang)::int,
        sign * (o.outcome = 'no_answer' AND rang)::int,
        sign * ring::int,
        CASE WHEN ring THEN sign * round(date_part('epoch', o.answered_at - coalesce(o.ringing_at, o.dialed_at)) * 1000)::bigint ELSE 0 END,
        CASE WHEN ring THEN sign * extract(epoch FROM o.answered_at - coalesce(o.ringing_at, o.dialed_at)) ELSE 0 END,
        sign * talk::int,
        CASE WHEN talk THEN sign * round(date_part('epoch', o.ended_at - o.answered_at) * 1000)::bigint ELSE 0 END,
        CASE WHEN talk THEN sign * extract(epoch FROM o.ended_at - o.answered_at) ELSE 0 END,
        sign * answered::int,
        sign * missed::int)
    ON CONFLICT (hour, operator) DO UPDATE SET
        offer_rows = r.offer_rows + excluded.offer_rows, offered = r.offered + excluded.offered,
        answered = r.answered + excluded.answered, answered_rung = r.answered_rung + excluded.answered_rung, no_answer = r.no_answer + excluded.no_answer,
        ring_n = r.ring_n + excluded.ring_n, ring_ms = r.ring_ms + excluded.ring_ms,
        ring_seconds = r.ring_seconds + excluded.ring_seconds,
        talk_n = r.talk_n + excluded.talk_n, talk_ms = r.talk_ms + excluded.talk_ms,
        talk_seconds = r.talk_seconds + excluded.talk_seconds,
        calls_answered = r.calls_answered + excluded.calls_answered, missed_calls = r.missed_calls + excluded.missed_calls;
END $$;

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
        FOR o IN SELECT * FROM offers WHERE pbx = c.pbx AND call_id = c.call_id ORDER BY seq LOOP
            PERFORM rollup_add_offer(c, o, sign, ARRAY[o.seq], true);
        END LOOP;
    ELSIF c.direction = 'outbound' AND c.answered_by IS NOT NULL THEN
        INSERT INTO rollup_operators AS r (hour, operator, outbound, outbound_answered)
        VALUES (h, c.answered_by, sign, sign * (c.status = 'answered')::int)
        ON CONFLICT (hour, operator) DO UPDATE SET
            outbound = r.outbound + excluded.outbound, outbound_answered = r.outbound_answered + excluded.outbound_answered;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION rollup_offers_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c calls;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT * INTO c FROM calls WHERE pbx = OLD.pbx AND call_id = OLD.call_id;
        IF FOUND THEN
            PERFORM rollup_add_offer(c, OLD, -1, ARRAY[OLD.seq], false);
        END IF;
        RETURN OLD;
    END IF;
    SELECT * INTO c FROM calls WHERE pbx = NEW.pbx AND call_id = NEW.call_id;
    IF FOUND THEN
        IF TG_OP = 'UPDATE' THEN
            PERFORM rollup_add_offer(c, OLD, -1, ARRAY[OLD.seq], false);
            PERFORM rollup_add_offer(c, NEW, 1, ARRAY[OLD.seq, NEW.seq], false);
        ELSE
            PERFORM rollup_add_offer(c, NEW, 1, ARRAY[NEW.seq], false);
        END IF;
    END IF;
    RETURN NEW;
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
