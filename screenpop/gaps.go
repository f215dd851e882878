package screenpop

import (
	"reflect"
	"slices"
	"time"
)

// What each Gap covers, as code: the fields of a record that may differ
// from the truth (what a daemon that saw every event would have written)
// when the record carries that gap. A record is exact or flagged when
// every field that differs is covered by one of its gaps.
//
//	start:   started_at, wait
//	caller:  caller, caller_e164, withheld, caller_name
//	offers:  offered_to, offers, ring, and the status of an unanswered call
//	answer:  answered_at, answered_by, talked_to, offers, ring, wait, talk, status
//	end:     ended_at, hangup cause, close_reason, offers, ring, wait, talk, status

// Unflagged lists the fields of c that differ from truth, the record of
// the same call by a daemon that saw every event, without a gap of c
// saying they may: empty when c is exact or flagged. Tests of continuity
// compare with it; the caller kind, source and campaign, which the store
// sets, and the classification are not compared.
func (c Call) Unflagged(truth Call) []string {
	var out []string
	start, offers, answer, end := c.Uncertain(GapStart), c.Uncertain(GapOffers), c.Uncertain(GapAnswer), c.Uncertain(GapEnd)
	check := func(field string, same bool, covered bool) {
		if !same && !covered {
			out = append(out, field)
		}
	}
	check("call_id", c.ID == truth.ID, false)
	check("direction", c.Direction == truth.Direction, false)
	caller := c.Uncertain(GapCaller)
	check("caller", c.Caller == truth.Caller && equalPtr(c.CallerE164, truth.CallerE164) && c.Withheld == truth.Withheld, caller)
	check("caller_name", c.CallerName == truth.CallerName, caller)
	check("did", c.DID == truth.DID, false)
	check("status", c.Status == truth.Status, answer || end || offers && truth.Status != StatusAnswered)
	check("started_at", c.StartedAt.Equal(truth.StartedAt), start)
	check("answered_at", equalTime(c.AnsweredAt, truth.AnsweredAt), answer)
	check("answered_by", equalPtr(c.AnsweredBy, truth.AnsweredBy), answer)
	check("talked_to", slices.Equal(c.TalkedTo, truth.TalkedTo), answer)
	check("offered_to", slices.Equal(c.OfferedTo, truth.OfferedTo), offers || answer)
	check("offers", reflect.DeepEqual(normalOffers(c.Offers), normalOffers(truth.Offers)), offers || answer || end)
	check("ring_seconds", c.RingSeconds == truth.RingSeconds, offers || answer || end)
	check("wait_seconds", c.WaitSeconds == truth.WaitSeconds, start || answer || end)
	check("talk_seconds", c.TalkSeconds == truth.TalkSeconds, answer || end)
	check("ended_at", c.EndedAt.Equal(truth.EndedAt), end)
	check("hangup_cause", c.HangupCause == truth.HangupCause && c.HangupCauseText == truth.HangupCauseText, end)
	check("close_reason", c.CloseReason == truth.CloseReason, end)
	return out
}

func equalPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func equalTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

// normalOffers makes offers comparable with DeepEqual: times in UTC,
// without monotonic readings.
func normalOffers(os []Offer) []Offer {
	out := make([]Offer, len(os))
	norm := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC().Round(0)
		return &u
	}
	for i, o := range os {
		o.DialedAt = o.DialedAt.UTC().Round(0)
		o.RingingAt, o.AnsweredAt, o.EndedAt = norm(o.RingingAt), norm(o.AnsweredAt), norm(o.EndedAt)
		out[i] = o
	}
	return out
}
