-- A failed call (no operator's phone could be reached) stays on the
-- callback list, as a missed or abandoned one does: nobody spoke to the
-- caller. The partial indexes and the view take it in.
DROP INDEX calls_missed;
CREATE INDEX calls_missed ON calls (caller_e164, started_at)
    WHERE direction = 'inbound' AND status IN ('missed', 'abandoned', 'failed') AND caller_e164 IS NOT NULL;
DROP INDEX calls_missed_started_at;
CREATE INDEX calls_missed_started_at ON calls (started_at)
    WHERE direction = 'inbound' AND status IN ('missed', 'abandoned', 'failed') AND caller_e164 IS NOT NULL;

CREATE OR REPLACE VIEW missed_without_callback AS
SELECT d.day_start::date AS day, m.started_at, m.call_id, m.caller_e164 AS number, m.caller,
    m.caller_kind, m.did, m.source, m.campaign, m.status, m.offered_to, m.ring_seconds, m.wait_seconds
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
    SELECT c.started_at, c.call_id, c.caller_e164, c.caller, c.caller_kind, c.did, c.source,
        c.campaign, c.status, c.offered_to, c.ring_seconds, c.wait_seconds
    FROM calls c
    WHERE c.direction = 'inbound' AND c.status IN ('missed', 'abandoned', 'failed') AND c.caller_e164 IS NOT NULL
        AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
        AND NOT EXISTS (SELECT 1 FROM calls r
            WHERE r.caller_e164 = c.caller_e164 AND (r.direction = 'outbound' OR r.status = 'answered')
                AND r.started_at > c.started_at)
        AND NOT EXISTS (SELECT 1 FROM callback_closures x
            WHERE x.number = c.caller_e164 AND x.last_missed_at >= c.started_at)
) m;
