package arisim

import "fmt"

// phone is an operator's phone being dialled.
type phone struct {
	ext string
	// leg is the channel the inbound leg dials (Local ;1, or the PJSIP
	// channel); half is the Local ;2 running the phones context, nil for
	// PJSIP, whose phone runs its own.
	leg, half *channel
	// device is the phone's device state name; dialstring what Dial and
	// DIALEDPEERNUMBER call it.
	device, dialstring string
}

// phone makes the channels of an operator's phone.
func (r *run) phone(ext string) *phone {
	s := r.s
	if s.cfg.Tech == TechLocal {
		leg, half := r.localPair("", "", ext, phonesContext)
		return &phone{ext: ext, leg: leg, half: half, device: "Local/" + ext + "@" + phonesContext, dialstring: ext + "@" + phonesContext}
	}
	s.mu.Lock()
	name := s.techName(ext)
	s.mu.Unlock()
	return &phone{ext: ext, leg: r.newChannel("", name, "Down", "default", "s"), device: s.cfg.Tech + "/" + ext, dialstring: ext}
}

// dialArg is the Dial() argument for the phone: Local/101@phones or
// PJSIP/101.
func (p *phone) dialArg(tech string) string {
	if tech == TechLocal {
		return "Local/" + p.dialstring
	}
	return tech + "/" + p.dialstring
}

// dialVars are the variables Dial() and Queue() clear when they start.
var dialVars = []string{"DIALSTATUS", "DIALEDPEERNUMBER", "DIALEDPEERNAME", "ANSWEREDTIME", "ANSWEREDTIME_MS",
	"DIALEDTIME", "DIALEDTIME_MS", "RINGTIME", "RINGTIME_MS", "PROGRESSTIME", "PROGRESSTIME_MS"}

// dialPhone runs Dial(phone,timeout) from the inbound leg up to the phone
// ringing, or being busy.
func (r *run) dialPhone(p *phone, order interleave) {
	c, s := r.c, r.s
	timeout := r.dialTimeout()
	prio := 5
	if c.Scenario == Stasis || c.ViaStasis {
		prio = 10
	}
	r.dialplan(r.in, prio, "Dial", p.dialArg(s.cfg.Tech)+","+secs(timeout))
	r.dialed = r.at
	for _, v := range dialVars {
		r.varset(r.in, v, "")
	}
	// The device states each trace shows as the phone is dialled: they
	// depend on the timing of Asterisk's device state thread.
	switch c.Scenario {
	case Answered:
		r.device("Queue:"+queueName+"_avail", "NOT_INUSE")
		r.device(p.device, "NOT_INUSE")
		r.device(r.inDevice(), "INUSE")
	case Abandoned:
		r.device(p.device, "NOT_INUSE")
		r.device(r.inDevice(), "INUSE")
	case Missed, Stasis:
		r.device(p.device, "INUSE")
		r.device(r.inDevice(), "INUSE")
	}
	r.pace(paceDial)
	r.ringPhone(p)
	if order.origDial == origDialLate {
		r.originateDial("")
	}
	if !order.dialAfterRinging || c.Scenario == Busy {
		r.dial(r.in, p.leg, "", p.dialstring)
	}
	aa := secs(c.RingFor)
	switch c.Scenario {
	case Missed, Abandoned:
		aa = "never"
	case Busy:
		aa = "busy"
	}
	r.dialplan(p.half, 1, "Set", "AA="+aa)
	r.varset(p.half, "AA", aa)
	if c.Scenario == Busy {
		r.dialplan(p.half, 2, "GotoIf", "1?busy")
		r.dialplan(p.half, 11, "Busy", "5")
		r.state(p.half, "Busy")
		return
	}
	r.dialplan(p.half, 2, "GotoIf", "0?busy")
	r.dialplan(p.half, 3, "Ringing", "")
	if p.half == nil {
		// The phone says it rings; its channel is now in the context
		// of its endpoint.
		r.update(p.leg, func(ch *channel) { ch.context = phonesContext })
		r.state(p.leg, "Ringing")
		r.dialplan(p.leg, 1, "AppDial", "(Outgoing Line)")
	} else {
		r.state(p.leg, "Ringing")
	}
	if aa == "never" {
		r.dialplan(p.half, 4, "GotoIf", "1?noanswer")
		r.dialplan(p.half, 9, "Wait", "60")
	} else {
		r.dialplan(p.half, 4, "GotoIf", "0?noanswer")
		r.dialplan(p.half, 5, "Wait", aa)
	}
	if order.dialAfterRinging {
		r.dial(r.in, p.leg, "", p.dialstring)
	}
	r.pace(paceRing)
	r.state(r.cust, "Ringing")
	r.varset(r.in, "RINGTIME", "0")
	r.varset(r.in, "RINGTIME_MS", "0")
	if order.origRingingFirst {
		r.originateDial("RINGING")
		r.dial(r.in, p.leg, "RINGING", "")
	} else {
		r.dial(r.in, p.leg, "RINGING", "")
		r.originateDial("RINGING")
	}
}

