package arisim_test

import (
	"encoding/json"

	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// The SIP scenarios: what a PJSIP call centre sends that the recording rig
// could not (see sip.go), the call records the daemon makes of them, and
// the shape of their events against the real traces.

type sipCase struct {
	name string
	tech string
	call arisim.Call
	want record
}

var sipCases = []sipCase{
	{name: "an unregistered phone", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.Unreachable, Operators: []string{"105"}},
		want: record{Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusFailed,
			OfferedTo: []string{}, TalkedTo: []string{}, Cause: 3, CauseText: "No route to destination"}},
	{name: "an unregistered phone, Local rig", tech: arisim.TechLocal,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.Unreachable, Operators: []string{"105"}},
		want: record{Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusFailed,
			OfferedTo: []string{}, TalkedTo: []string{}, Cause: 3, CauseText: "No route to destination"}},
	{name: "a switched-off phone", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.SwitchedOff, Operators: []string{"105"}, RingFor: 20 * time.Second},
		want: record{Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusFailed,
			OfferedTo: []string{}, TalkedTo: []string{}, Cause: 16, CauseText: "Normal Clearing",
			Offers: []offer{{Operator: "105", DialStatus: "NOANSWER", Outcome: screenpop.OutcomeNoAnswer}}}},
	{name: "a switched-off phone, Local rig", tech: arisim.TechLocal,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.SwitchedOff, Operators: []string{"105"}, RingFor: 20 * time.Second},
		want: record{Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusFailed,
			OfferedTo: []string{}, TalkedTo: []string{}, Cause: 16, CauseText: "Normal Clearing",
			Offers: []offer{{Operator: "105", DialStatus: "NOANSWER", Outcome: screenpop.OutcomeNoAnswer}}}},
	{name: "a caller who hid their number", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.Prohibited, Operators: []string{"101"}},
		want: record{Withheld: true, DID: "74951112233", Status: screenpop.StatusAnswered, OfferedTo: []string{"101"}, AnsweredBy: "101",
			TalkedTo: []string{"101"}, Cause: 16, CauseText: "Normal Clearing",
			Offers: []offer{{Operator: "101", DialStatus: "ANSWER", Outcome: screenpop.OutcomeAnswered, Rang: true}}}},
	{name: "a caller who hid their number, Local rig", tech: arisim.TechLocal,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.Prohibited, Operators: []string{"101"}},
		want: record{Withheld: true, DID: "74951112233", Status: screenpop.StatusAnswered, OfferedTo: []string{"101"}, AnsweredBy: "101",
			TalkedTo: []string{"101"}, Cause: 16, CauseText: "Normal Clearing",
			Offers: []offer{{Operator: "101", DialStatus: "ANSWER", Outcome: screenpop.OutcomeAnswered, Rang: true}}}},
	{name: "an attended transfer", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.AttendedTransfer, Operators: []string{"101", "102"}},
		want: record{Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusAnswered,
			OfferedTo: []string{"101"}, AnsweredBy: "101", TalkedTo: []string{"101", "102"}, Cause: 16, CauseText: "Normal Clearing",
			Offers: []offer{{Operator: "101", DialStatus: "ANSWER", Outcome: screenpop.OutcomeAnswered, Rang: true}}}},
	{name: "a blind transfer", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.BlindTransfer, Operators: []string{"101", "102"}},
		want: record{Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusAnswered,
			OfferedTo: []string{"101", "102"}, AnsweredBy: "101", TalkedTo: []string{"101", "102"}, Cause: 16, CauseText: "Normal Clearing",
			Offers: []offer{{Operator: "101", DialStatus: "ANSWER", Outcome: screenpop.OutcomeAnswered, Rang: true},
				{Operator: "102", DialStatus: "ANSWER", Outcome: screenpop.OutcomeAnswered, Rang: true}}}},
	{name: "a group pickup", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.Pickup, Operators: []string{"103", "104"}},
		want: record{Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusAnswered,
			OfferedTo: []string{"103", "104"}, AnsweredBy: "104", TalkedTo: []string{"104"}, Cause: 16, CauseText: "Normal Clearing",
			Offers: []offer{{Operator: "103", DialStatus: "CANCEL", Outcome: screenpop.OutcomeAnsweredElsewhere, Rang: true},
				{Operator: "104", DialStatus: "ANSWER", Outcome: screenpop.OutcomeAnswered, Rang: true}}}},
	{name: "a directed pickup from a ring-all Dial", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.DirectedPickup, Operators: []string{"102", "103", "104"},
			PickedUp: "103"},
		want: record{Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusAnswered,
			OfferedTo: []string{"102", "103", "104"}, AnsweredBy: "104", TalkedTo: []string{"104"}, Cause: 16, CauseText: "Normal Clearing",
			Offers: []offer{{Operator: "102", DialStatus: "CANCEL", Outcome: screenpop.OutcomeAnsweredElsewhere, Rang: true},
				{Operator: "103", DialStatus: "CANCEL", Outcome: screenpop.OutcomeAnsweredElsewhere, Rang: true},
				{Operator: "104", DialStatus: "ANSWER", Outcome: screenpop.OutcomeAnswered, Rang: true}}}},
	{name: "a ring-all Dial one phone answers", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.RingAll, Operators: []string{"101", "102", "103"},
			AnswerBy: "102"},
		want: ringAllAnswered},
	{name: "a ring-all Dial whose announcement delays the answer's ANSWER", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.RingAll, Operators: []string{"101", "102", "103"},
			AnswerBy: "102", Announce: 3 * time.Second},
		want: ringAllAnswered},
	{name: "a ring-all Dial with the c option whose announcement delays the answer's ANSWER", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.RingAll, Operators: []string{"101", "102", "103"},
			AnswerBy: "102", Announce: 3 * time.Second, CancelElsewhere: true},
		want: ringAllAnswered},
	{name: "a ring-all Dial the caller hangs up on", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.RingAllAbandoned, Operators: []string{"101", "102", "103"}},
		want: ringAllAbandoned},
	{name: "a ring-all Dial with the c option the caller hangs up on", tech: arisim.TechPJSIP,
		call: arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.RingAllAbandoned, Operators: []string{"101", "102", "103"},
			CancelElsewhere: true},
		want: ringAllAbandoned},
}

