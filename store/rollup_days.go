package store

import (
	"context"
	"fmt"
	"time"

	"github.com/screenpop/screenpop/screenpop/report"
)

// The roll-ups of whole local days (migration 0026): a year's report
// read and added up its 91,000 rows of hours and sources, and 135,000 of
// hours and operators, on every read. A day is kept by the instants it
// runs between, so a row serves exactly the local days of any zone that
// start and end there, and each day's rows are its hours' rows added up.
//
// The store fills a report's whole past days from the hours before it
// reads them (fillRollupDays), holding the days against a refresh
// (PostgreSQL: a lock rollup_refresh takes too; SQLite: the write lock),
// and a refresh takes out the days holding an hour it counts again, in
// its transaction: in every committed state a day is exactly its hours,
// stale or not (the report checks the hours for staleness as before).
// Each read takes, for every day of the report, the day's row if it has
// one with the day's bounds, else the day's hours, in one statement: a
// day taken out meanwhile is read from its hours, never lost. Today, a
// day not over yet, is read from its hours: it would be taken out at
// every call.

// rollupDaysOf is the statement's table g of the grid's days ($1, the
// dialect's daysArg): i (its index in the grid), lo and hi (its bounds).
func rollupDaysOf(d reportDialect) string { return "WITH g AS (" + d.gridDays + ")\n" }

// dayUnread is a condition on g: the day is not held.
const dayUnread = `NOT EXISTS (SELECT 1 FROM rollup_days d WHERE d.day_start = g.lo AND d.day_end = g.hi)`

// rollupDayCalls gives the calls of each day of the grid by source, as
// rollupRowReader reads them after the day's index: the day's row, or its
// hours added up.
func rollupDayCalls(d reportDialect) string {
	return rollupDaysOf(d) + `SELECT g.i, c.source, c.calls, c.answered, c.missed, c.abandoned, c.busy, c.failed, c.new_callers,
	c.waits, c.numbers, c.new_numbers, c.missed_numbered, c.callback_delays
FROM g CROSS JOIN rollup_day_calls c
WHERE c.day_start = g.lo AND c.day_end = g.hi
UNION ALL
SELECT g.i, h.source, sum(h.calls), sum(h.answered), sum(h.missed), sum(h.abandoned), sum(h.busy), sum(h.failed), sum(h.new_callers),
	` + d.joinBytes("h.waits", "") + `, ` + d.joinBytes("h.numbers", "") + `, ` + d.joinBytes("h.new_numbers", "") + `,
	sum(h.missed_numbered), ` + d.joinBytes("h.callback_delays", "") + `
FROM g CROSS JOIN rollup_calls h
WHERE ` + dayUnread + ` AND h.hour >= g.lo AND h.hour < g.hi AND h.calls > 0
GROUP BY g.i, h.source`
}

// rollupDayHours gives the counts of each UTC hour of the grid's days,
// for the hours of the day (a row per hour, or per hour and source).
func rollupDayHours(d reportDialect) string {
	return rollupDaysOf(d) + `SELECT x.hour, x.calls, x.answered, x.missed, x.abandoned, x.busy, x.failed, x.new_callers
FROM g CROSS JOIN rollup_day_hours x
WHERE x.day_start = g.lo AND x.day_end = g.hi
UNION ALL
SELECT h.hour, h.calls, h.answered, h.missed, h.abandoned, h.busy, h.failed, h.new_callers
FROM g CROSS JOIN rollup_calls h
WHERE ` + dayUnread + ` AND h.hour >= g.lo AND h.hour < g.hi AND h.calls > 0`
}

// rollupDayOperators gives the operators' figures of the grid's days, as
// rawOperators and rawOperatorCalls do from the raw rows, in one pass:
// an operator whose phone a call dialled (offer_rows) has figures; calls
// are those that rang them.
func rollupDayOperators(d reportDialect) string {
	return rollupDaysOf(d) + `SELECT a.operator, coalesce(op.name, ''), a.offer_rows, a.offered, a.answered, a.no_answer,
	a.ring_n, a.ring_ms, a.talk_n, a.talk_ms, a.calls_answered, a.missed_calls, a.calls
FROM (
	SELECT operator, sum(offer_rows) AS offer_rows, sum(offered) AS offered, sum(answered) AS answered,
		sum(no_answer) AS no_answer, sum(ring_n) AS ring_n, CAST(sum(ring_ms) AS bigint) AS ring_ms,
		sum(talk_n) AS talk_n, CAST(sum(talk_ms) AS bigint) AS talk_ms,
		sum(calls_answered) AS calls_answered, sum(missed_calls) AS missed_calls, sum(calls) AS calls
	FROM (
		SELECT x.operator, x.offer_rows, x.offered, x.answered, x.no_answer, x.ring_n, x.ring_ms, x.talk_n, x.talk_ms,
			x.calls_answered, x.missed_calls, x.calls
		FROM g CROSS JOIN rollup_day_operators x
		WHERE x.day_start = g.lo AND x.day_end = g.hi
		UNION ALL
		SELECT h.operator, h.offer_rows, h.offered, h.answered, h.no_answer, h.ring_n, h.ring_ms, h.talk_n, h.talk_ms,
			h.calls_answered, h.missed_calls, h.calls
		FROM g CROSS JOIN rollup_operators h
		WHERE ` + dayUnread + ` AND h.hour >= g.lo AND h.hour < g.hi
	) u
	GROUP BY operator
) a
LEFT JOIN operators op ON op.extension = a.operator`
}