// ringPhone creates a phone's channels as Dial does: the dialled leg and,
// for a Local phone, the ;2 half, both inheriting the inbound leg's "__"
// variables.
func (r *run) ringPhone(p *phone) {
	in := r.in
	inherited := in.inheritable()
	r.create(p.leg)
	r.create(p.half)
	if p.half == nil {
		// A technology channel leaves the "default" context it was
		// made in as soon as Dial calls it.
		r.update(p.leg, func(ch *channel) { ch.context = "" })
	}
	r.varset(p.leg, "DIALEDPEERNUMBER", p.dialstring)
	r.inherit(p.leg, inherited)
	r.update(p.leg, func(ch *channel) {
		ch.exten = r.c.DID
		ch.caller = party{in.connected.name, r.c.DID}
		ch.connected = in.caller
		ch.fromDID = in.fromDID
	})
	r.dialplan(p.leg, 1, "AppDial", "(Outgoing Line)")
	r.callerID(p.leg, p.leg.caller)
	r.connectedLine(p.leg, p.leg.connected)
	r.varset(p.half, "DIALEDPEERNUMBER", p.dialstring)
	r.inherit(p.half, inherited)
	r.update(p.half, func(ch *channel) {
		ch.connected = p.leg.caller
		ch.fromDID = in.fromDID
	})
	r.callerID(p.half, in.caller)
	r.connectedLine(p.half, p.leg.caller)
}