// The records of a ring-all Dial: 102 answers, or the caller hangs up.
var (
	ringAllAnswered = record{Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusAnswered,
		OfferedTo: []string{"101", "102", "103"}, AnsweredBy: "102", TalkedTo: []string{"102"}, Cause: 16, CauseText: "Normal Clearing",
		Offers: []offer{{Operator: "101", DialStatus: "CANCEL", Outcome: screenpop.OutcomeAnsweredElsewhere, Rang: true},
			{Operator: "102", DialStatus: "ANSWER", Outcome: screenpop.OutcomeAnswered, Rang: true},
			{Operator: "103", DialStatus: "CANCEL", Outcome: screenpop.OutcomeAnsweredElsewhere, Rang: true}}}
	ringAllAbandoned = record{Caller: "+79161234567", CallerE164: "+79161234567", DID: "74951112233", Status: screenpop.StatusAbandoned,
		OfferedTo: []string{"101", "102", "103"}, TalkedTo: []string{}, Cause: 16, CauseText: "Normal Clearing",
		Offers: []offer{{Operator: "101", DialStatus: "CANCEL", Outcome: screenpop.OutcomeCancelled, Rang: true},
			{Operator: "102", DialStatus: "CANCEL", Outcome: screenpop.OutcomeCancelled, Rang: true},
			{Operator: "103", DialStatus: "CANCEL", Outcome: screenpop.OutcomeCancelled, Rang: true}}}
)

func TestSIPScenariosGiveTheirCallRecords(t *testing.T) {
	for _, tc := range sipCases {
		t.Run(tc.name, func(t *testing.T) {
			msgs := simulate(t, traceCase{cfg: arisim.Config{ChannelVars: true, Tech: tc.tech}, call: tc.call})
			got := callRecords(t, msgs)
			if len(got) != 1 {
				t.Fatalf("%d call records, want 1: %+v", len(got), got)
			}
			g := got[0]
			g.ID, g.Ring, g.Wait, g.Talk = "", 0, 0, 0
			for i := range g.Offers {
				g.Offers[i].Channel = ""
			}
			if d := cmp.Diff(tc.want, g); d != "" {
				t.Errorf("call record (-want +got):\n%s", d)
			}
		})
	}
}

