package arisim

import (
	"fmt"
	"slices"
)

// Ring-all dials: the inbound context's Dial(PJSIP/101&PJSIP/102&...)
// rings every operator's phone at once. No trace of one exists (the
// recording rig's ring-all is a queue's, queue.jsonl); the steps below
// follow Asterisk 22.10.1's apps/app_dial.c (lines of the 22.10.1 tag):
//
//   - dial_exec_full requests every phone's channel (2732-2870), then
//     calls each and publishes its Dial begin (2938); the phones ring in
//     turn (ringAll).
//   - RingAll: the phone of Call.AnswerBy answers after RingFor.
//     chan_pjsip queues an ANSWER on its channel at the 200 OK
//     (channels/chan_pjsip.c 3333-3335); Dial's thread reads it, and
//     reading it sets the channel Up (main/channel.c __ast_read,
//     3817-3829: a ChannelStateChange) before wait_for_answer handles it
//     (1407-1471), so the Up always comes first. With several phones, Dial
//     would update the caller's connected line from the phone's caller ID
//     (1419-1426), but not when it gave that phone its caller ID itself,
//     the phone's channel having none of its own (DIAL_CALLERID_ABSENT,
//     2787-2805): the simulator's phones are such. It publishes CANCEL for
//     every other phone at once (publish_dial_end_event, 1453, in the
//     order it dialled them) and returns; dial_exec_full hangs them up
//     with cause 26, answered elsewhere (hanguptree(..., peer,
//     AST_CAUSE_ANSWERED_ELSEWHERE), 3060: ast_hangup, no hangup request),
//     sets DIALSTATUS, DIALEDPEERNAME and DIALEDPEERNUMBER (3078-3082),
//     runs the Dial's options (an announcement to the operator, A(),
//     3100-3221: Call.Announce long) and only then publishes the
//     ANSWER (3345) and bridges (3429). A pre-bridge subroutine, U(),
//     holds the ANSWER back likewise (3249-3336), running dialplan on the
//     phone's channel meanwhile; the simulator plays A().
//   - RingAllAbandoned: the caller hangs up after RingFor, every phone
//     still ringing. chan_pjsip queues the hangup (a ChannelHangupRequest,
//     not soft); wait_for_answer reads it, publishes CANCEL for every
//     phone (1800-1817) and returns; dial_exec_full hangs them up with
//     the caller's hangup cause (hanguptreecause, 3452-3460: 16), or with
//     26, answered elsewhere, with Dial's c option (Call.CancelElsewhere,
//     3452-3453; the phones' channels even carry it from their creation,
//     2852-2854), then sets DIALSTATUS CANCEL (3461), and the dialplan
//     ends.
//
// The phones must be technology channels (Config.Tech PJSIP): a Local
// phone's ;2 half would run the phones context of the recording rig.
const (
	RingAll          Scenario = "ring-all"
	RingAllAbandoned Scenario = "ring-all-abandoned"
)

// announceFile is what the Dial's A() option plays to the operator who
// answered; how long it lasts is Call.Announce.
const announceFile = "announce"

// checkRingAll checks what a ring-all scenario needs of the call, and the
// Dial options only a ring-all has here.
func (s *Sim) checkRingAll(c Call) error {
	ringAll := c.Scenario == RingAll || c.Scenario == RingAllAbandoned
	switch {
	case !ringAll && c.CancelElsewhere:
		return fmt.Errorf("arisim: CancelElsewhere is Dial's c option in the %s and %s scenarios", RingAll, RingAllAbandoned)
	case c.Announce != 0 && c.Scenario != RingAll:
		return fmt.Errorf("arisim: Announce is for the %s scenario, in which a phone answers", RingAll)
	case c.Announce < 0:
		return fmt.Errorf("arisim: the announcement lasts %v", c.Announce)
	case !ringAll:
		return nil
	case s.cfg.Tech == TechLocal:
		return fmt.Errorf("arisim: the %s scenario needs phones that are technology channels (Config.Tech %s)", c.Scenario, TechPJSIP)
	case c.Scenario == RingAllAbandoned && c.AnswerBy != "":
		return fmt.Errorf("arisim: in the %s scenario nobody answers, yet AnswerBy is %s", RingAllAbandoned, c.AnswerBy)
	}
	for i, ext := range c.Operators {
		if slices.Contains(c.Operators[:i], ext) {
			return fmt.Errorf("arisim: operator %s is dialled twice", ext)
		}
	}
	return nil
}

// dialOptions is the options argument of the inbound context's Dial,
// with its leading comma: c for Call.CancelElsewhere, A() for an
// announcement.
func (r *run) dialOptions() string {
	var opts string
	if r.c.CancelElsewhere {
		opts += "c"
	}
	if r.c.Announce > 0 {
		opts += "A(" + announceFile + ")"
	}
	if opts == "" {
		return ""
	}
	return "," + opts
}

// ringAllCall rings every operator's phone and runs the call to its end.
func (r *run) ringAllCall(order interleave) error {
	c := r.c
	phones := make([]*phone, len(c.Operators))
	for i, ext := range c.Operators {
		phones[i] = r.phone(ext)
	}
	r.ringAll(phones)
	if err := r.wait(c.RingFor); err != nil {
		return err
	}
	if c.Scenario == RingAllAbandoned {
		r.callerLeavesRingAll(phones)
		return nil
	}
	ans := phones[slices.IndexFunc(phones, func(p *phone) bool { return p.ext == c.AnswerBy })]
	r.state(ans.leg, "Up")
	r.device(ans.device, "INUSE")
	for _, o := range phones {
		if o != ans {
			r.dial(r.in, o.leg, "CANCEL", "")
		}
	}
	for _, o := range phones {
		if o != ans {
			r.destroy(o.leg, 26)
			r.device(o.device, "NOT_INUSE")
		}
	}
	r.answerStatus(ans)
	if c.Announce > 0 {
		if err := r.wait(c.Announce); err != nil {
			return err
		}
	}
	// The caller's channel is answered as it is bridged: ANSWEREDTIME
	// runs from there (end_bridge_callback, ast_channel_get_up_time_ms).
	r.answered = r.at
	r.device(r.inDevice(), "INUSE")
	b := r.bridgeAnswered(ans, order)
	if err := r.talk(ans); err != nil {
		return err
	}
	r.phoneHangsUp(ans, b)
	return nil
}

// callerLeavesRingAll is the caller hanging up while every phone rings:
// Dial CANCEL for each, and their hang-up with the caller's cause, or 26
// with Dial's c option.
func (r *run) callerLeavesRingAll(phones []*phone) {
	r.hangupRequest(r.in, 16, false)
	for _, p := range phones {
		r.dial(r.in, p.leg, "CANCEL", "")
	}
	cause := 16
	if r.c.CancelElsewhere {
		cause = 26
	}
	for _, p := range phones {
		r.destroy(p.leg, cause)
		r.device(p.device, "NOT_INUSE")
	}
	r.varset(r.in, "DIALSTATUS", "CANCEL")
	r.hangupRequest(r.in, 16, true)
	r.device(r.inDevice(), "NOT_INUSE")
	r.update(r.in, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(r.in, 16)
}