// busy is the phone answering Busy(): Dial gives up at once.
func (r *run) busy(p *phone) {
	r.dial(r.in, p.leg, "BUSY", "")
	r.hangupRequest(p.half, 0, false)
	if p.half == nil {
		r.destroy(p.leg, 17)
	} else {
		// The ;1 half goes with cause 0; the ;2 half that ran Busy()
		// has the 17.
		r.destroy(p.leg, 0)
	}
	r.varset(r.in, "DIALSTATUS", "BUSY")
	r.device(p.device, "INUSE")
	r.device(p.device, "NOT_INUSE")
	r.device(r.inDevice(), "NOT_INUSE")
	r.device(r.inDevice(), "NOT_INUSE")
	r.hangupInbound("BUSY")
	r.device(p.device, "NOT_INUSE")
	r.originateDial("NOANSWER")
	r.destroy(r.cust, 16)
	r.hangupRequest(p.half, 16, true)
	r.update(p.half, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(p.half, 17)
}

// hangupInbound is the inbound context's Hangup() after a Dial that was
// not answered, status its DIALSTATUS.
func (r *run) hangupInbound(status string) {
	r.dialplan(r.in, 6, "Hangup", "")
	r.hangupRequest(r.in, 16, true)
	r.varset(r.cust, "CHANLOCALSTATUS", status)
	r.hangupRequest(r.cust, 16, false)
	r.update(r.in, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(r.in, 16)
}

// inDevice is the device state name of the inbound leg: its Local
// endpoint, or the trunk.
func (r *run) inDevice() string {
	if r.cust == nil {
		return r.s.cfg.Tech + "/trunk"
	}
	return "Local/" + r.c.DID + "@" + r.s.cfg.InboundContext
}

// noAnswer is the Dial timing out: NOANSWER.
func (r *run) noAnswer(p *phone) {
	r.dial(r.in, p.leg, "NOANSWER", "")
	r.hangupRequest(p.half, 0, false)
	r.destroy(p.leg, 0)
	r.varset(r.in, "DIALSTATUS", "NOANSWER")
	r.hangupInbound("NOANSWER")
	r.hangupRequest(p.half, 16, true)
	r.update(p.half, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(p.half, 0)
	r.originateDial("NOANSWER")
	r.destroy(r.cust, 16)
	r.device(p.device, "NOT_INUSE")
	r.device(r.inDevice(), "NOT_INUSE")
	r.device(p.device, "NOT_INUSE")
	r.device(r.inDevice(), "NOT_INUSE")
}

// callerHangsUp is the caller giving up while the phone rings: Dial
// CANCEL.
func (r *run) callerHangsUp(p *phone) {
	if r.cust != nil {
		r.hangupRequest(r.cust, 32, true)
		r.originateDial("NOANSWER")
		r.hangupRequest(r.in, 16, false)
	} else {
		r.hangupRequest(r.in, 16, false)
	}
	r.dial(r.in, p.leg, "CANCEL", "")
	r.hangupRequest(p.half, 16, false)
	r.destroy(p.leg, 16)
	r.hangupRequest(p.half, 16, true)
	r.device(p.device, "NOT_INUSE")
	r.device(p.device, "NOT_INUSE")
	r.device(r.inDevice(), "NOT_INUSE")
	r.varset(r.in, "DIALSTATUS", "CANCEL")
	r.update(p.half, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(p.half, 16)
	r.hangupRequest(r.in, 16, true)
	r.device(r.inDevice(), "NOT_INUSE")
	r.update(r.in, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(r.in, 16)
	r.destroy(r.cust, 16)
}

// answer is the phone answering; the inbound leg and the phone are
// bridged.
func (r *run) answer(p *phone, order interleave) *bridge {
	r.dialplan(p.half, 6, "Answer", "")
	if order.halfUpFirst {
		r.state(p.half, "Up")
	}
	r.s.mu.Lock()
	up := p.leg.state == "Up" // a picker's channel, answered as it picked up
	r.s.mu.Unlock()
	if !up {
		r.state(p.leg, "Up")
	}
	r.device(p.device, "INUSE")
	r.device(r.inDevice(), "INUSE")
	r.device(r.inDevice(), "INUSE")
	r.answered = r.at
	r.answerStatus(p)
	return r.bridgeAnswered(p, order)
}

// answerStatus is Dial setting the variables of its answer
// (apps/app_dial.c dial_exec_full, 3078-3082): before the Dial's options
// run, and so before its ANSWER.
func (r *run) answerStatus(p *phone) {
	r.varset(r.in, "DIALSTATUS", "ANSWER")
	r.varset(r.in, "DIALEDPEERNAME", p.leg.name)
	r.varset(r.in, "DIALEDPEERNUMBER", p.dialstring)
}

// bridgeAnswered is Dial publishing its ANSWER and bridging the inbound
// leg with the phone that answered.
func (r *run) bridgeAnswered(p *phone, order interleave) *bridge {
	r.update(p.leg, func(ch *channel) { ch.exten = "" })
	r.dial(r.in, p.leg, "ANSWER", "")
	r.state(r.in, "Up")
	b := r.newBridge()
	r.bridgeCreated(b)
	r.state(r.cust, "Up")
	r.originateDial("ANSWER")
	// Joining the bridge gives the phone's channel the call's linked ID
	// (bridge_channel.c ast_bridge_channel_update_linkedids): a picker's
	// had its own until now.
	r.update(p.leg, func(ch *channel) { ch.linkedID = r.in.linkedID })
	r.dialplan(p.leg, 1, "AppDial", "(Outgoing Line)")
	if order.halfUpFirst {
		r.parkCaller()
		r.enter(b, p.leg)
	} else {
		r.enter(b, p.leg)
		r.parkCaller()
	}
	r.enter(b, r.in)
	r.varset(p.leg, "BRIDGEPEER", r.in.name)
	r.varset(r.in, "BRIDGEPEER", p.leg.name)
	if !order.halfUpFirst {
		r.state(p.half, "Up")
	}
	r.device(p.device, "INUSE")
	return b
}

// parkCaller moves the caller's ;1 half to caller,wait, where the rig
// kept it while the call lasted.
func (r *run) parkCaller() {
	r.update(r.cust, func(ch *channel) { ch.context, ch.exten = "caller", "wait" })
	r.dialplan(r.cust, 1, "Wait", "30")
}

// talk is the answered call: Answer() takes its half second, then the
// phone waits out the talk time.
func (r *run) talk(p *phone) error {
	delay := min(answerDelay, r.c.TalkFor)
	if err := r.wait(delay); err != nil {
		return err
	}
	r.dialplan(p.half, 7, "Wait", talkVar(r.c.TalkFor))
	return r.wait(r.c.TalkFor - delay)
}

// operatorHangsUp ends an answered call from the phone's side.
func (r *run) operatorHangsUp(p *phone, b *bridge, order interleave) {
	if p.half == nil {
		r.phoneHangsUp(p, b)
		return
	}
	r.dialplan(p.half, 8, "Hangup", "")
	r.hangupRequest(p.half, 16, true)
	r.hangupRequest(p.leg, 16, false)
	if !order.legLast {
		r.update(p.half, func(ch *channel) { ch.appName, ch.appData = "", "" })
		r.destroy(p.half, 16)
	}
	r.varset(p.leg, "BRIDGEPEER", "")
	r.varset(r.in, "BRIDGEPEER", "")
	if order.legLast {
		r.update(p.half, func(ch *channel) { ch.appName, ch.appData = "", "" })
		r.destroy(p.half, 16)
	}
	r.leave(b, p.leg)
	r.leave(b, r.in)
	if !order.legLast {
		r.destroy(p.leg, 16)
	}
	r.answeredTimes()
	if !order.legLast {
		r.bridgeDestroyed(b)
	}
	r.dialedTimes()
	r.varset(r.in, "DIALSTATUS", "ANSWER")
	r.hangupRequest(r.in, 16, true)
	r.varset(r.cust, "CHANLOCALSTATUS", "ANSWER")
	r.hangupRequest(r.cust, 16, false)
	r.update(r.in, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(r.in, 16)
	if order.legLast {
		r.bridgeDestroyed(b)
	}
	r.hangupRequest(r.cust, 16, true)
	r.update(r.cust, func(ch *channel) { ch.appName, ch.appData = "AppDial2", "(Outgoing Line)" })
	r.destroy(r.cust, 16)
	r.device(p.device, "NOT_INUSE")
	r.device(p.device, "NOT_INUSE")
	r.device(r.inDevice(), "NOT_INUSE")
	r.device(r.inDevice(), "NOT_INUSE")
	if order.legLast {
		r.destroy(p.leg, 16)
	}
}

// phoneHangsUp ends an answered call from a phone that is a technology
// channel of its own, as iax-answered.jsonl's IAX2/op101 does.
func (r *run) phoneHangsUp(p *phone, b *bridge) {
	r.hangupRequest(p.leg, 16, false)
	r.varset(p.leg, "BRIDGEPEER", "")
	r.varset(r.in, "BRIDGEPEER", "")
	r.leave(b, p.leg)
	r.hangupRequest(p.leg, 16, false)
	r.device(p.device, "NOT_INUSE")
	r.destroy(p.leg, 16)
	r.device(r.inDevice(), "NOT_INUSE")
	r.leave(b, r.in)
	r.answeredTimes()
	r.dialedTimes()
	r.varset(r.in, "DIALSTATUS", "ANSWER")
	r.hangupRequest(r.in, 16, true)
	r.hangupRequest(r.in, 16, false)
	r.update(r.in, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(r.in, 16)
	r.bridgeDestroyed(b)
}

// answeredTimes and dialedTimes are the variables Dial sets when it ends.
func (r *run) answeredTimes() {
	talk := r.at.Sub(r.answered)
	r.varset(r.in, "ANSWEREDTIME", fmt.Sprint(int(talk.Seconds())))
	r.varset(r.in, "ANSWEREDTIME_MS", fmt.Sprint(talk.Milliseconds()))
}

func (r *run) dialedTimes() {
	d := r.at.Sub(r.dialed)
	r.varset(r.in, "DIALEDTIME", fmt.Sprint(int(d.Seconds())))
	r.varset(r.in, "DIALEDTIME_MS", fmt.Sprint(d.Milliseconds()))
}
