package arisim_test

// Comparing two event streams of the same call: a recorded trace and a
// simulated run.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
)

// readEvent is an event as the daemon reads it (through ari's decoder),
// plus the fields it may read later (the dialplan application, the Dial
// string), with what differs between two runs of a call replaced by what
// does not: channel and bridge IDs by C1, B1... in order of appearance,
// channel sequence numbers likewise, times by the instant (see instants)
// and creation times by tenths of a second into the call.
type readEvent struct {
	Type       string
	Instant    int
	Channel    readChannel
	Peer       readChannel
	DialStatus string
	Dialstring string
	Cause      int
	CauseText  string
	Bridge     string
	Args       []string
	// Variable and Value are a ChannelVarset's the daemon reads
	// (DIALSTATUS, QUEUESTATUS).
	Variable, Value string
}

type readChannel struct {
	ID, Name, State, Context, Exten string
	Priority                        int
	AppName, AppData                string
	CallerNumber, CallerName        string
	LinkedID, DID                   string
	Created                         string
}

// rawEvent is what readEvent takes from the JSON rather than the decoder.
type rawEvent struct {
	Timestamp             string
	Dialstring            string
	Channel, Caller, Peer *rawChannel
}

type rawChannel struct {
	Creationtime string
	Dialplan     struct {
		Priority int
		App      string `json:"app_name"`
		Data     string `json:"app_data"`
	}
}

func readView(t *testing.T, msgs [][]byte) []readEvent {
	t.Helper()
	dec := ari.NewDecoder("FROM_DID")
	n := newNormalizer()
	inst := instants(t, msgs)
	var (
		evs   []readEvent
		start time.Time
	)
	for i, m := range msgs {
		var raw rawEvent
		if err := json.Unmarshal(m, &raw); err != nil {
			t.Fatalf("event %d is not JSON: %v", i, err)
		}
		if start.IsZero() {
			start = asteriskTime(t, raw.Timestamp)
		}
		ev, typ, err := dec.Decode(m)
		if errors.Is(err, ari.ErrSkipped) {
			continue // a ChannelVarset of a variable the daemon does not read
		}
		if err != nil || ev.Kind == screenpop.EventUnknown {
			if !slices.Contains(ari.AllowedEvents, typ) {
				continue
			}
			t.Fatalf("the daemon cannot read event %d: %v: %s", i, err, m)
		}
		ch := raw.Channel
		if typ == "Dial" {
			ch = raw.Caller
		}
		evs = append(evs, readEvent{
			Type: typ, Instant: inst[i], Channel: n.readChannel(t, ev.Channel, ch, start), Peer: n.readChannel(t, ev.Peer, raw.Peer, start),
			DialStatus: ev.DialStatus, Dialstring: n.name(raw.Dialstring), Cause: ev.Cause, CauseText: ev.CauseText,
			Bridge: n.bridge(ev.BridgeID), Args: ev.Args, Variable: ev.Variable, Value: ev.Value,
		})
	}
	return evs
}

// asteriskLayout is how Asterisk writes times: 2026-11-24T23:00:36.321+0000.
const asteriskLayout = "2006-01-02T15:04:05.000-0700"

func asteriskTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(asteriskLayout, s)
	if err != nil {
		t.Fatalf("time %q is not in Asterisk's format: %v", s, err)
	}
	return at
}

