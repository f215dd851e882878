package arisim

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// The steps of a call's script. Each changes the PBX as Asterisk would and
// publishes the event Asterisk publishes for it, stamped with the call's
// simulated time, under Sim.mu.

// newChannel makes a channel of this call; it exists for ARI once
// created. id "" is an Asterisk unique ID.
func (r *run) newChannel(id, name, state, context, exten string) *channel {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	// Asterisk's unique IDs are the creation time's Unix seconds and a
	// counter ("1795561236.146"); it counts named channels too.
	s.uniq++
	if id == "" {
		id = fmt.Sprintf("%d.%d", r.at.Unix(), s.uniq)
	}
	if r.linked == "" {
		r.linked = id
	}
	return &channel{id: id, name: name, state: state, context: context, exten: exten, priority: 1,
		created: r.at, linkedID: r.linked, call: r}
}

// localPair makes the two halves of a Local channel to exten@context.
func (r *run) localPair(id1, id2, exten, context string) (*channel, *channel) {
	r.s.mu.Lock()
	name := r.s.localName(exten, context)
	r.s.mu.Unlock()
	return r.newChannel(id1, name+";1", "Down", context, exten), r.newChannel(id2, name+";2", "Ring", context, exten)
}

func (r *run) create(ch *channel) {
	if ch == nil {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chanSeq++
	ch.seq = s.chanSeq
	s.chans[ch.id] = ch
	r.chans = append(r.chans, ch)
	r.emit(s.chanEvent("ChannelCreated", r.at, ch, nil, ""))
}

// update changes a channel without an event of its own: Asterisk's
// snapshot catching up.
func (r *run) update(ch *channel, f func(*channel)) {
	if ch == nil {
		return
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	f(ch)
}

// dialplan moves a channel to a priority and application.
func (r *run) dialplan(ch *channel, priority int, app, data string) {
	if ch == nil {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ch.priority, ch.appName, ch.appData = priority, app, data
	mid := appendString(append(appendString([]byte(`,"dialplan_app":`), app), `,"dialplan_app_data":`...), data)
	r.emit(s.chanEvent("ChannelDialplan", r.at, ch, nil, string(mid)))
}

const callerPresentation = `,"caller_presentation":0,"caller_presentation_txt":"Presentation Allowed, Not Screened"`

// presProhibited is CALLERID(pres) of a caller who hid their number, and
// callerProhibited its ChannelCallerId fields.
const (
	presProhibited   = "prohib_not_screened"
	callerProhibited = `,"caller_presentation":32,"caller_presentation_txt":"Presentation Prohibited, Not Screened"`
)

// callerID sets a channel's caller ID and publishes it.
func (r *run) callerID(ch *channel, p party) {
	if ch == nil {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ch.caller = p
	pres := callerPresentation
	if ch.pres == presProhibited {
		pres = callerProhibited
	}
	r.emit(s.chanEvent("ChannelCallerId", r.at, ch, nil, pres))
}

// connectedLine sets the party a channel is connected to and publishes it.
func (r *run) connectedLine(ch *channel, p party) {
	if ch == nil {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ch.connected = p
	r.emit(s.chanEvent("ChannelConnectedLine", r.at, ch, nil, ""))
}

// varset sets a channel variable.
func (r *run) varset(ch *channel, name, value string) {
	if ch == nil {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ch.setVar(name, value)
	r.emit(s.varsetEvent(r.at, ch, name, value))
}

// varsets sets several variables, in order.
func (r *run) varsets(ch *channel, vars ...variable) {
	for _, v := range vars {
		r.varset(ch, v.name, v.value)
	}
}

// inherit gives a new channel the variables of the one that created it:
// the same events as Set(), but the list keeps the parent's order.
func (r *run) inherit(ch *channel, vars []variable) {
	if ch == nil {
		return
	}
	s := r.s
	for _, v := range vars {
		s.mu.Lock()
		ch.vars = append(ch.vars, v)
		r.emit(s.varsetEvent(r.at, ch, v.name, v.value))
		s.mu.Unlock()
	}
}

func (r *run) state(ch *channel, state string) {
	if ch == nil {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ch.state = state
	r.emit(s.chanEvent("ChannelStateChange", r.at, ch, nil, ""))
}

// dial publishes a Dial event; caller is nil for an originate's dial.
func (r *run) dial(caller, peer *channel, status, dialstring string) {
	if peer == nil {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	body := make([]byte, 0, 1400)
	body = append(body, `,"dialstatus":`...)
	body = appendString(body, status)
	body = append(body, `,"forward":"","dialstring":`...)
	body = appendString(body, dialstring)
	subjects := []*channel{peer}
	if caller != nil {
		body = append(body, `,"caller":`...)
		body = s.appendChannel(body, caller)
		subjects = append(subjects, caller)
	}
	body = append(body, `,"peer":`...)
	body = s.appendChannel(body, peer)
	r.emit(&event{typ: "Dial", at: r.at, body: body, subjects: subjects, dialStatus: status})
}

func (r *run) hangupRequest(ch *channel, cause int, soft bool) {
	if ch == nil {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r.emit(s.hangupEvent(r.at, ch, cause, soft))
}

// destroy ends a channel.
func (r *run) destroy(ch *channel, cause int) {
	if ch == nil {
		return
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.destroyLocked(ch, cause)
}

func (r *run) destroyLocked(ch *channel, cause int) {
	s := r.s
	mid := strconv.AppendInt([]byte(`,"cause":`), int64(cause), 10)
	mid = appendString(append(mid, `,"cause_txt":`...), causeText(cause))
	r.emit(s.chanEvent("ChannelDestroyed", r.at, ch, nil, string(mid)))
	delete(s.inStasis[ch.stasisApp], ch.id) // the channel is gone; its fields stay as they were
	if s.chans[ch.id] == ch {
		delete(s.chans, ch.id)
		// A subscription ends with its channel, as in Asterisk: the
		// apps' answers list live channels only.
		for _, a := range s.apps {
			delete(a.sources, "channel:"+ch.id)
		}
	}
}

// causeText is Asterisk's text for a Q.850 cause.
func causeText(cause int) string {
	switch cause {
	case 3:
		return "No route to destination"
	case 16:
		return "Normal Clearing"
	case 17:
		return "User busy"
	case 19:
		return "No user responding"
	case 21:
		return "Call Rejected"
	case 26:
		return "Answered elsewhere"
	case 32:
		return "Circuit/channel congestion"
	}
	return "Unknown"
}

// newBridge makes a basic bridge, as Dial does once answered.
func (r *run) newBridge() *bridge {
	return &bridge{id: newUUID(), created: r.at}
}

func (r *run) bridgeEvent(typ string, b *bridge, ch *channel) {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	switch typ {
	case "BridgeCreated":
		s.bridges[b.id] = b
	case "BridgeDestroyed":
		delete(s.bridges, b.id)
	case "ChannelEnteredBridge":
		b.channels = append(b.channels, ch.id)
	case "ChannelLeftBridge":
		b.channels = slices.DeleteFunc(b.channels, func(id string) bool { return id == ch.id })
	}
	body := appendBridge([]byte(`,"bridge":`), b)
	ev := &event{typ: typ, at: r.at, bridge: b.id}
	if ch != nil {
		body = append(body, `,"channel":`...)
		body = s.appendChannel(body, ch)
		ev.subjects = []*channel{ch}
	}
	ev.body = body
	r.emit(ev)
}

func (r *run) bridgeCreated(b *bridge)   { r.bridgeEvent("BridgeCreated", b, nil) }
func (r *run) bridgeDestroyed(b *bridge) { r.bridgeEvent("BridgeDestroyed", b, nil) }

func (r *run) enter(b *bridge, ch *channel) {
	if ch != nil {
		r.bridgeEvent("ChannelEnteredBridge", b, ch)
	}
}

func (r *run) leave(b *bridge, ch *channel) {
	if ch != nil {
		r.bridgeEvent("ChannelLeftBridge", b, ch)
	}
}

// device publishes a device's new state. Device names follow the
// technology: Local/101@phones, PJSIP/101.
func (r *run) device(name, state string) {
	if name == "" {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	body := appendString([]byte(`,"device_state":{"name":`), name)
	body = appendString(append(body, `,"state":`...), state)
	r.emit(&event{typ: "DeviceStateChanged", at: r.at, body: append(body, '}'), device: name})
}

// chanEvent builds an event about one channel: pre before "type", mid
// between "timestamp" and "channel"; s.mu is held.
func (s *Sim) chanEvent(typ string, at time.Time, ch *channel, pre []byte, mid string) *event {
	body := make([]byte, 0, len(mid)+640)
	body = append(body, mid...)
	body = append(body, `,"channel":`...)
	body = s.appendChannel(body, ch)
	return &event{typ: typ, at: at, pre: pre, body: body, subjects: []*channel{ch}}
}

func (s *Sim) varsetEvent(at time.Time, ch *channel, name, value string) *event {
	pre := appendString([]byte(`"variable":`), name)
	pre = appendString(append(pre, `,"value":`...), value)
	return s.chanEvent("ChannelVarset", at, ch, append(pre, ','), "")
}

func (s *Sim) hangupEvent(at time.Time, ch *channel, cause int, soft bool) *event {
	pre := strconv.AppendInt([]byte(`"cause":`), int64(cause), 10)
	if soft {
		pre = append(pre, `,"soft":true`...)
	}
	return s.chanEvent("ChannelHangupRequest", at, ch, append(pre, ','), "")
}

// secs writes a duration as dialplan applications take seconds: 2, 2.5.
func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
