-- The reports' newer figures for analysts' own tools (see the README):
-- each inbound call with its purpose and its call back, from which service
-- level at any threshold, distinct callers, conversion by source and the
-- speed of call backs are counted; and operators' days counted per call
-- rather than per ring. They count as GET /api/reports/summary does
-- (store/reports.go), on the calendar of 0006_analyst_views.sql: a filter
-- on day or day_start reads only those days' calls.

-- One row per inbound call. purpose is what the operator noted (NULL: no
-- note). For a missed or abandoned call with a number, called_back_at is
-- the first outbound call to that number after it, whenever placed, and
-- callback_seconds the time to it; NULL: never called back (and for other
-- calls).
CREATE VIEW report_calls AS
SELECT d.day_start::date AS day, d.day_start, c.started_at, c.call_id, c.caller_e164 AS number, c.caller_kind,
    c.did, c.source, c.campaign, c.status, c.wait_seconds, n.purpose,
    cb.called_back_at,
    round(extract(epoch FROM cb.called_back_at - c.started_at), 3) AS callback_seconds
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
    SELECT * FROM calls c
    WHERE c.direction = 'inbound'
        AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
) c
LEFT JOIN call_notes n ON n.call_id = c.call_id
LEFT JOIN LATERAL (
    SELECT min(r.started_at) AS called_back_at FROM calls r
    WHERE c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL
        AND r.caller_e164 = c.caller_e164 AND r.direction = 'outbound' AND r.started_at > c.started_at
) cb ON true;

-- The first call back of a missed call, and the reports' own, read one
-- index entry.
CREATE INDEX calls_outbound_number ON calls (caller_e164, started_at) WHERE direction = 'outbound';

-- Each operator's day counted per call: calls that rang their phone (once
-- however often it rang), those they answered, those a colleague answered
-- while each of their rings was still ringing (a ring-all queue), and the
-- rest, missed: it rang out on them or the caller gave up. answer_rate is
-- calls_answered / (calls_answered + missed_calls).
CREATE VIEW operator_calls AS
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
        FROM calls c JOIN offers f ON f.call_id = c.call_id
        WHERE c.direction = 'inbound'
            AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
            AND (f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL)
        GROUP BY f.operator, f.call_id
    ) x
    GROUP BY x.operator
) s
LEFT JOIN operators o ON o.extension = s.operator;