// rollupDayPurposes is summaryPurposes over the grid's days.
func rollupDayPurposes(d reportDialect) string {
	return rollupDaysOf(d) + `SELECT source, purpose, sum(calls)
FROM (
	SELECT x.source, x.purpose, x.calls
	FROM g CROSS JOIN rollup_day_purposes x
	WHERE x.day_start = g.lo AND x.day_end = g.hi
	UNION ALL
	SELECT h.source, h.purpose, h.calls
	FROM g CROSS JOIN rollup_purposes h
	WHERE ` + dayUnread + ` AND h.hour >= g.lo AND h.hour < g.hi
) u
GROUP BY source, purpose`
}

// rollupDaysMissing gives the index of each day of $1 not held.
func rollupDaysMissing(d reportDialect) string {
	return rollupDaysOf(d) + `SELECT g.i FROM g WHERE ` + dayUnread
}

// rollupDayFill is the statements that fill a day ($1 to $2) from its
// hours; the first holds the day, the others read its bounds from it.
func rollupDayFill(d reportDialect) []string {
	from := func(hours string) string {
		return `FROM rollup_days d JOIN ` + hours + ` h ON h.hour >= d.day_start AND h.hour < d.day_end
WHERE d.day_start = $1 AND d.day_end = $2`
	}
	return []string{
		`INSERT INTO rollup_days (day_start, day_end) VALUES ($1, $2)`,
		// The lists joined in the order of the hours, each hour's sorted:
		// the same hours give the same bytes (CheckRollups).
		`INSERT INTO rollup_day_calls (day_start, day_end, source, calls, answered, missed, abandoned, busy, failed, new_callers,
	waits, numbers, new_numbers, missed_numbered, callback_delays)
SELECT d.day_start, d.day_end, h.source, sum(h.calls), sum(h.answered), sum(h.missed), sum(h.abandoned), sum(h.busy), sum(h.failed),
	sum(h.new_callers), ` + d.joinBytes("h.waits", "h.hour") + `, ` + d.joinBytes("h.numbers", "h.hour") + `,
	` + d.joinBytes("h.new_numbers", "h.hour") + `, sum(h.missed_numbered), ` + d.joinBytes("h.callback_delays", "h.hour") + `
` + from("rollup_calls") + ` AND h.calls > 0
GROUP BY d.day_start, d.day_end, h.source`,
		`INSERT INTO rollup_day_hours (day_start, day_end, hour, calls, answered, missed, abandoned, busy, failed, new_callers)
SELECT d.day_start, d.day_end, h.hour, sum(h.calls), sum(h.answered), sum(h.missed), sum(h.abandoned), sum(h.busy), sum(h.failed),
	sum(h.new_callers)
` + from("rollup_calls") + ` AND h.calls > 0
GROUP BY d.day_start, d.day_end, h.hour`,
		`INSERT INTO rollup_day_operators (day_start, day_end, operator, offer_rows, offered, answered, no_answer, ring_n, ring_ms,
	talk_n, talk_ms, calls_answered, missed_calls, calls)
SELECT d.day_start, d.day_end, h.operator, sum(h.offer_rows), sum(h.offered), sum(h.answered), sum(h.no_answer), sum(h.ring_n),
	CAST(sum(h.ring_ms) AS bigint), sum(h.talk_n), CAST(sum(h.talk_ms) AS bigint), sum(h.calls_answered), sum(h.missed_calls),
	sum(h.calls)
` + from("rollup_operators") + `
GROUP BY d.day_start, d.day_end, h.operator
HAVING sum(h.offer_rows) > 0 OR sum(h.calls) > 0`,
		`INSERT INTO rollup_day_purposes (day_start, day_end, source, purpose, calls)
SELECT d.day_start, d.day_end, h.source, h.purpose, sum(h.calls)
` + from("rollup_purposes") + `
GROUP BY d.day_start, d.day_end, h.source, h.purpose`,
	}
}

// rollupDayBounds are the days held, for CheckRollups and RebuildRollups
// to fill them again.
const rollupDayBounds = `SELECT day_start, day_end FROM rollup_days`

// rollupDayMaxHours is the longest day held (the migration's bound).
const rollupDayMaxHours = 48

// dayBounds are a day's first instant and the next day's.
type dayBounds [2]time.Time

// gridDays are g's days, as rollupDaysOf takes them.
func gridDays(g report.Grid) []dayBounds {
	var days []dayBounds
	for _, d := range g.Days() {
		days = append(days, dayBounds{d.Start, d.End})
	}
	return days
}

