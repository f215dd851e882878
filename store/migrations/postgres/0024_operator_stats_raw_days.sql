-- operator_stats as 0018 made it, the raw rows' branch (a day with a
-- stale hour, or a zone half an hour off UTC) in a function of its own,
-- operator_stats_raw. The planner costed that branch for every day of the
-- log, run or not: on a year's log the plan's cost passed jit_above_cost,
-- and compiling it took 117 ms of a month's 299 ms. A function's cost is
-- what it declares, so the view's cost follows the days it reads, and the
-- function's own queries (the few days it serves) are not compiled.

CREATE FUNCTION operator_stats_raw(day_start timestamptz, day_end timestamptz)
RETURNS TABLE (operator text, offered bigint, answered bigint, no_answer bigint, avg_ring_seconds numeric,
    avg_talk_seconds numeric, talk_seconds numeric, outbound bigint, outbound_answered bigint)
LANGUAGE sql STABLE ROWS 20 SET jit = off SET search_path FROM CURRENT AS $$
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
            AND c.started_at >= day_start AND c.started_at < day_end
            AND (f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL)
        UNION ALL
        SELECT c.answered_by, false, c.status, NULL, NULL
        FROM calls c
        WHERE c.direction = 'outbound' AND c.answered_by IS NOT NULL
            AND c.started_at >= day_start AND c.started_at < day_end
    ) t
    GROUP BY t.operator
$$;

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
    SELECT x.operator, x.offered, x.answered, x.no_answer, x.avg_ring_seconds, x.avg_talk_seconds, x.talk_seconds,
        x.outbound, x.outbound_answered
    FROM operator_stats_raw(d.day_start, d.day_start + interval '1 day') x
    WHERE NOT u.served
) s
LEFT JOIN operators o ON o.extension = s.operator;