// TestSIPScenariosHaveTheShapeOfTheTraces: every event a SIP scenario
// sends has the fields, in the order, that Asterisk 22 writes for its
// type in the recorded traces, and its channels and bridges the objects'
// fields; the transfer events, which the traces do not have, have exactly
// the fields of ARI's BridgeBlindTransfer and BridgeAttendedTransfer.
func TestSIPScenariosHaveTheShapeOfTheTraces(t *testing.T) {
	var trace [][]byte
	paths, _ := filepath.Glob(filepath.Join(tracesDir(t), "*.jsonl"))
	for _, p := range paths {
		trace = append(trace, readTrace(t, filepath.Base(p))...)
	}
	if len(trace) == 0 {
		t.Fatal("no traces")
	}
	traceTypes := map[string]bool{}
	for _, m := range trace {
		traceTypes[typeOf(t, m)] = true
	}
	channelKeys := objectKeys(t, trace, "channel")
	bridgeKeys := objectKeys(t, trace, "bridge")
	library := map[string]reflect.Type{
		"BridgeBlindTransfer":    reflect.TypeOf(ariv5.BridgeBlindTransfer{}),
		"BridgeAttendedTransfer": reflect.TypeOf(ariv5.BridgeAttendedTransfer{}),
	}
	for _, tc := range sipCases {
		t.Run(tc.name, func(t *testing.T) {
			sim := simulate(t, traceCase{cfg: arisim.Config{ChannelVars: true, Tech: tc.tech}, call: tc.call})
			sameKeyOrder(t, trace, sim)
			seen := map[string]bool{}
			for _, m := range sim {
				typ := typeOf(t, m)
				seen[typ] = true
				if typ == "Dial" && strings.Contains(string(m), `"name":"`+tc.tech+`/105-`) {
					seen["Dial to 105"] = true
				}
				var obj map[string]json.RawMessage
				if err := json.Unmarshal(m, &obj); err != nil {
					t.Fatalf("not JSON: %s", m)
				}
				for k, v := range obj {
					switch {
					case v[0] != '{' || k == "device_state":
					case strings.Contains(k, "bridge") && k != "destination_bridge":
						if d := cmp.Diff(bridgeKeys, keysOf(t, v)); d != "" {
							t.Errorf("%s's %s has other fields than the traces' bridges (-traces +simulated):\n%s", typ, k, d)
						}
					default:
						if d := cmp.Diff(channelKeys, keysOf(t, v)); d != "" {
							t.Errorf("%s's %s has other fields than the traces' channels (-traces +simulated):\n%s", typ, k, d)
						}
					}
				}
				if lt, ok := library[typ]; ok {
					var want []string
					for i := range lt.NumField() {
						if name, _, _ := strings.Cut(lt.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
							want = append(want, name)
						}
					}
					for _, k := range topKeysOf(t, m) {
						if !slices.Contains(want, k) && !slices.Contains([]string{"type", "timestamp", "asterisk_id", "application"}, k) {
							t.Errorf("%s has field %s, which ARI's %s has not", typ, k, typ)
						}
					}
				} else if !traceTypes[typ] {
					t.Errorf("event type %s is in no trace and no ARI type checked here", typ)
				}
			}
			switch tc.call.Scenario {
			case arisim.AttendedTransfer:
				if !seen["BridgeAttendedTransfer"] {
					t.Error("no BridgeAttendedTransfer")
				}
			case arisim.BlindTransfer:
				if !seen["BridgeBlindTransfer"] {
					t.Error("no BridgeBlindTransfer")
				}
			case arisim.Unreachable:
				if seen["Dial to 105"] {
					t.Error("a Dial event for a phone that has no contact: Asterisk makes no channel")
				}
			}
		})
	}
}

// objectKeys is the field names of every object under key in the events.
func objectKeys(t *testing.T, msgs [][]byte, key string) []string {
	t.Helper()
	for _, m := range msgs {
		var obj map[string]json.RawMessage
		if json.Unmarshal(m, &obj) == nil && len(obj[key]) > 0 && obj[key][0] == '{' {
			return keysOf(t, obj[key])
		}
	}
	t.Fatalf("no event has a %s", key)
	return nil
}

func keysOf(t *testing.T, v json.RawMessage) []string {
	t.Helper()
	var o map[string]json.RawMessage
	if err := json.Unmarshal(v, &o); err != nil {
		t.Fatalf("not an object: %s", v)
	}
	var ks []string
	for k := range o {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func topKeysOf(t *testing.T, m []byte) []string { return topKeys(t, m) }
