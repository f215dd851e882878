package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/screenpop/screenpop/screenpop/report"
)

// Summary is read once for both engines: the queries that differ are the
// dialect's (reportDialect), everything else is here.

// reportDialect is the report's SQL that differs between the engines.
type reportDialect struct {
	// rawHours counts a day's calls ($1 to $2) by hour and source, as
	// rollupHours reads them (calls, their statuses, new callers, the
	// answered calls' certain waits); the first column is the hour's
	// index in hoursArg's hours ($3).
	rawHours string
	// hoursArg gives hours (each hour's start, then the last one's end)
	// as rawHours takes them.
	hoursArg func(hours []time.Time) any
	// millis is the milliseconds from the time column from to to,
	// rounded (for rawOperators).
	millis func(from, to string) string
	// rawOperatorCalls gives each operator's calls from $1 to $2 that
	// rang them; rawCallers each source's numbers and whether each
	// called as a new caller; rawCallbacks each missed call with a
	// number, its source and the microseconds to its first call back
	// (NULL: none), as the roll-ups keep them.
	rawOperatorCalls, rawCallers, rawCallbacks string
	// joinBytes is the aggregate joining a bytea (BLOB) column's values,
	// in the order of the expression order if it is not "".
	joinBytes func(col, order string) string
	// gridDays is a table of the days of $1 (daysArg): i, the day's
	// index, and lo and hi, its bounds as the roll-ups hold them.
	gridDays string
	daysArg  func(days []dayBounds) any
	// rollupDaysLock, if any, holds the days against a refresh until the
	// transaction ends.
	rollupDaysLock string
	// snapshotSetup, if any, runs first in the summary's snapshot.
	snapshotSetup string
	// rollupRefresh counts the stale hours again; rollupRebuild every
	// hour; both in a write transaction. rollupRows lists the roll-ups as
	// rollupRows; rollupLock, if any, holds the call log's writers back
	// in a transaction until it ends.
	rollupRefresh, rollupRebuild, rollupRows, rollupLock string
}

// rawOperators gives, for each operator whose phone a call from $1 to $2
// dialled (report.OperatorRow), how often it rang, was answered and rang
// out, and the answered offers' ring and talk time in milliseconds,
// leaving out the times a gap makes estimates (ring: the answer unseen;
// talk: the answer or the end). One query for both engines: d gives the
// list and time arithmetic.
func rawOperators(d dialect) string {
	gapless := func(gaps ...string) string {
		var held []string
		for _, g := range gaps {
			held = append(held, d.holds("c.gaps", "'"+g+"'"))
		}
		return "NOT (" + strings.Join(held, " OR ") + ")"
	}
	answered := "o.outcome = 'answered' AND o.answered_at IS NOT NULL AND " + gapless("answer")
	talked := "o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL AND " + gapless("answer", "end")
	rang := "(o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL)"
	return `SELECT a.operator, coalesce(op.name, ''), a.offered, a.answered, a.no_answer,
	a.ring_n, a.ring_ms, a.talk_n, a.talk_ms, a.calls_answered, a.missed_calls
FROM (
	SELECT o.operator,
		count(*) FILTER (WHERE ` + rang + `) AS offered,
		count(*) FILTER (WHERE o.outcome = 'answered') AS answered,
		count(*) FILTER (WHERE o.outcome = 'no_answer' AND ` + rang + `) AS no_answer,
		count(*) FILTER (WHERE ` + answered + `) AS ring_n,
		CAST(coalesce(sum(` + d.reports.millis("coalesce(o.ringing_at, o.dialed_at)", "o.answered_at") + `)
			FILTER (WHERE ` + answered + `), 0) AS BIGINT) AS ring_ms,
		count(*) FILTER (WHERE ` + talked + `) AS talk_n,
		CAST(coalesce(sum(` + d.reports.millis("o.answered_at", "o.ended_at") + `)
			FILTER (WHERE ` + talked + `), 0) AS BIGINT) AS talk_ms,
		count(DISTINCT o.pbx || '/' || o.call_id) FILTER (WHERE o.outcome = 'answered') AS calls_answered,
		-- A call they did not answer that rang out on them, or that the
		-- caller gave up on while it rang, at least once.
		count(DISTINCT o.pbx || '/' || o.call_id) FILTER (WHERE o.outcome IN ('no_answer', 'cancelled')
			AND ` + rang + ` AND c.answered_by IS DISTINCT FROM o.operator) AS missed_calls
	FROM calls c
	JOIN offers o ON o.pbx = c.pbx AND o.call_id = c.call_id
	WHERE c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2
	GROUP BY o.operator
) a
LEFT JOIN operators op ON op.extension = a.operator`
}

