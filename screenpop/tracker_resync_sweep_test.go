package screenpop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/ari/aritrace"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/screenpop"
)

// The resync sweep tries every way an interruption of the events can fall
// on a call, and checks each record against the one an unbroken view
// makes. A view is lost after the first i events (an ARI drop, or a
// kill -9 whose last saved state holds them); events i to j are never
// seen; Asterisk lists its channels and bridges once the first k have
// happened (k >= j), and the resync built from that list comes first;
// then events from j on arrive, those before k late (a dead socket's
// queue, Asterisk's outbound websocket queue, the events read while the
// lists were taken). Every record must be the unbroken view's or say,
// with its gaps, what it does not know (oracletest.Judge).
//
// The streams are the recorded traces and the simulator's calls (each
// scenario, ring-all queues answered by each phone, transfers), with
// ari.conf channelvars as the README recommends. Without them (a stock
// ari.conf, the traces in minimal-config/) a call whose first channel was
// never seen cannot be named as an unbroken view names it, and a phone
// whose Dial was lost cannot be tied to its call: those are left out.
// burst.jsonl, many calls at once, has too many cuts to try.
//
// By default one cut in sweepStride is tried, spread over all of them;
// SCREENPOP_SWEEP=full tries every one (a few minutes).

// sweepStride is how sparsely the cuts are tried by default.
const sweepStride = 5

// sweepStream is a stream of events as call tracking gets them, each with
// what Asterisk would list just before it.
type sweepStream struct {
	name   string
	events []screenpop.Event
	// labels name the events, for the report.
	labels []string
	// chans[k] and bridges[k] are Asterisk's channels and bridges once
	// the events before events[k] happened (and the frames between them
	// that call tracking does not use); k = len(events) is the end.
	chans   [][]screenpop.Channel
	bridges []map[string][]string
}

// newSweepStream decodes frames as the intake does, and follows from them
// what GET /channels and GET /bridges would answer at each moment: each
// channel as the last frame that showed it, each bridge's members as the
// last frame about it said.
func newSweepStream(t testing.TB, name string, frames [][]byte) sweepStream {
	t.Helper()
	dec := ari.NewDecoder("FROM_DID")
	st := sweepStream{name: name}
	var order []string // channel IDs alive, in creation order
	alive := map[string]screenpop.Channel{}
	bridges := map[string][]string{}
	snapshot := func() {
		chans := make([]screenpop.Channel, 0, len(order))
		for _, id := range order {
			chans = append(chans, alive[id])
		}
		bs := make(map[string][]string, len(bridges))
		for id, m := range bridges {
			bs[id] = slices.Clone(m)
		}
		st.chans, st.bridges = append(st.chans, chans), append(st.bridges, bs)
	}
	for n, f := range frames {
		ev, _, err := dec.Decode(f)
		if err == nil && ev.Kind != screenpop.EventUnknown && ev.Kind != screenpop.EventResync {
			snapshot()
			st.events = append(st.events, ev)
			st.labels = append(st.labels, label(ev))
		}
		var w struct {
			Type      string `json:"type"`
			Timestamp string `json:"timestamp"`
			Bridge    *struct {
				ID       string   `json:"id"`
				Channels []string `json:"channels"`
			} `json:"bridge"`
		}
		var snaps map[string]json.RawMessage
		if err := json.Unmarshal(f, &w); err != nil {
			t.Fatalf("%s frame %d: %v", name, n, err)
		}
		if err := json.Unmarshal(f, &snaps); err != nil {
			t.Fatalf("%s frame %d: %v", name, n, err)
		}
		for _, key := range []string{"channel", "caller", "peer", "transferer_first_leg", "transferer_second_leg", "transferee", "transfer_target", "replace_channel"} {
			raw, ok := snaps[key]
			if !ok || string(raw) == "null" {
				continue
			}
			// The channel as the REST list shows it: decoded as the
			// decoder decodes an event's channel.
			frame := fmt.Appendf(nil, `{"type":"ChannelStateChange","timestamp":%q,"channel":%s}`, w.Timestamp, raw)
			ce, _, err := dec.Decode(frame)
			if err != nil || ce.Channel.ID == "" {
				t.Fatalf("%s frame %d: its %s does not decode as a channel: %v", name, n, key, err)
			}
			id := ce.Channel.ID
			if w.Type == "ChannelDestroyed" && key == "channel" {
				delete(alive, id)
				order = slices.DeleteFunc(order, func(o string) bool { return o == id })
				continue
			}
			if _, ok := alive[id]; !ok {
				order = append(order, id)
			}
			alive[id] = ce.Channel
		}
		if b := w.Bridge; b != nil && b.ID != "" {
			if w.Type == "BridgeDestroyed" || len(b.Channels) == 0 {
				delete(bridges, b.ID)
			} else {
				bridges[b.ID] = slices.Clone(b.Channels)
			}
		}
	}
	snapshot()
	return st
}

