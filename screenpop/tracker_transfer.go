package screenpop

import (
	"fmt"
	"slices"
	"time"
)

// Transfers. An operator who talks to the caller can hand them on:
//
//   - blind: the operator's phone sends the caller to an extension; the
//     caller's channel leaves the bridge, runs the dialplan there and
//     dials the new phone itself (Asterisk: BridgeBlindTransfer, then a
//     Dial from the caller's channel, which offers the call as any dial
//     does);
//   - attended: the operator calls the target first from a second channel
//     of their phone, then completes: Asterisk moves the caller into the
//     target's bridge or the target into the caller's (ChannelEnteredBridge),
//     hangs the operator's two channels up, and reports
//     BridgeAttendedTransfer with the two legs, the caller (transferee)
//     and the target.
//
// Either way whoever talks to the caller next takes the call over: the
// tracker adds them to TalkedTo and tells the observers, with the operator
// the caller came from (Notice.From); the pops follow from that, whichever
// of the bridge and transfer events comes first.

// transferRecord is one transfer, for the classification.
type transferRecord struct {
	attended bool
	from     string // the operator who transferred
	to       string // the operator, or the extension a blind transfer sent the caller to
	result   string
}

// transfer handles BridgeBlindTransfer and BridgeAttendedTransfer.
func (t *Tracker) transfer(ev Event) {
	tr := ev.Transfer
	if tr == nil {
		return
	}
	c := t.transferCall(tr)
	if c == nil || c.ended || c.out != nil {
		return
	}
	c.lastEvent = ev.At
	from := t.cfg.Operators.Operator(tr.Transferer.Name)
	rec := transferRecord{attended: tr.Attended, from: from, result: tr.Result}
	if tr.Result != "" && tr.Result != "Success" {
		rec.to = tr.Exten
		c.transfers = append(c.transfers, rec)
		return
	}
	if !tr.Attended {
		rec.to = tr.Exten
		c.transfers = append(c.transfers, rec)
		n := t.notice(c, NoticeTransferred)
		n.Operator, n.To = from, tr.Exten
		t.obs.Notice(n)
		return
	}
	target := tr.Target
	if target.ID == "" {
		target = t.consulted(tr.Consult, from)
	}
	rec.to = t.cfg.Operators.Operator(target.Name)
	c.transfers = append(c.transfers, rec)
	if rec.to == "" {
		return // transferred to no operator's phone (an outside number)
	}
	if l := t.legs[target.ID]; l == nil {
		l = t.join(c, target, false, ev.At)
		l.how = legBridged
	}
	t.talkedTo(c, rec.to, ev.At)
}

// transferCall is the call a transfer is about: the one the transferring
// operator's leg, or the caller's, belongs to.
func (t *Tracker) transferCall(tr *Transfer) *call {
	for _, ch := range []Channel{tr.Transferer, tr.Transferee, tr.Consult} {
		if l := t.legs[ch.ID]; ch.ID != "" && l != nil && l.call.out == nil {
			return l.call
		}
	}
	return nil
}

// consulted is the phone the operator's consult channel talks to: the
// other operator's channel in its bridge.
func (t *Tracker) consulted(consult Channel, from string) Channel {
	for _, m := range t.bridges {
		if _, ok := m[consult.ID]; !ok {
			continue
		}
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if op := t.cfg.Operators.Operator(m[id].Name); id != consult.ID && op != "" && op != from {
				return m[id]
			}
		}
	}
	return Channel{}
}

// bridgedOperator makes an operator's channel found in the caller's bridge
// without being dialled by the call a leg of it: the target of an
// attended transfer. The transferring operator's own consult channel may
// be there too for a moment: an operator who already talked to the caller
// is not a new talker by being bridged (a transfer back to them is told
// by the transfer event).
func (t *Tracker) bridgedOperator(c *call, member Channel, at time.Time) {
	op := t.cfg.Operators.Operator(member.Name)
	if op == "" {
		return
	}
	l := t.join(c, member, false, at)
	l.how = legBridged
	if slices.Contains(c.rec.TalkedTo, op) {
		return
	}
	if c.rec.AnsweredBy == nil && c.spanned {
		// The first answer, told by the bridge, not by the Dial: the
		// Dial that answered was lost with events of a call that was in
		// progress at a resync, and the bridge comes after it.
		addGap(c, GapAnswer)
	}
	t.talkedTo(c, op, at)
}

// transferWords says what each transfer did, for the classification.
func transferWords(c *call) []string {
	words := make([]string, 0, len(c.transfers))
	for _, tr := range c.transfers {
		kind := "blind"
		if tr.attended {
			kind = "attended"
		}
		to := tr.to
		switch {
		case to == "":
			to = "a phone that is no operator's"
		case !tr.attended:
			to = "extension " + to
		}
		w := fmt.Sprintf("transfer (%s): operator %s transferred the caller to %s", kind, tr.from, to)
		if tr.result != "" && tr.result != "Success" {
			w += "; Asterisk says it did not succeed: " + tr.result
		}
		words = append(words, w)
	}
	return words
}
