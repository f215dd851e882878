package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// SQLite has no width_bucket, so the grid comes as a JSON array of
// [hour, start, end) triples (?1: the hour's index in the grid and its
// bounds as stored times), and each hour's calls are read through
// calls_started_at: CROSS JOIN makes the hours the outer loop. ?2 and ?3
// bound the range, to the same effect as in PostgreSQL's queries.
//
// The embedded store has one connection, which the pops' lookups and the
// call log's writer need too, so Summary reads a day at a time: a month of
// a busy call centre takes some 30 ms a day, and a year of it never holds
// the connection for seconds. Each day's calls are read once, whenever
// they were written, so the days add up.

// sqliteSummaryHours is pgSummaryHours in SQLite's words: the waits come
// as a JSON array. Gaps leave durations out as there.
const sqliteSummaryHours = `WITH b AS (
	SELECT value ->> 0 AS i, value ->> 1 AS lo, value ->> 2 AS hi FROM json_each(?1)
)
SELECT b.i, c.source, c.status, count(*), sum(c.caller_kind = 'new'),
	coalesce(json_group_array(c.wait_seconds) FILTER (WHERE c.status = 'answered'
		AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('start', 'answer'))), '[]')
FROM b CROSS JOIN calls c
WHERE c.started_at >= b.lo AND c.started_at < b.hi
	AND c.direction = 'inbound' AND c.started_at >= ?2 AND c.started_at < ?3
GROUP BY b.i, c.source, c.status`

// sqliteSummaryOperators is pgSummaryOperators in SQLite's words: times
// are text, so durations come from julianday, rounded to the millisecond
// they were stored with.
const sqliteSummaryOperators = `SELECT a.operator, coalesce(op.name, ''), a.offered, a.answered, a.no_answer,
	a.ring_n, a.ring_ms, a.talk_n, a.talk_ms, a.calls_answered, a.missed_calls
FROM (
	SELECT o.operator,
		count(*) FILTER (WHERE o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AS offered,
		count(*) FILTER (WHERE o.outcome = 'answered') AS answered,
		count(*) FILTER (WHERE o.outcome = 'no_answer' AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL)) AS no_answer,
		count(*) FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value = 'answer')) AS ring_n,
		CAST(coalesce(sum(round((julianday(o.answered_at) - julianday(coalesce(o.ringing_at, o.dialed_at))) * 86400000))
			FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value = 'answer')), 0) AS INTEGER) AS ring_ms,
		count(*) FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('answer', 'end'))) AS talk_n,
		CAST(coalesce(sum(round((julianday(o.ended_at) - julianday(o.answered_at)) * 86400000))
			FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('answer', 'end'))), 0) AS INTEGER) AS talk_ms,
		count(DISTINCT o.call_id) FILTER (WHERE o.outcome = 'answered') AS calls_answered,
		count(DISTINCT o.call_id) FILTER (WHERE o.outcome IN ('no_answer', 'cancelled')
			AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AND c.answered_by IS NOT o.operator) AS missed_calls
	FROM calls c
	JOIN offers o ON o.call_id = c.call_id
	WHERE c.direction = 'inbound' AND c.started_at >= ?1 AND c.started_at < ?2
	GROUP BY o.operator
) a
LEFT JOIN operators op ON op.extension = a.operator`

// sqliteHours gives the grid's hours first to last-1 as JSON triples
// [index, start, end] of stored times.
func sqliteHours(g grid, first, last int) string {
	hours := make([][3]any, 0, last-first)
	for i := first; i < last; i++ {
		hours = append(hours, [3]any{i, formatTime(g.hours[i]), formatTime(g.hours[i+1])})
	}
	b, _ := json.Marshal(hours) // numbers and strings always marshal
	return string(b)
}

// sqliteSummaryOperatorCalls is pgSummaryOperatorCalls in SQLite's
// words: offered_to is a JSON array.
const sqliteSummaryOperatorCalls = `SELECT j.value, count(*)
FROM calls c, json_each(c.offered_to) j
WHERE c.direction = 'inbound' AND c.started_at >= ?1 AND c.started_at < ?2
GROUP BY j.value`

// sqliteSummaryCallers gives each source's distinct numbers, and whether
// each had a call of kind new, for Go to count: SQLite has no grouping
// sets, and counting distinct numbers twice over (by source, then in all)
// read the range twice.
const sqliteSummaryCallers = `SELECT source, caller_e164, max(caller_kind = 'new')
FROM calls
WHERE direction = 'inbound' AND started_at >= ?1 AND started_at < ?2 AND caller_e164 IS NOT NULL
GROUP BY source, caller_e164`

// sqliteSummaryCallbacks is pgSummaryCallbacks in SQLite's words, the
// seconds rounded to the millisecond the times were kept to.
const sqliteSummaryCallbacks = `SELECT c.source, round((julianday((SELECT min(r.started_at) FROM calls r
		WHERE r.caller_e164 = c.caller_e164 AND r.direction = 'outbound' AND r.started_at > c.started_at)) - julianday(c.started_at)) * 86400, 3)
FROM calls c
WHERE c.direction = 'inbound' AND c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL
	AND c.started_at >= ?1 AND c.started_at < ?2`

// sqliteSummaryPurposes is pgSummaryPurposes.
const sqliteSummaryPurposes = `SELECT c.source, n.purpose, count(*)
FROM calls c
JOIN call_notes n ON n.call_id = c.call_id
WHERE c.direction = 'inbound' AND c.started_at >= ?1 AND c.started_at < ?2
GROUP BY 1, 2`

