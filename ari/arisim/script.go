package arisim

import (
	"fmt"
	"slices"
	"time"
)

// The scripts below replay, step by step, what the dialplan of the traces'
// Asterisk did (ari/testdata/traces/asterisk-config/extensions.conf): an
// inbound context that sets __FROM_DID and dials one phone, queues, or
// sends the call to Stasis; and a phones context that rings, answers,
// talks and hangs up, never answers, or is busy. The recording rig set its
// phones' behaviour with channel variables (__OPERATOR, __ANSWER_AFTER,
// __TALK...) on the originate; the scripts set the same ones, so that the
// noisy events are those of the traces too.
//
// Asterisk publishes the events of different legs from different threads:
// where two legs change at the same instant, their events come in an order
// that varies from call to call (compare answered.jsonl with
// anonymous.jsonl, the same dialplan). Each scenario reproduces the order
// of its own trace (interleave), so a load run mixing scenarios shows the
// daemon every order that was recorded.

// interleave picks, where the recorded order was up to thread timing,
// the order of a scenario's trace.
type interleave struct {
	// origDial is where the originate's first Dial event (no caller, the
	// caller's ;1 half as peer) falls: after the ;2 half's caller ID
	// (origDialEarly), after __FROM_DID is set (origDialAfterDID), or
	// after the phone's legs are created (origDialLate).
	origDial int
	// dialAfterRinging: the Dial to the phone comes after the phone's
	// Ringing(), not before it.
	dialAfterRinging bool
	// origRingingFirst: the originate's Dial RINGING comes before the
	// inbound leg's.
	origRingingFirst bool
	// halfUpFirst: the phone's ;2 half goes Up before its ;1 half, and
	// the caller's ;1 moves to caller,wait before the phone enters the
	// bridge; otherwise the ;2 half's Up comes last.
	halfUpFirst bool
	// legLast: when the operator hangs up, the phone's ;1 half is
	// destroyed after the caller's channels.
	legLast bool
}

const (
	origDialEarly = iota
	origDialAfterDID
	origDialLate
)

// interleaveOf is the order of a scenario's trace.
func interleaveOf(s Scenario) interleave {
	switch s {
	case Answered:
		return interleave{origDial: origDialLate, dialAfterRinging: true}
	case Missed:
		return interleave{origDial: origDialAfterDID, origRingingFirst: true}
	case Abandoned:
		return interleave{origDial: origDialEarly, dialAfterRinging: true}
	case Stasis:
		return interleave{origDial: origDialEarly, halfUpFirst: true, legLast: true}
	}
	return interleave{origDial: origDialEarly}
}

// script runs the call's scenario.
func (r *run) script() error {
	order := interleaveOf(r.c.Scenario)
	r.arrive(order)
	if slices.Contains(SIPScenarios, r.c.Scenario) {
		if r.c.ViaStasis {
			gaveUp, err := r.stasis()
			if err != nil || gaveUp {
				return err
			}
		}
		return r.sipScript(order)
	}
	if r.c.Scenario == Queue {
		return r.queue()
	}
	if r.c.Scenario == Stasis {
		gaveUp, err := r.stasis()
		if err != nil || gaveUp {
			return err
		}
	}
	p := r.phone(r.c.Operators[0])
	r.dialPhone(p, order)
	switch r.c.Scenario {
	case Busy:
		r.busy(p)
		return nil
	case Missed:
		if err := r.wait(r.c.RingFor); err != nil {
			return err
		}
		r.noAnswer(p)
		return nil
	case Abandoned:
		if err := r.wait(r.c.RingFor); err != nil {
			return err
		}
		r.callerHangsUp(p)
		return nil
	}
	if err := r.wait(r.c.RingFor); err != nil {
		return err
	}
	b := r.answer(p, order)
	if err := r.talk(p); err != nil {
		return err
	}
	r.operatorHangsUp(p, b, order)
	return nil
}

