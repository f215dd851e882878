package screenpop

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"
	"sync"
	"time"
)

// MessageVersion is the version of the operator message format; a page
// that sees another version reloads.
const MessageVersion = 1

// Message types sent to an operator's page.
const (
	// MsgOffered: the operator's phone rings; the pop, with the card as
	// far as it is known.
	MsgOffered = "call.offered"
	// MsgCard: the card of a call on the operator's screen changed (the
	// lookup answered).
	MsgCard = "call.card"
	// MsgAnswered: someone answered the call; if not this operator, the
	// pop is withdrawn ("taken by operator 102").
	MsgAnswered = "call.answered"
	// MsgMissed: the operator's phone stopped ringing and nobody answered
	// there or elsewhere (yet).
	MsgMissed = "call.missed"
	// MsgEnded: the call is over; Status says how.
	MsgEnded = "call.ended"
	// MsgSnapshot: sent first on every connection: the operator's ringing
	// and active calls.
	MsgSnapshot = "snapshot"
	// MsgDialFailed: a click-to-dial call never reached the operator's
	// phone; Dial says why.
	MsgDialFailed = "dial.failed"
)

// Message is one message to an operator's page.
type Message struct {
	V    int       `json:"v"`
	Seq  uint64    `json:"seq"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Call *PopCall  `json:"call,omitempty"`
	// By is the operator who answered (call.answered).
	By string `json:"by,omitempty"`
	// Calls is the snapshot's calls.
	Calls []PopCall `json:"calls,omitempty"`
	// Reset is set on a snapshot when messages after the page's last
	// sequence number are no longer kept: the snapshot replaces all.
	Reset bool `json:"reset,omitempty"`
	// Dial is why a click-to-dial call failed (dial.failed).
	Dial *DialFailure `json:"dial,omitempty"`
}

// PopCall is a call as an operator's page shows it.
type PopCall struct {
	ID     string `json:"call_id"`
	Caller string `json:"caller"`
	DID    string `json:"did"`
	// State for this operator: ringing, active (talking to them), taken
	// (answered by someone else), missed, ended.
	State      string    `json:"state"`
	AnsweredBy string    `json:"answered_by,omitempty"`
	Status     Status    `json:"status,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	Card       Card      `json:"card"`

	// TransferredTo is who this operator transferred the caller to (state
	// transferred): an operator, or an extension until someone answers
	// there; TransferredFrom is who transferred the caller to this one.
	TransferredTo   string `json:"transferred_to,omitempty"`
	TransferredFrom string `json:"transferred_from,omitempty"`
}

// Call states on an operator's page.
const (
	StateRinging = "ringing"
	StateActive  = "active"
	StateTaken   = "taken"
	StateMissed  = "missed"
	StateEnded   = "ended"
	// StateTransferred: the operator talked to the caller and handed them
	// on (TransferredTo).
	StateTransferred = "transferred"
)

// Hub keeps each operator's stream of messages and fans it out to the
// operator's open pages. It never blocks on a page: a subscriber that does
// not keep up is dropped, and its page reconnects and catches up from its
// last sequence number.
type Hub struct {
	epoch     string // names this hub's run: see Epoch
	mu        sync.Mutex
	operators map[string]*opStream
	callOps   map[string][]string // call ID -> operators it reached
	keep      int                 // messages kept per operator for catching up
	buffer    int                 // messages a subscriber may fall behind by
	closed    bool
}

type opStream struct {
	seq   uint64
	log   []*Message // the last keep messages, oldest first
	calls map[string]*PopCall
	order []string // call IDs in the order they reached the operator
	subs  map[*Subscription]bool
}

// Subscription is one open page of an operator.
type Subscription struct {
	// C carries the messages; they are shared by every page of the
	// operator and must not be changed.
	C        <-chan *Message
	c        chan *Message
	hub      *Hub
	operator string
	once     sync.Once
	// Dropped is closed when the hub drops the subscriber for being slow
	// (or the hub closes); C is closed then too.
	Dropped chan struct{}
}

