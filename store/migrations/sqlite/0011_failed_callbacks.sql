-- A failed call (no operator's phone could be reached) stays on the
-- callback list, as a missed or abandoned one does: nobody spoke to the
-- caller. The partial index and the view take it in.
DROP INDEX calls_missed;
CREATE INDEX calls_missed ON calls (caller_e164, started_at)
    WHERE direction = 'inbound' AND status IN ('missed', 'abandoned', 'failed') AND caller_e164 IS NOT NULL;

DROP VIEW missed_without_callback;
-- offered_to is a JSON array, as in calls.
CREATE VIEW missed_without_callback AS
SELECT date(c.started_at, 'localtime') AS day, c.started_at, c.call_id, c.caller_e164 AS number, c.caller,
    c.caller_kind, c.did, c.source, c.campaign, c.status, c.offered_to, c.ring_seconds, c.wait_seconds
FROM calls c
WHERE c.direction = 'inbound' AND c.status IN ('missed', 'abandoned', 'failed') AND c.caller_e164 IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM calls r
        WHERE r.caller_e164 = c.caller_e164 AND (r.direction = 'outbound' OR r.status = 'answered')
            AND r.started_at > c.started_at)
    AND NOT EXISTS (SELECT 1 FROM callback_closures x
        WHERE x.number = c.caller_e164 AND x.last_missed_at >= c.started_at);
