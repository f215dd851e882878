package store

import (
	"errors"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// ErrNotFound is wrapped by the error a read returns when there is nothing
// to read: no call with the ID, no client, no operator with the extension or
// the token. The error's text says which.
var ErrNotFound = errors.New("not found")

// normalise returns c as both stores keep it, so that what Call returns
// compares equal to what was saved whichever store holds it:
//
//   - times in UTC, truncated to the millisecond: Asterisk's timestamps carry
//     no more, SQLite keeps milliseconds, and PostgreSQL would otherwise keep
//     microseconds the other store loses;
//   - lists empty rather than nil, so a call reads back the same whether it
//     was built with a nil or an empty list, and encodes as [] in JSON;
//   - no direction as inbound: calls were all inbound before they had one.
//
// The caller's offers are copied, never changed.
func normalise(c screenpop.Call) screenpop.Call {
	c.StartedAt = msUTC(c.StartedAt)
	c.AnsweredAt = msUTCPtr(c.AnsweredAt)
	c.EndedAt = msUTC(c.EndedAt)
	c.OfferedTo = nonNil(c.OfferedTo)
	c.TalkedTo = nonNil(c.TalkedTo)
	if c.Direction == "" {
		c.Direction = screenpop.Inbound
	}
	offers := make([]screenpop.Offer, len(c.Offers))
	for i, o := range c.Offers {
		o.DialedAt = msUTC(o.DialedAt)
		o.RingingAt = msUTCPtr(o.RingingAt)
		o.AnsweredAt = msUTCPtr(o.AnsweredAt)
		o.EndedAt = msUTCPtr(o.EndedAt)
		offers[i] = o
	}
	c.Offers = offers
	return c
}

func msUTC(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

func msUTCPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := msUTC(*t)
	return &u
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