// label names an event for a report.
func label(ev screenpop.Event) string {
	s := ev.Type + " " + ev.Channel.Name
	switch ev.Kind {
	case screenpop.EventDial:
		s += " -> " + ev.Peer.Name + " " + ev.DialStatus
	case screenpop.EventChannelUpdated:
		s += " " + ev.Channel.State + " " + ev.Channel.Context
	case screenpop.EventChannelDestroyed, screenpop.EventHangupRequest:
		s += fmt.Sprintf(" cause %d", ev.Cause)
	case screenpop.EventVariable:
		s += " " + ev.Variable + "=" + ev.Value
	case screenpop.EventBridgeEntered, screenpop.EventBridgeLeft:
		s += " " + ev.BridgeID
	}
	return ev.At.Format("05.000") + " " + s
}

// sweepTracker is call tracking as the sweep runs it: the traces' and the
// simulator's contexts and phones.
func sweepTracker(t testing.TB, log screenpop.CallLog) *screenpop.Tracker {
	t.Helper()
	ops, err := screenpop.ParseEndpointPatterns([]string{"Local/{ext}@phones", "PJSIP/{ext}", "IAX2/op{ext}"})
	if err != nil {
		t.Fatal(err)
	}
	return screenpop.NewTracker(screenpop.TrackerConfig{InboundContexts: []string{"from-trunk", "from-trunk-iax"},
		Operators: ops, Region: "RU", DIDVariable: "FROM_DID"}, log, nil)
}

// begin is the resync of the connection the stream came on: nothing yet.
func (st sweepStream) begin(tr *screenpop.Tracker) {
	tr.Handle(screenpop.Event{Kind: screenpop.EventResync, Type: "Resync", At: st.events[0].At.Add(-time.Second)})
}

// resync is the resync built from Asterisk's lists once the first k
// events happened, stamped at.
func (st sweepStream) resync(k int, at time.Time) screenpop.Event {
	return screenpop.Event{Kind: screenpop.EventResync, Type: "Resync", At: at, Channels: st.chans[k], Bridges: st.bridges[k]}
}

// truth is the records of an unbroken view, by call.
func (st sweepStream) truth(t testing.TB) map[string]screenpop.Call {
	t.Helper()
	log := &callList{}
	tr := sweepTracker(t, log)
	st.begin(tr)
	for _, ev := range st.events {
		tr.Handle(ev)
	}
	tr.Close(screenpop.CloseEndOfInput)
	truth := map[string]screenpop.Call{}
	for _, c := range log.calls {
		truth[c.ID] = c
	}
	return truth
}

// sweepCut is one interruption: the view lost after event i, events i to
// j never seen, Asterisk's lists taken after event k, the resync stamped
// at; restart: the view was lost with the daemon (kill -9), its state
// saved after event i restored by the next.
type sweepCut struct {
	i, j, k int
	at      time.Time
	restart bool
}

func (c sweepCut) String() string {
	how := "drop"
	if c.restart {
		how = "kill -9"
	}
	return fmt.Sprintf("%s after event %d, events %d-%d lost, lists after event %d, resync at %s", how, c.i, c.i, c.j, c.k, c.at.Format("05.000"))
}

// run replays the stream with the cut and returns the records.
func (st sweepStream) run(t testing.TB, cut sweepCut) []screenpop.Call {
	t.Helper()
	log := &callList{}
	tr := sweepTracker(t, log)
	st.begin(tr)
	for _, ev := range st.events[:cut.i] {
		tr.Handle(ev)
	}
	if cut.restart {
		b, err := json.Marshal(tr.State())
		if err != nil {
			t.Fatal(err)
		}
		var saved screenpop.TrackerState
		if err := json.Unmarshal(b, &saved); err != nil {
			t.Fatal(err)
		}
		tr = sweepTracker(t, log)
		if err := tr.Restore(saved); err != nil {
			t.Fatal(err)
		}
	}
	tr.Handle(st.resync(cut.k, cut.at))
	for _, ev := range st.events[cut.j:] {
		tr.Handle(ev)
	}
	tr.Close(screenpop.CloseEndOfInput)
	return log.calls
}

// cuts are the interruptions swept: every i <= j <= k, the resync
// stamped as the latest event listed (Asterisk's timestamps are not
// always in order), as the next event, and three seconds after (a daemon
// slow to resync, or restarting: the calls waiting out their linger are
// recorded first).
func (st sweepStream) cuts(restart bool) []sweepCut {
	n := len(st.events)
	var cuts []sweepCut
	var listed time.Time // the latest time of the events listed
	for k := 1; k <= n; k++ {
		if at := st.events[k-1].At; at.After(listed) {
			listed = at
		}
		ats := []time.Time{listed, listed.Add(3 * time.Second)}
		if k < n && st.events[k].At.After(listed) {
			ats = append(ats, st.events[k].At)
		}
		for j := k; j >= 0; j-- {
			for i := j; i >= 0; i-- {
				for _, at := range ats {
					cuts = append(cuts, sweepCut{i: i, j: j, k: k, at: at, restart: restart})
				}
			}
		}
	}
	return cuts
}

