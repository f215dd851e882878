-- The analysts' views leave out of their averages and sums the durations
-- a record's gaps make estimates (calls.gaps, 0008): a wait whose start or
-- answer was not seen, a ring whose answer was not seen, a talk whose
-- answer or end was not seen. The calls are still counted. Otherwise the
-- views are 0006's.

CREATE OR REPLACE VIEW calls_by_source_day AS
SELECT d.day_start::date AS day, d.day_start, s.source,
    s.total, s.answered, s.missed, s.abandoned, s.busy, s.failed, s.total - s.answered AS lost,
    s.new_callers, s.avg_wait_seconds
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
    SELECT c.source,
        count(*) AS total,
        count(*) FILTER (WHERE c.status = 'answered') AS answered,
        count(*) FILTER (WHERE c.status = 'missed') AS missed,
        count(*) FILTER (WHERE c.status = 'abandoned') AS abandoned,
        count(*) FILTER (WHERE c.status = 'busy') AS busy,
        count(*) FILTER (WHERE c.status = 'failed') AS failed,
        count(*) FILTER (WHERE c.caller_kind = 'new') AS new_callers,
        round((avg(c.wait_seconds) FILTER (WHERE c.status = 'answered' AND NOT c.gaps && '{start,answer}'))::numeric, 1) AS avg_wait_seconds
    FROM calls c
    WHERE c.direction = 'inbound'
        AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
    GROUP BY c.source
) s;

CREATE OR REPLACE VIEW operator_stats AS
SELECT d.day_start::date AS day, d.day_start, s.operator, o.name AS operator_name,
    s.offered, s.answered, s.offered - s.answered AS missed, s.no_answer,
    round(s.answered::numeric / nullif(s.offered, 0), 4) AS answer_rate,
    s.avg_ring_seconds, s.avg_talk_seconds, s.talk_seconds, s.outbound, s.outbound_answered
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
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
        -- Every ring of an operator's phone for an inbound call.
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
        -- Every outbound call, for the operator who placed it.
        SELECT c.answered_by, false, c.status, NULL, NULL
        FROM calls c
        WHERE c.direction = 'outbound' AND c.answered_by IS NOT NULL
            AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
    ) t
    GROUP BY t.operator
) s
LEFT JOIN operators o ON o.extension = s.operator;
