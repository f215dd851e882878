package arisim

import (
	"fmt"
	"time"
)

// The scenarios a real SIP call centre adds to the recorded ones: phones
// that cannot be reached, a caller who hides their number, and operators
// transferring calls. They follow what Asterisk 22 with chan_pjsip does:
//
//   - Unreachable: Dial(PJSIP/105,20) to an endpoint with no contact
//     creates no channel and sends no Dial event; DIALSTATUS is
//     CHANUNAVAIL, and the dialplan's Hangup() ends the inbound leg with
//     the cause Dial left, 3 (no route to destination).
//   - SwitchedOff: the phone is registered but never answers the INVITE:
//     its channel is made and dialled, it never rings, and Dial gives up
//     with NOANSWER at its timeout (RingFor).
//   - Prohibited: the trunk sends the number with presentation
//     prohibited (Privacy: id); CALLERID(pres) is prohib_not_screened and
//     a ChannelCallerId says so; otherwise an answered call.
//   - AttendedTransfer: the first operator answers, calls the second from
//     a second line of their phone, and completes the transfer: the
//     second one's channel moves into the caller's bridge, Asterisk sends
//     BridgeAttendedTransfer and hangs the first operator's two channels
//     up.
//   - BlindTransfer: the first operator answers and transfers the caller
//     to the second one's extension: BridgeBlindTransfer, the caller's
//     channel leaves the bridge, runs the dialplan at that extension and
//     dials the second phone, which rings and answers.
//
// Transfers need phones that are technology channels (Config.Tech
// PJSIP): the recording rig's Local phones cannot transfer.
const (
	Unreachable      Scenario = "unreachable"
	SwitchedOff      Scenario = "switched-off"
	Prohibited       Scenario = "prohibited"
	AttendedTransfer Scenario = "attended-transfer"
	BlindTransfer    Scenario = "blind-transfer"
)

// SIPScenarios are the scenarios above, the pickups (pickup.go) and the
// ring-all dials (ringall.go); Run's mix keeps to Scenarios.
var SIPScenarios = []Scenario{Unreachable, SwitchedOff, Prohibited, AttendedTransfer, BlindTransfer, Pickup, DirectedPickup,
	RingAll, RingAllAbandoned}

// transferContext is where an operator's phone sends a transfer.
const transferContext = "from-internal"

// checkSIP checks what a SIP scenario needs of the call.
func (s *Sim) checkSIP(c Call) error {
	if err := s.checkRingAll(c); err != nil {
		return err
	}
	switch c.Scenario {
	case AttendedTransfer, BlindTransfer:
		if s.cfg.Tech == TechLocal {
			return fmt.Errorf("arisim: the %s scenario needs phones that are technology channels (Config.Tech %s)", c.Scenario, TechPJSIP)
		}
		if len(c.Operators) < 2 {
			return fmt.Errorf("arisim: the %s scenario needs two operators, who transfers and who takes the call", c.Scenario)
		}
	case Pickup, DirectedPickup:
		return s.checkPickup(c)
	}
	return nil
}

// sipScript runs a SIP scenario once the call has arrived.
func (r *run) sipScript(order interleave) error {
	switch r.c.Scenario {
	case Unreachable:
		r.unreachable()
		return nil
	case SwitchedOff:
		return r.switchedOff()
	case Pickup, DirectedPickup:
		return r.pickup(order)
	case RingAll, RingAllAbandoned:
		return r.ringAllCall(order)
	}
	p := r.phone(r.c.Operators[0])
	r.dialPhone(p, order)
	if err := r.wait(r.c.RingFor); err != nil {
		return err
	}
	b := r.answer(p, order)
	switch r.c.Scenario {
	case AttendedTransfer:
		return r.attendedTransfer(p, b, order)
	case BlindTransfer:
		return r.blindTransfer(p, b, order)
	}
	if err := r.talk(p); err != nil {
		return err
	}
	r.operatorHangsUp(p, b, order)
	return nil
}

// unreachable is Dial to a phone with no contact: no channel, no Dial
// event, only DIALSTATUS.
func (r *run) unreachable() {
	s := r.s
	ext := r.c.Operators[0]
	dest := s.cfg.Tech + "/" + ext
	if s.cfg.Tech == TechLocal {
		dest = "PJSIP/" + ext // the Local rig's phones context has it too
	}
	r.dialplan(r.in, 5, "Dial", dest+",20")
	r.dialed = r.at
	for _, v := range dialVars {
		r.varset(r.in, v, "")
	}
	r.varset(r.in, "DIALSTATUS", "CHANUNAVAIL")
	r.dialedTimes()
	r.device(r.inDevice(), "INUSE")
	r.endInbound("CHANUNAVAIL", 3)
}

