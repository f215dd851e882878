package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// The call log as analysts read it: every call a filter matches, newest
// first, for the calls command and GET /api/calls.

// CallFilter says which calls to list: see screenpop.CallFilter.
type CallFilter = screenpop.CallFilter

// callBatch is how many calls a listing reads at a time. Between batches
// it holds no database connection: a CSV export sent to a slow client
// must not hold the embedded store's only connection, which the call log
// writer and the pops need.
const callBatch = 500

// callColumns are the calls columns in the order scanCall reads them.
const callColumns = `call_id, caller, caller_e164, caller_name, withheld, did, status,
	offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
	hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason, direction,
	source, campaign, caller_kind, gaps, lookup_name`

// dialect is what differs between the stores' SQL for a listing.
type dialect struct {
	// param is the n-th (from 1) query parameter.
	param func(n int) string
	// time and list are a time and a list of strings as parameters.
	time func(t time.Time) any
	list func(s []string) any
	// oneOf is "col is one of the list parameter p".
	oneOf func(col, p string) string
	// holds is "the list column col holds the parameter p".
	holds func(col, p string) string
	// overlaps is "the list column col holds an element of the list
	// parameter p"; empty is "the list column col is empty".
	overlaps func(col, p string) string
	empty    func(col string) string
}

// listQuery builds the query for the next at most n calls f matches, in
// the listing's order. region normalises f.Caller.
func listQuery(d dialect, region string, f CallFilter, n int) (string, []any) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return d.param(len(args))
	}
	if !f.From.IsZero() {
		where = append(where, "started_at >= "+arg(d.time(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "started_at < "+arg(d.time(f.To)))
	}
	if f.AfterID != "" {
		t, id := arg(d.time(f.AfterStartedAt)), arg(f.AfterID)
		// Not a row comparison: the index on started_at alone serves this.
		where = append(where, fmt.Sprintf("started_at <= %s AND (started_at < %s OR call_id < %s)", t, t, id))
	}
	if f.Direction != "" {
		where = append(where, "direction = "+arg(string(f.Direction)))
	}
	if len(f.Statuses) > 0 {
		where = append(where, d.oneOf("status", arg(d.list(strs(f.Statuses)))))
	}
	if len(f.Kinds) > 0 {
		where = append(where, d.oneOf("caller_kind", arg(d.list(strs(f.Kinds)))))
	}
	if f.Uncertain {
		where = append(where, "NOT "+d.empty("gaps"))
	}
	if len(f.Gaps) > 0 {
		where = append(where, d.overlaps("gaps", arg(d.list(strs(f.Gaps)))))
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
		where = append(where, fmt.Sprintf("(call_id IN (SELECT call_id FROM offers WHERE operator = %s) OR answered_by = %s OR %s)",
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
	q += "\nORDER BY started_at DESC, call_id DESC LIMIT " + arg(n)
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
func eachCall(ctx context.Context, f CallFilter, read func(ctx context.Context, f CallFilter, n int) ([]screenpop.Call, error),
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
		f.AfterStartedAt, f.AfterID = last.StartedAt, last.ID
	}
}

// CallLister is what both stores do to list the call log.
type CallLister interface {
	Calls(ctx context.Context, f CallFilter, each func(screenpop.Call) error) error
}

var (
	_ CallLister = (*Postgres)(nil)
	_ CallLister = (*SQLite)(nil)
)
