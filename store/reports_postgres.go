package store

import "time"

// PostgreSQL puts each call in its local hour with width_bucket over the
// grid's instants ($3): a binary search per call, on the calls of the
// range only. $1 and $2 bound the range.

// pgSummaryHours counts the calls by local hour and source, by status,
// with the answered calls' waits (for their average and percentiles) as
// the roll-ups keep them (migration 0023: milliseconds, 4 bytes each):
// those whose start or answer was not seen (gaps) are counted but their
// wait, an estimate, is left out.
const pgSummaryHours = `SELECT width_bucket(started_at, $3::timestamptz[]) - 1, source, count(*),
	count(*) FILTER (WHERE status = 'answered'), count(*) FILTER (WHERE status = 'missed'),
	count(*) FILTER (WHERE status = 'abandoned'), count(*) FILTER (WHERE status = 'busy'),
	count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE caller_kind = 'new'),
	coalesce(string_agg(int4send(rollup_ms(wait_seconds)), ''::bytea)
		FILTER (WHERE status = 'answered' AND NOT gaps && '{start,answer}'), ''::bytea)
FROM calls
WHERE direction = 'inbound' AND started_at >= $1 AND started_at < $2
GROUP BY 1, 2`

// pgSummaryOperatorCalls: for each operator, the calls of the range that
// rang their phone (offered_to holds each operator once), read from the
// calls alone: grouping the offers by call took three times as long.
const pgSummaryOperatorCalls = `SELECT op, count(*)
FROM calls c CROSS JOIN LATERAL unnest(c.offered_to) AS op
WHERE c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2
GROUP BY op`

// pgSummaryCallers gives each source's distinct numbers, and whether each
// had a call of kind new, for Go to count.
const pgSummaryCallers = `SELECT source, caller_e164, bool_or(caller_kind = 'new')
FROM calls
WHERE direction = 'inbound' AND started_at >= $1 AND started_at < $2 AND caller_e164 IS NOT NULL
GROUP BY source, caller_e164`

// pgSummaryCallbacks gives each missed call with a number the
// microseconds to the first outbound call to that number after it
// (calls_resolving holds them by number), as rollup_count_calls does.
const pgSummaryCallbacks = `SELECT c.source, rollup_us((SELECT min(r.started_at) FROM calls r
		WHERE r.caller_e164 = c.caller_e164 AND r.direction = 'outbound' AND r.started_at > c.started_at) - c.started_at)
FROM calls c
WHERE c.direction = 'inbound' AND c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL
	AND c.started_at >= $1 AND c.started_at < $2`

// pgRollupRows lists the roll-ups as rollupRows.
const pgRollupRows = `SELECT 'rollup_calls', hour::text || ' ' || source,
	concat_ws(' ', calls, answered, missed, abandoned, busy, failed, new_callers, '[' || encode(waits, 'hex') || ']',
		'[' || encode(numbers, 'hex') || ']', '[' || encode(new_numbers, 'hex') || ']', missed_numbered,
		'[' || encode(callback_delays, 'hex') || ']')
FROM rollup_calls
WHERE calls <> 0
UNION ALL
SELECT 'rollup_purposes', hour::text || ' ' || source || ' ' || purpose, calls::text
FROM rollup_purposes
UNION ALL
SELECT 'rollup_operators', hour::text || ' ' || operator,
	concat_ws(' ', offer_rows, offered, answered, answered_rung, no_answer, ring_n, ring_ms, ring_seconds::numeric(30, 6),
		talk_n, talk_ms, talk_seconds::numeric(30, 6), calls_answered, missed_calls, calls, outbound, outbound_answered)
FROM rollup_operators
WHERE offer_rows <> 0 OR offered <> 0 OR answered <> 0 OR answered_rung <> 0 OR no_answer <> 0 OR ring_n <> 0 OR ring_ms <> 0
	OR ring_seconds <> 0 OR talk_n <> 0 OR talk_ms <> 0 OR talk_seconds <> 0 OR calls_answered <> 0 OR missed_calls <> 0
	OR calls <> 0 OR outbound <> 0 OR outbound_answered <> 0
UNION ALL
SELECT 'rollup_day_calls', day_start::text || ' ' || day_end::text || ' ' || source,
	concat_ws(' ', calls, answered, missed, abandoned, busy, failed, new_callers, '[' || encode(waits, 'hex') || ']',
		'[' || encode(numbers, 'hex') || ']', '[' || encode(new_numbers, 'hex') || ']', missed_numbered,
		'[' || encode(callback_delays, 'hex') || ']')
FROM rollup_day_calls
UNION ALL
SELECT 'rollup_day_hours', day_start::text || ' ' || day_end::text || ' ' || hour::text,
	concat_ws(' ', calls, answered, missed, abandoned, busy, failed, new_callers)
FROM rollup_day_hours
UNION ALL
SELECT 'rollup_day_operators', day_start::text || ' ' || day_end::text || ' ' || operator,
	concat_ws(' ', offer_rows, offered, answered, no_answer, ring_n, ring_ms, talk_n, talk_ms, calls_answered, missed_calls, calls)
FROM rollup_day_operators
UNION ALL
SELECT 'rollup_day_purposes', day_start::text || ' ' || day_end::text || ' ' || source || ' ' || purpose, calls::text
FROM rollup_day_purposes`

// pgDays gives days as gridDays takes them: their bounds, in a flat
// array.
func pgDays(days []dayBounds) any {
	flat := make([]time.Time, 0, 2*len(days))
	for _, d := range days {
		flat = append(flat, d[0], d[1])
	}
	return flat
}

// pgReports is the report's SQL on PostgreSQL.
var pgReports = reportDialect{
	rawHours:         pgSummaryHours,
	hoursArg:         func(hours []time.Time) any { return hours[:len(hours)-1] },
	millis:           func(from, to string) string { return "round(date_part('epoch', " + to + " - " + from + ") * 1000)" },
	rawOperatorCalls: pgSummaryOperatorCalls,
	rawCallers:       pgSummaryCallers,
	rawCallbacks:     pgSummaryCallbacks,
	joinBytes: func(col, order string) string {
		if order != "" {
			return "string_agg(" + col + ", ''::bytea ORDER BY " + order + ")"
		}
		return "string_agg(" + col + ", ''::bytea)"
	},
	gridDays: `SELECT s.i - 1 AS i, a.t[2 * s.i - 1] AS lo, a.t[2 * s.i] AS hi
	FROM (SELECT CAST($1 AS timestamptz[]) AS t) a, generate_series(1, cardinality(a.t) / 2) AS s (i)`,
	daysArg:        pgDays,
	rollupDaysLock: `LOCK TABLE rollup_days IN SHARE ROW EXCLUSIVE MODE`,
	// The distinct callers of a month are grouped in memory, not on disk.
	// The days' statements are costed for the thousand days a set-returning
	// function is guessed at, not the report's: that cost made PostgreSQL
	// compile them (JIT), 0.9 s of a year's read that then takes 25 ms.
	snapshotSetup: "SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)",
	rollupRefresh: `SELECT rollup_refresh()`,
	rollupRebuild: `SELECT rollup_rebuild()`,
	rollupRows:    pgRollupRows,
	// As rollup_rebuild locks them: the kept roll-ups are read as of it.
	rollupLock: `LOCK TABLE calls, offers, call_notes, rollup_days IN SHARE ROW EXCLUSIVE MODE`,
}
