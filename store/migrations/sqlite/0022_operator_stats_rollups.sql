-- operator_stats from the roll-ups, as PostgreSQL's has read them since
-- 0018: a day whose hours are whole UTC hours and none of them stale is
-- the sum of its hours' rollup_operators rows; any other day (a stale
-- hour, a zone half an hour off UTC) is counted from its raw rows, as
-- 0017's view counted every day. 0017's view grouped the whole call log
-- whatever days were asked for: some five seconds for a month.
--
-- Days are the process's local ones (SQLite's 'localtime'), as before. A
-- day is served by the roll-ups when its first and last instants, as
-- SQLite converts its midnights, are whole UTC hours and fall on it.
--
-- The averages and the talk time are rounded from whole milliseconds,
-- exactly (half away from zero), on both branches: 0017 averaged
-- floating-point seconds, which could round a mean of exactly x.x5 s
-- either way. answered counts the offers answered that rang, as 0017's
-- did: rollup_operators gets answered_rung (PostgreSQL's since 0015), and
-- every hour is marked stale, so the first report counts them all again
-- (store/reports_sqlite.go); until then operator_stats reads the raw rows.

ALTER TABLE rollup_operators ADD COLUMN answered_rung INTEGER NOT NULL DEFAULT 0;

INSERT INTO rollup_stale (hour)
SELECT DISTINCT substr(started_at, 1, 13) || ':00:00.000Z' FROM calls WHERE true
ON CONFLICT DO NOTHING;

DROP VIEW operator_stats;

CREATE VIEW operator_stats AS
WITH RECURSIVE days (day) AS (
    SELECT date(min(started_at), 'localtime') FROM calls
    UNION ALL
    SELECT date(day, '+1 day') FROM days WHERE day < (SELECT date(max(started_at), 'localtime') FROM calls)
),
bounds AS (
    SELECT day, strftime('%Y-%m-%dT%H:%M:%fZ', day, 'utc') AS day_start,
        strftime('%Y-%m-%dT%H:%M:%fZ', day, '+1 day', 'utc') AS day_end
    FROM days
),
d AS (
    SELECT day, day_start, day_end,
        substr(day_start, 15) = '00:00.000Z' AND substr(day_end, 15) = '00:00.000Z'
            AND date(day_start, 'localtime') = day AND date(day_start, '-0.001 seconds', 'localtime') < day
            AND date(day_end, '-0.001 seconds', 'localtime') = day AND date(day_end, 'localtime') > day
            AND NOT EXISTS (SELECT 1 FROM rollup_stale st WHERE st.hour >= day_start AND st.hour < day_end) AS served
    FROM bounds
)
SELECT s.day, s.day_start, s.operator, o.name AS operator_name,
    s.offered, s.answered, s.offered - s.answered AS missed, s.no_answer,
    round(CAST(s.answered AS REAL) / nullif(s.offered, 0), 4) AS answer_rate,
    -- ms milliseconds over n, in seconds to a tenth, half away from zero.
    CASE WHEN s.ring_n > 0 THEN
        (CASE WHEN s.ring_ms >= 0 THEN (2 * s.ring_ms + 100 * s.ring_n) / (200 * s.ring_n)
            ELSE -((100 * s.ring_n - 2 * s.ring_ms) / (200 * s.ring_n)) END) / 10.0 END AS avg_ring_seconds,
    CASE WHEN s.talk_n > 0 THEN
        (CASE WHEN s.talk_ms >= 0 THEN (2 * s.talk_ms + 100 * s.talk_n) / (200 * s.talk_n)
            ELSE -((100 * s.talk_n - 2 * s.talk_ms) / (200 * s.talk_n)) END) / 10.0 END AS avg_talk_seconds,
    (CASE WHEN s.talk_ms >= 0 THEN (s.talk_ms + 50) / 100 ELSE -((50 - s.talk_ms) / 100) END) / 10.0 AS talk_seconds,
    s.outbound, s.outbound_answered
FROM (
    SELECT d.day, d.day_start, r.operator,
        sum(r.offered) AS offered, sum(r.answered_rung) AS answered, sum(r.no_answer) AS no_answer,
        sum(r.ring_n) AS ring_n, sum(r.ring_ms) AS ring_ms, sum(r.talk_n) AS talk_n, sum(r.talk_ms) AS talk_ms,
        sum(r.outbound) AS outbound, sum(r.outbound_answered) AS outbound_answered
    FROM d CROSS JOIN rollup_operators r
    WHERE d.served AND r.hour >= d.day_start AND r.hour < d.day_end
    GROUP BY d.day, r.operator
    HAVING sum(r.offered) + sum(r.outbound) > 0
    UNION ALL
    -- The raw rows of the other days: every ring of an operator's phone
    -- for an inbound call, with its ring and talk time in milliseconds
    -- (none where a gap makes them estimates), and every call out, for
    -- the operator who placed it. A day's calls are found by the index,
    -- three hours either side of its bounds as converted (more than any
    -- clock change moves them), and kept by their local date.
    SELECT d.day, d.day_start, CASE WHEN c.direction = 'inbound' THEN f.operator ELSE c.answered_by END AS operator,
        count(*) FILTER (WHERE c.direction = 'inbound'),
        count(*) FILTER (WHERE c.direction = 'inbound' AND f.outcome = 'answered'),
        count(*) FILTER (WHERE c.direction = 'inbound' AND f.outcome = 'no_answer'),
        count(*) FILTER (WHERE c.direction = 'inbound' AND f.outcome = 'answered' AND f.answered_at IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value = 'answer')),
        CAST(coalesce(sum(round((julianday(f.answered_at) - julianday(coalesce(f.ringing_at, f.dialed_at))) * 86400000))
            FILTER (WHERE c.direction = 'inbound' AND f.outcome = 'answered' AND f.answered_at IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value = 'answer')), 0) AS INTEGER),
        count(*) FILTER (WHERE c.direction = 'inbound' AND f.outcome = 'answered' AND f.answered_at IS NOT NULL
            AND f.ended_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('answer', 'end'))),
        CAST(coalesce(sum(round((julianday(f.ended_at) - julianday(f.answered_at)) * 86400000))
            FILTER (WHERE c.direction = 'inbound' AND f.outcome = 'answered' AND f.answered_at IS NOT NULL
                AND f.ended_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('answer', 'end'))), 0) AS INTEGER),
        count(*) FILTER (WHERE c.direction = 'outbound'),
        count(*) FILTER (WHERE c.direction = 'outbound' AND c.status = 'answered')
    -- (CROSS JOIN: the days are the outer loop, so that the served ones
    -- read no calls.)
    FROM d
    CROSS JOIN calls c
    LEFT JOIN offers f ON c.direction = 'inbound' AND f.pbx = c.pbx AND f.call_id = c.call_id
        AND (f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL)
    WHERE NOT d.served
        AND c.started_at >= strftime('%Y-%m-%dT%H:%M:%fZ', d.day_start, '-3 hours')
        AND c.started_at < strftime('%Y-%m-%dT%H:%M:%fZ', d.day_end, '+3 hours')
        AND date(c.started_at, 'localtime') = d.day
        AND (c.direction = 'inbound' AND f.operator IS NOT NULL OR c.direction = 'outbound' AND c.answered_by IS NOT NULL)
    GROUP BY d.day, 3
) s
LEFT JOIN operators o ON o.extension = s.operator;
