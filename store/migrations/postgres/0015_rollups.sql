-- Roll-ups of the call log by UTC hour, so that a report over a month or a
-- year reads a few thousand rows instead of every call and offer
-- (store/rollups.go). Triggers on calls and offers keep them as the calls
-- are: a call written adds to its hour; a record replaced by a more
-- complete one (the call log's upsert) takes the old record's figures out
-- and puts the new one's in; a deleted call takes its figures out. Every
-- figure is the one the reports count from the raw rows (store/reports_postgres.go),
-- gaps and all; rollup_rebuild() makes them again from the raw rows
-- (screenpopd rollups rebuild).
--
-- By UTC hour: a local hour of any zone whose offset is whole hours is
-- one UTC hour, so the reports add hours up into local days exactly; a
-- zone half an hour off UTC reads the raw rows as before.

-- The inbound calls that started in an hour, by source and status;
-- waits are the answered calls' wait_seconds, those whose start or answer
-- was not seen (gaps) left out, in no order.
CREATE TABLE rollup_calls (
    hour        timestamptz NOT NULL,
    source      text NOT NULL,
    status      text NOT NULL,
    calls       integer NOT NULL,
    new_callers integer NOT NULL,
    waits       double precision[] NOT NULL,
    PRIMARY KEY (hour, source, status)
);

-- Each operator's figures over the calls that started in an hour.
-- offer_rows counts their offers of inbound calls (rung or not: the
-- reports list an operator dialled and never rung); offered, answered,
-- no_answer count rings (answered_rung: answered offers that were seen
-- ringing or answered, as operator_stats counts them); ring_* and talk_* sum the answered offers'
-- certain ring and talk times, in milliseconds as the reports round them
-- (ring_ms, talk_ms) and exactly as operator_stats sums them (ring_seconds,
-- talk_seconds); calls_answered and missed_calls count calls, each once
-- however often it rang them; calls counts the inbound calls whose
-- offered_to holds them; outbound and outbound_answered their calls out.
CREATE TABLE rollup_operators (
    hour              timestamptz NOT NULL,
    operator          text NOT NULL,
    offer_rows        integer NOT NULL DEFAULT 0,
    offered           integer NOT NULL DEFAULT 0,
    answered          integer NOT NULL DEFAULT 0,
    answered_rung     integer NOT NULL DEFAULT 0,
    no_answer         integer NOT NULL DEFAULT 0,
    ring_n            integer NOT NULL DEFAULT 0,
    ring_ms           bigint NOT NULL DEFAULT 0,
    ring_seconds      numeric NOT NULL DEFAULT 0,
    talk_n            integer NOT NULL DEFAULT 0,
    talk_ms           bigint NOT NULL DEFAULT 0,
    talk_seconds      numeric NOT NULL DEFAULT 0,
    calls_answered    integer NOT NULL DEFAULT 0,
    missed_calls      integer NOT NULL DEFAULT 0,
    calls             integer NOT NULL DEFAULT 0,
    outbound          integer NOT NULL DEFAULT 0,
    outbound_answered integer NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, operator)
);