// instants numbers the moments of a call: events less than 0.4 s apart
// are one moment (Asterisk stamps them within a few milliseconds); the
// scenarios' waits (ringing, the half second of Answer(), talking)
// separate them.
func instants(t *testing.T, msgs [][]byte) []int {
	t.Helper()
	var (
		out    []int
		latest time.Time
		n      int
	)
	for _, m := range msgs {
		var e struct {
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal(m, &e); err != nil {
			t.Fatalf("event is not JSON: %v", err)
		}
		at, err := time.Parse(asteriskLayout, e.Timestamp)
		if err != nil {
			t.Fatalf("timestamp %q is not in Asterisk's format: %v", e.Timestamp, err)
		}
		switch {
		case latest.IsZero():
			latest = at
		case at.Sub(latest) >= 400*time.Millisecond:
			n++
			latest = at
		case at.After(latest):
			latest = at
		}
		out = append(out, n)
	}
	return out
}

// sameEventsUpToInterleaving checks a trace whose legs Asterisk
// interleaved otherwise than the simulator: each instant must have the
// same events, and each channel's events must come in the same order.
// A Dial belongs to the channel that dials (its caller), or to the peer
// of an originate: that is the thread that publishes it. The peer in the
// first Dial to a phone is a snapshot taken as the phone's own thread
// makes it ring, so its state (Down or Ringing) races too.
func sameEventsUpToInterleaving(t *testing.T, want, got []readEvent) {
	t.Helper()
	want, got = slices.Clone(want), slices.Clone(got)
	for _, evs := range [][]readEvent{want, got} {
		for i, ev := range evs {
			if ev.Type == "Dial" && ev.DialStatus == "" && ev.Channel.ID != "" {
				evs[i].Peer.State = "Down or Ringing"
			}
		}
	}
	byInstant := func(evs []readEvent) map[int][]string {
		m := map[int][]string{}
		for _, ev := range evs {
			m[ev.Instant] = append(m[ev.Instant], fmt.Sprintf("%+v", ev))
		}
		for _, l := range m {
			slices.Sort(l)
		}
		return m
	}
	if diff := cmp.Diff(byInstant(want), byInstant(got)); diff != "" {
		t.Errorf("the events of each instant differ from the trace (-trace +simulated):\n%s", diff)
	}
	byChannel := func(evs []readEvent) map[string][]string {
		m := map[string][]string{}
		for _, ev := range evs {
			owner := ev.Channel.ID
			if ev.Type == "Dial" && owner == "" {
				owner = ev.Peer.ID
			}
			m[owner] = append(m[owner], fmt.Sprintf("%+v", ev))
		}
		return m
	}
	if diff := cmp.Diff(byChannel(want), byChannel(got)); diff != "" {
		t.Errorf("the order of some channel's events differs from the trace (-trace +simulated):\n%s", diff)
	}
}

// fullView is every event, every field, normalized like readView, listed
// by instant and sorted within it: Asterisk's device state and varset
// events come from other threads than the channel events around them.
// Values derived from timing (*_MS variables) are rounded to 0.1 s.
func fullView(t *testing.T, msgs [][]byte) map[int][]string {
	t.Helper()
	n := newNormalizer()
	inst := instants(t, msgs)
	m := map[int][]string{}
	for i, msg := range msgs {
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.UseNumber()
		var e map[string]any
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("event is not JSON: %v", err)
		}
		delete(e, "timestamp")
		for _, k := range []string{"channel", "caller", "peer"} {
			if c, ok := e[k].(map[string]any); ok {
				n.jsonChannel(c)
			}
		}
		if b, ok := e["bridge"].(map[string]any); ok {
			b["id"] = n.bridge(b["id"].(string))
			delete(b, "creationtime")
			var ids []string
			for _, id := range b["channels"].([]any) {
				ids = append(ids, n.id(id.(string)))
			}
			b["channels"] = ids
		}
		if name, ok := e["variable"].(string); ok {
			v := e["value"].(string)
			switch {
			case strings.HasSuffix(name, "_MS") && v != "":
				var ms float64
				fmt.Sscan(v, &ms)
				e["value"] = fmt.Sprintf("~%.1fs", math.Round(ms/100)/10)
			case name == "DIALEDPEERNAME" || name == "BRIDGEPEER":
				e["value"] = n.name(v)
			}
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		m[inst[i]] = append(m[inst[i]], string(b))
	}
	for _, l := range m {
		slices.Sort(l)
	}
	return m
}

// sameKeyOrder checks that each type of event has its fields in the order
// Asterisk writes them.
func sameKeyOrder(t *testing.T, trace, sim [][]byte) {
	t.Helper()
	orders := func(msgs [][]byte) map[string]string {
		m := map[string]string{}
		for _, msg := range msgs {
			keys := topKeys(t, msg)
			typ := typeOf(t, msg)
			// Dial has a caller only when a channel dials; a hangup
			// request says soft only when it is.
			k := typ + fmt.Sprint(slices.Contains(keys, "caller"), slices.Contains(keys, "soft"))
			m[k] = strings.Join(keys, ",")
		}
		return m
	}
	want, got := orders(trace), orders(sim)
	for k, order := range got {
		if w, ok := want[k]; ok && w != order {
			t.Errorf("%s has its fields in the order %s, Asterisk writes %s", k, order, w)
		}
	}
}

// topKeys is the names of an event's fields, in order.
func topKeys(t *testing.T, msg []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(msg))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("event is not a JSON object: %s", msg)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("event is not JSON: %v", err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("event is not JSON: %v", err)
		}
	}
	return keys
}

