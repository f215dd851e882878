package ari

import (
	"time"
	"unicode/utf8"

	ariv5 "github.com/CyCoreSystems/ari/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// The decoder's fast path. Decoding an event into the library's event types
// with encoding/json costs some 15 µs: reflection, and every channel decoded
// twice (ChannelData.UnmarshalJSON decodes into a private struct again and
// converts the creation time to a protobuf timestamp). A phone's ringing
// comes right after a dozen events of its call, so that cost is paid a
// dozen times before a pop can go out.
//
// The fast path reads the JSON Asterisk writes, in one pass, into wireEvent:
// the library's event envelope (ariv5.EventData) and the library's field
// types (ariv5.CallerID, ariv5.DialplanCEP, ariv5.DateTime, parsed with
// ariv5.DateFormat), keeping only what call tracking reads. It accepts only
// input on which it is sure to agree with encoding/json and the library:
// valid JSON, exactly the library's field names, the library's value types,
// no duplicate fields, no escapes in the strings it keeps. Anything else
// (which Asterisk does not write) goes the library's way, decodeLibrary, so
// an odd event is decoded, or refused with its reason, exactly as before.
// TestFastDecodeAgreesWithTheLibrary holds the two paths together.

// wireChannel is a channel as an event carries it (the library's
// ChannelData), with only what call tracking reads.
type wireChannel struct {
	ID, Name, State string
	Caller          ariv5.CallerID
	Dialplan        ariv5.DialplanCEP
	Creationtime    ariv5.DateTime
	// LinkedID, DID and Presentation are the channel variables read.
	LinkedID, DID, Presentation string
}

// wireEvent is any event call tracking reads: the fields of the library's
// event types it uses, the channels of Dial being Caller and Peer.
type wireEvent struct {
	ariv5.EventData
	Channel, Caller, Peer wireChannel
	Cause                 int
	CauseTxt              string
	Dialstatus            string
	Bridge                ariv5.BridgeData // only its ID
	Args                  []string
	Soft                  bool
	Presentation          int
}

// Fields of the library's event types, as bits of a mask.
const (
	// ariv5.EventData, in every event
	fType = iota
	fTimestamp
	fApplication
	fDialog
	fAsteriskID
	// the events'
	fChannel
	fCause
	fCauseTxt
	fSoft
	fCallerPresentation
	fCallerPresentationTxt
	fCaller
	fPeer
	fForwarded
	fDialstatus
	fDialstring
	fForward
	fBridge
	fArgs
	fReplaceChannel
)

// eventField is the field a key names, or -1.
func eventField(key []byte) int {
	switch string(key) {
	case "type":
		return fType
	case "timestamp":
		return fTimestamp
	case "application":
		return fApplication
	case "dialog":
		return fDialog
	case "asterisk_id":
		return fAsteriskID
	case "channel":
		return fChannel
	case "cause":
		return fCause
	case "cause_txt":
		return fCauseTxt
	case "soft":
		return fSoft
	case "caller_presentation":
		return fCallerPresentation
	case "caller_presentation_txt":
		return fCallerPresentationTxt
	case "caller":
		return fCaller
	case "peer":
		return fPeer
	case "forwarded":
		return fForwarded
	case "dialstatus":
		return fDialstatus
	case "dialstring":
		return fDialstring
	case "forward":
		return fForward
	case "bridge":
		return fBridge
	case "args":
		return fArgs
	case "replace_channel":
		return fReplaceChannel
	}
	return -1
}

// eventFields is, by event type, the kind of event it makes and the fields
// of the library's type for it (decodeLibrary decodes ApplicationReplaced
// and the like into ariv5.EventData). A key that names no field of the
// type is ignored, as encoding/json does.
func eventFields(typ string) (screenpop.EventKind, uint32, bool) {
	const envelope = 1<<fType | 1<<fTimestamp | 1<<fApplication | 1<<fDialog | 1<<fAsteriskID
	const channel = envelope | 1<<fChannel
	switch typ {
	case "ChannelCreated":
		return screenpop.EventChannelCreated, channel, true
	case "ChannelStateChange":
		return screenpop.EventChannelUpdated, channel, true
	case "ChannelCallerId":
		return screenpop.EventChannelUpdated, channel | 1<<fCallerPresentation | 1<<fCallerPresentationTxt, true
	case "ChannelHangupRequest":
		return screenpop.EventHangupRequest, channel | 1<<fCause | 1<<fSoft, true
	case "ChannelDestroyed":
		return screenpop.EventChannelDestroyed, channel | 1<<fCause | 1<<fCauseTxt, true
	case "Dial":
		return screenpop.EventDial, envelope | 1<<fCaller | 1<<fPeer | 1<<fForwarded |
			1<<fDialstatus | 1<<fDialstring | 1<<fForward, true
	case "ChannelEnteredBridge":
		return screenpop.EventBridgeEntered, channel | 1<<fBridge, true
	case "ChannelLeftBridge":
		return screenpop.EventBridgeLeft, channel | 1<<fBridge, true
	case "StasisStart":
		return screenpop.EventStasisStart, channel | 1<<fArgs | 1<<fReplaceChannel, true
	case "StasisEnd":
		return screenpop.EventStasisEnd, channel, true
	case "ApplicationReplaced":
		return screenpop.EventUnknown, envelope, true
	}
	return screenpop.EventUnknown, 0, false
}

// decodeFast decodes an event of type typ as decodeLibrary would; ok is
// false when the event is not plainly what Asterisk writes, for
// decodeLibrary to decode or refuse.
func (d *Decoder) decodeFast(typ string, data []byte) (ev screenpop.Event, ok bool) {
	kind, fields, ok := eventFields(typ)
	if !ok {
		return ev, false
	}
	s := scanner{b: data}
	var (
		w    wireEvent
		seen uint32
	)
	ok = s.object(func(key []byte) bool {
		f := eventField(key)
		if f < 0 || fields&(1<<f) == 0 {
			return s.ignore(key)
		}
		if seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		switch f {
		case fType:
			// Decode took the type from the first "type" in the event;
			// this is the event's own.
			raw, flags, ok := s.str()
			if !ok || flags != 0 || string(raw) != typ {
				return false
			}
			w.Type = typ
			return true
		case fTimestamp:
			return s.dateTime(&w.Timestamp)
		case fChannel:
			return s.channel(d, &w.Channel, true)
		case fCaller:
			return s.channel(d, &w.Caller, true)
		case fPeer:
			return s.channel(d, &w.Peer, true)
		case fForwarded, fReplaceChannel:
			return s.channel(d, nil, false)
		case fCause:
			n, ok := s.integer()
			w.Cause = int(n)
			return ok
		case fCallerPresentation:
			n, ok := s.integer()
			w.Presentation = int(n)
			return ok
		case fSoft:
			w.Soft = s.peek() == 't'
			return s.boolean()
		case fCauseTxt:
			return s.text(&w.CauseTxt)
		case fDialstatus:
			return s.text(&w.Dialstatus)
		case fBridge:
			return s.bridge(&w.Bridge)
		case fArgs:
			return s.strings(&w.Args)
		default: // the strings not kept: application, dialog, asterisk_id...
			return s.skipString()
		}
	})
	if !ok || !s.end() {
		return ev, false
	}
	if w.Type != typ || time.Time(w.Timestamp).IsZero() {
		return ev, false // for decodeLibrary to say what is wrong
	}
	ev = screenpop.Event{Kind: kind, Type: typ, At: time.Time(w.Timestamp)}
	switch kind {
	case screenpop.EventUnknown:
		return ev, true
	case screenpop.EventDial:
		if w.Peer.ID == "" {
			return ev, false
		}
		ev.Channel, ev.Peer, ev.DialStatus = w.Caller.channel(), w.Peer.channel(), w.Dialstatus
		return ev, true
	}
	if w.Channel.ID == "" {
		return ev, false
	}
	ev.Channel = w.Channel.channel()
	switch kind {
	case screenpop.EventHangupRequest:
		ev.Cause, ev.Soft = w.Cause, w.Soft
	case screenpop.EventChannelUpdated:
		if typ == "ChannelCallerId" {
			// The library reads a missing caller_presentation as 0.
			ev.Channel.Presentation = PresentationName(w.Presentation)
		}
	case screenpop.EventChannelDestroyed:
		ev.Cause, ev.CauseText = w.Cause, w.CauseTxt
	case screenpop.EventBridgeEntered, screenpop.EventBridgeLeft:
		ev.BridgeID = w.Bridge.ID
	case screenpop.EventStasisStart:
		ev.Args = w.Args
	}
	return ev, true
}

// channel is what Decoder.channel makes of the library's ChannelData.
func (c *wireChannel) channel() screenpop.Channel {
	ch := screenpop.Channel{
		ID: c.ID, Name: c.Name, State: c.State,
		Context: c.Dialplan.Context, Exten: c.Dialplan.Exten,
		CallerNumber: c.Caller.Number, CallerName: c.Caller.Name,
		LinkedID: c.LinkedID, DID: c.DID, Presentation: c.Presentation,
	}
	if t := time.Time(c.Creationtime); !t.IsZero() {
		// The library keeps it as a protobuf timestamp: the instant, in UTC.
		ch.CreatedAt = t.UTC()
	}
	return ch
}

// maxDepth bounds the nesting the fast path follows in fields it skips;
// Asterisk nests three deep.
const maxDepth = 32

// scanner reads one JSON document. Its methods read one value each and
// report false for anything the fast path leaves to encoding/json:
// malformed JSON, and well-formed JSON it is not sure to read the same.
type scanner struct {
	b []byte
	i int
	// t remembers the last time parsed: an event's timestamp and its
	// channels' creation times are often the same.
	tRaw []byte
	t    time.Time
}

// Flags of a string read by str.
const (
	strEscaped  = 1 << iota // holds an escape: its bytes are not its value
	strNonASCII             // holds bytes above 0x7f: its value is its bytes only if they are valid UTF-8
)

// byteClass says which bytes inside a string need a closer look.
var byteClass = func() (c [256]uint8) {
	for i := range 0x20 {
		c[i] = 1 // control characters are not allowed
	}
	c['"'], c['\\'] = 2, 3
	for i := 0x80; i < 0x100; i++ {
		c[i] = 4
	}
	return c
}()

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek is the next byte after white space, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// eat reads c, after white space, if it comes next.
func (s *scanner) eat(c byte) bool {
	if s.peek() == c && s.i < len(s.b) {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// str reads a string: its bytes between the quotes, and whether it needs
// unquoting (strEscaped) or a UTF-8 check (strNonASCII).
func (s *scanner) str() (raw []byte, flags uint8, ok bool) {
	if s.peek() != '"' {
		return nil, 0, false
	}
	start := s.i + 1
	for i := start; i < len(s.b); i++ {
		switch byteClass[s.b[i]] {
		case 0:
		case 1:
			return nil, 0, false
		case 2:
			s.i = i + 1
			return s.b[start:i], flags, true
		case 3:
			flags |= strEscaped
			i++
			if i >= len(s.b) {
				return nil, 0, false
			}
			switch s.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.b) {
					return nil, 0, false
				}
				for _, h := range s.b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return nil, 0, false
					}
				}
				i += 4
			default:
				return nil, 0, false
			}
		case 4:
			flags |= strNonASCII
		}
	}
	return nil, 0, false
}