-- rollup_add_offer adds one offer of call c to its operator's hour (sign
-- -1: takes it out). The per-call counts (calls_answered, missed_calls)
-- count a call once however many of the operator's offers qualify: the
-- offer adds to them only if no other offer of theirs for the call that
-- qualifies is in the table, leaving out the offers numbered in skip (the
-- offer itself, and the one an update replaces) and, with first_only,
-- those after it (adding up a call's offers one by one).
CREATE FUNCTION rollup_add_offer(c calls, o offers, sign integer, skip integer[], first_only boolean) RETURNS void
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
    IF o.outcome = 'answered' AND EXISTS (SELECT 1 FROM offers x WHERE x.call_id = c.call_id AND x.operator = o.operator
            AND x.seq <> ALL (skip) AND (NOT first_only OR x.seq < o.seq) AND x.outcome = 'answered') THEN
        answered := false;
    END IF;
    IF missed AND EXISTS (SELECT 1 FROM offers x WHERE x.call_id = c.call_id AND x.operator = o.operator
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

-- rollup_add_call adds one call to the roll-ups (sign -1: takes it out):
-- its hour's counts and wait, the operators its offered_to names, its
-- offers as they are in the table, and the operator who placed it if it
-- went out.
CREATE FUNCTION rollup_add_call(c calls, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    h timestamptz := date_trunc('hour', c.started_at, 'UTC');
    certain boolean := c.status = 'answered' AND NOT c.gaps && '{start,answer}';
    o offers;
BEGIN
    IF c.direction = 'inbound' THEN
        IF sign > 0 THEN
            INSERT INTO rollup_calls AS r (hour, source, status, calls, new_callers, waits)
            VALUES (h, c.source, c.status, 1, (c.caller_kind = 'new')::int,
                CASE WHEN certain THEN ARRAY[c.wait_seconds] ELSE '{}' END)
            ON CONFLICT (hour, source, status) DO UPDATE SET
                calls = r.calls + 1, new_callers = r.new_callers + excluded.new_callers, waits = r.waits || excluded.waits;
        ELSE
            -- One wait equal to the call's goes, whichever call it was.
            UPDATE rollup_calls SET calls = calls - 1, new_callers = new_callers - (c.caller_kind = 'new')::int,
                waits = CASE WHEN certain AND array_position(waits, c.wait_seconds) IS NOT NULL
                    THEN waits[:array_position(waits, c.wait_seconds) - 1] || waits[array_position(waits, c.wait_seconds) + 1:]
                    ELSE waits END
            WHERE hour = h AND source = c.source AND status = c.status;
            DELETE FROM rollup_calls WHERE hour = h AND source = c.source AND status = c.status AND calls = 0 AND waits = '{}';
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

CREATE FUNCTION rollup_calls_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM rollup_add_call(OLD, -1);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    PERFORM rollup_add_call(NEW, 1);
    RETURN NEW;
END $$;

-- A call is taken out before it is deleted, while its offers are there;
-- the offers its deletion cascades to find no call and change nothing.
-- A call is written before its offers: it adds none when inserted.
CREATE TRIGGER rollup_calls_insert AFTER INSERT ON calls FOR EACH ROW EXECUTE FUNCTION rollup_calls_changed();
CREATE TRIGGER rollup_calls_update AFTER UPDATE ON calls FOR EACH ROW EXECUTE FUNCTION rollup_calls_changed();
CREATE TRIGGER rollup_calls_delete BEFORE DELETE ON calls FOR EACH ROW EXECUTE FUNCTION rollup_calls_changed();

-- An offer is added before it is written and taken out before it is
-- deleted: a row-level BEFORE trigger sees the rows its statement handled
-- before it, so that deleting all of a call's offers at once (a replaced
-- record) takes each per-call count out once, with the operator's last
-- qualifying offer.
CREATE FUNCTION rollup_offers_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c calls;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT * INTO c FROM calls WHERE call_id = OLD.call_id;
        IF FOUND THEN
            PERFORM rollup_add_offer(c, OLD, -1, ARRAY[OLD.seq], false);
        END IF;
        RETURN OLD;
    END IF;
    SELECT * INTO c FROM calls WHERE call_id = NEW.call_id;
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

CREATE TRIGGER rollup_offers_changed BEFORE INSERT OR UPDATE OR DELETE ON offers
    FOR EACH ROW EXECUTE FUNCTION rollup_offers_changed();

-- rollup_rebuild makes the roll-ups again from the raw rows, as the
-- triggers would have: for the migration, and for screenpopd rollups
-- rebuild. Writers wait while it runs.
CREATE FUNCTION rollup_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE calls, offers IN SHARE MODE;
    DELETE FROM rollup_calls;
    DELETE FROM rollup_operators;
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

-- operator_stats reads the roll-ups for each day whose start and end are
-- whole UTC hours in the session's zone, and the raw rows, as 0009 did,
-- for a day of a zone half an hour off UTC. Its figures are 0009's.
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
        FROM calls c JOIN offers f ON f.call_id = c.call_id
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
