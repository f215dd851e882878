package ari

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/go-json-experiment/json"

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
	if typ == "ChannelVarset" && !mentionsVariable(data) {
		return screenpop.Event{}, typ, ErrSkipped
	}
	w := wireEvents.Get().(*wireEvent)
	defer w.reuse()
	if err := json.Unmarshal(data, w); err != nil {
		return screenpop.Event{}, typ, fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	ev, err := d.event(typ, w)
	if err != nil {
		if errors.Is(err, ErrSkipped) {
			return screenpop.Event{}, typ, err
		}
		return screenpop.Event{}, typ, fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	return ev, typ, nil
}

// wireEvent is every field call tracking reads of the events it is
// allowed: the fields of the ARI library's event types (named as Asterisk
// names them), with the channels of Dial being Caller and Peer, and those
// of the transfers the four last. Fields of other types are ignored.
//
// It is decoded with github.com/go-json-experiment/json (encoding/json/v2
// to be), which matches names exactly and refuses duplicate names and
// invalid UTF-8: what Asterisk does not write is an error, not a guess.
// The README has the measures that chose it.
type wireEvent struct {
	Type               string      `json:"type"`
	Timestamp          time.Time   `json:"timestamp,format:'2006-01-02T15:04:05.000-0700'"` // ariv5.DateFormat
	Channel            wireChannel `json:"channel"`
	Caller             wireChannel `json:"caller"` // Dial's; empty when Asterisk originated the call
	Peer               wireChannel `json:"peer"`
	Cause              int         `json:"cause"`
	CauseTxt           string      `json:"cause_txt"`
	Soft               bool        `json:"soft"`
	CallerPresentation int         `json:"caller_presentation"`
	Dialstatus         string      `json:"dialstatus"`
	Dialstring         string      `json:"dialstring"`
	Bridge             struct {
		ID string `json:"id"`
	} `json:"bridge"`
	Args []string `json:"args"`
	// ChannelVarset's
	Variable string `json:"variable"`
	Value    string `json:"value"`
	// BridgeBlindTransfer's (Channel is its transferer) and BridgeAttendedTransfer's
	Transferee          *wireChannel `json:"transferee"`
	TransfererFirstLeg  *wireChannel `json:"transferer_first_leg"`
	TransfererSecondLeg *wireChannel `json:"transferer_second_leg"`
	TransferTarget      *wireChannel `json:"transfer_target"`
	Exten               string       `json:"exten"`
	Context             string       `json:"context"`
	Result              string       `json:"result"`
}

// wireEvents are decoded into again and again: an event's channels and
// their variables are most of the memory decoding takes.
var wireEvents = sync.Pool{New: func() any { return new(wireEvent) }}

// reuse empties w, keeping its channels' variable maps, and puts it back
// in wireEvents. The event made of w shares only strings and Args with it,
// which reuse lets go of rather than empties.
func (w *wireEvent) reuse() {
	vars := [...]map[string]string{w.Channel.Channelvars, w.Caller.Channelvars, w.Peer.Channelvars}
	*w = wireEvent{}
	for _, m := range vars {
		clear(m)
	}
	w.Channel.Channelvars, w.Caller.Channelvars, w.Peer.Channelvars = vars[0], vars[1], vars[2]
	wireEvents.Put(w)
}

// wireChannel is what call tracking reads of a channel (the library's
// ChannelData).
type wireChannel struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	State  string `json:"state"`
	Caller struct {
		Name   string `json:"name"`
		Number string `json:"number"`
	} `json:"caller"`
	Dialplan struct {
		Context string `json:"context"`
		Exten   string `json:"exten"`
	} `json:"dialplan"`
	Creationtime time.Time         `json:"creationtime,format:'2006-01-02T15:04:05.000-0700'"`
	Channelvars  map[string]string `json:"channelvars"`
}

