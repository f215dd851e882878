package arisim

import (
	"fmt"
	"slices"
	"strings"
)

// Call pickup: an operator answers, from their own phone, a call that
// rings on a colleague's. No trace of a real pickup exists, so every step
// below follows Asterisk 22.10.1's source, and says where (files and lines
// of the 22.10.1 tag).
//
//   - Pickup is group pickup with features.conf's pickupexten (*8): the
//     call's Dial rings the operators' phones but the last one; the last
//     operator dials *8 and takes the oldest ringing channel of their
//     pickup group (main/pickup.c ast_pickup_find_by_group, 136-193: the
//     candidate with the earliest creation time), the first phone dialled.
//     chan_pjsip does it before any dialplan runs (channels/chan_pjsip.c
//     call_pickup_incoming_request, 3159-3201, a session supplement run
//     before pbx_start's): the picker's channel has no application.
//   - DirectedPickup is directed pickup (BLF, **103): the dialplan runs
//     `exten => _**X.,1,PickupChan(PJSIP/${EXTEN:2})` and takes the named
//     phone's ringing channel (Call.PickedUp) among those the Dial rings.
//
// Either way ast_do_pickup (main/pickup.c 304-391) updates the picker's
// connected line to the target's (327-336), answers the picker's channel
// (345), queues an ANSWER on it, and moves it into the target's place with
// ast_channel_move (main/channel.c 10839-10875), a masquerade
// (channel_do_masquerade, 6879-7366). The masquerade swaps the two
// channels' unique IDs and linked IDs (6994) together with their names
// (7011-7015) and states (7072-7074), and later their variables (7152),
// callers (7178) and connected lines (7186), so that in ARI each ID keeps
// its name, state and parties: the struct Dial holds becomes the picker's
// channel (its ID and name), the picker's struct becomes the target's
// channel and is hung up. What stays with the struct is its dialplan
// position ("Context, extension, priority, app data ... remain the same",
// 7215) and its creation time (never swapped): the picker's channel takes
// the dialled channel's AppDial and creation time, the target's the
// picker's *8 or PickupChan.
//
// Dial learns of it through the datastore it put on each peer at the Dial
// begin (main/stasis_channels.c 748, set_dial_masquerade 2263), whose
// breakdown handler runs in the middle of the masquerade (channel.c 7125),
// after the IDs, names and states were swapped but before the variables
// and parties (dial_masquerade_breakdown, 2143-2191, "likely because of a
// call pickup"): it publishes Dial CANCEL for the target's ID, with a
// snapshot made there and then of the struct that is now the target's
// (its state; the picker's caller, connected line, dialplan, creation time
// and variables), and at once a Dial begin for the picker's ID, with its
// latest snapshot, both with the target's dialstring. Then the masquerade
// publishes the picker's new snapshot (7202): a ChannelDialplan
// (res/stasis/app.c channel_dialplan, 462-494) showing the dialled
// struct's AppDial. Nothing else is sent: the masquerade's own message
// (ast_channel_masquerade_type) and the CallPickup one (pickup.c 65-67)
// have no to_json, and the rename is ast_channel_name_set's, "so we don't
// get any spurious rename events".
//
// The target's channel, now the picker's old struct, is hung up by the
// thread that picked up: by chan_pjsip after setting cause 16 (chan_pjsip.c
// 3187-3197: ast_hangup, no hangup request), or by the dialplan,
// PickupChan having returned -1 (apps/app_directed_pickup.c 426-476):
// __ast_pbx_run's ast_softhangup(APPUNLOAD) (main/pbx.c 4624) publishes a
// hangup request with the struct's current snapshot, the target's last one
// (snapshots were swapped, channel.c 7005), and ast_hangup ends it with
// the cause ast_do_pickup left, 26 (pickup.c 357-358). Meanwhile Dial
// reads the ANSWER from the picker's channel (apps/app_dial.c
// wait_for_answer, 1407-1460): the name changed, so it updates the
// caller's connected line from the picker's caller ID (1412-1419),
// publishes CANCEL for the other phones it rang (1453), hangs them up
// with cause 26 (hanguptree, 3060) and then, as for any answer, sets
// DIALSTATUS and DIALEDPEERNAME (the picker's channel) and
// DIALEDPEERNUMBER (still the target's: the dialled struct kept its own
// variables first, channel.c clone_variables 6844-6858) and publishes Dial
// ANSWER with the picker's channel (3345). Bridging gives the picker's
// channel the call's linked ID (main/bridge_channel.c 392-417). The two
// threads' events interleave as they will; the simulator sends the
// picking thread's first.
//
// A queue member's phone picked up goes the same way (app_queue.c sets the
// datastore with the member's interface as dialstring at 5106), except
// that app_queue publishes the ANSWER first and then the other members'
// CANCEL (5706-5718); the simulator does not script it, the tracker's
// tests have it.
const (
	Pickup         Scenario = "pickup"
	DirectedPickup Scenario = "directed-pickup"
)