// Summary: see Postgres.Summary.
func (s *SQLite) Summary(ctx context.Context, from, to time.Time, sl time.Duration) (Summary, error) {
	g, err := newGrid(from, to)
	if err != nil {
		return Summary{}, err
	}
	prev, err := previousGrid(g)
	if err != nil {
		return Summary{}, err
	}
	rows, err := s.summaryRows(ctx, g, true)
	if err != nil {
		return Summary{}, err
	}
	prevRows, err := s.summaryRows(ctx, prev, false)
	if err != nil {
		return Summary{}, fmt.Errorf("previous period: %w", err)
	}
	sum := summarize(g, rows, sl)
	sum.Previous = summarize(prev, prevRows, sl).period()
	return sum, nil
}

// summaryRows runs the summary's queries over g's range: those that fold
// a day at a time, then those that count over the whole range (distinct
// numbers do not add up by day). The operators' only if asked (a Period
// has none).
func (s *SQLite) summaryRows(ctx context.Context, g grid, operators bool) (summaryRows, error) {
	var out summaryRows
	ops := map[string]*operatorRow{}
	opCalls := map[string]operatorCallRow{}
	first := 0 // the day's first hour
	for d := range len(g.days) - 1 {
		last := first
		for last < len(g.hourDay) && g.hourDay[last] == d {
			last++
		}
		start, end := formatTime(g.days[d]), formatTime(g.days[d+1])
		err := eachRow(ctx, s.db, func(rows *sql.Rows) error {
			var r hourRow
			var status, waits string
			if err := rows.Scan(&r.hour, &r.source, &status, &r.calls, &r.newOnes, &waits); err != nil {
				return err
			}
			r.status = screenpop.Status(status)
			if err := json.Unmarshal([]byte(waits), &r.waits); err != nil {
				return fmt.Errorf("read waits: %w", err)
			}
			out.hours = append(out.hours, r)
			return nil
		}, sqliteSummaryHours, sqliteHours(g, first, last), start, end)
		if err != nil {
			return out, fmt.Errorf("summary of %s: count calls by hour: %w", g.days[d].Format(time.DateOnly), err)
		}
		if !operators {
			first = last
			continue
		}
		err = eachRow(ctx, s.db, func(rows *sql.Rows) error {
			var o operatorRow
			if err := rows.Scan(&o.operator, &o.name, &o.offered, &o.answered, &o.noAnswer, &o.ringN, &o.ringMs, &o.talkN, &o.talkMs,
				&o.callsAnswered, &o.missedCalls); err != nil {
				return err
			}
			ops[o.operator] = ops[o.operator].plus(o)
			return nil
		}, sqliteSummaryOperators, start, end)
		if err != nil {
			return out, fmt.Errorf("summary of %s: operators: %w", g.days[d].Format(time.DateOnly), err)
		}
		err = eachRow(ctx, s.db, func(rows *sql.Rows) error {
			var o operatorCallRow
			if err := rows.Scan(&o.operator, &o.calls); err != nil {
				return err
			}
			sum := opCalls[o.operator]
			sum.operator = o.operator
			sum.calls += o.calls
			opCalls[o.operator] = sum
			return nil
		}, sqliteSummaryOperatorCalls, start, end)
		if err != nil {
			return out, fmt.Errorf("summary of %s: operators' calls: %w", g.days[d].Format(time.DateOnly), err)
		}
		first = last
	}
	for _, o := range ops {
		out.ops = append(out.ops, *o)
	}
	for _, o := range opCalls {
		out.opCalls = append(out.opCalls, o)
	}
	start, end := formatTime(g.start()), formatTime(g.end())
	bySource := map[string]*callerRow{}
	isNew := map[string]bool{} // every number, and whether it was new anywhere
	err := eachRow(ctx, s.db, func(rows *sql.Rows) error {
		var source, number string
		var fresh bool
		if err := rows.Scan(&source, &number, &fresh); err != nil {
			return err
		}
		r := bySource[source]
		if r == nil {
			r = &callerRow{source: source}
			bySource[source] = r
		}
		r.distinct++
		if fresh {
			r.newOnes++
		}
		isNew[number] = isNew[number] || fresh
		return nil
	}, sqliteSummaryCallers, start, end)
	if err != nil {
		return out, fmt.Errorf("summary: callers: %w", err)
	}
	all := callerRow{all: true, distinct: len(isNew)}
	for _, fresh := range isNew {
		if fresh {
			all.newOnes++
		}
	}
	out.callers = append(out.callers, all)
	for _, r := range bySource {
		out.callers = append(out.callers, *r)
	}
	err = eachRow(ctx, s.db, func(rows *sql.Rows) error {
		var r callbackDelayRow
		var delay sql.NullFloat64
		if err := rows.Scan(&r.source, &delay); err != nil {
			return err
		}
		if delay.Valid {
			r.delay = &delay.Float64
		}
		out.callbacks = append(out.callbacks, r)
		return nil
	}, sqliteSummaryCallbacks, start, end)
	if err != nil {
		return out, fmt.Errorf("summary: callbacks: %w", err)
	}
	err = eachRow(ctx, s.db, func(rows *sql.Rows) error {
		var r purposeRow
		if err := rows.Scan(&r.source, &r.purpose, &r.calls); err != nil {
			return err
		}
		out.purposes = append(out.purposes, r)
		return nil
	}, sqliteSummaryPurposes, start, end)
	if err != nil {
		return out, fmt.Errorf("summary: purposes: %w", err)
	}
	return out, nil
}

// eachRow runs q and hands each row to scan.
func eachRow(ctx context.Context, db *sql.DB, scan func(*sql.Rows) error, q string, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
