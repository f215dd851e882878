package store

import (
	"encoding/json"
	"time"
)

// SQLite has no width_bucket, so the grid comes as a JSON array of
// [hour, start, end) triples ($3: the hour's index in the day and its
// bounds as stored times), and each hour's calls are read through
// calls_started_at: CROSS JOIN makes the hours the outer loop. $1 and $2
// bound the range, to the same effect as in PostgreSQL's queries.

// sqliteCallFigures are the figures of a group of inbound calls c, as
// rollup_calls keeps them and sqliteSummaryHours reads them from the raw
// rows: their count, by status, the new callers, and the answered calls'
// certain waits in whole milliseconds, ascending, each 4 bytes big-endian
// (8 hex digits: a wait that does not fit stops the statement, "malformed
// JSON", rather than wrap).
const sqliteCallFigures = `count(*), sum(c.status = 'answered'), sum(c.status = 'missed'), sum(c.status = 'abandoned'),
	sum(c.status = 'busy'), sum(c.status = 'failed'), sum(c.caller_kind = 'new'),
	unhex(coalesce(group_concat(CASE WHEN round(c.wait_seconds * 1000) BETWEEN -2147483648 AND 2147483647
			THEN printf('%08x', CAST(round(c.wait_seconds * 1000) AS INTEGER) & 0xffffffff) ELSE json('a wait of 25 days or more') END,
		'' ORDER BY c.wait_seconds) FILTER (WHERE c.status = 'answered'
		AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('start', 'answer'))), ''))`

// sqliteCallbackMs is the milliseconds from inbound call c to its first
// call back (NULL: none), as sqliteSummaryCallbacks and rollup_calls have
// it.
const sqliteCallbackMs = `CAST(round((julianday((SELECT min(r.started_at) FROM calls r
	WHERE r.caller_e164 = c.caller_e164 AND r.direction = 'outbound' AND r.started_at > c.started_at)) - julianday(c.started_at)) * 86400000) AS INTEGER)`

// sqliteSummaryHours is pgSummaryHours in SQLite's words.
const sqliteSummaryHours = `WITH b AS (
	SELECT value ->> 0 AS i, value ->> 1 AS lo, value ->> 2 AS hi FROM json_each($3)
)
SELECT b.i, c.source, ` + sqliteCallFigures + `
FROM b CROSS JOIN calls c
WHERE c.started_at >= b.lo AND c.started_at < b.hi
	AND c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2
GROUP BY b.i, c.source`

// sqliteHours gives hours (each hour's start, then the last one's end) as
// JSON triples [index, start, end] of stored times.
func sqliteHours(hours []time.Time) any {
	triples := make([][3]any, 0, len(hours)-1)
	for i := range len(hours) - 1 {
		triples = append(triples, [3]any{i, formatTime(hours[i]), formatTime(hours[i+1])})
	}
	b, _ := json.Marshal(triples) // numbers and strings always marshal
	return string(b)
}

// sqliteDays gives days as JSON triples [index, start, end] of stored
// times, as gridDays takes them.
func sqliteDays(days []dayBounds) any {
	triples := make([][3]any, 0, len(days))
	for i, d := range days {
		triples = append(triples, [3]any{i, formatTime(d[0]), formatTime(d[1])})
	}
	b, _ := json.Marshal(triples) // numbers and strings always marshal
	return string(b)
}

// sqliteSummaryOperatorCalls is pgSummaryOperatorCalls in SQLite's
// words: offered_to is a JSON array.
const sqliteSummaryOperatorCalls = `SELECT j.value, count(*)
FROM calls c, json_each(c.offered_to) j
WHERE c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2
GROUP BY j.value`

// sqliteSummaryCallers is pgSummaryCallers.
const sqliteSummaryCallers = `SELECT source, caller_e164, max(caller_kind = 'new')
FROM calls
WHERE direction = 'inbound' AND started_at >= $1 AND started_at < $2 AND caller_e164 IS NOT NULL
GROUP BY source, caller_e164`