// summaryPurposes counts the calls of the range ($1 to $2) by source and
// the purpose their note gives.
const summaryPurposes = `SELECT c.source, n.purpose, count(*)
FROM calls c
JOIN call_notes n ON n.pbx = c.pbx AND n.call_id = c.call_id
WHERE c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2
GROUP BY 1, 2`

// staleIn says whether an hour from $1 to $2 is stale.
const staleIn = `SELECT EXISTS (SELECT 1 FROM rollup_stale WHERE hour >= $1 AND hour < $2)`

// Summary aggregates the inbound calls of the local days from from's date
// to to's (excluded), in from's location, and of as many days before; sl
// is the service level's threshold. The queries read one snapshot where
// the engine has them (PostgreSQL), so their numbers agree while calls
// are being written; the roll-ups where they serve (rollups.go).
func (s *sqlStore) Summary(ctx context.Context, from, to time.Time, sl time.Duration) (report.Summary, error) {
	return s.summary(ctx, from, to, sl, true)
}

// summary is Summary, from the raw rows alone unless rollups.
func (s *sqlStore) summary(ctx context.Context, from, to time.Time, sl time.Duration, rollups bool) (report.Summary, error) {
	g, err := report.NewGrid(from, to)
	if err != nil {
		return report.Summary{}, err
	}
	prev, err := g.Previous()
	if err != nil {
		return report.Summary{}, err
	}
	// The roll-ups serve an hour that is not stale in the snapshot the
	// summary reads: stale hours are counted again first, and again if a
	// call written meanwhile made one of the range's stale; after a few
	// tries, the raw rows serve.
	for try := 0; ; try++ {
		sum, retry, err := s.summaryOnce(ctx, g, prev, sl, rollups)
		if err != nil || !retry {
			return sum, err
		}
		if try == 2 {
			rollups = false
		}
	}
}

// summaryOnce is summary in one snapshot, counting the stale hours first
// if rollups; retry says an hour of the range was stale in the snapshot
// all the same.
func (s *sqlStore) summaryOnce(ctx context.Context, g, prev report.Grid, sl time.Duration, rollups bool) (sum report.Summary, retry bool, err error) {
	if rollups {
		if err := s.refreshRollups(ctx); err != nil {
			return report.Summary{}, false, fmt.Errorf("summary: %w", err)
		}
		if err := s.fillRollupDays(ctx, time.Now(), g, prev); err != nil {
			return report.Summary{}, false, fmt.Errorf("summary: %w", err)
		}
	}
	tx, err := s.conn.begin(ctx, true)
	if err != nil {
		return report.Summary{}, false, fmt.Errorf("summary: %w", err)
	}
	defer tx.rollback(ctx)
	if q := s.dialect.reports.snapshotSetup; q != "" {
		if _, err := tx.exec(ctx, q); err != nil {
			return report.Summary{}, false, fmt.Errorf("summary: %w", err)
		}
	}
	if rollups && (g.OnUTCHours() || prev.OnUTCHours()) {
		var stale bool
		if err := tx.queryRow(ctx, staleIn, prev.Start(), g.End()).Scan(&stale); err != nil {
			return report.Summary{}, false, fmt.Errorf("summary: %w", err)
		}
		if stale {
			return report.Summary{}, true, nil
		}
	}
	fold, err := s.summaryRows(ctx, tx, g, true, rollups)
	if err != nil {
		return report.Summary{}, false, err
	}
	prevFold, err := s.summaryRows(ctx, tx, prev, false, rollups)
	if err != nil {
		return report.Summary{}, false, fmt.Errorf("previous period: %w", err)
	}
	sum = fold.Summary(sl)
	sum.Previous = prevFold.Summary(sl).Period()
	return sum, false, nil
}

