package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/screenpop/screenpop/screenpop"
)

// The call log as analysts read it: every call a filter matches, newest
// first, for the calls command and GET /api/calls.

// callBatch is how many calls a listing reads at a time. Between batches
// it holds no database connection: a CSV export sent to a slow client
// must not hold the embedded store's only connection, which the call log
// writer and the pops need.
const callBatch = 500

// callColumns are the calls columns in the order scanCall reads them.
const callColumns = `pbx, call_id, caller, caller_e164, caller_name, withheld, did, status,
	offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
	hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason, direction,
	source, campaign, caller_kind, gaps, lookup_name`

// listQuery builds the query for the next at most n calls f matches, in
// the listing's order. region normalises f.Caller.
func listQuery(d dialect, region string, f screenpop.CallFilter, n int) (string, []any) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !f.From.IsZero() {
		where = append(where, "started_at >= "+arg(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "started_at < "+arg(f.To))
	}
	if f.AfterID != "" {
		t, id, pbx := arg(f.AfterStartedAt), arg(f.AfterID), arg(f.AfterPBX)
		// Not a row comparison: the index on started_at alone serves this.
		where = append(where, fmt.Sprintf("started_at <= %s AND (started_at < %s OR call_id < %s OR (call_id = %s AND pbx < %s))",
			t, t, id, id, pbx))
	}
	if f.PBX != nil {
		where = append(where, "pbx = "+arg(*f.PBX))
	}
	if f.Direction != "" {
		where = append(where, "direction = "+arg(string(f.Direction)))
	}
	if len(f.Statuses) > 0 {
		where = append(where, d.oneOf("status", arg(strs(f.Statuses))))
	}
	if len(f.Kinds) > 0 {
		where = append(where, d.oneOf("caller_kind", arg(strs(f.Kinds))))
	}
	if f.Uncertain {
		where = append(where, d.length("gaps")+" > 0")
	}
	if len(f.Gaps) > 0 {
		where = append(where, d.overlaps("gaps", arg(strs(f.Gaps))))
	}
	if f.Source != "" {
		where = append(where, "source = "+arg(f.Source))
	}
	if f.Campaign != "" {
		where = append(where, "campaign = "+arg(f.Campaign))
	}
	if op := strings.TrimSpace(f.Operator); op != "" {
		p := arg(op)
		// The offers' index finds the calls offered to them; the rest are
		// read from the rows the other conditions leave.
		where = append(where, fmt.Sprintf("((pbx, call_id) IN (SELECT pbx, call_id FROM offers WHERE operator = %s) OR answered_by = %s OR %s)",
			p, p, d.holds("talked_to", p)))
	}
	if raw := strings.TrimSpace(f.Caller); raw != "" {
		if n := screenpop.ParseNumber(raw, region); n.E164 != "" {
			where = append(where, "caller_e164 = "+arg(n.E164))
		} else {
			where = append(where, "caller = "+arg(raw))
		}
	}
	q := "SELECT " + callColumns + " FROM calls"
	if len(where) > 0 {
		q += "\nWHERE " + strings.Join(where, "\n  AND ")
	}
	q += "\nORDER BY started_at DESC, call_id DESC, pbx DESC LIMIT " + arg(n)
	return q, args
}

func strs[S ~string](list []S) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = string(s)
	}
	return out
}

// eachCall runs a listing batch by batch: read reads the next at most n
// calls f matches, and releases the database before each is called.
func eachCall(ctx context.Context, f screenpop.CallFilter, read func(ctx context.Context, f screenpop.CallFilter, n int) ([]screenpop.Call, error),
	each func(screenpop.Call) error) error {
	left := f.Limit
	for {
		n := callBatch
		if f.Limit > 0 && left < n {
			n = left
		}
		calls, err := read(ctx, f, n)
		if err != nil {
			return fmt.Errorf("list calls: %w", err)
		}
		for _, c := range calls {
			if err := each(c); err != nil {
				return err
			}
		}
		left -= len(calls)
		if len(calls) < n || (f.Limit > 0 && left == 0) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list calls: %w", err)
		}
		last := calls[len(calls)-1]
		f.AfterStartedAt, f.AfterID, f.AfterPBX = last.StartedAt, last.ID, last.PBX
	}
}

