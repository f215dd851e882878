package arisim

import (
	"fmt"
	"slices"
)

// queueName is the ring-all queue of the traces' queues.conf.
const queueName = "sales"

// queue runs Queue(sales) with strategy ringall: every member's phone
// rings at once, AnswerBy answers after RingFor, the others are cancelled
// (Dial CANCEL twice, cause 26 "Answered elsewhere"). The order is
// queue.jsonl's, generalised from its two members to any number: the
// first member's phone reaches Ringing() before it is dialled, the others
// are dialled as soon as their channels exist.
func (r *run) queue() error {
	c, s := r.c, r.s
	r.dialplan(r.in, 7, "Queue", queueName)
	r.dialed = r.at
	r.varset(r.in, "ANSWEREDTIME", "")
	r.device("Queue:"+queueName, "RINGING")
	for _, v := range []string{"ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT", "QUEUEWAIT_MS"} {
		r.varset(r.in, v, "")
	}
	r.pace(paceDial)
	members := make([]*phone, len(c.Operators))
	for i, ext := range c.Operators {
		p := r.phone(ext)
		members[i] = p
		r.member(p)
		if i == 0 {
			r.memberRinging(p)
			r.dial(r.in, p.leg, "", p.queueInterface(s.cfg.Tech))
			continue
		}
		if i == len(c.Operators)-1 {
			for _, m := range members {
				r.device(m.device, "INUSE")
			}
		}
		r.dial(r.in, p.leg, "", p.queueInterface(s.cfg.Tech))
	}
	r.memberWaits(members[0])
	for _, p := range members[1:] {
		r.memberRinging(p)
		r.memberWaits(p)
	}
	r.pace(paceRing)
	for _, p := range slices.Backward(members) {
		r.dial(r.in, p.leg, "RINGING", p.queueInterface(s.cfg.Tech))
	}

	if err := r.wait(c.RingFor); err != nil {
		return err
	}
	var ans *phone
	for _, p := range members {
		if p.ext == c.AnswerBy {
			ans = p
		}
	}
	r.device(ans.device, "INUSE")
	r.dialplan(ans.half, 6, "Answer", "")
	r.state(ans.half, "Up")
	r.state(ans.leg, "Up")
	r.device(ans.device, "INUSE")
	r.answered = r.at
	r.dial(r.in, ans.leg, "ANSWER", ans.queueInterface(s.cfg.Tech))
	for _, p := range members {
		if p == ans {
			continue
		}
		r.dial(r.in, p.leg, "CANCEL", "")
		r.dial(r.in, p.leg, "CANCEL", p.queueInterface(s.cfg.Tech))
		r.hangupRequest(p.half, 26, false)
		r.destroy(p.leg, 26)
		r.hangupRequest(p.half, 16, true)
		r.update(p.half, func(ch *channel) { ch.appName, ch.appData = "", "" })
		r.destroy(p.half, 26)
	}
	r.device("Queue:"+queueName, "NOT_INUSE")
	for _, p := range members {
		if p != ans {
			r.device(p.device, "NOT_INUSE")
		}
	}
	wait := r.at.Sub(r.dialed)
	r.varset(r.in, "QUEUEPOSITION", "1")
	r.varset(r.in, "QUEUEWAIT", fmt.Sprint(int(wait.Seconds())))
	for _, p := range members {
		if p != ans {
			r.device(p.device, "NOT_INUSE")
		}
	}
	r.device(r.inDevice(), "INUSE")
	r.varset(r.in, "QUEUEWAIT_MS", fmt.Sprint(wait.Milliseconds()))
	r.state(r.in, "Up")
	b := r.newBridge()
	r.bridgeCreated(b)
	r.enter(b, ans.leg)
	r.state(r.cust, "Up")
	r.originateDial("ANSWER")
	r.parkCaller()
	r.enter(b, r.in)
	r.varset(ans.leg, "BRIDGEPEER", r.in.name)
	r.varset(r.in, "BRIDGEPEER", ans.leg.name)
	r.device(r.inDevice(), "INUSE")

	if err := r.talk(ans); err != nil {
		return err
	}
	r.dialplan(ans.half, 8, "Hangup", "")
	r.hangupRequest(ans.half, 16, true)
	r.hangupRequest(ans.leg, 16, false)
	r.update(ans.half, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(ans.half, 16)
	r.device(ans.device, "NOT_INUSE")
	r.varset(ans.leg, "BRIDGEPEER", "")
	r.device(r.inDevice(), "NOT_INUSE")
	r.device(r.inDevice(), "NOT_INUSE")
	r.device(ans.device, "NOT_INUSE")
	r.varset(r.in, "BRIDGEPEER", "")
	r.leave(b, ans.leg)
	r.leave(b, r.in)
	r.answeredTimes()
	r.dialedTimes()
	r.hangupRequest(r.in, 16, true)
	r.hangupRequest(r.cust, 16, false)
	r.update(r.in, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(r.in, 16)
	r.hangupRequest(r.cust, 16, true)
	r.update(r.cust, func(ch *channel) { ch.appName, ch.appData = "AppDial2", "(Outgoing Line)" })
	r.destroy(r.cust, 16)
	r.destroy(ans.leg, 16)
	r.bridgeDestroyed(b)
	return nil
}

// queueInterface is how the queue names a member: Local/101@phones/n.
func (p *phone) queueInterface(tech string) string {
	if tech == TechLocal {
		return "Local/" + p.dialstring + "/n"
	}
	return tech + "/" + p.dialstring
}

// member creates a queue member's channels: the queue gives them the
// caller's caller ID.
func (r *run) member(p *phone) {
	in := r.in
	inherited := in.inheritable()
	peerNumber := p.dialstring
	if r.s.cfg.Tech == TechLocal {
		peerNumber += "/n"
	}
	r.create(p.leg)
	r.create(p.half)
	r.update(p.leg, func(ch *channel) { ch.caller = in.caller })
	r.dialplan(p.leg, 1, "AppQueue", "(Outgoing Line)")
	r.callerID(p.leg, in.caller)
	r.update(p.leg, func(ch *channel) { ch.fromDID = in.fromDID })
	r.connectedLine(p.leg, in.caller)
	r.varsets(p.leg, inherited...)
	r.update(p.leg, func(ch *channel) { ch.exten = r.c.DID })
	r.dialplan(p.leg, 1, "AppQueue", "(Outgoing Line)")
	r.varset(p.leg, "DIALEDPEERNUMBER", peerNumber)
	r.varset(p.half, "DIALEDPEERNUMBER", peerNumber)
	r.varsets(p.half, inherited...)
	r.update(p.half, func(ch *channel) {
		ch.connected = in.caller
		ch.fromDID = in.fromDID
	})
	r.callerID(p.half, in.caller)
	r.connectedLine(p.half, in.caller)
}

// memberRinging runs the member's phone up to Ringing().
func (r *run) memberRinging(p *phone) {
	aa := "never"
	if p.ext == r.c.AnswerBy {
		aa = secs(r.c.RingFor)
	}
	r.dialplan(p.half, 1, "Set", "AA="+aa)
	r.varset(p.half, "AA", aa)
	r.dialplan(p.half, 2, "GotoIf", "0?busy")
	r.dialplan(p.half, 3, "Ringing", "")
	r.state(p.leg, "Ringing")
}

// memberWaits runs the member's phone on from Ringing() to its Wait.
func (r *run) memberWaits(p *phone) {
	if p.ext == r.c.AnswerBy {
		r.dialplan(p.half, 4, "GotoIf", "0?noanswer")
		r.dialplan(p.half, 5, "Wait", secs(r.c.RingFor))
		return
	}
	r.dialplan(p.half, 4, "GotoIf", "1?noanswer")
	r.dialplan(p.half, 9, "Wait", "60")
}
