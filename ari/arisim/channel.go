package arisim

import (
	"crypto/rand"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The ARI JSON is written by hand, field by field, in the order Asterisk
// writes it (the traces show it): the daemon reads "type" cheaply because
// Asterisk writes it early, and a load run encodes some 10,000 events a
// second.

// channel is one Asterisk channel as ARI shows it, plus what the simulator
// needs to run it. Its fields change only under Sim.mu.
type channel struct {
	id, name, state   string
	caller, connected party
	context, exten    string
	priority          int
	appName, appData  string
	created           time.Time
	// linkedID is CHANNEL(linkedid); fromDID the FROM_DID variable, both
	// shown in channelvars.
	linkedID, fromDID string
	// pres is CALLERID(pres) when the scenario lists it in channelvars
	// (a caller who hid their number), else "".
	pres string
	// vars is the channel's variable list, newest first, as Asterisk
	// keeps it: a child channel inherits the "__" ones in this order.
	vars []variable
	seq  int
	// stasisApp is the application the channel is in Stasis for, and
	// continued is closed when that application continues it.
	stasisApp string
	continued chan struct{}
	// call is the call the channel is a leg of: the events the
	// application causes through REST count among the call's.
	call *run
}

type party struct{ name, number string }

type variable struct{ name, value string }

// setVar records a variable the way Set() does: newest first. Asterisk
// finds the variable to replace ignoring the inheritance underscores, so
// Dial's RINGTIME= ends the inheritance of a __RINGTIME.
func (ch *channel) setVar(name, value string) {
	for i, v := range ch.vars {
		if strings.TrimLeft(v.name, "_") == strings.TrimLeft(name, "_") {
			ch.vars = append(ch.vars[:i], ch.vars[i+1:]...)
			break
		}
	}
	ch.vars = append([]variable{{name, value}}, ch.vars...)
}

// inheritable is the variables a channel created by this one inherits:
// those set with a "__" prefix, in list order.
func (ch *channel) inheritable() []variable {
	var vs []variable
	for _, v := range ch.vars {
		if len(v.name) > 2 && v.name[:2] == "__" {
			vs = append(vs, v)
		}
	}
	return vs
}

// bridge is a basic mixing bridge, as Dial and Queue make them.
type bridge struct {
	id       string
	created  time.Time
	channels []string
}

// appendChannel writes a channel object.
func (s *Sim) appendChannel(b []byte, ch *channel) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, ch.id)
	b = append(b, `,"name":`...)
	b = appendString(b, ch.name)
	b = append(b, `,"state":`...)
	b = appendString(b, ch.state)
	b = append(b, `,"protocol_id":"","caller":`...)
	b = appendParty(b, ch.caller)
	b = append(b, `,"connected":`...)
	b = appendParty(b, ch.connected)
	b = append(b, `,"accountcode":"","dialplan":{"context":`...)
	b = appendString(b, ch.context)
	b = append(b, `,"exten":`...)
	b = appendString(b, ch.exten)
	b = append(b, `,"priority":`...)
	b = strconv.AppendInt(b, int64(ch.priority), 10)
	b = append(b, `,"app_name":`...)
	b = appendString(b, ch.appName)
	b = append(b, `,"app_data":`...)
	b = appendString(b, ch.appData)
	b = append(b, `},"creationtime":`...)
	b = appendTime(b, ch.created)
	b = append(b, `,"language":"en"`...)
	if s.cfg.ChannelVars {
		b = append(b, `,"channelvars":{"CHANNEL(linkedid)":`...)
		b = appendString(b, ch.linkedID)
		b = append(b, `,"FROM_DID":`...)
		b = appendString(b, ch.fromDID)
		if ch.pres != "" {
			b = append(b, `,"CALLERID(pres)":`...)
			b = appendString(b, ch.pres)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendParty(b []byte, p party) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, p.name)
	b = append(b, `,"number":`...)
	b = appendString(b, p.number)
	return append(b, '}')
}

func appendBridge(b []byte, br *bridge) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, br.id)
	b = append(b, `,"technology":"simple_bridge","bridge_type":"mixing","bridge_class":"basic","creator":"","name":"","channels":[`...)
	for i, id := range br.channels {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, id)
	}
	b = append(b, `],"creationtime":`...)
	b = appendTime(b, br.created)
	return append(b, `,"video_mode":"none"}`...)
}

// timeLayout is Asterisk's: 2026-11-24T23:00:36.321+0000.
const timeLayout = "2006-01-02T15:04:05.000-0700"

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, timeLayout)
	return append(b, '"')
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					b = append(b, '\\', 'n')
				case '\r':
					b = append(b, '\\', 'r')
				case '\t':
					b = append(b, '\\', 't')
				default:
					b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
				}
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// newUUID is a random (version 4) UUID, as Asterisk names bridges.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	b := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return string(b)
}

// enterStasis puts ch in Stasis for app until continued is closed; s.mu
// is held.
func (s *Sim) enterStasis(ch *channel, app string, continued chan struct{}) {
	ch.stasisApp, ch.continued = app, continued
	if s.inStasis[app] == nil {
		s.inStasis[app] = map[string]bool{}
	}
	s.inStasis[app][ch.id] = true
}

// leaveStasis takes ch out of Stasis; s.mu is held.
func (s *Sim) leaveStasis(ch *channel) {
	delete(s.inStasis[ch.stasisApp], ch.id)
	ch.stasisApp, ch.continued = "", nil
}
