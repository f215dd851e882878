-- As PostgreSQL's 0012_report_views.sql, in SQLite's words: days are the
-- reading process's local days, as in 0006_analyst_views.sql, and times
-- RFC 3339 text in UTC.

CREATE VIEW report_calls AS
SELECT date(x.started_at, 'localtime') AS day,
    strftime('%Y-%m-%dT%H:%M:%fZ', date(x.started_at, 'localtime'), 'utc') AS day_start,
    x.started_at, x.call_id, x.caller_e164 AS number, x.caller_kind, x.did, x.source, x.campaign, x.status,
    x.wait_seconds, n.purpose, x.called_back_at,
    round((julianday(x.called_back_at) - julianday(x.started_at)) * 86400, 3) AS callback_seconds
FROM (
    SELECT c.*, CASE WHEN c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL THEN
        (SELECT min(r.started_at) FROM calls r
         WHERE r.caller_e164 = c.caller_e164 AND r.direction = 'outbound' AND r.started_at > c.started_at) END AS called_back_at
    FROM calls c
    WHERE c.direction = 'inbound'
) x
LEFT JOIN call_notes n ON n.call_id = x.call_id;

CREATE INDEX calls_outbound_number ON calls (caller_e164, started_at) WHERE direction = 'outbound';

CREATE VIEW operator_calls AS
SELECT s.day, strftime('%Y-%m-%dT%H:%M:%fZ', s.day, 'utc') AS day_start, s.operator, o.name AS operator_name,
    s.calls, s.calls_answered, s.taken_by_colleague, s.calls - s.calls_answered - s.taken_by_colleague AS missed_calls,
    round(CAST(s.calls_answered AS REAL) / nullif(s.calls - s.taken_by_colleague, 0), 4) AS answer_rate
FROM (
    SELECT x.day, x.operator, count(*) AS calls, sum(x.answered) AS calls_answered,
        sum(NOT x.answered AND x.elsewhere) AS taken_by_colleague
    FROM (
        SELECT date(c.started_at, 'localtime') AS day, f.operator, max(f.outcome = 'answered') AS answered,
            min(f.outcome = 'answered_elsewhere') AS elsewhere
        FROM calls c JOIN offers f ON f.call_id = c.call_id
        WHERE c.direction = 'inbound' AND (f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL)
        GROUP BY f.operator, f.call_id
    ) x
    GROUP BY x.day, x.operator
) s
LEFT JOIN operators o ON o.extension = s.operator;