// pickupExten is features.conf's default pickupexten.
const pickupExten = "*8"

// checkPickup checks what a pickup scenario needs of the call: phones that
// are technology channels, someone to dial and someone to pick up.
func (s *Sim) checkPickup(c Call) error {
	if s.cfg.Tech == TechLocal {
		return fmt.Errorf("arisim: the %s scenario needs phones that are technology channels (Config.Tech %s)", c.Scenario, TechPJSIP)
	}
	if len(c.Operators) < 2 {
		return fmt.Errorf("arisim: the %s scenario needs two operators or more: those dialled, then the one who picks up", c.Scenario)
	}
	dialled := c.Operators[:len(c.Operators)-1]
	if picker := c.Operators[len(c.Operators)-1]; slices.Contains(dialled, picker) {
		return fmt.Errorf("arisim: operator %s picks the call up and is dialled too; a pickup is from another phone", picker)
	}
	if c.PickedUp != "" && c.Scenario != DirectedPickup {
		return fmt.Errorf("arisim: PickedUp is for the %s scenario; group pickup takes the oldest ringing channel", DirectedPickup)
	}
	if c.PickedUp != "" && !slices.Contains(dialled, c.PickedUp) {
		return fmt.Errorf("arisim: %s's phone is to be picked up but is not among those dialled %v", c.PickedUp, dialled)
	}
	return nil
}

// pickup rings the phones, lets the last operator pick the call up, and
// runs the call to its end.
func (r *run) pickup(order interleave) error {
	c := r.c
	n := len(c.Operators)
	rung := make([]*phone, n-1)
	for i, ext := range c.Operators[:n-1] {
		rung[i] = r.phone(ext)
	}
	if len(rung) == 1 {
		r.dialPhone(rung[0], order)
	} else {
		r.ringAll(rung)
	}
	if err := r.wait(c.RingFor); err != nil {
		return err
	}
	target := rung[0]
	if c.Scenario == DirectedPickup && c.PickedUp != "" {
		target = rung[slices.IndexFunc(rung, func(p *phone) bool { return p.ext == c.PickedUp })]
	}
	p := r.pickUp(target, c.Operators[n-1])
	r.dialEndsAfterPickup(rung, target, p)
	b := r.answer(p, order)
	if err := r.talk(p); err != nil {
		return err
	}
	r.phoneHangsUp(p, b)
	return nil
}

// ringAll is Dial(PJSIP/102&PJSIP/103,timeout[,options]): app_dial
// requests every destination's channel first (dial_exec_full's loop,
// app_dial.c 2732-2870), then calls each and publishes its Dial begin
// (2938); the phones report ringing in turn.
func (r *run) ringAll(phones []*phone) {
	s := r.s
	args := make([]string, len(phones))
	for i, p := range phones {
		args[i] = p.dialArg(s.cfg.Tech)
	}
	prio := 5
	if r.c.ViaStasis {
		prio = 10
	}
	r.dialplan(r.in, prio, "Dial", strings.Join(args, "&")+","+secs(r.dialTimeout())+r.dialOptions())
	r.dialed = r.at
	for _, v := range dialVars {
		r.varset(r.in, v, "")
	}
	r.pace(paceDial)
	for _, p := range phones {
		r.ringPhone(p)
	}
	for _, p := range phones {
		r.dial(r.in, p.leg, "", p.dialstring)
	}
	for _, p := range phones {
		r.update(p.leg, func(ch *channel) { ch.context = phonesContext })
		r.state(p.leg, "Ringing")
		r.dialplan(p.leg, 1, "AppDial", "(Outgoing Line)")
	}
	r.pace(paceRing)
	r.varset(r.in, "RINGTIME", "0")
	r.varset(r.in, "RINGTIME_MS", "0")
	for _, p := range phones {
		r.dial(r.in, p.leg, "RINGING", "")
	}
}