// NewHub returns a hub keeping keep messages per operator for pages that
// reconnect, and letting a page fall behind by at most buffer messages.
func NewHub(keep, buffer int) *Hub {
	if keep <= 0 {
		keep = 256
	}
	if buffer <= 0 {
		buffer = 64
	}
	return &Hub{epoch: newEpoch(), operators: map[string]*opStream{}, callOps: map[string][]string{}, keep: keep, buffer: buffer}
}

// newEpoch names a hub's run: the start time, which orders runs for a
// reader, and random bits, which set apart two started in one instant.
func newEpoch() string {
	var b [4]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return strconv.FormatInt(time.Now().UnixMilli(), 36) + "-" + hex.EncodeToString(b[:])
}

// Epoch names this hub's run. Sequence numbers count from 1 in each run:
// a page whose last sequence number belongs to another epoch (an earlier
// daemon) cannot catch up from it, and Resume tells it to start afresh.
func (h *Hub) Epoch() string { return h.epoch }

func (h *Hub) stream(op string) *opStream {
	s := h.operators[op]
	if s == nil {
		s = &opStream{calls: map[string]*PopCall{}, subs: map[*Subscription]bool{}}
		h.operators[op] = s
	}
	return s
}

// Subscribe opens a page for operator. The first message on C is a
// snapshot of the operator's ringing and active calls, followed by every
// message after since (the last sequence number the page saw; 0 for a new
// page) that is still kept, then live messages.
func (h *Hub) Subscribe(operator string, since uint64) *Subscription {
	return h.subscribe(operator, since, false)
}

// Resume is Subscribe for a page that says which epoch its since belongs
// to ("" if it does not know). A since of another epoch, or beyond any
// number this run has given the operator, is from an earlier daemon: the
// snapshot comes with Reset, and no old message follows, so the page
// drops what it had and starts from the snapshot.
func (h *Hub) Resume(operator, epoch string, since uint64) *Subscription {
	return h.subscribe(operator, since, epoch != "" && epoch != h.epoch)
}

func (h *Hub) subscribe(operator string, since uint64, foreign bool) *Subscription {
	c := make(chan *Message, h.buffer+h.keep+1)
	sub := &Subscription{C: c, c: c, hub: h, operator: operator, Dropped: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		sub.drop()
		return sub
	}
	s := h.stream(operator)
	snap := Message{V: MessageVersion, Seq: s.seq, Type: MsgSnapshot, At: time.Now().UTC(), Calls: []PopCall{}}
	for _, id := range s.order {
		if pc := s.calls[id]; pc.State == StateRinging || pc.State == StateActive {
			snap.Calls = append(snap.Calls, clonePop(pc))
		}
	}
	var missed []*Message
	if foreign || since > s.seq {
		snap.Reset = true
	} else if since < s.seq {
		if len(s.log) > 0 && s.log[0].Seq <= since+1 {
			for _, m := range s.log {
				if m.Seq > since {
					missed = append(missed, m)
				}
			}
		} else if since > 0 {
			snap.Reset = true
		}
	}
	c <- &snap
	for _, m := range missed {
		c <- m
	}
	s.subs[sub] = true
	return sub
}

// Close ends the subscription (the page went away).
func (sub *Subscription) Close() {
	sub.hub.mu.Lock()
	defer sub.hub.mu.Unlock()
	if s := sub.hub.operators[sub.operator]; s != nil {
		delete(s.subs, sub)
	}
	sub.drop()
}

func (sub *Subscription) drop() {
	sub.once.Do(func() {
		close(sub.Dropped)
		close(sub.c)
	})
}

// publish gives the operator the next message about pc; h.mu is held.
func (h *Hub) publish(op string, typ string, pc *PopCall, by string) {
	m := Message{Type: typ, By: by}
	if pc != nil {
		cp := clonePop(pc)
		m.Call = &cp
	}
	h.send(op, m)
}

