package screenpop

import (
	"slices"
	"time"
)

// In a cluster, the operators' screens are made on one replica and shown
// on any: the holder of a box has a hub of its own that decides every
// message as a single daemon's does, and gives each to a ScreenSink (the
// screens stream, which keeps the latest message of each call for each
// operator and numbers them all); every replica serves its pages from a
// mirror hub that applies those messages as the stream numbers them. A
// page's last sequence number then means the same on every replica, so a
// page that reconnects to another gets a snapshot and every message after
// it, as from one daemon.

// ScreenSink is given every message a hub makes for an operator.
type ScreenSink interface {
	// Screen takes m, the operator's next message. It must not block
	// long: the hub's lock is held.
	Screen(operator string, m *Message)
}

// SendTo has the hub give every message it makes to sink as well. Call
// it before the hub is used.
func (h *Hub) SendTo(sink ScreenSink) { h.sink = sink }

// mirror is a mirror hub's memory: the latest message of each call for
// each operator, to replay to a page that reconnects.
type mirror struct {
	keep int
	ops  map[string]*mirrorOp
}

type mirrorOp struct {
	latest map[string]*Message // by call key (PopCall.Key); dial failures by channel
	// pruned is the highest sequence number forgotten: a page whose last
	// number is below it cannot be caught up and starts afresh.
	pruned uint64
}

// NewMirrorHub returns a hub serving pages the messages given to Apply,
// numbered as they come. epoch names the numbering: every replica
// mirroring one stream uses the same. keep is how many calls per
// operator it remembers for pages that reconnect (0: 256), buffer how far
// a page may fall behind (0: 64).
func NewMirrorHub(epoch string, keep, buffer int) *Hub {
	h := NewHub(keep, buffer)
	h.epoch = epoch
	h.mirror = &mirror{keep: h.keep, ops: map[string]*mirrorOp{}}
	return h
}

func mirrorKey(m *Message) string {
	switch {
	case m.Call != nil:
		return m.Call.Key()
	case m.Callout != nil:
		return "dial:" + m.Callout.ChannelID
	}
	return ""
}

// Apply gives the operator's pages m, numbered m.Seq. A message older
// than one already applied for its call is dropped: the stream's replay
// and its live copies may cross.
func (h *Hub) Apply(operator string, m *Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.mirror == nil {
		return
	}
	s := h.stream(operator)
	mo := h.mirror.ops[operator]
	if mo == nil {
		mo = &mirrorOp{latest: map[string]*Message{}}
		h.mirror.ops[operator] = mo
	}
	key := mirrorKey(m)
	if old := mo.latest[key]; old != nil && old.Seq >= m.Seq {
		return
	}
	mo.latest[key] = m
	s.seq = max(s.seq, m.Seq)
	if pc := m.Call; pc != nil {
		key := pc.Key()
		if m.Type == MsgEnded {
			delete(s.calls, key)
			s.order = slices.DeleteFunc(s.order, func(id string) bool { return id == key })
		} else {
			if s.calls[key] == nil {
				s.order = append(s.order, key)
			}
			cp := *pc
			s.calls[key] = &cp
		}
	}
	if len(mo.latest) > h.mirror.keep+h.mirror.keep/4 {
		h.mirror.prune(s, mo)
	}
	for sub := range s.subs {
		select {
		case sub.c <- m:
		default:
			delete(s.subs, sub)
			sub.drop()
		}
	}
}

// prune forgets the oldest messages of calls no longer on the screen
// until keep are left.
func (mr *mirror) prune(s *opStream, mo *mirrorOp) {
	var old []*Message
	for _, m := range mo.latest {
		if m.Call == nil || s.calls[m.Call.Key()] == nil {
			old = append(old, m)
		}
	}
	slices.SortFunc(old, func(a, b *Message) int { return compareSeq(a.Seq, b.Seq) })
	for _, m := range old {
		if len(mo.latest) <= mr.keep {
			break
		}
		delete(mo.latest, mirrorKey(m))
		mo.pruned = max(mo.pruned, m.Seq)
	}
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// replay is a new page's snapshot and the latest message of each call
// changed after since, if there are no more than most of them (else the
// page starts afresh from the snapshot); h.mu is held.
func (mr *mirror) replay(s *opStream, operator string, since uint64, foreign bool, most int) (*Message, []*Message) {
	snap := &Message{V: MessageVersion, Seq: s.seq, Type: MsgSnapshot, At: time.Now().UTC(), Calls: []PopCall{}}
	for _, id := range s.order {
		if pc := s.calls[id]; pc.State == StateRinging || pc.State == StateActive {
			snap.Calls = append(snap.Calls, clonePop(pc))
		}
	}
	var missed []*Message
	if mo := mr.ops[operator]; mo != nil && !foreign {
		for _, m := range mo.latest {
			if m.Seq > since {
				missed = append(missed, m)
			}
		}
		if since > 0 && since < mo.pruned || len(missed) > most {
			missed, snap.Reset = nil, true
		}
	}
	// A page's number from another numbering (a single daemon's, or a
	// stream since recreated) cannot be caught up from.
	snap.Reset = snap.Reset || foreign
	slices.SortFunc(missed, func(a, b *Message) int { return compareSeq(a.Seq, b.Seq) })
	return snap, missed
}

// Restore puts a call as the operator's last message showed it back on
// the operator's screen, without sending anything: a replica that takes a
// box over picks its operators' screens up where the old holder left
// them, so that the next change of a call reaches every operator it
// reached.
func (h *Hub) Restore(operator string, m *Message) {
	if m.Call == nil || m.Type == MsgEnded {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stream(operator)
	id := m.Call.Key()
	if s.calls[id] == nil {
		s.order = append(s.order, id)
		if !slices.Contains(h.callOps[id], operator) {
			h.callOps[id] = append(h.callOps[id], operator)
		}
	}
	cp := *m.Call
	s.calls[id] = &cp
}

// DropSubscribers ends every page's subscription, as a slow page's is:
// the page is closed with 1013 and reconnects, catching up from its last
// sequence number, to another replica while this one cannot serve it (a
// replica that lost NATS). It returns how many were dropped.
func (h *Hub) DropSubscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.operators {
		for sub := range s.subs {
			delete(s.subs, sub)
			sub.drop()
			n++
		}
	}
	return n
}
