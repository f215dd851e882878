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
	// MsgCalloutFailed: a click-to-dial call never reached the operator's
	// phone; Callout says why.
	MsgCalloutFailed = "dial.failed"
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
	// Callout is why a click-to-dial call failed (dial.failed; "dial" on
	// the wire, as the pages know it).
	Callout *CalloutFailure `json:"dial,omitempty"`
}

// PopCall is a call as an operator's page shows it.
type PopCall struct {
	ID string `json:"call_id"`
	// PBX is the box of the call (Call.PBX), left out with one box: a page
	// keys a call by both (Key), as two boxes' calls may share an ID.
	PBX    string `json:"pbx,omitempty"`
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

// Key names the call across boxes: CallKey(PBX, ID). The hub's methods
// name calls by it.
func (pc *PopCall) Key() string { return CallKey(pc.PBX, pc.ID) }

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
	callOps   map[string][]string // call key (PopCall.Key) -> operators it reached
	keep      int                 // messages kept per operator for catching up
	buffer    int                 // messages a subscriber may fall behind by
	closed    bool
	// sink, if set, is given every message (hub_mirror.go); mirror is set
	// on a hub that serves pages from another's messages.
	sink   ScreenSink
	mirror *mirror
}

type opStream struct {
	seq   uint64
	log   []*Message // the last keep messages, oldest first
	calls map[string]*PopCall
	order []string // call keys in the order they reached the operator
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
	sub := &Subscription{hub: h, operator: operator, Dropped: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		sub.c = make(chan *Message)
		sub.C = sub.c
		sub.drop()
		return sub
	}
	s := h.stream(operator)
	var snap *Message
	var missed []*Message
	if h.mirror != nil {
		snap, missed = h.mirror.replay(s, operator, since, foreign, h.buffer+h.keep)
	} else {
		snap, missed = h.catchUp(s, since, foreign)
	}
	// The page's buffer holds what it must catch up on and buffer more:
	// sized for it, an idle page holds no room for a catch-up it never
	// had (thousands of pages are open).
	sub.c = make(chan *Message, 1+len(missed)+h.buffer)
	sub.C = sub.c
	sub.c <- snap
	for _, m := range missed {
		sub.c <- m
	}
	s.subs[sub] = true
	return sub
}

// catchUp is a new page's snapshot of the operator's ringing and active
// calls, and the kept messages after since; h.mu is held.
func (h *Hub) catchUp(s *opStream, since uint64, foreign bool) (*Message, []*Message) {
	snap := &Message{V: MessageVersion, Seq: s.seq, Type: MsgSnapshot, At: time.Now().UTC(), Calls: []PopCall{}}
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
	return snap, missed
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
	if h.sink != nil {
		h.sink.Screen(op, m)
	}
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
	key := call.Key()
	pc := s.calls[key]
	if pc != nil && pc.State == StateRinging {
		return // already popped (a queue ringing again)
	}
	if pc == nil {
		s.order = append(s.order, key)
		h.callOps[key] = append(h.callOps[key], operator)
	}
	call.State = StateRinging
	s.calls[key] = &call
	h.publish(operator, MsgOffered, &call, "")
}

// UpdateCard replaces the card of a call (named by its key, PopCall.Key)
// on every screen it is on.
func (h *Hub) UpdateCard(key string, card Card) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range h.callOps[key] {
		pc := h.operators[op].calls[key]
		pc.Card = card
		if pc.State == StateRinging || pc.State == StateActive {
			h.publish(op, MsgCard, pc, "")
		}
	}
}

// Answered tells every operator the call reached that by took it: theirs
// becomes active, the others' pops are withdrawn.
func (h *Hub) Answered(key, by string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range h.callOps[key] {
		pc := h.operators[op].calls[key]
		if !answeredState(pc, op, by) {
			continue
		}
		h.publish(op, MsgAnswered, pc, by)
	}
}

// Missed tells the operator their phone stopped ringing unanswered.
func (h *Hub) Missed(operator, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.operators[operator]
	if s == nil || s.calls[key] == nil || s.calls[key].State != StateRinging {
		return
	}
	pc := s.calls[key]
	pc.State = StateMissed
	h.publish(operator, MsgMissed, pc, "")
}

// Ended tells every operator the call reached that it is over, and
// forgets it.
func (h *Hub) Ended(key string, status Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range h.callOps[key] {
		s := h.operators[op]
		pc := s.calls[key]
		pc.State, pc.Status = StateEnded, status
		h.publish(op, MsgEnded, pc, "")
		delete(s.calls, key)
		s.order = slices.DeleteFunc(s.order, func(id string) bool { return id == key })
	}
	delete(h.callOps, key)
}

// DialFailed tells the operator's pages that their click-to-dial call did
// not reach their phone.
func (h *Hub) CalloutFailed(operator string, f CalloutFailure) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.send(operator, Message{Type: MsgCalloutFailed, Callout: &f})
}
