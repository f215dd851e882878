package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
const upsertCall = `ON CONFLICT (pbx, call_id) DO UPDATE SET
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

// insertCall stores a call with the source its number had when the call
// started ($21 is the number's DIDKey) and the kind of caller it was ($22
// is screenpop.PresetKind, or ” for the client base and the call log to
// decide): the rules README's "Call sources and caller kinds" gives. $23
// is the record's gaps, $24 its box (Call.PBX): a call is keyed (pbx,
// call_id).
//
// A call already stored is replaced when this record is more complete
// (upsertCall); RETURNING then names it, as it does a new call, and its
// offers are written again. (WHERE true tells SQLite's parser that ON
// CONFLICT is not a join's.)
func insertCall(d dialect) string {
	seen := func(t string) string {
		return "(" + t + ".close_reason = '' AND NOT " + d.holds(t+".gaps", "'end'") + ", -" + d.length(t+".gaps") + ", " + t + ".ended_at)"
	}
	return `INSERT INTO calls (
	call_id, caller, caller_e164, caller_name, withheld, did, status,
	offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
	hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason, direction,
	source, campaign, caller_kind, gaps, pbx
)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
	coalesce(s.source, ''), coalesce(s.campaign, ''),
	CASE
		WHEN $22 <> '' THEN $22
		WHEN s.internal THEN 'internal'
		WHEN CAST($3 AS text) IS NULL THEN 'new'
		WHEN EXISTS (SELECT 1 FROM client_phones p JOIN clients c USING (client_id)
		             WHERE p.e164 = $3 AND NOT c.lead) THEN 'client'
		WHEN EXISTS (SELECT 1 FROM calls o WHERE o.caller_e164 = $3 AND o.started_at < $16)
		  OR EXISTS (SELECT 1 FROM client_phones p JOIN clients c USING (client_id)
		             WHERE p.e164 = $3 AND c.lead AND c.created_at < ` + d.minusMinute("$16") + `) THEN 'lead'
		ELSE 'new'
	END,
	$23, $24
FROM (SELECT 1) one
LEFT JOIN (
	SELECT source, campaign, internal FROM sources
	WHERE did = $21 AND valid_from <= $16 AND (valid_to IS NULL OR valid_to > $16)
	ORDER BY valid_from DESC LIMIT 1
) s ON true
WHERE true
` + upsertCall + `
WHERE ` + seen("excluded") + `
    > ` + seen("calls") + `
RETURNING call_id`
}

const insertOffer = `INSERT INTO offers (
	pbx, call_id, seq, operator, channel, dialed_at, ringing_at, answered_at, ended_at, outcome, dial_status
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

// SaveCalls stores calls in one transaction. A call whose (pbx, call_id) is
// already stored, earlier or earlier in the same batch, replaces the stored record
// only if it is more complete (see upsertCall), offers and all; otherwise
// it is skipped, so re-delivering a batch changes nothing.
func (s *sqlStore) SaveCalls(ctx context.Context, calls []screenpop.Call) error {
	if len(calls) == 0 {
		return nil
	}
	insert := insertCall(s.dialect)
	err := s.inTx(ctx, func(tx tx) error {
		// Two round trips per batch on PostgreSQL: the calls, then the
		// offers of those calls that were new (RETURNING says which).
		stored := make([]screenpop.Call, len(calls))
		written := make([]bool, len(calls))
		var b stmtBatch
		for i, c := range calls {
			c = normalise(cleanCall(c))
			stored[i] = c
			b.queryRow(func(r row) error {
				var id string
				err := r.Scan(&id)
				if errors.Is(err, sql.ErrNoRows) {
					return nil // stored already, as completely
				}
				if err != nil {
					return fmt.Errorf("save call %s: %w", screenpop.CallKey(c.PBX, c.ID), err)
				}
				written[i] = true
				return nil
			}, insert, c.ID, c.Caller, c.CallerE164, c.CallerName, c.Withheld, c.DID, string(c.Status),
				c.OfferedTo, c.AnsweredBy, c.TalkedTo, c.RingSeconds, c.WaitSeconds, c.TalkSeconds,
				c.HangupCause, c.HangupCauseText, c.StartedAt, c.AnsweredAt, c.EndedAt, c.CloseReason, string(c.Direction),
				screenpop.DIDKey(c.DID, s.region), string(screenpop.PresetKind(c)), strs(c.Gaps), c.PBX)
		}
		if err := tx.send(ctx, &b); err != nil {
			return err
		}
		// Written or replaced: its offers are this record's, after the
		// call's row.
		var offers stmtBatch
		for i, c := range stored {
			if !written[i] {
				continue
			}
			offers.exec(`DELETE FROM offers WHERE pbx = $1 AND call_id = $2`, c.PBX, c.ID)
			for i, o := range c.Offers {
				offers.exec(insertOffer, c.PBX, c.ID, i+1, o.Operator, o.Channel, o.DialedAt, o.RingingAt,
					o.AnsweredAt, o.EndedAt, string(o.Outcome), o.DialStatus)
			}
		}
		if err := tx.send(ctx, &offers); err != nil {
			return fmt.Errorf("save offers: %w", err)
		}
		return saveLookupNames(ctx, tx, stored)
	})
	if err != nil {
		return fmt.Errorf("save %d calls: %w", len(calls), err)
	}
	return nil
}

// Call reads back the call with the given ID on box pbx ("" with one
// box), its offers in the order they were made. Calls and their offers are written, and replaced, in one
// transaction; the two reads share a snapshot, so that they see the same
// version.
func (s *sqlStore) Call(ctx context.Context, pbx, id string) (screenpop.Call, error) {
	tx, err := s.conn.begin(ctx, true)
	if err != nil {
		return screenpop.Call{}, fmt.Errorf("read call %s: %w", screenpop.CallKey(pbx, id), err)
	}
	defer tx.rollback(ctx)
	c, err := scanCall(tx.queryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE pbx = $1 AND call_id = $2`, pbx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return screenpop.Call{}, fmt.Errorf("read call %s: %w", screenpop.CallKey(pbx, id), ErrNotFound)
	}
	if err != nil {
		return screenpop.Call{}, fmt.Errorf("read call %s: %w", screenpop.CallKey(pbx, id), err)
	}
	calls := []screenpop.Call{c}
	if err := s.readOffers(ctx, tx, calls); err != nil {
		return screenpop.Call{}, fmt.Errorf("read offers of call %s: %w", screenpop.CallKey(pbx, id), err)
	}
	// pgx hands times back in the local zone; normalise gives them in UTC,
	// as they were saved.
	return normalise(calls[0]), nil
}
