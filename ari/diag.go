package ari

import (
	"bytes"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Diagnostics: what the client and its intake remember for the admin page
// (the connection, its recent errors, the last events received). The
// intake handles every event Asterisk sends, 100k+ a second on a big PBX,
// so what it keeps per event is a few fixed fields, formatted only when
// someone asks.

// How much is kept.
const (
	keepErrors = 20
	keepEvents = 50
	// eventHead is how much of an event not decoded (skipped, unknown,
	// malformed) is kept to find its channel's name in: Asterisk writes
	// the channel near the start, within 300 bytes in every recorded trace.
	eventHead = 384
)

// Kinds of error the client records.
const (
	ErrorConnect   = "connect"   // the events websocket could not be opened or resynced
	ErrorAuth      = "auth"      // Asterisk rejected the username or password
	ErrorSocket    = "socket"    // a connected events websocket broke
	ErrorFilter    = "filter"    // the event filter could not be set: all events are sent
	ErrorMalformed = "malformed" // an event could not be decoded
	ErrorOverload  = "overload"  // call tracking was behind and an event was dropped
	ErrorReplaced  = "replaced"  // another client took over the application name
)

// DiagError is one thing that went wrong with the ARI connection. The
// same error again right after is counted rather than repeated: a PBX
// that stays down fills no list.
type DiagError struct {
	Kind string
	Text string
	// First and Last are when it happened first and last; Count how often.
	First, Last time.Time
	Count       int
}

// Diagnostics is the state of the ARI connection.
type Diagnostics struct {
	URL          string // the ARI base URL, never with credentials
	App          string
	SubscribeAll bool
	// Connected: the events websocket is up and call tracking resynced.
	Connected bool
	// Replaced: another client took over the application name; no events
	// come until the next connection.
	Replaced bool
	// Since is when the connection came up, or, while it is down, since
	// when it has been (zero before Run).
	Since      time.Time
	Reconnects int
	// Failures counts the attempts that failed since the last connection.
	Failures int
	// Errors are the recent errors, newest first.
	Errors []DiagError
}

// diag is the client's connection state and error list; any goroutine.
type diag struct {
	mu        sync.Mutex
	connected bool
	since     time.Time
	everUp    bool
	reconnect int
	failures  int
	errs      [keepErrors]DiagError
	n         int // errors kept; errs[(n-1)%keepErrors] is the newest
}

func (d *diag) starting(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.since.IsZero() {
		d.since = now
	}
}

// up records a connection, and reports whether it is a reconnect.
func (d *diag) up(now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	again := d.everUp
	if again {
		d.reconnect++
	}
	d.everUp, d.connected, d.since, d.failures = true, true, now, 0
	return again
}

// down records that a connection ended or an attempt failed, with why.
func (d *diag) down(now time.Time, wasUp bool, err error) {
	kind := ErrorConnect
	var se *StatusError
	switch {
	case wasUp:
		kind = ErrorSocket
	case errors.As(err, &se) && se.Code == http.StatusUnauthorized:
		kind = ErrorAuth
	}
	d.mu.Lock()
	if wasUp || d.connected {
		d.since = now
	}
	d.connected = false
	if !wasUp {
		d.failures++
	}
	d.mu.Unlock()
	if err != nil {
		d.record(now, kind, err.Error())
	}
}

// record adds an error, or counts it again if it repeats the newest.
func (d *diag) record(now time.Time, kind, text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n > 0 {
		last := &d.errs[(d.n-1)%keepErrors]
		if last.Kind == kind && last.Text == text {
			last.Last = now
			last.Count++
			return
		}
	}
	d.errs[d.n%keepErrors] = DiagError{Kind: kind, Text: text, First: now, Last: now, Count: 1}
	d.n++
}

// Diagnostics returns the connection's state and recent errors: a copy,
// safe to call from any goroutine.
func (c *Client) Diagnostics() Diagnostics {
	d := &c.diag
	d.mu.Lock()
	defer d.mu.Unlock()
	out := Diagnostics{
		URL: c.base.String(), App: c.cfg.App, SubscribeAll: c.cfg.SubscribeAll,
		Connected: d.connected, Replaced: c.in.Replaced(), Since: d.since,
		Reconnects: d.reconnect, Failures: d.failures,
		Errors: make([]DiagError, 0, min(d.n, keepErrors)),
	}
	for i := d.n - 1; i >= 0 && i >= d.n-keepErrors; i-- {
		out.Errors = append(out.Errors, d.errs[i%keepErrors])
	}
	return out
}

// What became of an event the intake received (RecentEvent.Result).
const (
	EventUsed      = "used"      // handed to call tracking (or acted on)
	EventSkipped   = "skipped"   // a known type call tracking does not use
	EventUnknown   = "unknown"   // a type the ARI library does not know
	EventMalformed = "malformed" // not decodable
	EventDropped   = "dropped"   // call tracking was behind
)

// RecentEvent is one event the intake received.
type RecentEvent struct {
	At   time.Time // when it was received
	Type string
	// Channel is the channel the event is about, as far as it could be
	// read: for a Dial, the dialling one (empty for an originate).
	Channel string
	// Peer is the dialled channel of a Dial.
	Peer string
	// Detail is what the event says of it: a Dial's status, the state a
	// channel changed to, why a channel was destroyed.
	Detail string
	Result string
}

// eventRing keeps the last keepEvents events. Feed writes it once per
// event, so a slot is plain fields and a copy of the event's first bytes,
// never anything allocated.
type eventRing struct {
	mu    sync.Mutex
	n     uint64
	slots [keepEvents]eventSlot
}

type eventSlot struct {
	at            time.Time
	typ           string // the decoder's string: no copy
	result        string // one of the Event constants
	channel, peer string // decoded events: the decoder's strings
	detail        string
	head          [eventHead]byte
	headLen       int // undecoded events: their first bytes, for the channel's name
}

// add records an event. Decoded events give their channel names; the
// others keep their first bytes.
func (r *eventRing) add(at time.Time, typ, result, channel, peer, detail string, raw []byte) (seq uint64) {
	r.mu.Lock()
	seq = r.n
	s := &r.slots[r.n%keepEvents]
	r.n++
	s.at, s.typ, s.result, s.channel, s.peer, s.detail = at, typ, result, channel, peer, detail
	s.headLen = 0
	if raw != nil {
		s.headLen = copy(s.head[:], raw)
	}
	r.mu.Unlock()
	return seq
}

// mark changes the result of the event added as seq, unless newer ones
// have taken its place.
func (r *eventRing) mark(seq uint64, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n-seq <= keepEvents {
		r.slots[seq%keepEvents].result = result
	}
}

// RecentEvents returns the last events received, newest first: a copy,
// safe to call from any goroutine.
func (in *Intake) RecentEvents() []RecentEvent {
	r := in.recent
	if r == nil {
		return []RecentEvent{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(r.n, keepEvents)
	out := make([]RecentEvent, 0, n)
	for i := uint64(0); i < n; i++ {
		s := &r.slots[(r.n-1-i)%keepEvents]
		ev := RecentEvent{At: s.at, Type: s.typ, Channel: s.channel, Peer: s.peer, Detail: s.detail, Result: s.result}
		if ev.Channel == "" && s.headLen > 0 {
			ev.Channel = firstName(s.head[:s.headLen])
		}
		out = append(out, ev)
	}
	return out
}

// firstName is the first non-empty "name" in the start of an event: the
// channel's (or the device's) for every event type Asterisk sends but a
// Dial's, where the dialled channel comes first.
func firstName(b []byte) string {
	key := []byte(`"name":"`)
	for {
		i := bytes.Index(b, key)
		if i < 0 {
			return ""
		}
		b = b[i+len(key):]
		j := bytes.IndexByte(b, '"')
		if j < 0 {
			return "" // cut off by the head's end
		}
		if j > 0 && bytes.IndexByte(b[:j], '\\') < 0 {
			return string(b[:j])
		}
		b = b[j:]
	}
}
