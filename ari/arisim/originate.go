package arisim

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Originate is a POST /channels request, as the simulator received it.
type Originate struct {
	At             time.Time // simulated time
	Endpoint       string    // Local/101@phones, PJSIP/101
	Extension      string
	Context        string
	Priority       int
	App, AppArgs   string
	CallerID       string
	Timeout        int // seconds
	ChannelID      string
	OtherChannelID string
	Variables      map[string]string
}

// Originates is every originate request received, oldest first.
func (s *Sim) Originates() []Originate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.originates)
}

// How the phone and the client behave on an originated call, unless the
// request's variables say otherwise (ANSWER_AFTER: seconds, "never" or
// "busy"; TALK: seconds), as the recording rig's phones did.
const (
	originateAnswerAfter = 2 * time.Second
	clientAnswerAfter    = 3 * time.Second
	originateTalk        = 3 * time.Second
	originateTimeout     = 30 * time.Second
)

// serveOriginate is POST /channels: click-to-dial. The simulator creates
// the endpoint's channel (the operator's phone) at once and answers with
// it; then, as Asterisk does, the phone rings and is answered, and the
// channel goes to the dialplan (extension@context: it dials the client
// over the trunk, the client answers, they talk, the operator hangs up) or
// to the Stasis application.
func (s *Sim) serveOriginate(w http.ResponseWriter, r *http.Request, _ []string) {
	p, err := params(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	o := Originate{Endpoint: p.get("endpoint"), Extension: p.get("extension"), Context: p.get("context"),
		App: p.get("app"), AppArgs: p.get("appArgs"), CallerID: p.get("callerId"),
		ChannelID: p.get("channelId"), OtherChannelID: p.get("otherChannelId"), Variables: map[string]string{}}
	o.Priority, _ = strconv.Atoi(p.get("priority"))
	o.Timeout, _ = strconv.Atoi(p.get("timeout"))
	if raw, ok := p.body["variables"]; ok {
		if err := json.Unmarshal(raw, &o.Variables); err != nil {
			writeError(w, http.StatusBadRequest, "variables must be an object of strings")
			return
		}
	}
	tech, resource, ok := strings.Cut(o.Endpoint, "/")
	switch {
	case o.Endpoint == "":
		writeError(w, http.StatusBadRequest, "Endpoint must be specified")
		return
	case !ok || tech == "" || resource == "":
		writeError(w, http.StatusBadRequest, "Invalid endpoint specified")
		return
	case o.Extension == "" && o.App == "":
		writeError(w, http.StatusBadRequest, "Application or extension must be specified")
		return
	}
	if o.Context == "" {
		o.Context = "default"
	}
	if o.Priority == 0 {
		o.Priority = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = int(originateTimeout / time.Second)
	}

	s.mu.Lock()
	if s.isClosed() {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "Asterisk is shutting down")
		return
	}
	for _, id := range []string{o.ChannelID, o.OtherChannelID} {
		if s.chans[id] != nil {
			s.mu.Unlock()
			writeError(w, http.StatusConflict, "Channel with given unique ID already exists")
			return
		}
	}
	o.At = s.clock.now()
	s.originates = append(s.originates, o)
	s.wg.Add(1)
	s.mu.Unlock()

	// The call belongs to the simulator: Close ends its waits.
	orun := &run{s: s, ctx: context.Background(), at: o.At, c: Call{ID: o.ChannelID}}
	leg := orun.originateLeg(o, tech, resource)
	s.mu.Lock()
	body := s.appendChannel(nil, leg.leg)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)

	go func() {
		defer s.wg.Done()
		if err := orun.originate(o, leg); err != nil {
			orun.abort()
		}
	}()
}

