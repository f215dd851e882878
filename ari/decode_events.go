package ari

import (
	"bytes"
	"slices"

	"github.com/screenpop/screenpop/screenpop"
)

// The events that say why nobody could be reached, and who transferred a
// call to whom: ChannelVarset (DIALSTATUS, QUEUESTATUS), BridgeBlindTransfer
// and BridgeAttendedTransfer. They are rare next to the rest, except
// ChannelVarset, which is most of the events of a call: those are skipped
// by the variable's name before anything is decoded.

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

// transfer reads BridgeBlindTransfer and BridgeAttendedTransfer: the
// transferring operator's channel, and whom to whom.
func (d *Decoder) transfer(typ string, w *wireEvent) *screenpop.Transfer {
	ch := func(c *wireChannel) screenpop.Channel {
		if c == nil {
			return screenpop.Channel{}
		}
		return d.wireChannel(c)
	}
	if typ == "BridgeBlindTransfer" {
		return &screenpop.Transfer{
			Transferer: d.wireChannel(&w.Channel), Transferee: ch(w.Transferee),
			Exten: w.Exten, Context: w.Context, Result: w.Result,
		}
	}
	return &screenpop.Transfer{
		Attended:   true,
		Transferer: ch(w.TransfererFirstLeg), Consult: ch(w.TransfererSecondLeg),
		Transferee: ch(w.Transferee), Target: ch(w.TransferTarget),
		Result: w.Result,
	}
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