// summaryRows runs the summary's queries over g's range in q, in one
// batch, into a fold of g: from the roll-ups if rollups and they serve g,
// else from the raw rows a day at a time (the embedded store's one
// connection is not held for a year's calls), but for the distinct
// callers and the call backs, which do not add up by day. The operators'
// only if asked (a Period has none).
func (s *sqlStore) summaryRows(ctx context.Context, q querier, g report.Grid, operators, rollups bool) (*report.Fold, error) {
	fold := report.NewFold(g)
	var b stmtBatch
	start, end := g.Start(), g.End()
	readOps := func(rs rows) error {
		_, err := collect(rs, func(r row) (struct{}, error) {
			var o report.OperatorRow
			err := r.Scan(&o.Operator, &o.Name, &o.Offered, &o.Answered, &o.NoAnswer, &o.RingN, &o.RingMs, &o.TalkN, &o.TalkMs,
				&o.CallsAnswered, &o.MissedCalls)
			fold.Operator(o)
			return struct{}{}, err
		})
		return wrapErr("operators", err)
	}
	readOpCalls := func(rs rows) error {
		_, err := collect(rs, func(r row) (struct{}, error) {
			var op string
			var n int
			err := r.Scan(&op, &n)
			fold.OperatorCalls(op, n)
			return struct{}{}, err
		})
		return wrapErr("operators' calls", err)
	}
	if rollups && g.OnUTCHours() {
		s.rollupDayQueries(&b, g, operators, fold)
	} else {
		s.rawSummaryQueries(&b, g, operators, fold, readOps, readOpCalls)
		b.query(readPurposes(fold), summaryPurposes, start, end)
	}
	if err := q.send(ctx, &b); err != nil {
		return nil, fmt.Errorf("summary from %s to %s: %w", start.Format(time.DateOnly), end.Format(time.DateOnly), err)
	}
	return fold, nil
}

// rawSummaryQueries queues the raw rows' queries of g into b, to fold
// into fold.
func (s *sqlStore) rawSummaryQueries(b *stmtBatch, g report.Grid, operators bool, fold *report.Fold, readOps, readOpCalls func(rows) error) {
	d := s.dialect.reports
	ops := rawOperators(s.dialect)
	for _, day := range g.Days() {
		b.query(func(rs rows) error {
			var waits []byte
			_, err := collect(rs, func(r row) (struct{}, error) {
				var h report.HourRow
				err := r.Scan(&h.Hour, &h.Source, &h.Calls, &h.Answered, &h.Missed, &h.Abandoned, &h.Busy, &h.Failed,
					&h.NewCallers, &waits)
				if err == nil {
					h.Waits, err = int32s(nil, waits, "waits")
				}
				h.Hour += day.First
				fold.Hour(h)
				return struct{}{}, err
			})
			return wrapErr("count calls by hour of "+day.Start.Format(time.DateOnly), err)
		}, d.rawHours, day.Start, day.End, d.hoursArg(day.Hours))
		if operators {
			b.query(readOps, ops, day.Start, day.End)
			b.query(readOpCalls, d.rawOperatorCalls, day.Start, day.End)
		}
	}
	start, end := g.Start(), g.End()
	b.query(func(rs rows) error {
		_, err := collect(rs, func(r row) (struct{}, error) {
			var source, number string
			var isNew bool
			err := r.Scan(&source, &number, &isNew)
			if err == nil {
				fold.Caller(source, number, isNew)
			}
			return struct{}{}, err
		})
		return wrapErr("callers", err)
	}, d.rawCallers, start, end)
	b.query(func(rs rows) error {
		_, err := collect(rs, func(r row) (struct{}, error) {
			var source string
			var us *int64
			err := r.Scan(&source, &us)
			if err == nil {
				var delay *float64
				if us != nil {
					d := float64(*us) / 1e6
					delay = &d
				}
				fold.Callback(source, delay)
			}
			return struct{}{}, err
		})
		return wrapErr("callbacks", err)
	}, d.rawCallbacks, start, end)
}

// wrapErr says what was being read when err happened.
func wrapErr(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
