package decodecompare

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
)

const dateFormat = "2006-01-02T15:04:05.000-0700"

func (c *wireChannel) channel() (screenpop.Channel, error) {
	ch := screenpop.Channel{ID: c.ID, Name: c.Name, State: c.State,
		Context: c.Dialplan.Context, Exten: c.Dialplan.Exten,
		CallerNumber: c.Caller.Number, CallerName: c.Caller.Name,
		LinkedID: c.Channelvars["CHANNEL(linkedid)"], DID: c.Channelvars["FROM_DID"], Presentation: c.Channelvars["CALLERID(pres)"]}
	if c.Creationtime != "" {
		t, err := time.Parse(dateFormat, c.Creationtime)
		if err != nil {
			return ch, err
		}
		ch.CreatedAt = t.UTC()
	}
	return ch, nil
}

func toEvent(w *wireEvent, typ string) (screenpop.Event, error) {
	ev := screenpop.Event{Type: typ}
	if w.Type != typ {
		return ev, fmt.Errorf("type field is %q", w.Type)
	}
	t, err := time.Parse(dateFormat, w.Timestamp)
	if err != nil {
		return ev, err
	}
	ev.At = t
	var e1, e2 error
	switch typ {
	case "Dial":
		ev.Kind = screenpop.EventDial
		ev.Channel, e1 = w.Caller.channel()
		ev.Peer, e2 = w.Peer.channel()
		ev.DialStatus, ev.DialString = w.Dialstatus, w.Dialstring
	case "ChannelCreated":
		ev.Kind = screenpop.EventChannelCreated
		ev.Channel, e1 = w.Channel.channel()
	case "ChannelStateChange":
		ev.Kind = screenpop.EventChannelUpdated
		ev.Channel, e1 = w.Channel.channel()
	case "ChannelCallerId":
		ev.Kind = screenpop.EventChannelUpdated
		ev.Channel, e1 = w.Channel.channel()
		ev.Channel.Presentation = ari.PresentationName(w.CallerPresentation)
	case "ChannelHangupRequest":
		ev.Kind = screenpop.EventHangupRequest
		ev.Channel, e1 = w.Channel.channel()
		ev.Cause, ev.Soft = w.Cause, w.Soft
	case "ChannelDestroyed":
		ev.Kind = screenpop.EventChannelDestroyed
		ev.Channel, e1 = w.Channel.channel()
		ev.Cause, ev.CauseText = w.Cause, w.CauseTxt
	case "ChannelEnteredBridge":
		ev.Kind = screenpop.EventBridgeEntered
		ev.Channel, e1 = w.Channel.channel()
		ev.BridgeID = w.Bridge.ID
	case "ChannelLeftBridge":
		ev.Kind = screenpop.EventBridgeLeft
		ev.Channel, e1 = w.Channel.channel()
		ev.BridgeID = w.Bridge.ID
	case "StasisStart":
		ev.Kind = screenpop.EventStasisStart
		ev.Channel, e1 = w.Channel.channel()
		ev.Args = w.Args
	case "StasisEnd":
		ev.Kind = screenpop.EventStasisEnd
		ev.Channel, e1 = w.Channel.channel()
	case "ChannelVarset":
		ev.Kind = screenpop.EventVariable
		ev.Channel, e1 = w.Channel.channel()
		ev.Variable, ev.Value = w.Variable, w.Value
	case "BridgeBlindTransfer", "BridgeAttendedTransfer":
		tr := &screenpop.Transfer{Exten: w.Exten, Context: w.Context, Result: w.Result}
		ev.Kind = screenpop.EventTransfer
		if typ == "BridgeBlindTransfer" {
			tr.Transferer, e1 = w.Channel.channel()
			tr.Transferee, e2 = w.Transferee.channel()
		} else {
			tr.Attended = true
			tr.Exten, tr.Context = "", ""
			tr.Transferer, e1 = w.TransfererFirstLeg.channel()
			tr.Consult, e2 = w.TransfererSecondLeg.channel()
			tr.Transferee, _ = w.Transferee.channel()
			tr.Target, _ = w.TransferTarget.channel()
		}
		ev.Channel, ev.Transfer = tr.Transferer, tr
	}
	if err := errors.Join(e1, e2); err != nil {
		return ev, err
	}
	return ev, nil
}

var pool = sync.Pool{New: func() any { return new(wireEvent) }}

func (w *wireEvent) reuse() {
	vars := [...]map[string]string{w.Channel.Channelvars, w.Caller.Channelvars, w.Peer.Channelvars}
	*w = wireEvent{}
	for _, m := range vars {
		clear(m)
	}
	w.Channel.Channelvars, w.Caller.Channelvars, w.Peer.Channelvars = vars[0], vars[1], vars[2]
	pool.Put(w)
}