// originateLeg creates the endpoint's channel, as the originate does
// before it answers the request.
func (r *run) originateLeg(o Originate, tech, resource string) *phone {
	s := r.s
	p := &phone{}
	if tech == TechLocal {
		exten, ctx, _ := strings.Cut(resource, "@")
		if ctx == "" {
			ctx = "default"
		}
		p.ext, p.dialstring, p.device = exten, resource, o.Endpoint
		p.leg, p.half = r.localPair(o.ChannelID, o.OtherChannelID, exten, ctx)
	} else {
		s.mu.Lock()
		s.techSeq++
		name := fmt.Sprintf("%s/%s-%08x", tech, resource, s.techSeq)
		s.mu.Unlock()
		p.ext, p.dialstring, p.device = resource, resource, o.Endpoint
		p.leg = r.newChannel(o.ChannelID, name, "Down", "default", "s")
	}
	r.create(p.leg)
	r.create(p.half)
	return p
}

// originate runs the originated call: the phone rings and answers, then
// the channel runs the dialplan or enters Stasis.
func (r *run) originate(o Originate, p *phone) error {
	caller := parseCallerID(o.CallerID)
	answerAfter, talk := lookupVar(o.Variables, "ANSWER_AFTER"), lookupVar(o.Variables, "TALK")
	r.dialplan(p.leg, 1, "AppDial2", "(Outgoing Line)")
	if o.CallerID != "" {
		r.callerID(p.leg, caller)
		r.connectedLine(p.leg, caller)
	}
	names := make([]string, 0, len(o.Variables))
	for name := range o.Variables {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		r.varset(p.leg, name, o.Variables[name])
	}
	if p.half != nil {
		r.inherit(p.half, p.leg.inheritable())
		r.callerID(p.half, caller)
		r.connectedLine(p.half, caller)
	}
	r.dial(nil, p.leg, "", p.dialstring)
	aa := cmp.Or(answerAfter, secs(originateAnswerAfter))
	r.dialplan(p.half, 1, "Set", "AA="+aa)
	r.varset(p.half, "AA", aa)
	if aa == "busy" {
		r.dialplan(p.half, 2, "GotoIf", "1?busy")
		r.dialplan(p.half, 11, "Busy", "5")
		r.state(p.half, "Busy")
		r.dial(nil, p.leg, "BUSY", p.dialstring)
		r.hangupRequest(p.half, 16, true)
		r.destroy(p.leg, 17)
		r.destroy(p.half, 17)
		return nil
	}
	r.dialplan(p.half, 2, "GotoIf", "0?busy")
	r.dialplan(p.half, 3, "Ringing", "")
	r.state(p.leg, "Ringing")
	r.dial(nil, p.leg, "RINGING", p.dialstring)
	ring, err := time.ParseDuration(aa + "s")
	if aa == "never" || err != nil || ring >= time.Duration(o.Timeout)*time.Second {
		r.dialplan(p.half, 4, "GotoIf", "1?noanswer")
		r.dialplan(p.half, 9, "Wait", "60")
		if err := r.wait(time.Duration(o.Timeout) * time.Second); err != nil {
			return err
		}
		r.dial(nil, p.leg, "NOANSWER", p.dialstring)
		r.hangupRequest(p.half, 16, true)
		r.destroy(p.leg, 0)
		r.destroy(p.half, 16)
		return nil
	}
	r.dialplan(p.half, 4, "GotoIf", "0?noanswer")
	r.dialplan(p.half, 5, "Wait", aa)
	if err := r.wait(ring); err != nil {
		return err
	}
	r.dialplan(p.half, 6, "Answer", "")
	r.state(p.half, "Up")
	r.state(p.leg, "Up")
	r.dial(nil, p.leg, "ANSWER", p.dialstring)

	talkFor := originateTalk
	if d, err := time.ParseDuration(talk + "s"); err == nil {
		talkFor = d
	}
	if o.App != "" {
		return r.originateToStasis(o, p)
	}
	return r.callClient(o, p, talkFor)
}

