package arisim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// traceCase is a recorded trace and the call that reproduces it: the same
// caller, DID, operators, ring and talk times.
type traceCase struct {
	trace string
	cfg   arisim.Config
	call  arisim.Call
	// callerName is what the application sets with CALLERID(name) when a
	// Stasis call arrives, as the recording app did.
	callerName string
	// exact: the simulator reproduces the trace's order of the events the
	// daemon reads, and every event (noise included) with every field.
	// Otherwise the trace is another interleaving of the same events:
	// see sameEventsUpToInterleaving.
	exact bool
}

var recommended = arisim.Config{ChannelVars: true}

var traceCases = []traceCase{
	{trace: "answered.jsonl", cfg: recommended, exact: true, call: arisim.Call{ID: "call-answered", Caller: "+79161234567", DID: "74951112233",
		Scenario: arisim.Answered, Operators: []string{"101"}, RingFor: 2 * time.Second, TalkFor: 3500 * time.Millisecond}},
	{trace: "missed.jsonl", cfg: recommended, exact: true, call: arisim.Call{ID: "call-missed", Caller: "89161234567", DID: "74951112233",
		Scenario: arisim.Missed, Operators: []string{"101"}, RingFor: 5 * time.Second}},
	{trace: "abandoned.jsonl", cfg: recommended, exact: true, call: arisim.Call{ID: "call-abandoned", Caller: "+79035550101", DID: "74957778899",
		Scenario: arisim.Abandoned, Operators: []string{"102"}, RingFor: 2500 * time.Millisecond}},
	{trace: "busy.jsonl", cfg: recommended, exact: true, call: arisim.Call{ID: "call-busy", Caller: "+79161234567", DID: "74951112233",
		Scenario: arisim.Busy, Operators: []string{"101"}}},
	// The same dialplan as answered.jsonl, which the simulator follows;
	// Asterisk interleaved the legs otherwise this time.
	{trace: "anonymous.jsonl", cfg: recommended, call: arisim.Call{ID: "call-anon", Caller: "anonymous", CallerName: "Anonymous", DID: "74951112233",
		Scenario: arisim.Answered, Operators: []string{"101"}, RingFor: time.Second, TalkFor: 2500 * time.Millisecond}},
	{trace: "queue.jsonl", cfg: recommended, exact: true, call: arisim.Call{ID: "call-queue", Caller: "+79161234567", DID: "74953334455",
		Scenario: arisim.Queue, Operators: []string{"101", "102"}, AnswerBy: "102", RingFor: 3 * time.Second, TalkFor: 3500 * time.Millisecond}},
	// The test's application takes its time to continue the call (see
	// withoutAppDelay): the caller waits for it as long as it takes.
	{trace: "stasis.jsonl", cfg: arisim.Config{ChannelVars: true, StasisTimeout: time.Hour}, exact: true, callerName: "Ivanov Ivan", call: arisim.Call{ID: "call-stasis",
		Caller: "+79161234567", DID: "74951112233", Scenario: arisim.Stasis, Operators: []string{"101"}, RingFor: 2 * time.Second, TalkFor: 2500 * time.Millisecond}},
}

// simulate places the case's call with a subscribeAll client connected
// and returns every event the client received; those of a Stasis call
// without the time the test's application took to continue it.
func simulate(t *testing.T, tc traceCase) [][]byte {
	t.Helper()
	s, url := newSim(t, tc.cfg)
	l := listen(t, s, url, "screenpop", true)
	if tc.call.Scenario == arisim.Stasis {
		l.answerStasis(url, tc.callerName)
	}
	res, err := s.Place(context.Background(), tc.call)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if tc.call.ID != "" && res.CallID != tc.call.ID {
		t.Errorf("Place says the call ID is %q, want %q", res.CallID, tc.call.ID)
	}
	msgs := l.waitN(res.Events)
	if tc.call.Scenario == arisim.Stasis {
		return withoutAppDelay(t, msgs)
	}
	return msgs
}

// eventTime is a time in an event: its own, or a channel's or bridge's
// creation time.
var eventTime = regexp.MustCompile(`"(timestamp|creationtime)":"([^"]*)"`)