// sqliteSummaryCallbacks is pgSummaryCallbacks in SQLite's words, to the
// millisecond the times were kept to.
const sqliteSummaryCallbacks = `SELECT c.source, ` + sqliteCallbackMs + ` * 1000
FROM calls c
WHERE c.direction = 'inbound' AND c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL
	AND c.started_at >= $1 AND c.started_at < $2`

// sqliteRollupCalls counts the calls of the hours in rollup_stale into
// rollup_calls, as rollup_count_calls does on PostgreSQL (migration
// 0023): the numbers' IDs first, then each hour's and source's figures,
// its lists as big-endian integers, ascending (numbers' IDs 4 bytes each,
// the call backs' delays in microseconds, 8 bytes each).
const sqliteRollupCalls = `
INSERT INTO rollup_number_ids (number)
SELECT DISTINCT c.caller_e164
FROM rollup_stale s JOIN calls c INDEXED BY calls_started_at ON c.started_at >= s.hour AND c.started_at < strftime('%Y-%m-%dT%H:%M:%fZ', s.hour, '+1 hour')
WHERE c.direction = 'inbound' AND c.caller_e164 IS NOT NULL
ON CONFLICT (number) DO NOTHING;
INSERT INTO rollup_calls (hour, source, calls, answered, missed, abandoned, busy, failed, new_callers, waits,
    numbers, new_numbers, missed_numbered, callback_delays)
SELECT substr(c.started_at, 1, 13) || ':00:00.000Z', c.source, ` + sqliteCallFigures + `,
    unhex(coalesce(group_concat(DISTINCT printf('%08x', n.id) ORDER BY printf('%08x', n.id)) FILTER (WHERE n.id IS NOT NULL), ''), ','),
    unhex(coalesce(group_concat(DISTINCT printf('%08x', n.id) ORDER BY printf('%08x', n.id))
        FILTER (WHERE n.id IS NOT NULL AND c.caller_kind = 'new'), ''), ','),
    sum(c.missed_numbered),
    unhex(coalesce(group_concat(printf('%016x', c.delay * 1000), '' ORDER BY c.delay) FILTER (WHERE c.delay IS NOT NULL), ''))
FROM (
    SELECT c.*, c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL AS missed_numbered,
        CASE WHEN c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL THEN ` + sqliteCallbackMs + ` END AS delay
    FROM rollup_stale s JOIN calls c INDEXED BY calls_started_at ON c.started_at >= s.hour AND c.started_at < strftime('%Y-%m-%dT%H:%M:%fZ', s.hour, '+1 hour')
    WHERE c.direction = 'inbound'
) c
LEFT JOIN rollup_number_ids n ON n.number = c.caller_e164
GROUP BY 1, 2;
`

// sqliteRollupPurposes counts the noted calls of the hours in
// rollup_stale into rollup_purposes, as rollup_count_purposes does on
// PostgreSQL (migration 0025).
const sqliteRollupPurposes = `
INSERT INTO rollup_purposes (hour, source, purpose, calls)
SELECT substr(c.started_at, 1, 13) || ':00:00.000Z', c.source, n.purpose, count(*)
FROM rollup_stale s JOIN calls c INDEXED BY calls_started_at ON c.started_at >= s.hour AND c.started_at < strftime('%Y-%m-%dT%H:%M:%fZ', s.hour, '+1 hour')
JOIN call_notes n ON n.pbx = c.pbx AND n.call_id = c.call_id
WHERE c.direction = 'inbound'
GROUP BY 1, 2, 3;
`

