package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/aritrace"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
)

// tracesDir is the repository's copy of the recorded traces, or
// $SCREENPOP_TRACES.
func tracesDir(t testing.TB) string {
	t.Helper()
	dir, err := aritrace.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var traceFlags = []string{"--inbound-contexts", "from-trunk,from-trunk-iax", "--operator-endpoints", "Local/{ext}@phones,IAX2/op{ext}"}

// record is what the README table of the traces says a call must yield.
type record struct {
	Caller     string
	CallerE164 string
	Withheld   bool
	DID        string
	Status     screenpop.Status
	OfferedTo  []string
	AnsweredBy string
	TalkedTo   []string
	Ring, Talk float64
	Cause      int
}

func recordOf(c screenpop.Call) record {
	r := record{
		Caller: c.Caller, Withheld: c.Withheld, DID: c.DID, Status: c.Status,
		OfferedTo: c.OfferedTo, TalkedTo: c.TalkedTo, Ring: c.RingSeconds, Talk: c.TalkSeconds, Cause: c.HangupCause,
	}
	if c.CallerE164 != nil {
		r.CallerE164 = *c.CallerE164
	}
	if c.AnsweredBy != nil {
		r.AnsweredBy = *c.AnsweredBy
	}
	return r
}

// secondsApprox compares ring and talk times within 0.1 s, as the README asks.
var secondsApprox = cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 0.1 })

var traceRecords = map[string]record{
	"answered.jsonl": {Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusAnswered,
		OfferedTo: []string{"101"}, AnsweredBy: "101", TalkedTo: []string{"101"}, Ring: 2.0, Talk: 3.5, Cause: 16},
	"missed.jsonl": {Caller: "89161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusMissed,
		OfferedTo: []string{"101"}, TalkedTo: []string{}, Ring: 5.0, Cause: 16},
	"abandoned.jsonl": {Caller: "+79035550101", CallerE164: "+79035550101", DID: "74957778899", Status: screenpop.StatusAbandoned,
		OfferedTo: []string{"102"}, TalkedTo: []string{}, Ring: 2.5, Cause: 16},
	"busy.jsonl": {Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusBusy,
		OfferedTo: []string{}, TalkedTo: []string{}, Cause: 16},
	"anonymous.jsonl": {Caller: "anonymous", Withheld: true, DID: "74951112233", Status: screenpop.StatusAnswered,
		OfferedTo: []string{"101"}, AnsweredBy: "101", TalkedTo: []string{"101"}, Ring: 1.0, Talk: 2.5, Cause: 16},
	"queue.jsonl": {Caller: "+79161234567", CallerE164: "+79161234567", DID: "74953334455", Status: screenpop.StatusAnswered,
		OfferedTo: []string{"101", "102"}, AnsweredBy: "102", TalkedTo: []string{"102"}, Ring: 3.0, Talk: 3.5, Cause: 16},
	"stasis.jsonl": {Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusAnswered,
		OfferedTo: []string{"101"}, AnsweredBy: "101", TalkedTo: []string{"101"}, Ring: 2.0, Talk: 2.5, Cause: 16},
	"iax-answered.jsonl": {Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112231", Status: screenpop.StatusAnswered,
		OfferedTo: []string{"101"}, AnsweredBy: "101", TalkedTo: []string{"101"}, Ring: 2.0, Talk: 3.5, Cause: 16},
}

// runReplay runs `screenpopd replay` as a user would and parses its output.
func runReplay(t *testing.T, files ...string) []screenpop.Call {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append(append([]string{"replay"}, traceFlags...), files...))
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("replay %v: %v\n%s", files, err, stderr.String())
	}
	var calls []screenpop.Call
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var c screenpop.Call
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("replay printed a line that is not a call record: %q: %v", sc.Text(), err)
		}
		calls = append(calls, c)
	}
	return calls
}