// withoutAppDelay takes out of a Stasis call's event times the time the
// application took to continue it, from StasisStart to StasisEnd: every
// time after StasisStart moves back by it, the CALLERID(name) set in
// between to StasisStart itself. The traces' application answered within
// milliseconds of Asterisk; the test's makes its REST calls from a
// machine that may be loaded, which takes tens of milliseconds and, times
// Speed, seconds of simulated time: the call records and instants would
// measure the test machine. How the simulator goes on from a continue
// does not depend on when it comes.
func withoutAppDelay(t *testing.T, msgs [][]byte) [][]byte {
	t.Helper()
	var start, end time.Time
	for _, m := range msgs {
		var e struct{ Type, Timestamp string }
		if err := json.Unmarshal(m, &e); err != nil {
			t.Fatalf("event is not JSON: %v: %s", err, m)
		}
		switch {
		case e.Type == "StasisStart" && start.IsZero():
			start = asteriskTime(t, e.Timestamp)
		case e.Type == "StasisEnd" && end.IsZero():
			end = asteriskTime(t, e.Timestamp)
		}
	}
	if start.IsZero() || end.Before(start) {
		t.Fatalf("the Stasis call has no StasisStart followed by a StasisEnd")
	}
	delay := end.Sub(start)
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = eventTime.ReplaceAllFunc(m, func(field []byte) []byte {
			sub := eventTime.FindSubmatch(field)
			at := asteriskTime(t, string(sub[2]))
			if at.After(start) {
				at = at.Add(-delay)
				if at.Before(start) {
					at = start
				}
			}
			return fmt.Appendf(nil, `"%s":"%s"`, sub[1], at.UTC().Format(asteriskLayout))
		})
	}
	return out
}

func TestSimulatedCallsHaveTheEventsOfTheTraces(t *testing.T) {
	for _, tc := range traceCases {
		t.Run(strings.TrimSuffix(tc.trace, ".jsonl")+" gives the daemon the same events", func(t *testing.T) {
			trace := readTrace(t, tc.trace)
			sim := simulate(t, tc)
			want, got := readView(t, trace), readView(t, sim)
			if tc.exact {
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("the events the daemon reads differ from the trace (-trace +simulated):\n%s", diff)
				}
			} else {
				sameEventsUpToInterleaving(t, want, got)
			}
			sameKeyOrder(t, trace, sim)
		})
		if !tc.exact {
			continue
		}
		t.Run(strings.TrimSuffix(tc.trace, ".jsonl")+" has every event of the trace, noise included", func(t *testing.T) {
			want, got := fullView(t, readTrace(t, tc.trace)), fullView(t, simulate(t, tc))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("the events of each instant differ from the trace (-trace +simulated):\n%s", diff)
			}
		})
	}
}

// Without channelvars (a stock ari.conf) the daemon follows Dial caller
// to peer and the Local pairs; the minimal-config traces were recorded so.
// Their dialplan did not set FROM_DID either, so only the records compare.
func TestSimulatedCallsWithoutChannelVarsGiveTheMinimalConfigTracesRecords(t *testing.T) {
	for _, tc := range traceCases {
		switch tc.trace {
		case "answered.jsonl", "missed.jsonl", "queue.jsonl":
		default:
			continue
		}
		tc.trace = "minimal-config/" + tc.trace
		tc.cfg.ChannelVars = false
		t.Run(strings.TrimSuffix(tc.trace, ".jsonl")+" makes the same call record", func(t *testing.T) {
			want := callRecords(t, readTrace(t, tc.trace))
			sim := simulate(t, tc)
			if bytes.Contains(sim[0], []byte("channelvars")) {
				t.Fatalf("channel objects have channelvars without Config.ChannelVars: %s", sim[0])
			}
			if diff := cmp.Diff(want, callRecords(t, sim), secondsApprox); diff != "" {
				t.Errorf("call record differs from the trace's (-trace +simulated):\n%s", diff)
			}
		})
	}
}

// record is a call record without its absolute times.
type record struct {
	ID, Caller, CallerE164, CallerName string
	Withheld                           bool
	DID                                string
	Status                             screenpop.Status
	OfferedTo, TalkedTo                []string
	AnsweredBy                         string
	Ring, Wait, Talk                   float64
	Cause                              int
	CauseText, Close                   string
	Offers                             []offer
}

type offer struct {
	Operator, Channel, DialStatus string
	Outcome                       screenpop.Outcome
	Rang                          bool
}

var secondsApprox = cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 0.1 })

// callRecords runs events through the daemon's intake and call tracking,
// as `screenpopd replay` does.
func callRecords(t *testing.T, msgs [][]byte) []record {
	t.Helper()
	var recs []record
	for _, c := range track(t, msgs, nil) {
		r := record{ID: c.ID, Caller: c.Caller, CallerName: c.CallerName, Withheld: c.Withheld, DID: c.DID, Status: c.Status,
			OfferedTo: c.OfferedTo, TalkedTo: c.TalkedTo, Ring: c.RingSeconds, Wait: c.WaitSeconds, Talk: c.TalkSeconds,
			Cause: c.HangupCause, CauseText: c.HangupCauseText, Close: c.CloseReason}
		if c.CallerE164 != nil {
			r.CallerE164 = *c.CallerE164
		}
		if c.AnsweredBy != nil {
			r.AnsweredBy = *c.AnsweredBy
		}
		for _, o := range c.Offers {
			r.Offers = append(r.Offers, offer{Operator: o.Operator, Channel: seqName.ReplaceAllString(o.Channel, "$1-#$3"),
				DialStatus: o.DialStatus, Outcome: o.Outcome, Rang: o.Rang()})
		}
		recs = append(recs, r)
	}
	return recs
}