// blind is what the cut hid: from the last event seen to the resync.
func (st sweepStream) blind(cut sweepCut) []oracletest.Window {
	from := st.events[0].At.Add(-time.Hour)
	if cut.i > 0 {
		from = st.events[cut.i-1].At
	}
	return []oracletest.Window{{From: from, To: cut.at}}
}

// sweepFailure is a cut whose records are not all exact or flagged.
type sweepFailure struct {
	cut  sweepCut
	what []string
}

// sweep runs every cut and returns those that made a record wrong (and
// unflagged), lost, doubled or phantom, or an answered call stored
// otherwise unexcused.
func (st sweepStream) sweep(t testing.TB, restart bool) (runs int, failures []sweepFailure) {
	t.Helper()
	truth := st.truth(t)
	if len(truth) == 0 {
		t.Fatalf("%s: the unbroken view recorded no call", st.name)
	}
	stride := sweepStride
	if os.Getenv("SCREENPOP_SWEEP") == "full" {
		stride = 1
	}
	for n, cut := range st.cuts(restart) {
		if n%stride != 0 {
			continue
		}
		runs++
		what := problems(oracletest.Judge(truth, st.run(t, cut), st.blind(cut)))
		if len(what) > 0 {
			failures = append(failures, sweepFailure{cut, what})
		}
	}
	return runs, failures
}

// problems lists what a verdict found wrong: each entry its kind, then
// the call ID and what the judge says of it.
func problems(v oracletest.Verdict) []string {
	var what []string
	for _, list := range []struct {
		name string
		ids  []string
	}{{"wrong and unflagged", v.Wrong}, {"doubled", v.Doubled}, {"phantom", v.Phantom}, {"lost", v.Lost}, {"answered but stored otherwise", v.NotAnswer}} {
		for _, id := range list.ids {
			what = append(what, list.name+": "+id)
		}
	}
	return what
}

// report describes a failure with the events of the calls it is about.
func (st sweepStream) report(f sweepFailure) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s:\n", st.name, f.cut)
	ids := map[string]bool{}
	for _, w := range f.what {
		fmt.Fprintf(&b, "    %s\n", w)
		_, rest, _ := strings.Cut(w, ": ")
		id, _, _ := strings.Cut(rest, " ")
		ids[strings.TrimSuffix(id, ":")] = true
	}
	for n, l := range st.labels {
		if ev := st.events[n]; !ids[ev.Channel.LinkedID] && !ids[ev.Peer.LinkedID] && !ids[ev.Channel.ID] && len(st.events) > 200 {
			continue
		}
		mark := "  "
		switch {
		case n >= f.cut.i && n < f.cut.j:
			mark = "X " // lost
		case n >= f.cut.j && n < f.cut.k:
			mark = "L " // late: after the resync, though listed
		}
		if n == f.cut.k {
			b.WriteString("    -- lists taken here\n")
		}
		fmt.Fprintf(&b, "    %s%3d %s\n", mark, n, l)
	}
	return b.String()
}

// traceStreams are the recorded traces, each a stream.
func traceStreams(t *testing.T) []sweepStream {
	t.Helper()
	dir := tracesDir(t)
	var names []string
	for _, pattern := range []string{"*.jsonl", "*/*.jsonl"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			name, _ := filepath.Rel(dir, p)
			names = append(names, name)
		}
	}
	var streams []sweepStream
	for _, name := range names {
		lines, err := aritrace.Lines(name)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, newSweepStream(t, name, lines))
	}
	return streams
}

// signature is what a failure found, without call IDs and times: the
// failures of one cause share it.
func signature(f sweepFailure) string {
	var parts []string
	for _, w := range f.what {
		kind, rest, _ := strings.Cut(w, ": ")
		_, detail, _ := strings.Cut(rest, " ")
		if kind == "wrong and unflagged" {
			parts = append(parts, kind+" "+detail)
		} else {
			parts = append(parts, kind)
		}
	}
	how := "drop"
	if f.cut.restart {
		how = "kill -9"
	}
	return how + ": " + strings.Join(parts, "; ")
}