// send numbers m as the operator's next message, keeps it and hands it
// to their pages; h.mu is held.
func (h *Hub) send(op string, msg Message) {
	s := h.stream(op)
	s.seq++
	msg.V, msg.Seq, msg.At = MessageVersion, s.seq, time.Now().UTC()
	// One copy, shared by the log and every page: buffers of pointers keep
	// the garbage collector's work small with a thousand pages open.
	m := &msg
	s.log = append(s.log, m)
	if len(s.log) > h.keep {
		s.log = s.log[len(s.log)-h.keep:]
	}
	for sub := range s.subs {
		select {
		case sub.c <- m:
		default:
			// Too slow: drop it rather than hold up anyone else. Its page
			// reconnects with its last sequence number.
			delete(s.subs, sub)
			sub.drop()
		}
	}
}

// clonePop copies a call so that messages already sent never change.
func clonePop(pc *PopCall) PopCall {
	cp := *pc
	// The card is replaced wholesale on update, never mutated in place,
	// so sharing its slices is safe.
	return cp
}

// Subscribers is the number of open pages, for metrics.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.operators {
		n += len(s.subs)
	}
	return n
}

// Online reports whether the operator has a page open.
func (h *Hub) Online(operator string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.operators[operator]
	return s != nil && len(s.subs) > 0
}

// Close drops every page, for shutdown.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, s := range h.operators {
		for sub := range s.subs {
			sub.drop()
		}
		s.subs = map[*Subscription]bool{}
	}
}

// Offer pops call on the operator's screen: their phone rings.
func (h *Hub) Offer(operator string, call PopCall) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stream(operator)
	pc := s.calls[call.ID]
	if pc != nil && pc.State == StateRinging {
		return // already popped (a queue ringing again)
	}
	if pc == nil {
		s.order = append(s.order, call.ID)
		h.callOps[call.ID] = append(h.callOps[call.ID], operator)
	}
	call.State = StateRinging
	s.calls[call.ID] = &call
	h.publish(operator, MsgOffered, &call, "")
}

// UpdateCard replaces the card of a call on every screen it is on.
func (h *Hub) UpdateCard(callID string, card Card) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range h.callOps[callID] {
		pc := h.operators[op].calls[callID]
		pc.Card = card
		if pc.State == StateRinging || pc.State == StateActive {
			h.publish(op, MsgCard, pc, "")
		}
	}
}

// Answered tells every operator the call reached that by took it: theirs
// becomes active, the others' pops are withdrawn.
func (h *Hub) Answered(callID, by string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range h.callOps[callID] {
		pc := h.operators[op].calls[callID]
		if !answeredState(pc, op, by) {
			continue
		}
		h.publish(op, MsgAnswered, pc, by)
	}
}

// Missed tells the operator their phone stopped ringing unanswered.
func (h *Hub) Missed(operator, callID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.operators[operator]
	if s == nil || s.calls[callID] == nil || s.calls[callID].State != StateRinging {
		return
	}
	pc := s.calls[callID]
	pc.State = StateMissed
	h.publish(operator, MsgMissed, pc, "")
}

// Ended tells every operator the call reached that it is over, and
// forgets it.
func (h *Hub) Ended(callID string, status Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range h.callOps[callID] {
		s := h.operators[op]
		pc := s.calls[callID]
		pc.State, pc.Status = StateEnded, status
		h.publish(op, MsgEnded, pc, "")
		delete(s.calls, callID)
		s.order = slices.DeleteFunc(s.order, func(id string) bool { return id == callID })
	}
	delete(h.callOps, callID)
}

// DialFailed tells the operator's pages that their click-to-dial call did
// not reach their phone.
func (h *Hub) DialFailed(operator string, f DialFailure) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.send(operator, Message{Type: MsgDialFailed, Dial: &f})
}
