-- Views for analysts' own tools (Metabase, Grafana, psql): calls by source
-- and day, missed calls nobody has called back, operators' days. The
-- README documents every column. They count as the reports of the API do
-- (store/reports.go) and the callback list does (store/callbacks.go).
--
-- A day is a calendar day in the session's time zone (its TimeZone
-- setting): set the dealership's once, for every tool, with
--     ALTER DATABASE screenpop SET timezone = 'Europe/Moscow';
-- or for one tool's role with ALTER ROLE ... SET timezone.
--
-- Each view is built on a calendar: one row per day from the first call's
-- to the last one's, each day reading its own calls as a range of
-- started_at, from local midnight to local midnight (a day the clocks
-- change has its 23 or 25 hours). A filter on day or day_start, such as
--     SELECT * FROM calls_by_source_day WHERE day BETWEEN '2025-03-01' AND '2025-03-31'
-- first thins the calendar (a few hundred rows a year), and only the days
-- kept read their calls, through an index. A GROUP BY started_at::date
-- could not do that: the date depends on the TimeZone setting, so no
-- index can hold it, and any filter on it would read the whole call log.

-- Inbound calls by the day they started and the source their number had
-- then ('' for a number with none). lost = total - answered.
CREATE VIEW calls_by_source_day AS
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
        round((avg(c.wait_seconds) FILTER (WHERE c.status = 'answered'))::numeric, 1) AS avg_wait_seconds
    FROM calls c
    WHERE c.direction = 'inbound'
        AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
    GROUP BY c.source
) s;

-- Missed and abandoned inbound calls nobody has dealt with: the calls the
-- operators' callback list holds, by its rules. A call is dealt with by a
-- later outbound call to its number or a later answered call from it,
-- whatever came of the call, or by an operator closing the number's
-- callback by hand after it. A withheld number cannot be called back and
-- is not here.
CREATE VIEW missed_without_callback AS
SELECT d.day_start::date AS day, m.started_at, m.call_id, m.caller_e164 AS number, m.caller,
    m.caller_kind, m.did, m.source, m.campaign, m.status, m.offered_to, m.ring_seconds, m.wait_seconds
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
    SELECT c.started_at, c.call_id, c.caller_e164, c.caller, c.caller_kind, c.did, c.source,
        c.campaign, c.status, c.offered_to, c.ring_seconds, c.wait_seconds
    FROM calls c
    WHERE c.direction = 'inbound' AND c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL
        AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
        AND NOT EXISTS (SELECT 1 FROM calls r
            WHERE r.caller_e164 = c.caller_e164 AND (r.direction = 'outbound' OR r.status = 'answered')
                AND r.started_at > c.started_at)
        AND NOT EXISTS (SELECT 1 FROM callback_closures x
            WHERE x.number = c.caller_e164 AND x.last_missed_at >= c.started_at)
) m;

-- A day's missed calls, for the view above; the callback list's
-- calls_missed holds the same calls by number.
CREATE INDEX calls_missed_started_at ON calls (started_at)
    WHERE direction = 'inbound' AND status IN ('missed', 'abandoned') AND caller_e164 IS NOT NULL;

-- Each operator's day, by the day the calls started, counted per ring as
-- the reports count them (and a queue's own statistics): an inbound call
-- that rang an operator's phone twice is offered to them twice. offered:
-- their phone rang; answered: they picked up; missed: it rang and they
-- did not (someone else did, the caller hung up, or it rang out);
-- no_answer: the part of those it rang out. Ring and talk times are the
-- operator's own, over the rings they answered: their phone ringing (from
-- the dial, if it never said it rang) until they picked up, their leg
-- from the answer until they hung up or transferred the call. outbound
-- counts the calls they placed.
CREATE VIEW operator_stats AS
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
            CASE WHEN f.outcome = 'answered'
                THEN extract(epoch FROM f.answered_at - coalesce(f.ringing_at, f.dialed_at)) END AS ring_seconds,
            CASE WHEN f.outcome = 'answered' THEN extract(epoch FROM f.ended_at - f.answered_at) END AS talk_seconds
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

-- The offers of a day's calls that rang, holding what the view above
-- reads: each call's are one index probe that never visits the table.
CREATE INDEX offers_rang ON offers (call_id)
    INCLUDE (operator, outcome, dialed_at, ringing_at, answered_at, ended_at)
    WHERE ringing_at IS NOT NULL OR answered_at IS NOT NULL;