// reportSweep fails the test with each kind of failure once, the one
// with the fewest events lost and late.
func reportSweep(t *testing.T, st sweepStream, runs int, failures []sweepFailure) {
	t.Helper()
	count := map[string]int{}
	first := map[string]sweepFailure{}
	var sigs []string
	for _, f := range failures {
		sig := signature(f)
		if count[sig] == 0 {
			sigs = append(sigs, sig)
		}
		count[sig]++
		if e, ok := first[sig]; !ok || f.cut.k-f.cut.i < e.cut.k-e.cut.i {
			first[sig] = f
		}
	}
	t.Logf("%s: %d events, %d cuts, %d failed", st.name, len(st.events), runs, len(failures))
	for _, sig := range sigs {
		t.Errorf("%d cuts: %s; e.g. %s", count[sig], sig, st.report(first[sig]))
	}
}

func TestResyncSweepOverTheRecordedTraces(t *testing.T) {
	for _, st := range traceStreams(t) {
		if strings.HasPrefix(st.name, "minimal-config") || st.name == "burst.jsonl" {
			continue // see the top of the file
		}
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, restart := range []bool{false, true} {
				runs, failures := st.sweep(t, restart)
				reportSweep(t, st, runs, failures)
			}
		})
	}
}

// simStreams places each call alone on a simulator of technology tech
// (with channelvars) and returns its events as a subscribeAll application
// received them.
func simStreams(t *testing.T, tech string, calls []arisim.Call) []sweepStream {
	t.Helper()
	s := arisim.New(arisim.Config{Username: "screenpop", Password: "pw", ChannelVars: true, Speed: 100, Tech: tech,
		Operators: []string{"101", "102", "103"}}, nil)
	base, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ws, resp, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http://", "ws://", 1)+"/events?app=sweep&subscribeAll=true&api_key=screenpop:pw", nil)
	if err != nil {
		t.Fatalf("open the simulator's events websocket: %v", err)
	}
	resp.Body.Close()
	defer ws.Close()
	oracletest.WaitLong(t, "the simulator registers the application", func() bool { return s.Connected("sweep") })
	var streams []sweepStream
	for _, c := range calls {
		res, err := s.Place(context.Background(), c)
		if err != nil {
			t.Fatalf("place a %s call: %v", c.Scenario, err)
		}
		frames := make([][]byte, 0, res.Events)
		for len(frames) < res.Events {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("read the %s call's events: %v", c.Scenario, err)
			}
			frames = append(frames, msg)
		}
		name := fmt.Sprintf("%s %s", tech, c.Scenario)
		if c.Scenario == arisim.Queue || c.Scenario == arisim.RingAll {
			name += fmt.Sprintf(" %v answered by %s", c.Operators, c.AnswerBy)
		}
		if c.CancelElsewhere {
			name += " with c"
		}
		streams = append(streams, newSweepStream(t, name, frames))
	}
	return streams
}

// sweepCalls are the calls the simulator makes for the sweep: every
// scenario of its load and the SIP ones, and ring-all queues answered by
// each of their phones.
func sweepCalls(tech string) []arisim.Call {
	call := func(sc arisim.Scenario) arisim.Call {
		return arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: sc, Operators: []string{"101"},
			RingFor: 2 * time.Second, TalkFor: 3 * time.Second}
	}
	calls := []arisim.Call{call(arisim.Answered), call(arisim.Missed), call(arisim.Abandoned), call(arisim.Busy)}
	for _, by := range []string{"101", "102", "103"} {
		q := call(arisim.Queue)
		q.Operators, q.AnswerBy = []string{"101", "102", "103"}, by
		calls = append(calls, q)
	}
	if tech == arisim.TechPJSIP {
		for _, sc := range []arisim.Scenario{arisim.Unreachable, arisim.SwitchedOff, arisim.Prohibited, arisim.AttendedTransfer, arisim.BlindTransfer} {
			c := call(sc)
			c.Operators = []string{"101", "102"}
			calls = append(calls, c)
		}
		// app_dial's ring-all: the other phones' CANCELs and cause 26
		// come before the ANSWER (an announcement apart); and the caller
		// hanging up on a Dial with the c option, which gives the
		// ringing phones cause 26 too.
		ra := call(arisim.RingAll)
		ra.Operators, ra.AnswerBy, ra.Announce = []string{"101", "102", "103"}, "102", 500*time.Millisecond
		rc := call(arisim.RingAllAbandoned)
		rc.Operators, rc.CancelElsewhere = []string{"101", "102"}, true
		calls = append(calls, ra, rc)
	}
	return calls
}

func TestResyncSweepOverSimulatedCalls(t *testing.T) {
	for _, tech := range []string{arisim.TechLocal, arisim.TechPJSIP} {
		for _, st := range simStreams(t, tech, sweepCalls(tech)) {
			t.Run(st.name, func(t *testing.T) {
				t.Parallel()
				for _, restart := range []bool{false, true} {
					runs, failures := st.sweep(t, restart)
					reportSweep(t, st, runs, failures)
				}
			})
		}
	}
}
