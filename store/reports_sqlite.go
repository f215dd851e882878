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
	a.ring_n, a.ring_ms, a.talk_n, a.talk_ms
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
			FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('answer', 'end'))), 0) AS INTEGER) AS talk_ms
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

// Summary: see Postgres.Summary.
func (s *SQLite) Summary(ctx context.Context, from, to time.Time) (Summary, error) {
	g, err := newGrid(from, to)
	if err != nil {
		return Summary{}, err
	}
	var hours []hourRow
	ops := map[string]*operatorRow{}
	first := 0 // the day's first hour
	for d := range len(g.days) - 1 {
		last := first
		for last < len(g.hourDay) && g.hourDay[last] == d {
			last++
		}
		start, end := formatTime(g.days[d]), formatTime(g.days[d+1])
		err = eachRow(ctx, s.db, func(rows *sql.Rows) error {
			var r hourRow
			var status, waits string
			if err := rows.Scan(&r.hour, &r.source, &status, &r.calls, &r.newOnes, &waits); err != nil {
				return err
			}
			r.status = screenpop.Status(status)
			if err := json.Unmarshal([]byte(waits), &r.waits); err != nil {
				return fmt.Errorf("read waits: %w", err)
			}
			hours = append(hours, r)
			return nil
		}, sqliteSummaryHours, sqliteHours(g, first, last), start, end)
		if err != nil {
			return Summary{}, fmt.Errorf("summary of %s: count calls by hour: %w", g.days[d].Format(time.DateOnly), err)
		}
		err = eachRow(ctx, s.db, func(rows *sql.Rows) error {
			var o operatorRow
			if err := rows.Scan(&o.operator, &o.name, &o.offered, &o.answered, &o.noAnswer, &o.ringN, &o.ringMs, &o.talkN, &o.talkMs); err != nil {
				return err
			}
			ops[o.operator] = ops[o.operator].plus(o)
			return nil
		}, sqliteSummaryOperators, start, end)
		if err != nil {
			return Summary{}, fmt.Errorf("summary of %s: operators: %w", g.days[d].Format(time.DateOnly), err)
		}
		first = last
	}
	opList := make([]operatorRow, 0, len(ops))
	for _, o := range ops {
		opList = append(opList, *o)
	}
	return summarize(g, hours, opList), nil
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
