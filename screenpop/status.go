package screenpop

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The status rules of an inbound call nobody answered. What the caller
// lived decides it, from the evidence Asterisk gives:
//
//   - missed: a phone rang, and its ringing ended (Dial's timeout, the
//     queue moved on) before the caller hung up;
//   - abandoned: the caller gave up: they hung up while a phone rang, while
//     one was being dialled, or while they waited (queue, IVR) with no
//     phone found unreachable;
//   - busy: every phone dialled answered busy;
//   - failed: no operator's phone could be reached, so no phone rang and the
//     caller did not choose to give up: Dial or Queue said CHANUNAVAIL or
//     CONGESTION (an unregistered phone: Asterisk creates no channel and
//     sends no Dial event, only DIALSTATUS), a phone was dialled and Dial
//     timed out without it ever ringing (switched off), the queue had no
//     member to ring (QUEUESTATUS JOINEMPTY, LEAVEEMPTY, JOINUNAVAIL,
//     LEAVEUNAVAIL) or timed out without ringing one, or the inbound leg
//     ended by the dialplan with a cause saying the destination cannot be
//     reached (3 no route, 18 no user responding, 20 subscriber absent...).
//
// Which side asked for the hangup is the difference between a caller who
// gave up and a call the dialplan ended: a hangup request on an inbound
// leg (ChannelHangupRequest) comes from the caller's side (their carrier's
// BYE or CANCEL, cause 16 or 127), or from Asterisk on their behalf; the
// dialplan's Hangup() sends none. A missed or failed call stays on the
// callback list, as does an abandoned one: nobody spoke to the caller.

// evidence is what Asterisk said about an inbound call, for its status.
type evidence struct {
	// gaveUp is the first hangup request on an inbound leg while nobody
	// had answered.
	gaveUp *callerHangup
	// results are the DIALSTATUS and QUEUESTATUS values set on the call's
	// inbound legs, in order, with when.
	results []dialResult
	// prohibited: an inbound leg's caller ID presentation is prohib_*;
	// presentation and presLeg say which and where.
	prohibited   bool
	presentation string
	presLeg      string
	// inStasis: the call entered our Stasis application.
	inStasis bool
	// why is the status rule that decided, for the classification.
	why string
}

type callerHangup struct {
	at      time.Time
	channel string
	cause   int
	soft    bool
}

type dialResult struct {
	variable, value string
	at              time.Time
}

func (e *evidence) hangupRequested(l *leg, ev Event) {
	if e.gaveUp != nil || l.call.rec.AnsweredAt != nil {
		return
	}
	e.gaveUp = &callerHangup{at: ev.At, channel: l.ch.Name, cause: ev.Cause, soft: ev.Soft}
}

func (e *evidence) variable(ev Event) {
	if ev.Value == "" {
		return // Dial clears DIALSTATUS as it starts
	}
	e.results = append(e.results, dialResult{variable: ev.Variable, value: ev.Value, at: ev.At})
}

// unreachableCause reports whether a Q.850 cause says the destination
// could not be reached at all (as opposed to busy, no answer, or a normal
// hangup).
func unreachableCause(cause int) bool {
	switch cause {
	case 1, // unallocated number
		3,  // no route to destination: an endpoint with no contact
		18, // no user responding: a phone that never answered the INVITE
		20, // subscriber absent
		27, // destination out of order
		34, // no circuit available
		38, // network out of order
		41, // temporary failure
		42, // switching equipment congestion
		44: // requested circuit not available
		return true
	}
	return false
}

// unreachableResult reports whether a DIALSTATUS or QUEUESTATUS value says
// no phone could be reached; NOANSWER counts only when no phone rang.
func unreachableResult(r dialResult, rang bool) bool {
	switch r.variable + "=" + r.value {
	case "DIALSTATUS=CHANUNAVAIL", "DIALSTATUS=CONGESTION",
		"QUEUESTATUS=JOINEMPTY", "QUEUESTATUS=LEAVEEMPTY", "QUEUESTATUS=JOINUNAVAIL", "QUEUESTATUS=LEAVEUNAVAIL":
		return true
	case "DIALSTATUS=NOANSWER", "QUEUESTATUS=TIMEOUT":
		return !rang
	}
	return false
}