// rigVars are the variables the recording rig set on its originate to
// drive the simulated phones, in the order it set them.
func (r *run) rigVars() []variable {
	c := r.c
	var vs []variable
	switch c.Scenario {
	case Queue:
		vs = append(vs, variable{"__MODE", "queue"})
		for _, op := range c.Operators {
			v := "never"
			if op == c.AnswerBy {
				v = secs(c.RingFor)
			}
			vs = append(vs, variable{"__ANSWER_" + op, v})
		}
		return append(vs, variable{"__TALK", talkVar(c.TalkFor)})
	case Stasis:
		vs = append(vs, variable{"__MODE", "stasis"})
	default:
		if c.ViaStasis {
			vs = append(vs, variable{"__MODE", "stasis"})
		}
	}
	vs = append(vs, variable{"__OPERATOR", c.Operators[0]})
	switch c.Scenario {
	case Missed, Abandoned:
		vs = append(vs, variable{"__ANSWER_AFTER", "never"})
	case Busy:
		return append(vs, variable{"__ANSWER_AFTER", "busy"})
	default:
		vs = append(vs, variable{"__ANSWER_AFTER", secs(c.RingFor)})
	}
	if t := r.dialTimeout(); t != defaultDialTimeout {
		vs = append(vs, variable{"__RINGTIME", secs(t)})
	}
	if c.Scenario == Missed || c.Scenario == Abandoned {
		return vs
	}
	return append(vs, variable{"__TALK", talkVar(c.TalkFor)})
}

// dialTimeout is the inbound context's Dial timeout, ${RINGTIME}: the
// ring time of a missed call, else 20 s or longer than the phone rings.
func (r *run) dialTimeout() time.Duration {
	switch {
	case r.c.Scenario == Missed:
		return r.c.RingFor
	case r.c.RingFor >= defaultDialTimeout:
		return r.c.RingFor + 10*time.Second
	}
	return defaultDialTimeout
}

// answerDelay is how long the phones' Answer() takes before the next
// priority runs (the traces show 0.5 s); the talk time runs from the
// answer, so __TALK is the rest.
const answerDelay = 500 * time.Millisecond

// defaultDialTimeout is the inbound context's Dial timeout without
// __RINGTIME.
const defaultDialTimeout = 20 * time.Second

func talkVar(talk time.Duration) string { return secs(max(talk-answerDelay, 0)) }

// arrive brings the call in: in TechLocal the rig's originate creates the
// Local pair whose ;2 half runs the inbound context; in TechPJSIP the
// trunk's channel appears there. It runs the context up to where the
// scenario branches.
func (r *run) arrive(order interleave) {
	c, s := r.c, r.s
	caller := party{c.CallerName, c.Caller}
	if s.cfg.Tech == TechLocal {
		id2 := ""
		if c.ID != "" {
			id2 = c.ID + "-2"
		}
		r.cust, r.in = r.localPair(c.ID, id2, c.DID, s.cfg.InboundContext)
		if c.Scenario == Prohibited {
			r.cust.pres, r.in.pres = presProhibited, presProhibited
		}
		r.create(r.cust)
		r.create(r.in)
		r.dialplan(r.cust, 1, "AppDial2", "(Outgoing Line)")
		r.callerID(r.cust, caller)
		r.connectedLine(r.cust, caller)
		r.varsets(r.cust, r.rigVars()...)
		r.inherit(r.in, r.cust.inheritable())
		r.update(r.in, func(ch *channel) { ch.connected = caller })
		r.callerID(r.in, caller)
		r.connectedLine(r.in, caller)
	} else {
		s.mu.Lock()
		name := s.techName("trunk")
		s.mu.Unlock()
		r.in = r.newChannel(c.ID, name, "Ring", s.cfg.InboundContext, c.DID)
		r.in.caller = caller
		if c.Scenario == Prohibited {
			r.in.pres = presProhibited
		}
		r.create(r.in)
		if c.Scenario == Prohibited {
			// chan_pjsip updates the caller ID from P-Asserted-Identity
			// and its privacy once the channel is made.
			r.callerID(r.in, caller)
		}
	}
	if order.origDial == origDialEarly {
		r.originateDial("")
	}
	r.dialplan(r.in, 1, "NoOp", fmt.Sprintf("Inbound DID %s from %s", c.DID, c.Caller))
	r.dialplan(r.in, 2, "Set", "__FROM_DID="+c.DID)
	r.update(r.in, func(ch *channel) { ch.fromDID = c.DID })
	r.varset(r.in, "__FROM_DID", c.DID)
	if order.origDial == origDialAfterDID {
		r.originateDial("")
	}
	if c.Scenario == Queue {
		r.dialplan(r.in, 3, "GotoIf", "1?queue")
		return
	}
	r.dialplan(r.in, 3, "GotoIf", "0?queue")
	if c.Scenario == Stasis || c.ViaStasis {
		r.dialplan(r.in, 4, "GotoIf", "1?stasis")
		return
	}
	r.dialplan(r.in, 4, "GotoIf", "0?stasis")
}