// plain reads a string whose value is its bytes.
func (s *scanner) plain() ([]byte, bool) {
	raw, flags, ok := s.str()
	if !ok || flags&strEscaped != 0 || flags&strNonASCII != 0 && !utf8.Valid(raw) {
		return nil, false
	}
	return raw, true
}

// text reads a string into *v.
func (s *scanner) text(v *string) bool {
	raw, ok := s.plain()
	if ok {
		*v = common(raw)
	}
	return ok
}

// common returns raw as a string, without allocating for the values that
// come again and again.
func common(raw []byte) string {
	switch string(raw) {
	case "":
		return ""
	case "Down":
		return "Down"
	case "Rsrvd":
		return "Rsrvd"
	case "OffHook":
		return "OffHook"
	case "Dialing":
		return "Dialing"
	case "Ring":
		return "Ring"
	case "Ringing":
		return "Ringing"
	case "Up":
		return "Up"
	case "Busy":
		return "Busy"
	case "RINGING":
		return "RINGING"
	case "PROGRESS":
		return "PROGRESS"
	case "ANSWER":
		return "ANSWER"
	case "BUSY":
		return "BUSY"
	case "NOANSWER":
		return "NOANSWER"
	case "CANCEL":
		return "CANCEL"
	case "CONGESTION":
		return "CONGESTION"
	case "CHANUNAVAIL":
		return "CHANUNAVAIL"
	case "Normal Clearing":
		return "Normal Clearing"
	case "User busy":
		return "User busy"
	case "No answer":
		return "No answer"
	}
	return string(raw)
}