func TestReplayTracesGiveTheRecordsOfTheReadme(t *testing.T) {
	dir := tracesDir(t)
	for name, want := range traceRecords {
		t.Run(strings.TrimSuffix(name, ".jsonl")+" gives one record as in the README", func(t *testing.T) {
			calls := runReplay(t, filepath.Join(dir, name))
			if len(calls) != 1 {
				t.Fatalf("got %d call records, want 1: %+v", len(calls), calls)
			}
			if diff := cmp.Diff(want, recordOf(calls[0]), secondsApprox); diff != "" {
				t.Errorf("record differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplayMinimalConfigTracesGiveTheSameRecordsAsFullOnes(t *testing.T) {
	dir := tracesDir(t)
	for _, name := range []string{"answered.jsonl", "missed.jsonl", "queue.jsonl"} {
		t.Run(strings.TrimSuffix(name, ".jsonl")+" without channelvars matches", func(t *testing.T) {
			full := runReplay(t, filepath.Join(dir, name))
			minimal := runReplay(t, filepath.Join(dir, "minimal-config", name))
			if len(full) != 1 || len(minimal) != 1 {
				t.Fatalf("got %d and %d records, want 1 each", len(full), len(minimal))
			}
			if diff := cmp.Diff(traceRecords[name], recordOf(minimal[0]), secondsApprox); diff != "" {
				t.Errorf("minimal-config record differs from the README (-want +got):\n%s", diff)
			}
			if full[0].ID != minimal[0].ID {
				t.Errorf("call IDs differ: with linkedid %q, without %q", full[0].ID, minimal[0].ID)
			}
		})
	}
}

func TestReplayBurstGivesNineteenAnsweredCallsEachWithItsOwnCallerDIDAndOperator(t *testing.T) {
	calls := runReplay(t, filepath.Join(tracesDir(t), "burst.jsonl"))
	if len(calls) != 19 {
		t.Fatalf("got %d records, want 19", len(calls))
	}
	callers := map[string]bool{}
	for _, c := range calls {
		callers[c.Caller] = true
		// burstN calls from +79160000(10+N) on 749511122(N mod 10), and
		// operator 110 + N mod 5 answers after 1-3 s.
		var n int
		if _, err := fmtSscanf(c.ID, "burst%d", &n); err != nil {
			t.Fatalf("unexpected call ID %q", c.ID)
		}
		wantCaller := "+7916" + pad(10+n, 7)
		wantDID := "749511122" + pad(n%10, 2)
		wantOp := []string{pad(110+n%5, 3)}
		if c.Status != screenpop.StatusAnswered || c.Caller != wantCaller || c.DID != wantDID || !slices.Equal(c.TalkedTo, wantOp) {
			t.Errorf("%s: got %s from %s to %s talked to %v; want answered from %s to %s by %v", c.ID, c.Status, c.Caller, c.DID, c.TalkedTo, wantCaller, wantDID, wantOp)
		}
		if c.RingSeconds < 0.9 || c.RingSeconds > 3.1 || math.Abs(c.TalkSeconds-2.5) > 0.1 {
			t.Errorf("%s: ring %.3f s, talk %.3f s; want 1-3 s and 2.5 s", c.ID, c.RingSeconds, c.TalkSeconds)
		}
	}
	if len(callers) != 19 {
		t.Errorf("got %d distinct callers, want 19", len(callers))
	}
}

func TestReplayOfEveryTraceTogetherLosesNoCall(t *testing.T) {
	dir := tracesDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	minimal, _ := filepath.Glob(filepath.Join(dir, "minimal-config", "*.jsonl"))
	calls := runReplay(t, append(files, minimal...)...)
	// 8 single-call traces, 19 in the burst, 3 minimal-config.
	if len(calls) != 30 {
		t.Errorf("got %d records, want 30", len(calls))
	}
	for _, c := range calls {
		if c.CloseReason != "" {
			t.Errorf("%s closed with %q, want its real end", c.ID, c.CloseReason)
		}
	}
}

// TestTrackingDoesNotDependOnEventOrderAcrossLegs replays each trace with
// events of different channels that are close in time swapped, and with
// the events Asterisk may send twice doubled: the records must not change.
func TestTrackingDoesNotDependOnEventOrderAcrossLegs(t *testing.T) {
	dir := tracesDir(t)
	cfg := testConfig(t)
	for name, want := range traceRecords {
		events := decodeTrace(t, filepath.Join(dir, name))
		for seed := uint64(1); seed <= 50; seed++ {
			perturbed := perturb(events, rand.New(rand.NewPCG(seed, seed)))
			var log captureLog
			tr := screenpop.NewTracker(cfg.trackerConfig(), &log, nil)
			for _, ev := range perturbed {
				tr.Handle(ev)
			}
			tr.Close(screenpop.CloseEndOfInput)
			if len(log.calls) != 1 {
				t.Fatalf("%s seed %d: got %d records, want 1", name, seed, len(log.calls))
			}
			if diff := cmp.Diff(want, recordOf(log.calls[0]), secondsApprox); diff != "" {
				t.Errorf("%s seed %d: record differs (-want +got):\n%s", name, seed, diff)
			}
		}
	}
}

// perturb swaps neighbouring events of different channels less than 20 ms
// apart, in four passes, so an event may move several places, as
// Asterisk's threads may deliver them (and worse); and it doubles Dial
// CANCEL and ChannelHangupRequest, as Asterisk sometimes does.
func perturb(events []screenpop.Event, rng *rand.Rand) []screenpop.Event {
	out := make([]screenpop.Event, 0, len(events)*2)
	for _, ev := range events {
		out = append(out, ev)
		if ev.Kind == screenpop.EventHangupRequest || (ev.Kind == screenpop.EventDial && ev.DialStatus == "CANCEL") {
			out = append(out, ev)
		}
	}
	for pass := 0; pass < 4; pass++ {
		for i := 0; i+1 < len(out); i++ {
			a, b := out[i], out[i+1]
			if subject(a) != subject(b) && b.At.Sub(a.At) < 20*time.Millisecond && rng.IntN(2) == 0 {
				out[i], out[i+1] = b, a
			}
		}
	}
	return out
}

func subject(ev screenpop.Event) string {
	if ev.Kind == screenpop.EventDial {
		return ev.Peer.ID
	}
	return ev.Channel.ID
}

type captureLog struct{ calls []screenpop.Call }

func (l *captureLog) Record(c screenpop.Call) { l.calls = append(l.calls, c) }

func testConfig(t testing.TB) Config {
	t.Helper()
	cmd := newReplayCmd()
	if err := cmd.Flags().Parse(traceFlags); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cmd.Flags())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// decodeTrace decodes a trace through the ARI decoder, keeping what the
// intake would hand on.
func decodeTrace(t testing.TB, path string) []screenpop.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ch := make(chan screenpop.Event, 100000)
	if err := ari.ReadTrace(context.Background(), f, ari.NewDecoder("FROM_DID"), ch, ari.NewMetrics(nil), discardLogger()); err != nil {
		t.Fatal(err)
	}
	close(ch)
	var evs []screenpop.Event
	for ev := range ch {
		evs = append(evs, ev)
	}
	return evs
}