// sqliteRollupRefresh counts the stale hours again from their calls.
const sqliteRollupRefresh = `
DELETE FROM rollup_calls WHERE hour IN (SELECT hour FROM rollup_stale);
DELETE FROM rollup_operators WHERE hour IN (SELECT hour FROM rollup_stale);
DELETE FROM rollup_purposes WHERE hour IN (SELECT hour FROM rollup_stale);
` + sqliteRollupCalls + sqliteRollupPurposes + `
INSERT INTO rollup_operators (hour, operator, offer_rows, offered, answered, answered_rung, no_answer, ring_n, ring_ms, talk_n, talk_ms,
    calls_answered, missed_calls, calls, outbound, outbound_answered)
SELECT hour, operator, sum(offer_rows), sum(offered), sum(answered), sum(answered_rung), sum(no_answer), sum(ring_n), sum(ring_ms),
    sum(talk_n), sum(talk_ms), sum(calls_answered), sum(missed_calls), sum(calls), sum(outbound), sum(outbound_answered)
FROM (
    SELECT substr(c.started_at, 1, 13) || ':00:00.000Z' AS hour, o.operator,
        count(*) AS offer_rows,
        sum(o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AS offered,
        sum(o.outcome = 'answered') AS answered,
        sum(o.outcome = 'answered' AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL)) AS answered_rung,
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
        count(DISTINCT o.pbx || '/' || o.call_id) FILTER (WHERE o.outcome = 'answered') AS calls_answered,
        count(DISTINCT o.pbx || '/' || o.call_id) FILTER (WHERE o.outcome IN ('no_answer', 'cancelled')
            AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AND c.answered_by IS NOT o.operator) AS missed_calls,
        0 AS calls, 0 AS outbound, 0 AS outbound_answered
    FROM rollup_stale s JOIN calls c INDEXED BY calls_started_at ON c.started_at >= s.hour AND c.started_at < strftime('%Y-%m-%dT%H:%M:%fZ', s.hour, '+1 hour') JOIN offers o ON o.pbx = c.pbx AND o.call_id = c.call_id
    WHERE c.direction = 'inbound'
    GROUP BY 1, 2
    UNION ALL
    SELECT substr(c.started_at, 1, 13) || ':00:00.000Z', j.value, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*), 0, 0
    FROM rollup_stale s JOIN calls c INDEXED BY calls_started_at ON c.started_at >= s.hour AND c.started_at < strftime('%Y-%m-%dT%H:%M:%fZ', s.hour, '+1 hour'), json_each(c.offered_to) j
    WHERE c.direction = 'inbound'
    GROUP BY 1, 2
    UNION ALL
    SELECT substr(started_at, 1, 13) || ':00:00.000Z', answered_by, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        count(*), sum(status = 'answered')
    FROM rollup_stale s JOIN calls INDEXED BY calls_started_at ON calls.started_at >= s.hour AND calls.started_at < strftime('%Y-%m-%dT%H:%M:%fZ', s.hour, '+1 hour')
    WHERE direction = 'outbound' AND answered_by IS NOT NULL
    GROUP BY 1, 2
)
GROUP BY hour, operator;
` + sqliteForgetDays + `
DELETE FROM rollup_stale;
`

// sqliteForgetDays takes out the days holding a stale hour, as
// rollup_forget_days does on PostgreSQL (migration 0026).
const sqliteForgetDays = `
DELETE FROM rollup_day_calls WHERE (day_start, day_end) IN (SELECT d.day_start, d.day_end FROM rollup_days d JOIN rollup_stale s ON s.hour >= d.day_start AND s.hour < d.day_end);
DELETE FROM rollup_day_hours WHERE (day_start, day_end) IN (SELECT d.day_start, d.day_end FROM rollup_days d JOIN rollup_stale s ON s.hour >= d.day_start AND s.hour < d.day_end);
DELETE FROM rollup_day_operators WHERE (day_start, day_end) IN (SELECT d.day_start, d.day_end FROM rollup_days d JOIN rollup_stale s ON s.hour >= d.day_start AND s.hour < d.day_end);
DELETE FROM rollup_day_purposes WHERE (day_start, day_end) IN (SELECT d.day_start, d.day_end FROM rollup_days d JOIN rollup_stale s ON s.hour >= d.day_start AND s.hour < d.day_end);
DELETE FROM rollup_days WHERE (day_start, day_end) IN (SELECT d.day_start, d.day_end FROM rollup_days d JOIN rollup_stale s ON s.hour >= d.day_start AND s.hour < d.day_end);
`

