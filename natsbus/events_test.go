package natsbus

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// Every replica must read the log's messages as encoding/json read
// them when the appenders wrote with it too: whatever an appender of this
// version (leaving zero fields out) or of an older one (encoding/json)
// writes, a follower of this version or of an older one (encoding/json)
// must read the same events.
func TestEveryReplicaReadsTheLogAsEncodingJSONDid(t *testing.T) {
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
			old, err := json.Marshal(tc.evs) // an older appender's message
			if err != nil {
				t.Fatal(err)
			}
			var want []screenpop.Event
			if err := json.Unmarshal(old, &want); err != nil {
				t.Fatal(err)
			}
			data, err := encodeEvents(tc.evs)
			if err != nil {
				t.Fatal(err)
			}
			read := map[string]func([]byte) ([]screenpop.Event, error){
				"this version": decodeEvents,
				"an older version (encoding/json)": func(b []byte) ([]screenpop.Event, error) {
					var evs []screenpop.Event
					err := json.Unmarshal(b, &evs)
					return evs, err
				},
			}
			for by, msg := range map[string][]byte{"this version": data, "an older version": old} {
				for follower, decode := range read {
					got, err := decode(msg)
					if err != nil {
						t.Fatalf("%s reading %s's message %s: %v", follower, by, msg, err)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("%s reads %s's message otherwise than before (-before +now):\n%s", follower, by, diff)
					}
					for i := range got {
						if w, g := want[i].At.Location().String(), got[i].At.Location().String(); w != g {
							t.Errorf("%s reading %s's message: event %d's time in %s, want %s", follower, by, i, g, w)
						}
					}
				}
			}
			if len(data) > len(old) {
				t.Errorf("this version's message is %d bytes, more than encoding/json's %d", len(data), len(old))
			}
		})
	}
}

// benchEvents is a message of the log of two events: a dial ringing and
// the phone's channel ringing.
func benchEvents() []screenpop.Event {
	at := time.Date(2026, 12, 8, 10, 0, 0, 123000000, time.UTC)
	ch := screenpop.Channel{ID: "1764583200.123", Name: "Local/1447@phones-0000006a;1", State: "Ringing", Context: "phones", Exten: "1447",
		CallerNumber: "74951112233", CallerName: "Ivan", LinkedID: "1764583200.100", DID: "74950000000", CreatedAt: at}
	caller := ch
	caller.Name = "PJSIP/trunk-00000001"
	return []screenpop.Event{
		{Kind: screenpop.EventDial, Type: "Dial", At: at, Channel: caller, Peer: ch, DialStatus: "RINGING", DialString: "1447"},
		{Kind: screenpop.EventChannelUpdated, Type: "ChannelStateChange", At: at, Channel: ch},
	}
}

// BenchmarkEncodeEvents: the holder writing a message of the log.
func BenchmarkEncodeEvents(b *testing.B) {
	evs := benchEvents()
	data, err := encodeEvents(evs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(data)), "bytes/msg")
	for b.Loop() {
		if _, err := encodeEvents(evs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEvents: every replica reading a message of the log.
func BenchmarkDecodeEvents(b *testing.B) {
	data, err := encodeEvents(benchEvents())
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
