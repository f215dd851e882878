package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// PostgreSQL puts each call in its local hour with width_bucket over the
// grid's instants ($3): a binary search per call, on the calls of the
// range only. $1 and $2 bound the range.

// pgSummaryHours counts the calls by local hour, source and status, with
// the answered calls' waits (for their average and percentiles): those
// whose start or answer was not seen (gaps) are counted but their wait,
// an estimate, is left out.
const pgSummaryHours = `SELECT width_bucket(started_at, $3::timestamptz[]) - 1, source, status,
	count(*), count(*) FILTER (WHERE caller_kind = 'new'),
	coalesce(array_agg(wait_seconds) FILTER (WHERE status = 'answered' AND NOT gaps && '{start,answer}'), '{}')
FROM calls
WHERE direction = 'inbound' AND started_at >= $1 AND started_at < $2
GROUP BY 1, 2, 3`

// pgSummaryOperators: for each operator whose phone a call of the range
// dialled, how often it rang, was answered and rang out, and the answered
// offers' ring and talk time in milliseconds, leaving out the times a gap
// makes estimates (ring: the answer unseen; talk: the answer or the end).
const pgSummaryOperators = `SELECT a.operator, coalesce(op.name, ''), a.offered, a.answered, a.no_answer,
	a.ring_n, a.ring_ms, a.talk_n, a.talk_ms, a.calls_answered, a.missed_calls
FROM (
	SELECT o.operator,
		count(*) FILTER (WHERE o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AS offered,
		count(*) FILTER (WHERE o.outcome = 'answered') AS answered,
		count(*) FILTER (WHERE o.outcome = 'no_answer' AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL)) AS no_answer,
		count(*) FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND NOT c.gaps && '{answer}') AS ring_n,
		coalesce(sum(round(date_part('epoch', o.answered_at - coalesce(o.ringing_at, o.dialed_at)) * 1000))
			FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND NOT c.gaps && '{answer}'), 0)::bigint AS ring_ms,
		count(*) FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL AND NOT c.gaps && '{answer,end}') AS talk_n,
		coalesce(sum(round(date_part('epoch', o.ended_at - o.answered_at) * 1000))
			FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL AND NOT c.gaps && '{answer,end}'), 0)::bigint AS talk_ms,
		count(DISTINCT o.call_id) FILTER (WHERE o.outcome = 'answered') AS calls_answered,
		-- A call they did not answer that rang out on them, or that the
		-- caller gave up on while it rang, at least once.
		count(DISTINCT o.call_id) FILTER (WHERE o.outcome IN ('no_answer', 'cancelled')
			AND (o.ringing_at IS NOT NULL OR o.answered_at IS NOT NULL) AND c.answered_by IS DISTINCT FROM o.operator) AS missed_calls
	FROM offers o
	JOIN calls c USING (call_id)
	WHERE c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2
	GROUP BY o.operator
) a
LEFT JOIN operators op ON op.extension = a.operator`

// pgSummaryOperatorCalls: for each operator, the calls of the range that
// rang their phone (offered_to holds each operator once), read from the
// calls alone: grouping the offers by call took three times as long.
const pgSummaryOperatorCalls = `SELECT op, count(*)
FROM calls c CROSS JOIN LATERAL unnest(c.offered_to) AS op
WHERE c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2
GROUP BY op`

// pgSummaryCallers counts the distinct numbers by source, and over all
// sources (the row with a NULL source).
const pgSummaryCallers = `SELECT source, count(DISTINCT caller_e164), count(DISTINCT caller_e164) FILTER (WHERE caller_kind = 'new')
FROM calls
WHERE direction = 'inbound' AND started_at >= $1 AND started_at < $2
GROUP BY GROUPING SETS ((source), ())`

// pgSummaryCallbacks gives each missed call with a number the seconds to
// the first outbound call to that number after it (calls_resolving holds
// them by number).
const pgSummaryCallbacks = `SELECT c.source, date_part('epoch', (SELECT min(r.started_at) FROM calls r
		WHERE r.caller_e164 = c.caller_e164 AND r.direction = 'outbound' AND r.started_at > c.started_at) - c.started_at)
FROM calls c
WHERE c.direction = 'inbound' AND c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL
	AND c.started_at >= $1 AND c.started_at < $2`

