-- Roll-ups of the call log by UTC hour: see the PostgreSQL migration of
-- the same number, whose figures these are in SQLite's words (times are
-- text, an hour is its first instant, 2025-03-14T09:00:00.000Z; waits a
-- JSON array); operator_stats stays 0009's.
--
-- Here the triggers only mark the hours a change touches as stale, and the
-- store counts a stale hour again from its calls before it reads the
-- roll-ups (store/rollups_sqlite.go): SQLite runs a trigger's statements
-- on the writer's one connection, and keeping the figures themselves there
-- made writing a call four times as slow.

CREATE TABLE rollup_calls (
    hour        TEXT NOT NULL,
    source      TEXT NOT NULL,
    status      TEXT NOT NULL,
    calls       INTEGER NOT NULL,
    new_callers INTEGER NOT NULL,
    waits       TEXT NOT NULL,
    PRIMARY KEY (hour, source, status)
) WITHOUT ROWID;

CREATE TABLE rollup_operators (
    hour              TEXT NOT NULL,
    operator          TEXT NOT NULL,
    offer_rows        INTEGER NOT NULL DEFAULT 0,
    offered           INTEGER NOT NULL DEFAULT 0,
    answered          INTEGER NOT NULL DEFAULT 0,
    no_answer         INTEGER NOT NULL DEFAULT 0,
    ring_n            INTEGER NOT NULL DEFAULT 0,
    ring_ms           INTEGER NOT NULL DEFAULT 0,
    talk_n            INTEGER NOT NULL DEFAULT 0,
    talk_ms           INTEGER NOT NULL DEFAULT 0,
    calls_answered    INTEGER NOT NULL DEFAULT 0,
    missed_calls      INTEGER NOT NULL DEFAULT 0,
    calls             INTEGER NOT NULL DEFAULT 0,
    outbound          INTEGER NOT NULL DEFAULT 0,
    outbound_answered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, operator)
) WITHOUT ROWID;

-- The hours whose roll-ups are out of date.
CREATE TABLE rollup_stale (
    hour TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

-- A trigger's INSERT OR IGNORE would take the writing statement's
-- conflict clause (the call log's upsert aborts): hence NOT EXISTS.
CREATE TRIGGER rollup_calls_insert AFTER INSERT ON calls BEGIN
    INSERT INTO rollup_stale (hour) SELECT substr(NEW.started_at, 1, 13) || ':00:00.000Z' WHERE NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(NEW.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_calls_update AFTER UPDATE ON calls BEGIN
    INSERT INTO rollup_stale (hour) SELECT substr(OLD.started_at, 1, 13) || ':00:00.000Z' WHERE NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(OLD.started_at, 1, 13) || ':00:00.000Z');
    INSERT INTO rollup_stale (hour) SELECT substr(NEW.started_at, 1, 13) || ':00:00.000Z' WHERE NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(NEW.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_calls_delete AFTER DELETE ON calls BEGIN
    INSERT INTO rollup_stale (hour) SELECT substr(OLD.started_at, 1, 13) || ':00:00.000Z' WHERE NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(OLD.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_offers_insert AFTER INSERT ON offers BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(c.started_at, 1, 13) || ':00:00.000Z' FROM calls c WHERE c.call_id IN (NEW.call_id)
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(c.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_offers_update AFTER UPDATE ON offers BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(c.started_at, 1, 13) || ':00:00.000Z' FROM calls c WHERE c.call_id IN (OLD.call_id, NEW.call_id)
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(c.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_offers_delete AFTER DELETE ON offers BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(c.started_at, 1, 13) || ':00:00.000Z' FROM calls c WHERE c.call_id IN (OLD.call_id)
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(c.started_at, 1, 13) || ':00:00.000Z');
END;

-- The roll-ups of the calls already written (store/rollups_sqlite.go
-- rebuilds them so).
DELETE FROM rollup_calls;
DELETE FROM rollup_operators;
INSERT INTO rollup_calls (hour, source, status, calls, new_callers, waits)
SELECT substr(started_at, 1, 13) || ':00:00.000Z', source, status, count(*), sum(caller_kind = 'new'),
    coalesce(json_group_array(wait_seconds) FILTER (WHERE status = 'answered'
        AND NOT EXISTS (SELECT 1 FROM json_each(gaps) WHERE value IN ('start', 'answer'))), '[]')
FROM calls
WHERE direction = 'inbound'
GROUP BY 1, 2, 3;
INSERT INTO rollup_operators (hour, operator, offer_rows, offered, answered, no_answer, ring_n, ring_ms, talk_n, talk_ms,
    calls_answered, missed_calls, calls, outbound, outbound_answered)
SELECT hour, operator, sum(offer_rows), sum(offered), sum(answered), sum(no_answer), sum(ring_n), sum(ring_ms),
    sum(talk_n), sum(talk_ms), sum(calls_answered), sum(missed_calls), sum(calls), sum(outbound), sum(outbound_answered)
FROM (
    SELECT substr(c.started_at, 1, 13) || ':00:00.000Z' AS hour, o.operator,
        count(*) AS offer_rows,
        sum(o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AS offered,
        sum(o.outcome = 'answered') AS answered,
        sum(o.outcome = 'no_answer' AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL)) AS no_answer,
        sum(o.outcome = 'answered' AND o.answered_at IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value = 'answer')) AS ring_n,
        CAST(coalesce(sum(round((julianday(o.answered_at) - julianday(coalesce(o.ringing_at, o.dialed_at))) * 86400000))
            FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value = 'answer')), 0) AS INTEGER) AS ring_ms,
        sum(o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('answer', 'end'))) AS talk_n,
        CAST(coalesce(sum(round((julianday(o.ended_at) - julianday(o.answered_at)) * 86400000))
            FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('answer', 'end'))), 0) AS INTEGER) AS talk_ms,
        count(DISTINCT o.call_id) FILTER (WHERE o.outcome = 'answered') AS calls_answered,
        count(DISTINCT o.call_id) FILTER (WHERE o.outcome IN ('no_answer', 'cancelled')
            AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AND c.answered_by IS NOT o.operator) AS missed_calls,
        0 AS calls, 0 AS outbound, 0 AS outbound_answered
    FROM calls c JOIN offers o ON o.call_id = c.call_id
    WHERE c.direction = 'inbound'
    GROUP BY 1, 2
    UNION ALL
    SELECT substr(c.started_at, 1, 13) || ':00:00.000Z', j.value, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*), 0, 0
    FROM calls c, json_each(c.offered_to) j
    WHERE c.direction = 'inbound'
    GROUP BY 1, 2
    UNION ALL
    SELECT substr(started_at, 1, 13) || ':00:00.000Z', answered_by, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        count(*), sum(status = 'answered')
    FROM calls
    WHERE direction = 'outbound' AND answered_by IS NOT NULL
    GROUP BY 1, 2
)
GROUP BY hour, operator;
