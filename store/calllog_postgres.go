package store

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
)

var pgDialect = dialect{
	param:    func(n int) string { return "$" + strconv.Itoa(n) },
	time:     func(t time.Time) any { return t },
	list:     func(s []string) any { return s },
	oneOf:    func(col, p string) string { return col + " = ANY(" + p + "::text[])" },
	holds:    func(col, p string) string { return p + "::text = ANY(" + col + ")" },
	overlaps: func(col, p string) string { return col + " && " + p + "::text[]" },
	empty:    func(col string) string { return "cardinality(" + col + ") = 0" },
}

// Calls lists the calls f matches, newest first (by started_at, then
// call_id, both descending), handing each to each; an error from each
// stops the listing and is returned. Calls are read a batch at a time, so
// a month's export holds neither the month in memory nor a connection
// while each writes it out.
func (p *Postgres) Calls(ctx context.Context, f CallFilter, each func(screenpop.Call) error) error {
	return eachCall(ctx, f, p.readCalls, each)
}

func (p *Postgres) readCalls(ctx context.Context, f CallFilter, n int) ([]screenpop.Call, error) {
	q, args := listQuery(pgDialect, p.region, f, n)
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	calls, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (screenpop.Call, error) {
		var (
			c    screenpop.Call
			gaps []string
		)
		err := row.Scan(&c.ID, &c.Caller, &c.CallerE164, &c.CallerName, &c.Withheld, &c.DID, &c.Status,
			&c.OfferedTo, &c.AnsweredBy, &c.TalkedTo, &c.RingSeconds, &c.WaitSeconds, &c.TalkSeconds,
			&c.HangupCause, &c.HangupCauseText, &c.StartedAt, &c.AnsweredAt, &c.EndedAt, &c.CloseReason, &c.Direction,
			&c.Source, &c.Campaign, &c.CallerKind, &gaps, &c.LookupName)
		c.Gaps = gapList(gaps)
		return c, err
	})
	if err != nil {
		return nil, err
	}
	if f.Offers && len(calls) > 0 {
		if err := p.readOffers(ctx, calls); err != nil {
			return nil, err
		}
	}
	for i := range calls {
		calls[i] = normalise(calls[i])
	}
	return calls, nil
}

// readOffers reads the offers of calls in one query, in the order they
// were made.
func (p *Postgres) readOffers(ctx context.Context, calls []screenpop.Call) error {
	ids := make([]string, len(calls))
	at := make(map[string]int, len(calls))
	for i, c := range calls {
		ids[i], at[c.ID] = c.ID, i
	}
	rows, err := p.pool.Query(ctx, `SELECT call_id, operator, channel, dialed_at, ringing_at, answered_at, ended_at,
		outcome, dial_status FROM offers WHERE call_id = ANY($1) ORDER BY call_id, seq`, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			o  screenpop.Offer
		)
		if err := rows.Scan(&id, &o.Operator, &o.Channel, &o.DialedAt, &o.RingingAt, &o.AnsweredAt, &o.EndedAt,
			&o.Outcome, &o.DialStatus); err != nil {
			return err
		}
		i := at[id]
		calls[i].Offers = append(calls[i].Offers, o)
	}
	return rows.Err()
}