// normalizer names the IDs of one run in order of appearance.
type normalizer struct {
	ids, names, bridges map[string]string
	prefixes            map[string]int
}

func newNormalizer() *normalizer {
	return &normalizer{ids: map[string]string{}, names: map[string]string{}, bridges: map[string]string{}, prefixes: map[string]int{}}
}

func (n *normalizer) id(id string) string {
	if id == "" {
		return ""
	}
	if _, ok := n.ids[id]; !ok {
		n.ids[id] = fmt.Sprintf("C%d", len(n.ids)+1)
	}
	return n.ids[id]
}

var seqName = regexp.MustCompile(`^(.*)-([0-9a-f]+)(;[12])?$`)

// name replaces the sequence number of a channel name:
// Local/101@phones-0000003d;1 becomes Local/101@phones-#1;1.
func (n *normalizer) name(name string) string {
	m := seqName.FindStringSubmatch(name)
	if m == nil {
		return name
	}
	key := m[1] + "-" + m[2]
	if _, ok := n.names[key]; !ok {
		n.prefixes[m[1]]++
		n.names[key] = fmt.Sprintf("%s-#%d", m[1], n.prefixes[m[1]])
	}
	return n.names[key] + m[3]
}

func (n *normalizer) bridge(id string) string {
	if id == "" {
		return ""
	}
	if _, ok := n.bridges[id]; !ok {
		n.bridges[id] = fmt.Sprintf("B%d", len(n.bridges)+1)
	}
	return n.bridges[id]
}

func (n *normalizer) readChannel(t *testing.T, ch screenpop.Channel, raw *rawChannel, start time.Time) readChannel {
	t.Helper()
	rc := readChannel{ID: n.id(ch.ID), Name: n.name(ch.Name), State: ch.State, Context: ch.Context, Exten: ch.Exten,
		CallerNumber: ch.CallerNumber, CallerName: ch.CallerName, LinkedID: n.id(ch.LinkedID), DID: ch.DID}
	if raw != nil {
		rc.Priority, rc.AppName, rc.AppData = raw.Dialplan.Priority, raw.Dialplan.App, raw.Dialplan.Data
		// To the half second: enough to tell legs made at the start of the
		// call from legs made seconds later.
		created := asteriskTime(t, raw.Creationtime).Sub(start)
		rc.Created = fmt.Sprintf("+%.1fs", created.Round(500*time.Millisecond).Seconds())
	}
	return rc
}

func (n *normalizer) jsonChannel(c map[string]any) {
	c["id"] = n.id(c["id"].(string))
	c["name"] = n.name(c["name"].(string))
	delete(c, "creationtime")
	if vars, ok := c["channelvars"].(map[string]any); ok {
		if l, ok := vars["CHANNEL(linkedid)"].(string); ok {
			vars["CHANNEL(linkedid)"] = n.id(l)
		}
	}
}

func TestSimulatedCallsGiveTheCallRecordsOfTheTraces(t *testing.T) {
	for _, tc := range traceCases {
		t.Run(strings.TrimSuffix(tc.trace, ".jsonl")+" makes the same call record", func(t *testing.T) {
			want := callRecords(t, readTrace(t, tc.trace))
			got := callRecords(t, simulate(t, tc))
			if len(want) != 1 {
				t.Fatalf("the trace makes %d call records, want 1", len(want))
			}
			if diff := cmp.Diff(want, got, secondsApprox); diff != "" {
				t.Errorf("call record differs from the trace's (-trace +simulated):\n%s", diff)
			}
		})
	}
}