// pgSummaryPurposes counts the calls by source and the purpose their note
// gives.
const pgSummaryPurposes = `SELECT c.source, n.purpose, count(*)
FROM calls c
JOIN call_notes n ON n.call_id = c.call_id
WHERE c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2
GROUP BY 1, 2`

// Summary aggregates the inbound calls of the local days from from's date
// to to's (excluded), in from's location, and of as many days before; sl
// is the service level's threshold. The queries read one snapshot, so
// their numbers agree while calls are being written.
func (p *Postgres) Summary(ctx context.Context, from, to time.Time, sl time.Duration) (Summary, error) {
	g, err := newGrid(from, to)
	if err != nil {
		return Summary{}, err
	}
	prev, err := previousGrid(g)
	if err != nil {
		return Summary{}, err
	}
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := pgSummaryRows(ctx, tx, g, true)
	if err != nil {
		return Summary{}, err
	}
	prevRows, err := pgSummaryRows(ctx, tx, prev, false)
	if err != nil {
		return Summary{}, fmt.Errorf("previous period: %w", err)
	}
	s := summarize(g, rows, sl)
	s.Previous = summarize(prev, prevRows, sl).period()
	return s, nil
}

// pgSummaryRows runs the summary's queries over g's range in tx; the
// operators' only if asked (a Period has none).
func pgSummaryRows(ctx context.Context, tx pgx.Tx, g grid, operators bool) (summaryRows, error) {
	var out summaryRows
	start, end := g.start(), g.end()
	var b pgx.Batch
	b.Queue(pgSummaryHours, start, end, g.hours[:len(g.hours)-1])
	if operators {
		b.Queue(pgSummaryOperators, start, end)
		b.Queue(pgSummaryOperatorCalls, start, end)
	}
	b.Queue(pgSummaryCallers, start, end)
	b.Queue(pgSummaryCallbacks, start, end)
	b.Queue(pgSummaryPurposes, start, end)
	res := tx.SendBatch(ctx, &b)
	defer res.Close()

	var err error
	rows, _ := res.Query()
	out.hours, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (hourRow, error) {
		var r hourRow
		var status string
		err := row.Scan(&r.hour, &r.source, &status, &r.calls, &r.newOnes, &r.waits)
		r.status = screenpop.Status(status)
		return r, err
	})
	if err != nil {
		return out, fmt.Errorf("summary: count calls by hour: %w", err)
	}
	if operators {
		if err := pgSummaryOperatorRows(res, &out); err != nil {
			return out, err
		}
	}
	rows, _ = res.Query()
	out.callers, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (callerRow, error) {
		var r callerRow
		var source *string
		err := row.Scan(&source, &r.distinct, &r.newOnes)
		if source == nil {
			r.all = true
		} else {
			r.source = *source
		}
		return r, err
	})
	if err != nil {
		return out, fmt.Errorf("summary: callers: %w", err)
	}
	rows, _ = res.Query()
	out.callbacks, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (callbackDelayRow, error) {
		var r callbackDelayRow
		err := row.Scan(&r.source, &r.delay)
		return r, err
	})
	if err != nil {
		return out, fmt.Errorf("summary: callbacks: %w", err)
	}
	rows, _ = res.Query()
	out.purposes, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (purposeRow, error) {
		var r purposeRow
		err := row.Scan(&r.source, &r.purpose, &r.calls)
		return r, err
	})
	if err != nil {
		return out, fmt.Errorf("summary: purposes: %w", err)
	}
	return out, nil
}

// pgSummaryOperatorRows reads the answers of the operators' two queries.
func pgSummaryOperatorRows(res pgx.BatchResults, out *summaryRows) error {
	var err error
	rows, _ := res.Query()
	out.ops, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (operatorRow, error) {
		var o operatorRow
		err := row.Scan(&o.operator, &o.name, &o.offered, &o.answered, &o.noAnswer, &o.ringN, &o.ringMs, &o.talkN, &o.talkMs,
			&o.callsAnswered, &o.missedCalls)
		return o, err
	})
	if err != nil {
		return fmt.Errorf("summary: operators: %w", err)
	}
	rows, _ = res.Query()
	out.opCalls, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (operatorCallRow, error) {
		var o operatorCallRow
		err := row.Scan(&o.operator, &o.calls)
		return o, err
	})
	if err != nil {
		return fmt.Errorf("summary: operators' calls: %w", err)
	}
	return nil
}