// callClient is the originated channel running extension@context: it
// dials the client over the trunk, the client answers, and the operator
// hangs up after the talk.
func (r *run) callClient(o Originate, p *phone, talk time.Duration) error {
	s := r.s
	r.update(p.leg, func(ch *channel) { ch.context, ch.exten = o.Context, o.Extension })
	r.dialplan(p.leg, o.Priority, "Dial", "PJSIP/trunk/"+o.Extension+",30")
	s.mu.Lock()
	s.techSeq++
	name := fmt.Sprintf("PJSIP/trunk-%08x", s.techSeq)
	s.mu.Unlock()
	client := r.newChannel("", name, "Down", "default", "s")
	r.create(client)
	r.varset(client, "DIALEDPEERNUMBER", "trunk/"+o.Extension)
	r.update(client, func(ch *channel) {
		ch.context, ch.exten = "", o.Extension
		ch.caller, ch.connected = p.leg.caller, party{"", o.Extension}
	})
	r.dialplan(client, 1, "AppDial", "(Outgoing Line)")
	r.callerID(client, client.caller)
	r.connectedLine(client, client.connected)
	r.dial(p.leg, client, "", "trunk/"+o.Extension)
	r.state(client, "Ringing")
	r.dial(p.leg, client, "RINGING", "")
	if err := r.wait(clientAnswerAfter); err != nil {
		return err
	}
	r.state(client, "Up")
	r.dial(p.leg, client, "ANSWER", "")
	b := r.newBridge()
	r.bridgeCreated(b)
	r.enter(b, client)
	r.enter(b, p.leg)
	r.dialplan(p.half, 7, "Wait", secs(talk))
	if err := r.wait(talk); err != nil {
		return err
	}
	r.dialplan(p.half, 8, "Hangup", "")
	r.hangupRequest(p.half, 16, true)
	r.hangupRequest(p.leg, 16, false)
	r.destroy(p.half, 16)
	r.leave(b, p.leg)
	r.destroy(p.leg, 16)
	r.leave(b, client)
	r.hangupRequest(client, 16, false)
	r.destroy(client, 16)
	r.bridgeDestroyed(b)
	return nil
}

// originateToStasis puts the answered channel in the application, where
// it stays until the application continues it (it then hangs up: there
// is no dialplan to go on with) or Config.StasisTimeout passes.
func (r *run) originateToStasis(o Originate, p *phone) error {
	s := r.s
	var args []string
	if o.AppArgs != "" {
		args = strings.Split(o.AppArgs, ",")
	}
	continued := make(chan struct{})
	s.mu.Lock()
	s.enterStasis(p.leg, o.App, continued)
	body := []byte(`,"args":[`)
	for i, a := range args {
		if i > 0 {
			body = append(body, ',')
		}
		body = appendString(body, a)
	}
	ev := s.chanEvent("StasisStart", r.at, p.leg, nil, string(append(body, ']')))
	ev.stasisApp = o.App
	r.emit(ev)
	s.mu.Unlock()
	timer := time.NewTimer(max(s.clock.wallUntil(r.at.Add(s.cfg.StasisTimeout)), 0))
	defer timer.Stop()
	select {
	case <-continued:
	case <-timer.C:
	case <-s.done:
		return errClosed
	}
	r.at = later(r.at, s.clock.now())
	s.mu.Lock()
	ev = s.chanEvent("StasisEnd", r.at, p.leg, nil, "")
	ev.stasisApp = o.App
	r.emit(ev)
	s.leaveStasis(p.leg)
	s.mu.Unlock()
	r.hangupRequest(p.leg, 16, false)
	r.hangupRequest(p.half, 16, false)
	r.destroy(p.half, 16)
	r.destroy(p.leg, 16)
	return nil
}

// parseCallerID reads "Name <number>" or a bare number.
func parseCallerID(s string) party {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		return party{strings.Trim(strings.TrimSpace(s[:i]), `"`), s[i+1 : len(s)-1]}
	}
	return party{"", s}
}

// lookupVar reads one of the request's variables, with or without the
// inheritance underscores.
func lookupVar(vars map[string]string, name string) string {
	for k, v := range vars {
		if strings.TrimLeft(k, "_") == name {
			return v
		}
	}
	return ""
}