// sqliteRollupRebuild marks every hour with a call stale, and counts
// them again.
const sqliteRollupRebuild = `
DELETE FROM rollup_calls;
DELETE FROM rollup_operators;
DELETE FROM rollup_purposes;
DELETE FROM rollup_days;
DELETE FROM rollup_day_calls;
DELETE FROM rollup_day_hours;
DELETE FROM rollup_day_operators;
DELETE FROM rollup_day_purposes;
DELETE FROM rollup_stale;
INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(started_at, 1, 13) || ':00:00.000Z' FROM calls;
` + sqliteRollupRefresh

// sqliteRollupRowsQuery lists the roll-ups as rollupRows.
const sqliteRollupRowsQuery = `SELECT 'rollup_calls', hour || ' ' || source,
	concat_ws(' ', calls, answered, missed, abandoned, busy, failed, new_callers, '[' || hex(waits) || ']',
		'[' || hex(numbers) || ']', '[' || hex(new_numbers) || ']', missed_numbered, '[' || hex(callback_delays) || ']')
FROM rollup_calls
WHERE calls <> 0
UNION ALL
SELECT 'rollup_purposes', hour || ' ' || source || ' ' || purpose, calls
FROM rollup_purposes
UNION ALL
SELECT 'rollup_operators', hour || ' ' || operator,
	concat_ws(' ', offer_rows, offered, answered, answered_rung, no_answer, ring_n, ring_ms, talk_n, talk_ms, calls_answered, missed_calls,
		calls, outbound, outbound_answered)
FROM rollup_operators
WHERE offer_rows <> 0 OR offered <> 0 OR answered <> 0 OR answered_rung <> 0 OR no_answer <> 0 OR ring_n <> 0 OR ring_ms <> 0 OR talk_n <> 0
	OR talk_ms <> 0 OR calls_answered <> 0 OR missed_calls <> 0 OR calls <> 0 OR outbound <> 0 OR outbound_answered <> 0
UNION ALL
SELECT 'rollup_day_calls', day_start || ' ' || day_end || ' ' || source,
	concat_ws(' ', calls, answered, missed, abandoned, busy, failed, new_callers, '[' || hex(waits) || ']',
		'[' || hex(numbers) || ']', '[' || hex(new_numbers) || ']', missed_numbered, '[' || hex(callback_delays) || ']')
FROM rollup_day_calls
UNION ALL
SELECT 'rollup_day_hours', day_start || ' ' || day_end || ' ' || hour,
	concat_ws(' ', calls, answered, missed, abandoned, busy, failed, new_callers)
FROM rollup_day_hours
UNION ALL
SELECT 'rollup_day_operators', day_start || ' ' || day_end || ' ' || operator,
	concat_ws(' ', offer_rows, offered, answered, no_answer, ring_n, ring_ms, talk_n, talk_ms, calls_answered, missed_calls, calls)
FROM rollup_day_operators
UNION ALL
SELECT 'rollup_day_purposes', day_start || ' ' || day_end || ' ' || source || ' ' || purpose, calls
FROM rollup_day_purposes`

// sqliteReports is the report's SQL on SQLite.
var sqliteReports = reportDialect{
	rawHours: sqliteSummaryHours,
	hoursArg: sqliteHours,
	millis: func(from, to string) string {
		return "round((julianday(" + to + ") - julianday(" + from + ")) * 86400000)"
	},
	rawOperatorCalls: sqliteSummaryOperatorCalls,
	rawCallers:       sqliteSummaryCallers,
	rawCallbacks:     sqliteSummaryCallbacks,
	// group_concat joins blobs' bytes as they are.
	joinBytes: func(col, order string) string {
		if order != "" {
			return "CAST(group_concat(" + col + ", '' ORDER BY " + order + ") AS BLOB)"
		}
		return "CAST(group_concat(" + col + ", '') AS BLOB)"
	},
	gridDays:      `SELECT value ->> 0 AS i, value ->> 1 AS lo, value ->> 2 AS hi FROM json_each($1)`,
	daysArg:       sqliteDays,
	rollupRefresh: sqliteRollupRefresh,
	rollupRebuild: sqliteRollupRebuild,
	rollupRows:    sqliteRollupRowsQuery,
}
