package ari

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// AllowedEvents are the ARI event types call tracking reads. They are the
// application's event filter on Asterisk, and the decoder skips every other
// type, so a replayed trace goes through exactly what serve sees.
var AllowedEvents = []string{
	"ChannelCreated", "ChannelDestroyed", "ChannelStateChange",
	"ChannelCallerId", "ChannelHangupRequest", "Dial",
	"ChannelEnteredBridge", "ChannelLeftBridge",
	"StasisStart", "StasisEnd", "ApplicationReplaced",
	"ChannelVarset", "BridgeBlindTransfer", "BridgeAttendedTransfer",
}

// Variables are the channel variables whose ChannelVarset events call
// tracking reads: what Dial and Queue say became of the attempt to reach
// a phone. Every other ChannelVarset is skipped unread.
var Variables = []string{"DIALSTATUS", "QUEUESTATUS"}

// Errors the decoder returns; each is counted apart.
var (
	// ErrSkipped: a well-known event type that call tracking does not use.
	ErrSkipped = errors.New("event type not used")
	// ErrUnknownType: an event type the ARI library does not know (newer
	// Asterisk versions add some).
	ErrUnknownType = errors.New("unknown event type")
	// ErrMalformed: not an ARI event at all.
	ErrMalformed = errors.New("malformed event")
)

// knownTypes is every event type github.com/CyCoreSystems/ari/v5 models.
var knownTypes = func() map[string]bool {
	m := map[string]bool{}
	v := reflect.ValueOf(ariv5.Events)
	for i := 0; i < v.NumField(); i++ {
		if s, ok := v.Field(i).Interface().(string); ok && s != "all" {
			m[s] = true
		}
	}
	return m
}()

// typeNames maps each known type's name to itself, for EventType.
var typeNames = func() map[string]string {
	m := map[string]string{}
	for t := range knownTypes {
		m[t] = t
	}
	return m
}()

var allowed = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range AllowedEvents {
		m[t] = true
	}
	return m
}()

// Decoder turns one ARI event (JSON) into a screenpop.Event.
type Decoder struct {
	// DIDVariable and LinkedIDVariable are the channelvars keys (ari.conf
	// channelvars) that carry the dialled number and CHANNEL(linkedid).
	DIDVariable      string
	LinkedIDVariable string
	// PresentationVariable is the channelvars key that carries the caller
	// ID presentation: CALLERID(pres).
	PresentationVariable string
}

// NewDecoder returns a decoder reading the dialled number from didVar
// ("FROM_DID") and the linked ID from CHANNEL(linkedid).
func NewDecoder(didVar string) *Decoder {
	return &Decoder{DIDVariable: didVar, LinkedIDVariable: "CHANNEL(linkedid)", PresentationVariable: "CALLERID(pres)"}
}

// EventType returns the "type" of an ARI event without decoding the rest:
// Asterisk writes it first, so this is cheap for the many events skipped.
func EventType(data []byte) (string, error) {
	const key = `"type":"`
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		// Not written by Asterisk's encoder; decode properly.
		var m struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
			return "", ErrMalformed
		}
		return m.Type, nil
	}
	rest := data[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 {
		return "", ErrMalformed
	}
	// A known type's name is shared, not copied: every event has one.
	if name, ok := typeNames[string(rest[:j])]; ok {
		return name, nil
	}
	return string(rest[:j]), nil
}

