-- The analysts' views leave out of their averages and sums the durations
-- a record's gaps make estimates (calls.gaps, 0008): a wait whose start or
-- answer was not seen, a ring whose answer was not seen, a talk whose
-- answer or end was not seen. The calls are still counted. Otherwise the
-- views are 0006's (SQLite cannot replace a view: it is dropped and made
-- again).

DROP VIEW calls_by_source_day;
CREATE VIEW calls_by_source_day AS
SELECT day, strftime('%Y-%m-%dT%H:%M:%fZ', day, 'utc') AS day_start, source,
    total, answered, missed, abandoned, busy, failed, total - answered AS lost,
    new_callers, avg_wait_seconds
FROM (
    SELECT date(started_at, 'localtime') AS day, source,
        count(*) AS total,
        count(*) FILTER (WHERE status = 'answered') AS answered,
        count(*) FILTER (WHERE status = 'missed') AS missed,
        count(*) FILTER (WHERE status = 'abandoned') AS abandoned,
        count(*) FILTER (WHERE status = 'busy') AS busy,
        count(*) FILTER (WHERE status = 'failed') AS failed,
        count(*) FILTER (WHERE caller_kind = 'new') AS new_callers,
        round(avg(wait_seconds) FILTER (WHERE status = 'answered'
            AND NOT EXISTS (SELECT 1 FROM json_each(gaps) WHERE value IN ('start', 'answer'))), 1) AS avg_wait_seconds
    FROM calls
    WHERE direction = 'inbound'
    GROUP BY day, source
);

DROP VIEW operator_stats;
CREATE VIEW operator_stats AS
SELECT s.day, strftime('%Y-%m-%dT%H:%M:%fZ', s.day, 'utc') AS day_start, s.operator, o.name AS operator_name,
    s.offered, s.answered, s.offered - s.answered AS missed, s.no_answer,
    round(CAST(s.answered AS REAL) / nullif(s.offered, 0), 4) AS answer_rate,
    s.avg_ring_seconds, s.avg_talk_seconds, s.talk_seconds, s.outbound, s.outbound_answered
FROM (
    SELECT t.day, t.operator,
        count(*) FILTER (WHERE t.inbound) AS offered,
        count(*) FILTER (WHERE t.inbound AND t.outcome = 'answered') AS answered,
        count(*) FILTER (WHERE t.inbound AND t.outcome = 'no_answer') AS no_answer,
        round(avg(t.ring_seconds), 1) AS avg_ring_seconds,
        round(avg(t.talk_seconds), 1) AS avg_talk_seconds,
        round(coalesce(sum(t.talk_seconds), 0), 1) AS talk_seconds,
        count(*) FILTER (WHERE NOT t.inbound) AS outbound,
        count(*) FILTER (WHERE NOT t.inbound AND t.outcome = 'answered') AS outbound_answered
    FROM (
        -- Every ring of an operator's phone for an inbound call. Seconds
        -- between two times are rounded to the millisecond they were kept
        -- to.
        SELECT date(c.started_at, 'localtime') AS day, f.operator, 1 AS inbound, f.outcome,
            CASE WHEN f.outcome = 'answered' AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value = 'answer') THEN
                round((julianday(f.answered_at) - julianday(coalesce(f.ringing_at, f.dialed_at))) * 86400, 3) END AS ring_seconds,
            CASE WHEN f.outcome = 'answered' AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('answer', 'end')) THEN
                round((julianday(f.ended_at) - julianday(f.answered_at)) * 86400, 3) END AS talk_seconds
        FROM calls c JOIN offers f ON f.call_id = c.call_id
        WHERE c.direction = 'inbound' AND (f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL)
        UNION ALL
        -- Every outbound call, for the operator who placed it.
        SELECT date(c.started_at, 'localtime'), c.answered_by, 0, c.status, NULL, NULL
        FROM calls c
        WHERE c.direction = 'outbound' AND c.answered_by IS NOT NULL
    ) t
    GROUP BY t.day, t.operator
) s
LEFT JOIN operators o ON o.extension = s.operator;
