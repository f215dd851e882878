package ari

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// The decoder as it was before it read the events into its own structs:
// every event through the ARI library's event types with encoding/json
// (less a hand-written fast path that agreed with it). It is the
// reference the agreement tests hold Decode to.

// libraryDecode is Decode the library's way.
func (d *Decoder) libraryDecode(data []byte) (screenpop.Event, string, error) {
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
	ev, err := d.decodeLibrary(typ, data)
	if err != nil {
		return screenpop.Event{}, typ, fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	return ev, typ, nil
}

// decodeLibrary decodes an event into the library's event type:
// the reference for Decode.
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
		ev.Channel, ev.Peer, ev.DialStatus, ev.DialString = d.channel(&e.Caller), d.channel(&e.Peer), e.Dialstatus, e.Dialstring
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

// decodeVarset decodes a ChannelVarset of one of Variables into an
// EventVariable; every other variable, and global ones, are ErrSkipped.
func (d *Decoder) decodeVarset(data []byte) (screenpop.Event, string, error) {
	const typ = "ChannelVarset"
	if !mentionsVariable(data) {
		return screenpop.Event{}, typ, ErrSkipped
	}
	var e ariv5.ChannelVarset
	if err := json.Unmarshal(data, &e); err != nil {
		return screenpop.Event{}, typ, fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	if !slices.Contains(Variables, e.Variable) || e.Channel.ID == "" {
		return screenpop.Event{}, typ, ErrSkipped
	}
	if e.Type != typ {
		return screenpop.Event{}, typ, fmt.Errorf("%w: %s: type field is %q", ErrMalformed, typ, e.Type)
	}
	at := time.Time(e.Timestamp)
	if at.IsZero() {
		return screenpop.Event{}, typ, fmt.Errorf("%w: %s: no timestamp", ErrMalformed, typ)
	}
	return screenpop.Event{
		Kind: screenpop.EventVariable, Type: typ, At: at,
		Channel: d.channel(&e.Channel), Variable: e.Variable, Value: e.Value,
	}, typ, nil
}

// decodeTransfer decodes BridgeBlindTransfer and BridgeAttendedTransfer
// into an EventTransfer whose Channel is the transferring operator's.
func (d *Decoder) decodeTransfer(typ string, data []byte, ev *screenpop.Event) (*ariv5.EventData, error) {
	tr := &screenpop.Transfer{}
	var head *ariv5.EventData
	if typ == "BridgeBlindTransfer" {
		var e ariv5.BridgeBlindTransfer
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, err
		}
		head = &e.EventData
		tr.Transferer, tr.Transferee = d.channel(&e.Channel), d.channel(&e.Transferee)
		tr.Exten, tr.Context, tr.Result = e.Exten, e.Context, e.Result
	} else {
		var e ariv5.BridgeAttendedTransfer
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, err
		}
		head = &e.EventData
		tr.Attended = true
		tr.Transferer, tr.Consult = d.channel(&e.TransfererFirstLeg), d.channel(&e.TransfererSecondLeg)
		tr.Transferee, tr.Target = d.channel(&e.Transferee), d.channel(&e.TransferTarget)
		tr.Result = e.Result
	}
	ev.Kind, ev.Channel, ev.Transfer = screenpop.EventTransfer, tr.Transferer, tr
	return head, nil
}
