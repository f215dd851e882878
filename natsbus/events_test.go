package natsbus

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// The log's messages are written with encoding/json (by every version of
// the appender) and read with go-json-experiment's implementation of it:
// whatever an appender writes, a follower must read exactly as
// encoding/json would.
func TestTheLogIsReadAsEncodingJSONReadsIt(t *testing.T) {
	at := time.Date(2026, 12, 8, 10, 0, 0, 123456789, time.UTC)
	msk := time.FixedZone("MSK", 3*3600)
	ch := screenpop.Channel{ID: "1764583200.12", Name: "PJSIP/trunk-0000002a", State: "Ring", Context: "from-trunk", Exten: "74950000000",
		CallerNumber: "+79161234567", CallerName: "Иван Петров", LinkedID: "1764583200.12", DID: "74950000000",
		Presentation: "allowed_not_screened", CreatedAt: at.In(msk)}
	peer := screenpop.Channel{ID: "1764583200.13", Name: "Local/101@phones-0000003d;1", State: "Ringing", Context: "phones", Exten: "101", CreatedAt: at}
	for _, tc := range []struct {
		name string
		evs  []screenpop.Event
	}{
		{"a dial ringing", []screenpop.Event{{Kind: screenpop.EventDial, Type: "Dial", At: at, Channel: ch, Peer: peer, DialStatus: "RINGING", DialString: "101"}}},
		{"an event with every field set", []screenpop.Event{{
			Kind: screenpop.EventTransfer, Type: "BridgeAttendedTransfer", At: at, Channel: ch, Peer: peer, DialStatus: "ANSWER", DialString: "PJSIP/101",
			Cause: 16, CauseText: "Normal Clearing", Soft: true, Variable: "DIALSTATUS", Value: "ANSWER",
			Transfer: &screenpop.Transfer{Attended: true, Transferer: ch, Consult: peer, Transferee: ch, Target: peer, Exten: "102", Context: "phones", Result: "Success"},
			BridgeID: "b-1", Args: []string{"inbound", ""}, Channels: []screenpop.Channel{ch, peer}, Waiting: []string{"1764583200.12"},
			Bridges: map[string][]string{"b-1": {"1764583200.12", "1764583200.13"}, "b-2": {}}, Heard: true,
		}}},
		{"a zero event", []screenpop.Event{{}}},
		{"a resync with no channels, and a tick", []screenpop.Event{
			{Kind: screenpop.EventResync, At: at, Channels: []screenpop.Channel{}, Bridges: map[string][]string{}},
			{Kind: screenpop.EventTick, At: at.Add(250 * time.Millisecond), Heard: true},
		}},
		{"names that are not valid UTF-8, or need escaping", []screenpop.Event{{Kind: screenpop.EventChannelUpdated, At: at,
			Channel: screenpop.Channel{ID: "1764583200.14", CallerName: "bad \xff\xfe name", Name: "<PJSIP/&\"trunk\"\\>\u2028"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.evs)
			if err != nil {
				t.Fatal(err)
			}
			var want []screenpop.Event
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			got, err := decodeEvents(data)
			if err != nil {
				t.Fatalf("decode %s: %v", data, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("read otherwise than encoding/json reads it (-encoding/json +follower):\n%s", diff)
			}
			for i := range got {
				if w, g := want[i].At.Location().String(), got[i].At.Location().String(); w != g {
					t.Errorf("event %d's time in %s, want %s", i, g, w)
				}
			}
		})
	}
}

// BenchmarkDecodeEvents: a message of the log of two events (a dial
// ringing and the phone's channel ringing), as every replica reads it.
func BenchmarkDecodeEvents(b *testing.B) {
	at := time.Date(2026, 12, 8, 10, 0, 0, 123000000, time.UTC)
	ch := screenpop.Channel{ID: "1764583200.123", Name: "Local/1447@phones-0000006a;1", State: "Ringing", Context: "phones", Exten: "1447",
		CallerNumber: "74951112233", CallerName: "Ivan", LinkedID: "1764583200.100", DID: "74950000000", CreatedAt: at}
	caller := ch
	caller.Name = "PJSIP/trunk-00000001"
	data, err := json.Marshal([]screenpop.Event{
		{Kind: screenpop.EventDial, Type: "Dial", At: at, Channel: caller, Peer: ch, DialStatus: "RINGING", DialString: "1447"},
		{Kind: screenpop.EventChannelUpdated, Type: "ChannelStateChange", At: at, Channel: ch},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decodeEvents(data); err != nil {
			b.Fatal(err)
		}
	}
}