// pickUp is the operator ext's phone picking up target's ringing channel:
// the picker's channel, ast_do_pickup, the masquerade and the hangup of
// the target's channel. It returns the picker's phone, whose channel Dial
// now holds, its dialstring still the target's.
func (r *run) pickUp(target *phone, ext string) *phone {
	s := r.s
	directed := r.c.Scenario == DirectedPickup
	exten := pickupExten
	if directed {
		exten = "**" + target.ext
	}
	// The picker's INVITE: chan_pjsip makes a channel in the endpoint's
	// context, at the extension dialled, state Ring (chan_pjsip_new).
	s.mu.Lock()
	name := s.techName(ext)
	s.mu.Unlock()
	pk := r.newChannel("", name, "Ring", transferContext, exten)
	pk.linkedID = pk.id
	pk.caller = party{"", ext}
	r.create(pk)
	device := s.cfg.Tech + "/" + ext
	r.device(device, "INUSE")
	if directed {
		// pbx_exec publishes the snapshot naming the application
		// (main/pbx_app.c 497-499).
		r.dialplan(pk, 1, "PickupChan", s.cfg.Tech+"/"+target.ext)
	}
	// ast_do_pickup: the picker's connected line becomes the target's
	// (pickup.c 327-336), then the picker's channel is answered (345).
	r.connectedLine(pk, target.leg.connected)
	r.state(pk, "Up")
	last := r.masquerade(target.leg, pk, target.dialstring)
	// The picking thread hangs the target's channel up. The hangup
	// request's cause is ast_softhangup's reason, AST_SOFTHANGUP_APPUNLOAD
	// (1 << 4), as after any dialplan's end.
	cause := 16
	if directed {
		cause = 26
		r.hangupRequest(last, 16, true)
	}
	r.update(target.leg, func(ch *channel) { ch.appName, ch.appData = "", "" })
	r.destroy(target.leg, cause)
	r.device(target.device, "NOT_INUSE")
	return &phone{ext: ext, leg: pk, device: device, dialstring: target.dialstring}
}

// masquerade is ast_channel_move(target, picker) as ARI sees it: Dial's
// CANCEL and begin from the breakdown handler, then the picker's channel
// at the dialled struct's dialplan position. It returns the target's last
// snapshot before it.
func (r *run) masquerade(target, pk *channel, dialstring string) *channel {
	s := r.s
	s.mu.Lock()
	// The target's last snapshot, which the struct it moves to carries
	// until its final one (main/channel.c 7005).
	last := *target
	// The CANCEL's snapshot of the struct now the target's, made mid-way:
	// ID, name, linked ID and state swapped already, parties, dialplan,
	// creation time and variables still the picker's.
	mid := *target
	mid.caller, mid.connected = pk.caller, pk.connected
	mid.context, mid.exten, mid.priority, mid.appName, mid.appData = pk.context, pk.exten, pk.priority, pk.appName, pk.appData
	mid.created, mid.fromDID, mid.vars = pk.created, pk.fromDID, pk.vars
	s.mu.Unlock()
	r.dial(r.in, &mid, "CANCEL", dialstring)
	r.dial(r.in, pk, "", dialstring)
	r.update(pk, func(ch *channel) {
		// What stays with the structs: the dialplan position and the
		// creation time. The dialled struct keeps its variables and
		// appends the picker's; the picker's struct gets a copy of all.
		target.context, pk.context = pk.context, target.context
		target.exten, pk.exten = pk.exten, target.exten
		target.priority, pk.priority = pk.priority, target.priority
		target.appName, pk.appName = pk.appName, target.appName
		target.appData, pk.appData = pk.appData, target.appData
		target.created, pk.created = pk.created, target.created
		vars := append(slices.Clone(target.vars), pk.vars...)
		target.vars, pk.vars = vars, slices.Clone(vars)
		pk.fromDID = target.fromDID
	})
	r.dialplan(pk, pk.priority, pk.appName, pk.appData)
	return &last
}

// dialEndsAfterPickup is Dial reading the ANSWER from the picker's
// channel: the caller's connected line, then the other phones cancelled
// and hung up, answered elsewhere.
func (r *run) dialEndsAfterPickup(rung []*phone, target, p *phone) {
	r.connectedLine(r.in, p.leg.caller)
	for _, o := range rung {
		if o != target {
			r.dial(r.in, o.leg, "CANCEL", "")
		}
	}
	for _, o := range rung {
		if o != target {
			r.destroy(o.leg, 26)
			r.device(o.device, "NOT_INUSE")
		}
	}
}