// fillRollupDays fills the days of grids that are over by now and not
// held yet from their hours. A grid not on UTC hours has none to fill.
func (s *sqlStore) fillRollupDays(ctx context.Context, now time.Time, grids ...report.Grid) error {
	var days []dayBounds
	for _, g := range grids {
		if !g.OnUTCHours() {
			continue
		}
		for _, d := range gridDays(g) {
			if !d[1].After(now) && d[1].After(d[0]) && d[1].Sub(d[0]) <= rollupDayMaxHours*time.Hour {
				days = append(days, d)
			}
		}
	}
	if len(days) == 0 {
		return nil
	}
	d := s.dialect.reports
	missing := func(q querier) ([]dayBounds, error) {
		is, err := queryAll(ctx, q, scanOne[int], rollupDaysMissing(d), d.daysArg(days))
		if err != nil {
			return nil, err
		}
		out := make([]dayBounds, 0, len(is))
		for _, i := range is {
			out = append(out, days[i])
		}
		return out, nil
	}
	todo, err := missing(s.conn)
	if err != nil || len(todo) == 0 {
		return wrapErr("fill the roll-ups of days", err)
	}
	err = s.inTx(ctx, func(tx tx) error {
		if d.rollupDaysLock != "" {
			if _, err := tx.exec(ctx, d.rollupDaysLock); err != nil {
				return err
			}
		}
		// Another report may have filled them meanwhile.
		todo, err := missing(tx)
		if err != nil {
			return err
		}
		return fillDays(ctx, tx, d, todo)
	})
	return wrapErr("fill the roll-ups of days", err)
}

// fillDays fills days from their hours, in tx (which holds the days
// against a refresh).
func fillDays(ctx context.Context, tx tx, d reportDialect, days []dayBounds) error {
	if len(days) == 0 {
		return nil
	}
	var b stmtBatch
	fill := rollupDayFill(d)
	for _, day := range days {
		for _, q := range fill {
			b.exec(q, day[0], day[1])
		}
	}
	return tx.send(ctx, &b)
}

// heldDays are the days held, read in tx.
func heldDays(ctx context.Context, tx tx) ([]dayBounds, error) {
	return queryAll(ctx, tx, func(r row) (dayBounds, error) {
		var d dayBounds
		err := r.Scan(&d[0], &d[1])
		return d, err
	}, rollupDayBounds)
}

// rollupDayQueries queues the reads of g's figures from the roll-ups into
// b, to fold into fold: each day's row where it is held, else its hours.
func (s *sqlStore) rollupDayQueries(b *stmtBatch, g report.Grid, operators bool, fold *report.Fold) {
	d := s.dialect.reports
	days := d.daysArg(gridDays(g))
	var r rollupRowReader
	b.query(func(rs rows) error {
		_, err := collect(rs, func(row row) (struct{}, error) {
			var day int
			h, err := r.read(row, &day)
			if err == nil {
				fold.RollupDay(day, h)
			}
			return struct{}{}, err
		})
		return wrapErr("count calls by day", err)
	}, rollupDayCalls(d), days)
	b.query(func(rs rows) error {
		_, err := collect(rs, func(r row) (struct{}, error) {
			var h report.HourRow
			var at time.Time
			err := r.Scan(&at, &h.Calls, &h.Answered, &h.Missed, &h.Abandoned, &h.Busy, &h.Failed, &h.NewCallers)
			if err == nil {
				h.Hour = g.HourOf(at)
				fold.HourCounts(h)
			}
			return struct{}{}, err
		})
		return wrapErr("count calls by hour", err)
	}, rollupDayHours(d), days)
	if operators {
		b.query(func(rs rows) error {
			_, err := collect(rs, func(r row) (struct{}, error) {
				var o report.OperatorRow
				var offers, calls int
				err := r.Scan(&o.Operator, &o.Name, &offers, &o.Offered, &o.Answered, &o.NoAnswer, &o.RingN, &o.RingMs,
					&o.TalkN, &o.TalkMs, &o.CallsAnswered, &o.MissedCalls, &calls)
				if err == nil && offers > 0 {
					fold.Operator(o)
				}
				if err == nil && calls > 0 {
					fold.OperatorCalls(o.Operator, calls)
				}
				return struct{}{}, err
			})
			return wrapErr("operators", err)
		}, rollupDayOperators(d), days)
	}
	b.query(readPurposes(fold), rollupDayPurposes(d), days)
}

// readPurposes folds rows of source, purpose and calls into fold.
func readPurposes(fold *report.Fold) func(rows) error {
	return func(rs rows) error {
		_, err := collect(rs, func(r row) (struct{}, error) {
			var source, purpose string
			var n int
			err := r.Scan(&source, &purpose, &n)
			if err == nil {
				fold.Purpose(source, purpose, n)
			}
			return struct{}{}, err
		})
		return wrapErr("purposes", err)
	}
}

// fillHeldDays fills days again after a rebuild, in tx.
func (s *sqlStore) fillHeldDays(ctx context.Context, tx tx, days []dayBounds) error {
	if err := fillDays(ctx, tx, s.dialect.reports, days); err != nil {
		return fmt.Errorf("fill the roll-ups of %d days again: %w", len(days), err)
	}
	return nil
}