// Calls lists the calls f matches, newest first (by started_at, then
// call_id, then pbx, all descending), handing each to each; an error from each
// stops the listing and is returned. Calls are read a batch at a time, so
// a month's export holds neither the month in memory nor a connection
// while each writes it out (the embedded store's one connection is free
// between batches for the call log writer and the pops).
func (s *sqlStore) Calls(ctx context.Context, f screenpop.CallFilter, each func(screenpop.Call) error) error {
	return eachCall(ctx, f, s.readCalls, each)
}

func (s *sqlStore) readCalls(ctx context.Context, f screenpop.CallFilter, n int) ([]screenpop.Call, error) {
	q, args := listQuery(s.dialect, s.region, f, n)
	rs, err := s.conn.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	calls, err := collect(rs, scanCall) // closed before the offers' query: SQLite has one connection
	if err != nil {
		return nil, err
	}
	if f.Offers && len(calls) > 0 {
		if err := s.readOffers(ctx, s.conn, calls); err != nil {
			return nil, err
		}
	}
	for i := range calls {
		calls[i] = normalise(calls[i])
	}
	return calls, nil
}

// scanCall reads a row of callColumns.
func scanCall(r row) (screenpop.Call, error) {
	var (
		c    screenpop.Call
		gaps []string
	)
	err := r.Scan(&c.PBX, &c.ID, &c.Caller, &c.CallerE164, &c.CallerName, &c.Withheld, &c.DID, &c.Status,
		&c.OfferedTo, &c.AnsweredBy, &c.TalkedTo, &c.RingSeconds, &c.WaitSeconds, &c.TalkSeconds,
		&c.HangupCause, &c.HangupCauseText, &c.StartedAt, &c.AnsweredAt, &c.EndedAt, &c.CloseReason, &c.Direction,
		&c.Source, &c.Campaign, &c.CallerKind, &gaps, &c.LookupName)
	c.Gaps = gapList(gaps)
	return c, err
}

// readOffers reads the offers of calls in one query, in the order they
// were made.
func (s *sqlStore) readOffers(ctx context.Context, q querier, calls []screenpop.Call) error {
	// The offers of the listed IDs, on any box: the few of another box's
	// call with the same ID are left out as they are read.
	ids := make([]string, len(calls))
	type key struct{ pbx, id string }
	at := make(map[key]int, len(calls))
	for i, c := range calls {
		ids[i], at[key{c.PBX, c.ID}] = c.ID, i
	}
	rs, err := q.query(ctx, `SELECT pbx, call_id, operator, channel, dialed_at, ringing_at, answered_at, ended_at,
		outcome, dial_status FROM offers WHERE `+s.dialect.oneOf("call_id", "$1")+` ORDER BY pbx, call_id, seq`, ids)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var (
			k key
			o screenpop.Offer
		)
		if err := rs.Scan(&k.pbx, &k.id, &o.Operator, &o.Channel, &o.DialedAt, &o.RingingAt, &o.AnsweredAt, &o.EndedAt,
			&o.Outcome, &o.DialStatus); err != nil {
			return err
		}
		i, ok := at[k]
		if !ok {
			continue
		}
		calls[i].Offers = append(calls[i].Offers, o)
	}
	return rs.Err()
}

// CallLister is what both stores do to list the call log.
type CallLister interface {
	Calls(ctx context.Context, f screenpop.CallFilter, each func(screenpop.Call) error) error
}

var (
	_ CallLister = (*Postgres)(nil)
	_ CallLister = (*SQLite)(nil)
)
