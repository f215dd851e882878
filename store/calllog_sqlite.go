package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

var sqliteDialect = dialect{
	param: func(n int) string { return "?" + strconv.Itoa(n) },
	time:  func(t time.Time) any { return formatTime(t) },
	list: func(s []string) any {
		b, _ := json.Marshal(s) // a []string always marshals
		return string(b)
	},
	oneOf: func(col, p string) string { return col + " IN (SELECT value FROM json_each(" + p + "))" },
	holds: func(col, p string) string {
		return "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE value = " + p + ")"
	},
	overlaps: func(col, p string) string {
		return "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE value IN (SELECT value FROM json_each(" + p + ")))"
	},
	empty: func(col string) string { return "json_array_length(" + col + ") = 0" },
}

// Calls: see Postgres.Calls. Between batches the store's one connection
// is free for the call log writer and the pops.
func (s *SQLite) Calls(ctx context.Context, f CallFilter, each func(screenpop.Call) error) error {
	return eachCall(ctx, f, s.readCalls, each)
}

func (s *SQLite) readCalls(ctx context.Context, f CallFilter, n int) ([]screenpop.Call, error) {
	q, args := listQuery(sqliteDialect, s.region, f, n)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var calls []screenpop.Call
	for rows.Next() {
		var (
			c                   screenpop.Call
			offeredTo, talkedTo string
			started, ended      string
			answered            sql.NullString
			gaps                string
		)
		if err := rows.Scan(&c.ID, &c.Caller, &c.CallerE164, &c.CallerName, &c.Withheld, &c.DID, &c.Status,
			&offeredTo, &c.AnsweredBy, &talkedTo, &c.RingSeconds, &c.WaitSeconds, &c.TalkSeconds,
			&c.HangupCause, &c.HangupCauseText, &started, &answered, &ended, &c.CloseReason, &c.Direction,
			&c.Source, &c.Campaign, &c.CallerKind, &gaps, &c.LookupName); err != nil {
			return nil, err
		}
		if err := errors.Join(
			json.Unmarshal([]byte(offeredTo), &c.OfferedTo),
			json.Unmarshal([]byte(talkedTo), &c.TalkedTo),
			json.Unmarshal([]byte(gaps), &c.Gaps), // normalise makes [] nil
			parseTime(started, &c.StartedAt),
			parseTimePtr(answered, &c.AnsweredAt),
			parseTime(ended, &c.EndedAt),
		); err != nil {
			return nil, err
		}
		calls = append(calls, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close() // before the offers' query: the store has one connection
	if f.Offers && len(calls) > 0 {
		if err := s.readOffers(ctx, calls); err != nil {
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
func (s *SQLite) readOffers(ctx context.Context, calls []screenpop.Call) error {
	ids := make([]string, len(calls))
	at := make(map[string]int, len(calls))
	for i, c := range calls {
		ids[i], at[c.ID] = c.ID, i
	}
	rows, err := s.db.QueryContext(ctx, `SELECT call_id, operator, channel, dialed_at, ringing_at, answered_at, ended_at,
		outcome, dial_status FROM offers WHERE call_id IN (SELECT value FROM json_each(?)) ORDER BY call_id, seq`,
		sqliteDialect.list(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, dialed                string
			o                         screenpop.Offer
			ringing, answered, ending sql.NullString
		)
		if err := rows.Scan(&id, &o.Operator, &o.Channel, &dialed, &ringing, &answered, &ending,
			&o.Outcome, &o.DialStatus); err != nil {
			return err
		}
		if err := errors.Join(
			parseTime(dialed, &o.DialedAt),
			parseTimePtr(ringing, &o.RingingAt),
			parseTimePtr(answered, &o.AnsweredAt),
			parseTimePtr(ending, &o.EndedAt),
		); err != nil {
			return err
		}
		i := at[id]
		calls[i].Offers = append(calls[i].Offers, o)
	}
	return rows.Err()
}
