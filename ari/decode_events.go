package ari

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// The events that say why nobody could be reached, and who transferred a
// call to whom: ChannelVarset (DIALSTATUS, QUEUESTATUS), BridgeBlindTransfer
// and BridgeAttendedTransfer. They are rare next to the rest, except
// ChannelVarset, which is most of the events of a call: those are skipped
// by the variable's name before anything is decoded.

// libraryOnly are the allowed types the fast path leaves to the library.
var libraryOnly = map[string]bool{"ChannelVarset": true, "BridgeBlindTransfer": true, "BridgeAttendedTransfer": true}

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

// mentionsVariable reports whether the event may set one of Variables:
// Asterisk writes `"variable":"NAME"`; anything written otherwise is
// decoded properly to be sure.
func mentionsVariable(data []byte) bool {
	i := bytes.Index(data, []byte(`"variable":"`))
	if i < 0 {
		return true
	}
	rest := data[i+len(`"variable":"`):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return true
	}
	return slices.Contains(Variables, string(rest[:j]))
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

// PresentationName is CALLERID(pres)'s word for a caller ID presentation
// number (ChannelCallerId's caller_presentation, Q.931's screening and
// presentation bits).
func PresentationName(pres int) string {
	switch pres {
	case 0x00:
		return "allowed_not_screened"
	case 0x01:
		return "allowed_passed_screen"
	case 0x02:
		return "allowed_failed_screen"
	case 0x03:
		return "allowed"
	case 0x20:
		return "prohib_not_screened"
	case 0x21:
		return "prohib_passed_screen"
	case 0x22:
		return "prohib_failed_screen"
	case 0x23:
		return "prohib"
	}
	switch pres & 0x60 {
	case 0x20:
		return "prohib"
	case 0x40:
		return "unavailable"
	}
	return "allowed"
}

// MetricType is the label an event type is counted under: its own name
// when the ARI library knows it, else "unknown", so that a peer sending
// made-up types cannot grow the metrics without bound.
func MetricType(typ string) string {
	if knownTypes[typ] {
		return typ
	}
	return "unknown"
}