// status decides an inbound call's status from its offers (already
// closed by record) and the evidence, and says why in c.ev.why.
func (t *Tracker) status(c *call, r *Call) Status {
	var rang, cancelled, cancelledUnrung, busy bool
	var unreachable []string // what said no phone could be reached
	var rangOps, busyOps []string
	for i := range r.Offers {
		o := &r.Offers[i]
		switch {
		case o.Rang():
			rang = true
			if !slices.Contains(rangOps, o.Operator) {
				rangOps = append(rangOps, o.Operator)
			}
			if o.Outcome == OutcomeCancelled {
				cancelled = true
			}
		case o.Outcome == OutcomeBusy:
			busy = true
			busyOps = append(busyOps, o.Operator)
		case o.Outcome == OutcomeFailed && o.DialStatus == "":
			unreachable = append(unreachable, fmt.Sprintf("%s's phone was dialled %.1f s and its channel ended with a cause saying it cannot be reached",
				o.Operator, offerSeconds(o)))
		case o.Outcome == OutcomeFailed:
			unreachable = append(unreachable, fmt.Sprintf("Dial to %s's phone ended %s", o.Operator, o.DialStatus))
		case o.Outcome == OutcomeNoAnswer:
			unreachable = append(unreachable, fmt.Sprintf("%s's phone was dialled %.1f s and never rang (%s): switched off or out of reach",
				o.Operator, offerSeconds(o), cmpOr(o.DialStatus, "no answer")))
		case o.Outcome == OutcomeCancelled:
			cancelledUnrung = true
		}
	}
	var lastResult string
	for _, res := range c.ev.results {
		lastResult = res.variable + " " + res.value
		if res.variable == "DIALSTATUS" && res.value == "BUSY" {
			busy = true
		}
		if unreachableResult(res, rang) {
			unreachable = append(unreachable, fmt.Sprintf("%s was %s", res.variable, res.value))
		}
	}
	// A soft request is Asterisk ending the leg itself (the dialplan's
	// end, ARI, AMI): not the caller leaving.
	gaveUp := c.ev.gaveUp
	if gaveUp != nil && gaveUp.soft {
		gaveUp = nil
	}
	switch {
	case r.AnsweredBy != nil:
		return StatusAnswered
	case rang && cancelled:
		c.ev.why = fmt.Sprintf("abandoned: the caller hung up while %s rang, after waiting %.1f s%s",
			strings.Join(rangOps, " and "), r.WaitSeconds, requestWords(c.ev.gaveUp))
		return StatusAbandoned
	case rang:
		return StatusMissed // statusWords says why
	case cancelledUnrung:
		c.ev.why = fmt.Sprintf("abandoned: the caller hung up while phones were being dialled, before any rang, after waiting %.1f s%s",
			r.WaitSeconds, requestWords(c.ev.gaveUp))
		return StatusAbandoned
	case busy && len(unreachable) == 0:
		return StatusBusy
	case len(unreachable) > 0:
		s := "failed: no operator's phone could be reached: " + strings.Join(dedup(unreachable), "; ")
		if len(busyOps) > 0 {
			s += "; busy: " + strings.Join(busyOps, ", ")
		}
		if gaveUp != nil {
			s += fmt.Sprintf("; the caller hung up after %.1f s without any phone having rung", seconds(r.StartedAt, gaveUp.at))
		} else {
			s += "; the caller did not hang up: the dialplan ended the call"
			if r.HangupCause != 0 {
				s += " (" + causeWords(r.HangupCause, r.HangupCauseText) + ")"
			}
		}
		c.ev.why = s
		return StatusFailed
	case gaveUp != nil:
		where := "before any phone was dialled (in a queue, an IVR)"
		if lastResult != "" {
			where = "after " + lastResult
		}
		c.ev.why = fmt.Sprintf("abandoned: the caller hung up %s, after waiting %.1f s%s", where, r.WaitSeconds, requestWords(gaveUp))
		return StatusAbandoned
	case unreachableCause(r.HangupCause):
		c.ev.why = fmt.Sprintf("failed: no phone was dialled, the caller did not hang up, and the inbound leg ended with %s: the destination could not be reached",
			causeWords(r.HangupCause, r.HangupCauseText))
		return StatusFailed
	}
	c.ev.why = fmt.Sprintf("abandoned: no operator's phone was dialled before the call ended after %.1f s, and no hangup request from the caller's side was seen: the dialplan sent the caller away (closed hours, an IVR) or the caller hung up unseen", r.WaitSeconds)
	return StatusAbandoned
}

// requestWords says which hangup request showed the caller leaving.
func requestWords(h *callerHangup) string {
	if h == nil {
		return ""
	}
	how := "from the caller's side"
	if h.soft {
		how = "made inside Asterisk"
	}
	if h.cause == 0 {
		return fmt.Sprintf(" (hangup request %s on channel %s)", how, h.channel)
	}
	return fmt.Sprintf(" (hangup request %s on channel %s, cause %d)", how, h.channel, h.cause)
}

func offerSeconds(o *Offer) float64 {
	if o.EndedAt == nil {
		return 0
	}
	return seconds(o.DialedAt, *o.EndedAt)
}

func cmpOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func dedup(s []string) []string {
	out := s[:0:0]
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// withheldCaller is the number and name the call log and the admin page
// keep of a caller whose presentation is prohibited: none, unless the
// config keeps them for the company's own use.
func (t *Tracker) withheldCaller(c *call) (number, name string) {
	if t.cfg.KeepWithheldNumbers {
		return c.rec.Caller, c.rec.CallerName
	}
	return "", ""
}

func causeWords(cause int, text string) string {
	if text == "" {
		return fmt.Sprintf("cause %d", cause)
	}
	return fmt.Sprintf("cause %d %s", cause, text)
}
