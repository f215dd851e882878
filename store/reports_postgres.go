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
	a.ring_n, a.ring_ms, a.talk_n, a.talk_ms
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
			FILTER (WHERE o.outcome = 'answered' AND o.answered_at IS NOT NULL AND o.ended_at IS NOT NULL AND NOT c.gaps && '{answer,end}'), 0)::bigint AS talk_ms
	FROM offers o
	JOIN calls c USING (call_id)
	WHERE c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2
	GROUP BY o.operator
) a
LEFT JOIN operators op ON op.extension = a.operator`

// Summary aggregates the inbound calls of the local days from from's date
// to to's (excluded), in from's location. The two queries read one
// snapshot, so their numbers agree while calls are being written.
func (p *Postgres) Summary(ctx context.Context, from, to time.Time) (Summary, error) {
	g, err := newGrid(from, to)
	if err != nil {
		return Summary{}, err
	}
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	start, end := g.start(), g.end()
	var b pgx.Batch
	b.Queue(pgSummaryHours, start, end, g.hours[:len(g.hours)-1])
	b.Queue(pgSummaryOperators, start, end)
	res := tx.SendBatch(ctx, &b)
	defer res.Close()

	rows, _ := res.Query()
	hours, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (hourRow, error) {
		var r hourRow
		var status string
		err := row.Scan(&r.hour, &r.source, &status, &r.calls, &r.newOnes, &r.waits)
		r.status = screenpop.Status(status)
		return r, err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("summary: count calls by hour: %w", err)
	}
	rows, _ = res.Query()
	ops, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (operatorRow, error) {
		var o operatorRow
		err := row.Scan(&o.operator, &o.name, &o.offered, &o.answered, &o.noAnswer, &o.ringN, &o.ringMs, &o.talkN, &o.talkMs)
		return o, err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("summary: operators: %w", err)
	}
	return summarize(g, hours, ops), nil
}