// track runs events through the daemon's intake and call tracking, with
// obs (if not nil) hearing the tracker's notices, and returns the calls
// it logged.
func track(t *testing.T, msgs [][]byte, obs screenpop.Observer) []screenpop.Call {
	t.Helper()
	ops, err := screenpop.ParseEndpointPatterns([]string{"Local/{ext}@phones", "PJSIP/{ext}", "IAX2/op{ext}"})
	if err != nil {
		t.Fatal(err)
	}
	log := &callLog{}
	tr := screenpop.NewTracker(screenpop.TrackerConfig{InboundContexts: []string{"from-trunk", "from-trunk-iax"}, Operators: ops, Region: "RU"}, log, obs)
	out := make(chan screenpop.Event, len(msgs)+1)
	var lines bytes.Buffer
	for _, m := range msgs {
		lines.Write(m)
		lines.WriteByte('\n')
	}
	m := ari.NewMetrics(nil)
	if err := ari.ReadTrace(context.Background(), &lines, ari.NewDecoder("FROM_DID"), out, m, nil); err != nil {
		t.Fatalf("read events: %v", err)
	}
	if tot := m.Totals(); tot.Unknown+tot.Malformed+tot.Dropped > 0 {
		t.Errorf("the intake could not use every event: %+v", tot)
	}
	close(out)
	for ev := range out {
		tr.Handle(ev)
	}
	tr.Close(screenpop.CloseEndOfInput)
	return log.records()
}

// callLog keeps the call records; a tracker's Run writes it while a test
// reads it.
type callLog struct {
	mu    sync.Mutex
	calls []screenpop.Call
}

func (l *callLog) Record(c screenpop.Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

func (l *callLog) records() []screenpop.Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// asPJSIP rewrites iax-answered.jsonl's call-centre legs as a PJSIP PBX
// names them: the inbound trunk channel, the operator's phone and their
// contexts.
var asPJSIP = strings.NewReplacer(
	"IAX2/carrier-2487", "PJSIP/trunk-2487", "IAX2/op101-322", "PJSIP/101-322",
	"IAX2/op101/101", "PJSIP/101", `"op101/101"`, `"101"`,
	`"context":"from-trunk-iax"`, `"context":"from-trunk"`, `"context":"desk"`, `"context":"phones"`)

// callCentreLegs keeps the events about the inbound leg and the
// operator's phone, dropping the legs that simulated the outside world.
func callCentreLegs(t *testing.T, msgs [][]byte, names ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, m := range msgs {
		var e map[string]struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(m, &e)
		for _, k := range []string{"channel", "caller", "peer"} {
			if slices.Contains(names, e[k].Name) {
				out = append(out, []byte(asPJSIP.Replace(string(m))))
				break
			}
		}
	}
	return out
}

var pjsipCall = arisim.Call{Caller: "+79161234567", DID: "74951112231", Scenario: arisim.Answered, Operators: []string{"101"},
	RingFor: 2 * time.Second, TalkFor: 3500 * time.Millisecond}

func TestPJSIPCallsLookLikeTheTechnologyChannelsOfTheIAXTrace(t *testing.T) {
	trace := callCentreLegs(t, readTrace(t, "iax-answered.jsonl"), "IAX2/carrier-2487", "IAX2/op101-322")
	sim := simulate(t, traceCase{cfg: arisim.Config{ChannelVars: true, Tech: arisim.TechPJSIP}, call: pjsipCall})
	if diff := cmp.Diff(readView(t, trace), readView(t, sim)); diff != "" {
		t.Errorf("the events the daemon reads differ from the trace's IAX2 legs (-trace +simulated):\n%s", diff)
	}
}

func TestPJSIPCallsGiveTheCallRecordsOfTheTraces(t *testing.T) {
	anyID := cmpopts.IgnoreFields(record{}, "ID")
	anyChannel := cmpopts.IgnoreFields(offer{}, "Channel")
	t.Run("iax-answered makes the same call record", func(t *testing.T) {
		var trace [][]byte
		for _, m := range readTrace(t, "iax-answered.jsonl") {
			trace = append(trace, []byte(asPJSIP.Replace(string(m))))
		}
		want := callRecords(t, trace)
		got := callRecords(t, simulate(t, traceCase{cfg: arisim.Config{ChannelVars: true, Tech: arisim.TechPJSIP}, call: pjsipCall}))
		if diff := cmp.Diff(want, got, secondsApprox, anyID, anyChannel); diff != "" {
			t.Errorf("call record differs from the trace's (-trace +simulated):\n%s", diff)
		}
	})
	for _, tc := range traceCases {
		t.Run(strings.TrimSuffix(tc.trace, ".jsonl")+" makes the same call record with PJSIP phones", func(t *testing.T) {
			want := callRecords(t, readTrace(t, tc.trace))
			tc.cfg.Tech = arisim.TechPJSIP
			got := callRecords(t, simulate(t, tc))
			if diff := cmp.Diff(want, got, secondsApprox, anyChannel); diff != "" {
				t.Errorf("call record differs from the trace's (-trace +simulated):\n%s", diff)
			}
		})
	}
}