// switchedOff is a phone that never answers the INVITE: no ringing, and
// Dial's timeout.
func (r *run) switchedOff() error {
	p := r.phone(r.c.Operators[0])
	r.dialplan(r.in, 5, "Dial", p.dialArg(r.s.cfg.Tech)+","+secs(r.c.RingFor))
	r.dialed = r.at
	for _, v := range dialVars {
		r.varset(r.in, v, "")
	}
	r.device(p.device, "NOT_INUSE")
	r.device(r.inDevice(), "INUSE")
	r.pace(paceDial)
	r.ringPhone(p)
	r.dial(r.in, p.leg, "", p.dialstring)
	// A Local phone's half just waits, as a phone that is off says nothing.
	r.dialplan(p.half, 1, "Wait", "60")
	if err := r.wait(r.c.RingFor); err != nil {
		return err
	}
	r.dial(r.in, p.leg, "NOANSWER", "")
	r.hangupRequest(p.half, 0, false)
	r.destroy(p.leg, 19)
	r.update(p.half, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(p.half, 16)
	r.varset(r.in, "DIALSTATUS", "NOANSWER")
	r.dialedTimes()
	r.device(p.device, "NOT_INUSE")
	r.endInbound("NOANSWER", 16)
	return nil
}

// endInbound is the inbound context's Hangup() after a Dial that reached
// nobody, with the cause Dial left on the channel.
func (r *run) endInbound(status string, cause int) {
	r.dialplan(r.in, 6, "Hangup", "")
	r.hangupRequest(r.in, cause, true)
	r.varset(r.cust, "CHANLOCALSTATUS", status)
	r.hangupRequest(r.cust, cause, false)
	r.update(r.in, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(r.in, cause)
	r.originateDial("NOANSWER")
	r.destroy(r.cust, cause)
	r.device(r.inDevice(), "NOT_INUSE")
}

// attendedTransfer: the operator on p consults the next operator from a
// second line and completes the transfer; the next operator then talks
// to the caller and hangs up.
func (r *run) attendedTransfer(p *phone, b *bridge, order interleave) error {
	s, c := r.s, r.c
	half := c.TalkFor / 2
	if err := r.wait(half); err != nil {
		return err
	}
	to := c.Operators[1]
	// The operator's second line: a call of its own, from their phone.
	s.mu.Lock()
	name := s.techName(p.ext)
	s.mu.Unlock()
	consult := r.newChannel("", name, "Ring", transferContext, to)
	consult.linkedID = consult.id
	consult.caller = party{"", p.ext}
	r.create(consult)
	r.dialplan(consult, 1, "Dial", s.cfg.Tech+"/"+to+",20")
	s.mu.Lock()
	tname := s.techName(to)
	s.mu.Unlock()
	target := r.newChannel("", tname, "Down", transferContext, to)
	target.linkedID = consult.id
	target.caller, target.connected = party{"", to}, party{"", p.ext}
	r.create(target)
	r.dial(consult, target, "", to)
	r.state(target, "Ringing")
	r.dial(consult, target, "RINGING", "")
	if err := r.wait(time.Second); err != nil {
		return err
	}
	r.state(target, "Up")
	r.dial(consult, target, "ANSWER", "")
	r.state(consult, "Up")
	b2 := r.newBridge()
	r.bridgeCreated(b2)
	r.enter(b2, target)
	r.enter(b2, consult)
	if err := r.wait(2 * time.Second); err != nil {
		return err
	}
	// The transfer completes: the target moves into the caller's bridge,
	// the operator's two channels go.
	r.leave(b, p.leg)
	r.leave(b2, target)
	r.enter(b, target)
	r.leave(b2, consult)
	r.transferEvent(attendedTransferBody(s, p.leg, consult, r.in, target, b, b2))
	r.hangupRequest(p.leg, 16, true)
	r.destroy(p.leg, 16)
	r.hangupRequest(consult, 16, true)
	r.destroy(consult, 16)
	r.bridgeDestroyed(b2)
	r.device(p.device, "NOT_INUSE")
	if err := r.wait(c.TalkFor - half); err != nil {
		return err
	}
	r.phoneHangsUp(&phone{ext: to, leg: target, device: s.cfg.Tech + "/" + to, dialstring: to}, b)
	return nil
}

// blindTransfer: the operator on p sends the caller to the next
// operator's extension; the caller's channel dials it there.
func (r *run) blindTransfer(p *phone, b *bridge, order interleave) error {
	s, c := r.s, r.c
	half := c.TalkFor / 2
	if err := r.wait(half); err != nil {
		return err
	}
	to := c.Operators[1]
	r.transferEvent(blindTransferBody(s, p.leg, r.in, b, to))
	r.leave(b, r.in)
	r.hangupRequest(p.leg, 16, false)
	r.leave(b, p.leg)
	r.destroy(p.leg, 16)
	r.bridgeDestroyed(b)
	r.device(p.device, "NOT_INUSE")
	// The caller's channel runs the dialplan at the extension.
	r.update(r.in, func(ch *channel) { ch.context, ch.exten = transferContext, to })
	r.dialplan(r.in, 1, "Dial", s.cfg.Tech+"/"+to+",20")
	p2 := r.phone(to)
	r.dialed = r.at
	r.pace(paceDial)
	r.ringPhone(p2)
	r.dial(r.in, p2.leg, "", p2.dialstring)
	r.update(p2.leg, func(ch *channel) { ch.context = phonesContext })
	r.state(p2.leg, "Ringing")
	r.pace(paceRing)
	r.dial(r.in, p2.leg, "RINGING", "")
	if err := r.wait(c.RingFor); err != nil {
		return err
	}
	b2 := r.answer(p2, order)
	if err := r.wait(c.TalkFor - half); err != nil {
		return err
	}
	r.phoneHangsUp(p2, b2)
	return nil
}

// transferEvent publishes a BridgeBlindTransfer or BridgeAttendedTransfer.
// As on Asterisk, an application without subscribeAll gets it when it
// follows one of the channels the transfer involves or a bridge it
// happens in: the caller's bridge, or an attended transfer's consult
// bridge.
func (r *run) transferEvent(typ string, body []byte, subjects []*channel, bridge, consult string) {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r.emit(&event{typ: typ, at: r.at, body: body, subjects: subjects, bridge: bridge, consult: consult})
}

// blindTransferBody is a BridgeBlindTransfer's fields, in Asterisk's
// order (stasis_bridges.c blind_transfer_to_json).
func blindTransferBody(s *Sim, transferer, transferee *channel, b *bridge, exten string) (string, []byte, []*channel, string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body := append([]byte(`,"channel":`), s.appendChannel(nil, transferer)...)
	body = appendString(append(body, `,"exten":`...), exten)
	body = appendString(append(body, `,"context":`...), transferContext)
	body = append(body, `,"result":"Success","is_external":true,"transferee":`...)
	body = s.appendChannel(body, transferee)
	body = appendBridge(append(body, `,"bridge":`...), b)
	return "BridgeBlindTransfer", body, []*channel{transferer, transferee}, b.id, ""
}

// attendedTransferBody is a BridgeAttendedTransfer's fields, in
// Asterisk's order (stasis_bridges.c attended_transfer_to_json), for a
// transfer that ends with both parties in the caller's bridge.
func attendedTransferBody(s *Sim, first, second, transferee, target *channel, b1, b2 *bridge) (string, []byte, []*channel, string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body := append([]byte(`,"result":"Success","transferer_first_leg":`), s.appendChannel(nil, first)...)
	body = append(body, `,"transferer_second_leg":`...)
	body = s.appendChannel(body, second)
	body = append(body, `,"is_external":true,"transferer_first_leg_bridge":`...)
	body = appendBridge(body, b1)
	body = append(body, `,"transferer_second_leg_bridge":`...)
	body = appendBridge(body, b2)
	body = append(body, `,"transferee":`...)
	body = s.appendChannel(body, transferee)
	body = append(body, `,"transfer_target":`...)
	body = s.appendChannel(body, target)
	body = appendString(append(body, `,"destination_type":"bridge","destination_bridge":`...), b1.id)
	return "BridgeAttendedTransfer", body, []*channel{first, second, transferee, target}, b1.id, b2.id
}