// Decode decodes one event. It returns ErrSkipped, ErrUnknownType or an
// error wrapping ErrMalformed for events call tracking cannot use; the
// type is returned in every case where it could be read, for counting.
func (d *Decoder) Decode(data []byte) (screenpop.Event, string, error) {
	typ, err := EventType(data)
	if err != nil {
		return screenpop.Event{}, "", err
	}
	if !allowed[typ] {
		if knownTypes[typ] {
			return screenpop.Event{}, typ, ErrSkipped
		}
		return screenpop.Event{}, typ, ErrUnknownType
	}
	if typ == "ChannelVarset" {
		return d.decodeVarset(data)
	}
	if ev, ok := d.decodeFast(typ, data); ok {
		return ev, typ, nil
	}
	ev, err := d.decodeLibrary(typ, data)
	if err != nil {
		return screenpop.Event{}, typ, fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	return ev, typ, nil
}

// decodeLibrary decodes an event into the library's event type; the fast
// path (decode_fast.go) leaves it what Asterisk does not plainly write.
func (d *Decoder) decodeLibrary(typ string, data []byte) (screenpop.Event, error) {
	ev := screenpop.Event{Type: typ}
	var head *ariv5.EventData
	switch typ {
	case "ChannelCreated":
		var e ariv5.ChannelCreated
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head, ev.Kind, ev.Channel = &e.EventData, screenpop.EventChannelCreated, d.channel(&e.Channel)
	case "ChannelStateChange":
		var e ariv5.ChannelStateChange
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head, ev.Kind, ev.Channel = &e.EventData, screenpop.EventChannelUpdated, d.channel(&e.Channel)
	case "ChannelCallerId":
		var e ariv5.ChannelCallerID
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head, ev.Kind, ev.Channel = &e.EventData, screenpop.EventChannelUpdated, d.channel(&e.Channel)
		ev.Channel.Presentation = PresentationName(e.CallerPresentation)
	case "ChannelHangupRequest":
		var e ariv5.ChannelHangupRequest
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head, ev.Kind, ev.Channel, ev.Cause = &e.EventData, screenpop.EventHangupRequest, d.channel(&e.Channel), e.Cause
		ev.Soft = e.Soft
	case "ChannelDestroyed":
		var e ariv5.ChannelDestroyed
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head, ev.Kind, ev.Channel = &e.EventData, screenpop.EventChannelDestroyed, d.channel(&e.Channel)
		ev.Cause, ev.CauseText = e.Cause, e.CauseTxt
	case "Dial":
		var e ariv5.Dial
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head, ev.Kind = &e.EventData, screenpop.EventDial
		ev.Channel, ev.Peer, ev.DialStatus = d.channel(&e.Caller), d.channel(&e.Peer), e.Dialstatus
	case "ChannelEnteredBridge":
		var e ariv5.ChannelEnteredBridge
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head, ev.Kind, ev.Channel, ev.BridgeID = &e.EventData, screenpop.EventBridgeEntered, d.channel(&e.Channel), e.Bridge.ID
	case "ChannelLeftBridge":
		var e ariv5.ChannelLeftBridge
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head, ev.Kind, ev.Channel, ev.BridgeID = &e.EventData, screenpop.EventBridgeLeft, d.channel(&e.Channel), e.Bridge.ID
	case "StasisStart":
		var e ariv5.StasisStart
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head, ev.Kind, ev.Channel, ev.Args = &e.EventData, screenpop.EventStasisStart, d.channel(&e.Channel), e.Args
	case "StasisEnd":
		var e ariv5.StasisEnd
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head, ev.Kind, ev.Channel = &e.EventData, screenpop.EventStasisEnd, d.channel(&e.Channel)
	case "BridgeBlindTransfer", "BridgeAttendedTransfer":
		var err error
		if head, err = d.decodeTransfer(typ, data, &ev); err != nil {
			return ev, err
		}
	default:
		// ApplicationReplaced and the like: nothing for the tracker, but
		// the connection code wants to see them.
		var e ariv5.EventData
		if err := json.Unmarshal(data, &e); err != nil {
			return ev, err
		}
		head = &e
	}
	if head.Type != typ {
		return ev, fmt.Errorf("type field is %q", head.Type)
	}
	ev.At = time.Time(head.Timestamp)
	if ev.At.IsZero() {
		return ev, errors.New("no timestamp")
	}
	if ev.Kind != screenpop.EventUnknown && ev.Kind != screenpop.EventDial && ev.Channel.ID == "" {
		return ev, errors.New("no channel id")
	}
	if ev.Kind == screenpop.EventDial && ev.Peer.ID == "" {
		return ev, errors.New("dial without peer")
	}
	return ev, nil
}

// channel converts the library's channel type; the REST side uses it too
// (GET /channels on resync).
func (d *Decoder) channel(c *ariv5.ChannelData) screenpop.Channel {
	ch := screenpop.Channel{ID: c.ID, Name: c.Name, State: c.State}
	if c.Dialplan != nil {
		ch.Context, ch.Exten = c.Dialplan.Context, c.Dialplan.Exten
	}
	if c.Caller != nil {
		ch.CallerNumber, ch.CallerName = c.Caller.Number, c.Caller.Name
	}
	if c.ChannelVars != nil {
		ch.LinkedID = c.ChannelVars[d.LinkedIDVariable]
		ch.DID = c.ChannelVars[d.DIDVariable]
		if d.PresentationVariable != "" {
			ch.Presentation = c.ChannelVars[d.PresentationVariable]
		}
	}
	if c.Creationtime != nil {
		ch.CreatedAt = time.Unix(c.Creationtime.Seconds, int64(c.Creationtime.Nanos)).UTC()
	}
	return ch
}