// eventKinds is the screenpop kind of each allowed type.
var eventKinds = map[string]screenpop.EventKind{
	"ChannelCreated": screenpop.EventChannelCreated, "ChannelStateChange": screenpop.EventChannelUpdated,
	"ChannelCallerId": screenpop.EventChannelUpdated, "ChannelHangupRequest": screenpop.EventHangupRequest,
	"ChannelDestroyed": screenpop.EventChannelDestroyed, "Dial": screenpop.EventDial,
	"ChannelEnteredBridge": screenpop.EventBridgeEntered, "ChannelLeftBridge": screenpop.EventBridgeLeft,
	"StasisStart": screenpop.EventStasisStart, "StasisEnd": screenpop.EventStasisEnd,
	"ChannelVarset":       screenpop.EventVariable,
	"BridgeBlindTransfer": screenpop.EventTransfer, "BridgeAttendedTransfer": screenpop.EventTransfer,
	"ApplicationReplaced": screenpop.EventUnknown, // nothing for the tracker; the connection code wants it
}

// event makes the screenpop.Event of an event of type typ.
func (d *Decoder) event(typ string, w *wireEvent) (screenpop.Event, error) {
	ev := screenpop.Event{Kind: eventKinds[typ], Type: typ, At: w.Timestamp}
	switch ev.Kind {
	case screenpop.EventUnknown:
	case screenpop.EventDial:
		ev.Channel, ev.Peer, ev.DialStatus, ev.DialString = d.wireChannel(&w.Caller), d.wireChannel(&w.Peer), w.Dialstatus, w.Dialstring
	case screenpop.EventVariable:
		if !slices.Contains(Variables, w.Variable) || w.Channel.ID == "" {
			return ev, ErrSkipped // another variable, or a global one
		}
		ev.Channel, ev.Variable, ev.Value = d.wireChannel(&w.Channel), w.Variable, w.Value
	case screenpop.EventTransfer:
		ev.Transfer = d.transfer(typ, w)
		ev.Channel = ev.Transfer.Transferer
	default:
		ev.Channel = d.wireChannel(&w.Channel)
	}
	switch typ {
	case "ChannelCallerId":
		// A missing caller_presentation reads as 0, as the library reads it.
		ev.Channel.Presentation = PresentationName(w.CallerPresentation)
	case "ChannelHangupRequest":
		ev.Cause, ev.Soft = w.Cause, w.Soft
	case "ChannelDestroyed":
		ev.Cause, ev.CauseText = w.Cause, w.CauseTxt
	case "ChannelEnteredBridge", "ChannelLeftBridge":
		ev.BridgeID = w.Bridge.ID
	case "StasisStart":
		ev.Args = w.Args
	}
	switch {
	case w.Type != typ:
		return ev, fmt.Errorf("type field is %q", w.Type)
	case ev.At.IsZero():
		return ev, errors.New("no timestamp")
	case ev.Kind == screenpop.EventDial && ev.Peer.ID == "":
		return ev, errors.New("dial without peer")
	case ev.Kind != screenpop.EventUnknown && ev.Kind != screenpop.EventDial && ev.Channel.ID == "":
		return ev, errors.New("no channel id")
	}
	return ev, nil
}

// wireChannel converts a decoded channel.
func (d *Decoder) wireChannel(c *wireChannel) screenpop.Channel {
	ch := screenpop.Channel{
		ID: c.ID, Name: c.Name, State: c.State,
		Context: c.Dialplan.Context, Exten: c.Dialplan.Exten,
		CallerNumber: c.Caller.Number, CallerName: c.Caller.Name,
		LinkedID: c.Channelvars[d.LinkedIDVariable], DID: c.Channelvars[d.DIDVariable],
	}
	if d.PresentationVariable != "" {
		ch.Presentation = c.Channelvars[d.PresentationVariable]
	}
	// Years 1 to 9999 in UTC, as the library keeps it (a protobuf
	// timestamp): another is dropped, an unknown creation time.
	if t := c.Creationtime.UTC(); !t.IsZero() && 1 <= t.Year() && t.Year() <= 9999 {
		ch.CreatedAt = t
	}
	return ch
}

// channel converts the library's channel type, which the REST side
// decodes (GET /channels on resync).
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