func (s *scanner) skipString() bool {
	_, _, ok := s.str()
	return ok
}

// integer reads a number into an int64 field; encoding/json refuses
// fractions and exponents there.
func (s *scanner) integer() (int64, bool) {
	s.ws()
	i, neg := s.i, false
	if i < len(s.b) && s.b[i] == '-' {
		neg = true
		i++
	}
	start := i
	var n int64
	for ; i < len(s.b) && '0' <= s.b[i] && s.b[i] <= '9'; i++ {
		n = n*10 + int64(s.b[i]-'0')
	}
	digits := i - start
	if digits == 0 || digits > 18 || digits > 1 && s.b[start] == '0' {
		return 0, false
	}
	if i < len(s.b) {
		switch s.b[i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	s.i = i
	if neg {
		n = -n
	}
	return n, true
}

func (s *scanner) boolean() bool {
	return s.literal("true") || s.literal("false")
}

// literal reads word (true, false, null) if it comes next.
func (s *scanner) literal(word string) bool {
	s.ws()
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// number reads any JSON number.
func (s *scanner) number() bool {
	s.ws()
	i := s.i
	if i < len(s.b) && s.b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for ; i < len(s.b) && '0' <= s.b[i] && s.b[i] <= '9'; i++ {
			n++
		}
		return n
	}
	switch {
	case i < len(s.b) && s.b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s.b) && s.b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s.b) && (s.b[i] == 'e' || s.b[i] == 'E') {
		i++
		if i < len(s.b) && (s.b[i] == '+' || s.b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	s.i = i
	return true
}

// object reads an object, calling member with each key, the scanner at
// its value, which member must read.
func (s *scanner) object(member func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		key, flags, ok := s.str()
		if !ok || flags&strEscaped != 0 || !s.eat(':') || !member(key) {
			return false
		}
		if !s.eat(',') {
			return s.eat('}')
		}
	}
}

// ignore reads the value of a key that names no field. encoding/json
// would match a field to a key differing in case (or in Unicode folding),
// so such keys are left to it.
func (s *scanner) ignore(key []byte) bool {
	for _, c := range key {
		if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return false
		}
	}
	return s.skip(0)
}

// skip reads any value.
func (s *scanner) skip(depth int) bool {
	switch s.peek() {
	case '"':
		return s.skipString()
	case '{':
		if depth == maxDepth {
			return false
		}
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case '[':
		if depth == maxDepth {
			return false
		}
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if !s.eat(',') {
				return s.eat(']')
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.number()
}

// dateTime reads an ariv5.DateTime as its UnmarshalJSON does.
func (s *scanner) dateTime(dt *ariv5.DateTime) bool {
	raw, flags, ok := s.str()
	if !ok || flags != 0 {
		return false
	}
	if s.tRaw == nil || string(raw) != string(s.tRaw) {
		t, err := time.Parse(ariv5.DateFormat, string(raw))
		if err != nil {
			return false
		}
		s.tRaw, s.t = raw, t
	}
	*dt = ariv5.DateTime(s.t)
	return true
}

// Fields of the library's channel: of channelDataJSON, into which
// ChannelData.UnmarshalJSON decodes.
const (
	cID = iota
	cName
	cState
	cAccountcode
	cCaller
	cConnected
	cCreationtime
	cDialplan
	cChannelvars
)

func channelField(key []byte) int {
	switch string(key) {
	case "id":
		return cID
	case "name":
		return cName
	case "state":
		return cState
	case "accountcode":
		return cAccountcode
	case "caller":
		return cCaller
	case "connected":
		return cConnected
	case "creationtime":
		return cCreationtime
	case "dialplan":
		return cDialplan
	case "channelvars":
		return cChannelvars
	case "key":
		return -2 // an *ariv5.Key Asterisk never sends: left to the library
	}
	return -1
}

// channel reads a channel into c, or only checks it when keep is false
// (a Dial's forwarded channel, a StasisStart's replaced one).
func (s *scanner) channel(d *Decoder, c *wireChannel, keep bool) bool {
	if s.peek() != '{' {
		return false // null among others
	}
	var seen uint16
	return s.object(func(key []byte) bool {
		f := channelField(key)
		switch {
		case f == -2:
			return false
		case f < 0:
			return s.ignore(key)
		case seen&(1<<f) != 0:
			return false
		}
		seen |= 1 << f
		if !keep {
			switch f {
			case cCaller, cConnected:
				return s.callerID(nil)
			case cCreationtime:
				var dt ariv5.DateTime
				return s.dateTime(&dt)
			case cDialplan:
				return s.dialplan(nil)
			case cChannelvars:
				return s.channelVars(d, nil)
			}
			return s.skipString()
		}
		switch f {
		case cID:
			return s.text(&c.ID)
		case cName:
			return s.text(&c.Name)
		case cState:
			return s.text(&c.State)
		case cCaller:
			return s.callerID(&c.Caller)
		case cConnected:
			return s.callerID(nil)
		case cCreationtime:
			return s.dateTime(&c.Creationtime) && protoTime(c.Creationtime)
		case cDialplan:
			return s.dialplan(&c.Dialplan)
		case cChannelvars:
			return s.channelVars(d, c)
		}
		return s.skipString() // accountcode
	})
}

// protoTime reports whether the library can keep a channel's creation
// time as a protobuf timestamp (years 1 to 9999 in UTC); it drops one it
// cannot, which is left to it.
func protoTime(dt ariv5.DateTime) bool {
	y := time.Time(dt).UTC().Year()
	return 1 <= y && y <= 9999
}

// callerID reads an ariv5.CallerID into c (nil: only checks it).
func (s *scanner) callerID(c *ariv5.CallerID) bool {
	if s.peek() != '{' {
		return false
	}
	var seenName, seenNumber bool
	return s.object(func(key []byte) bool {
		var v *string
		switch string(key) {
		case "name":
			if seenName {
				return false
			}
			seenName = true
			if c != nil {
				v = &c.Name
			}
		case "number":
			if seenNumber {
				return false
			}
			seenNumber = true
			if c != nil {
				v = &c.Number
			}
		default:
			return s.ignore(key)
		}
		if v == nil {
			return s.skipString()
		}
		return s.text(v)
	})
}

// dialplan reads an ariv5.DialplanCEP into p (nil: only checks it).
func (s *scanner) dialplan(p *ariv5.DialplanCEP) bool {
	if s.peek() != '{' {
		return false
	}
	var seen uint8
	return s.object(func(key []byte) bool {
		var f uint8
		switch string(key) {
		case "context":
			f = 1
		case "exten":
			f = 2
		case "priority":
			f = 4
		default:
			return s.ignore(key)
		}
		if seen&f != 0 {
			return false
		}
		seen |= f
		switch {
		case f == 4:
			n, ok := s.integer()
			if p != nil {
				p.Priority = n
			}
			return ok
		case p == nil:
			return s.skipString()
		case f == 1:
			return s.text(&p.Context)
		default:
			return s.text(&p.Exten)
		}
	})
}

// channelVars reads the channel variables (a map[string]string in the
// library), keeping the two call tracking reads (c nil: none).
func (s *scanner) channelVars(d *Decoder, c *wireChannel) bool {
	if s.peek() != '{' {
		return false
	}
	return s.object(func(key []byte) bool {
		if !utf8.Valid(key) {
			return false // encoding/json would change the key
		}
		if c == nil || string(key) != d.LinkedIDVariable && string(key) != d.DIDVariable &&
			(d.PresentationVariable == "" || string(key) != d.PresentationVariable) {
			return s.skipString()
		}
		var v string
		if !s.text(&v) {
			return false
		}
		if string(key) == d.LinkedIDVariable {
			c.LinkedID = v
		}
		if string(key) == d.DIDVariable {
			c.DID = v
		}
		if d.PresentationVariable != "" && string(key) == d.PresentationVariable {
			c.Presentation = v
		}
		return true
	})
}

// bridge reads an ariv5.BridgeData, keeping its ID.
func (s *scanner) bridge(b *ariv5.BridgeData) bool {
	if s.peek() != '{' {
		return false
	}
	var seen uint8
	return s.object(func(key []byte) bool {
		var f uint8
		switch string(key) {
		case "id":
			f = 1
		case "bridge_class":
			f = 2
		case "bridge_type":
			f = 4
		case "creator":
			f = 8
		case "name":
			f = 16
		case "technology":
			f = 32
		case "channels":
			f = 64
		case "key":
			return false
		default:
			return s.ignore(key)
		}
		if seen&f != 0 {
			return false
		}
		seen |= f
		switch f {
		case 1:
			return s.text(&b.ID)
		case 64:
			return s.strings(nil)
		}
		return s.skipString()
	})
}

// strings reads an array of strings into *v (nil: only checks it).
func (s *scanner) strings(v *[]string) bool {
	if !s.eat('[') {
		return false
	}
	out := []string{} // encoding/json makes [] an empty slice, not nil
	if !s.eat(']') {
		for {
			if v == nil {
				if !s.skipString() {
					return false
				}
			} else {
				var e string
				if !s.text(&e) {
					return false
				}
				out = append(out, e)
			}
			if !s.eat(',') {
				break
			}
		}
		if !s.eat(']') {
			return false
		}
	}
	if v != nil {
		*v = out
	}
	return true
}