// originateDial is the rig's originate dialling the caller's ;1 half; a
// PJSIP trunk call has no such leg.
func (r *run) originateDial(status string) {
	r.dial(nil, r.cust, status, r.c.DID+"@"+r.s.cfg.InboundContext)
}

// stasis runs Stasis(App,inbound,DID) and waits for the application to
// continue the channel. gaveUp reports that the caller hung up first (after
// Config.StasisTimeout), which ends the call.
//
// Asterisk enters Stasis only for an application with an events websocket
// open; otherwise Stasis() fails at once (STASISSTATUS=FAILED) and the
// dialplan goes on, which is what the simulator does too.
func (r *run) stasis() (gaveUp bool, err error) {
	s, c := r.s, r.c
	app := s.cfg.App
	r.dialplan(r.in, 9, "Stasis", app+",inbound,"+c.DID)
	r.varset(r.in, "STASISSTATUS", "")

	s.mu.Lock()
	registered := s.apps[app] != nil
	continued := make(chan struct{})
	if registered {
		s.enterStasis(r.in, app, continued)
		body := []byte(`,"args":[`)
		body = appendString(append(appendString(body, "inbound"), ','), c.DID)
		ev := s.chanEvent("StasisStart", r.at, r.in, nil, string(append(body, ']')))
		ev.stasisApp = app
		r.emit(ev)
	}
	s.mu.Unlock()
	if !registered {
		r.varset(r.in, "STASISSTATUS", "FAILED")
		return false, nil
	}

	deadline := r.at.Add(s.cfg.StasisTimeout)
	timer := time.NewTimer(max(s.clock.wallUntil(deadline), 0))
	defer timer.Stop()
	select {
	case <-continued:
		r.continued = true
	case <-timer.C:
	case <-r.ctx.Done():
		return false, r.ctx.Err()
	case <-s.done:
		return false, errClosed
	}
	r.at = later(r.at, s.clock.now())
	if !r.continued {
		r.at = deadline
		if r.cust != nil {
			r.hangupRequest(r.cust, 16, true)
			r.originateDial("NOANSWER")
		}
		r.hangupRequest(r.in, 16, false)
	}
	s.mu.Lock()
	ev := s.chanEvent("StasisEnd", r.at, r.in, nil, "")
	ev.stasisApp = app
	r.emit(ev)
	s.leaveStasis(r.in)
	s.mu.Unlock()
	if !r.continued {
		r.update(r.in, func(ch *channel) { ch.appName, ch.appData = "", "" })
		r.destroy(r.in, 16)
		r.destroy(r.cust, 16)
		r.device(r.inDevice(), "NOT_INUSE")
		return true, nil
	}
	r.varset(r.in, "STASISSTATUS", "SUCCESS")
	return false, nil
}
