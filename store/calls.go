package store

import (
	"slices"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// ErrNotFound is wrapped by the error a read returns when there is nothing
// to read: no call with the ID, no client, no operator with the extension or
// the token. The error's text says which.
// It is screenpop.ErrNotFound, so that the web server can tell an unknown
// token from a store it could not ask.
var ErrNotFound = screenpop.ErrNotFound

// normalise returns c as both stores keep it, so that what Call returns
// compares equal to what was saved whichever store holds it:
//
//   - times in UTC, truncated to the millisecond: Asterisk's timestamps carry
//     no more, SQLite keeps milliseconds, and PostgreSQL would otherwise keep
//     microseconds the other store loses;
//   - lists empty rather than nil, so a call reads back the same whether it
//     was built with a nil or an empty list, and encodes as [] in JSON;
//   - no direction as inbound: calls were all inbound before they had one;
//   - gaps in their canonical order (start, caller, offers, answer, end), each once,
//     and nil (not empty) for an exact record.
//
// The caller's offers are copied, never changed.
func normalise(c screenpop.Call) screenpop.Call {
	c.StartedAt = msUTC(c.StartedAt)
	c.AnsweredAt = msUTCPtr(c.AnsweredAt)
	c.EndedAt = msUTC(c.EndedAt)
	c.OfferedTo = nonNil(c.OfferedTo)
	c.TalkedTo = nonNil(c.TalkedTo)
	c.Gaps = canonicalGaps(c.Gaps)
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

// canonicalGaps returns gaps in screenpop.AllGaps' order, each once; nil for none, as the
// tracker writes an exact record. A gap
// this daemon does not know (a newer daemon wrote it) is kept, after the
// known ones: a record never loses the doubt it was written with.
func canonicalGaps(gaps []screenpop.Gap) []screenpop.Gap {
	if len(gaps) == 0 {
		return nil
	}
	out := make([]screenpop.Gap, 0, len(gaps))
	for _, g := range screenpop.AllGaps {
		if slices.Contains(gaps, g) {
			out = append(out, g)
		}
	}
	for _, g := range gaps {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// gapList is a stored list of gaps as a record has them.
func gapList(s []string) []screenpop.Gap {
	if len(s) == 0 {
		return nil
	}
	gaps := make([]screenpop.Gap, len(s))
	for i, g := range s {
		gaps[i] = screenpop.Gap(g)
	}
	return gaps
}

// upsertCall is the conflict clause both stores' insert shares: a call
// already stored is replaced by a record more complete than it, which
// each store's WHERE, appended to this, decides by this order:
//
//  1. a record whose end was seen (no close_reason, no "end" gap) is more
//     complete than one whose end was not;
//  2. then the one with fewer gaps;
//  3. then the one that ended later (a late event, or the full record
//     written after a restart, beats the one written first).
//
// A record equal in all three leaves the stored one: a batch delivered
// again changes nothing. A truncated record (its end unseen, or fewer
// events seen) never replaces a complete one.
//
// Source, campaign and kinds set by the tracker (withheld, internal)
// follow the new record: they depend on it alone. A kind the client base
// decided (client, lead, new) stays as it was first written, the client
// base as it was nearer the call's start: an operator making the caller a
// client during the call does not turn the call into a client's.
const upsertCall = `ON CONFLICT (call_id) DO UPDATE SET
	caller = excluded.caller, caller_e164 = excluded.caller_e164, caller_name = excluded.caller_name,
	withheld = excluded.withheld, did = excluded.did, status = excluded.status,
	offered_to = excluded.offered_to, answered_by = excluded.answered_by, talked_to = excluded.talked_to,
	ring_seconds = excluded.ring_seconds, wait_seconds = excluded.wait_seconds, talk_seconds = excluded.talk_seconds,
	hangup_cause = excluded.hangup_cause, hangup_cause_text = excluded.hangup_cause_text,
	started_at = excluded.started_at, answered_at = excluded.answered_at, ended_at = excluded.ended_at,
	close_reason = excluded.close_reason, direction = excluded.direction,
	source = excluded.source, campaign = excluded.campaign,
	caller_kind = CASE
		WHEN excluded.caller_kind IN ('withheld', 'internal') OR calls.caller_kind IN ('withheld', 'internal')
		THEN excluded.caller_kind ELSE calls.caller_kind END,
	gaps = excluded.gaps`
