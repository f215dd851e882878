package arisim_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// The simulator's click-to-dial, carried out through the daemon's own
// originate and read back through its ARI client and decoder, is one
// outbound call record of the operator; an inbound call beside it is
// recorded exactly as by a tracker that knows nothing of outbound calls.
func TestClickToDialThroughTheDaemonsClientIsOneOutboundRecord(t *testing.T) {
	tests := []struct {
		name        string
		tech        string
		channelVars bool
		endpoint    string // the operator's phone, as asterisk.dial_endpoint makes it
		operators   string // asterisk.operator_endpoints
	}{
		{"a PJSIP phone, with channelvars", arisim.TechPJSIP, true, "PJSIP/101", "PJSIP/{ext}"},
		{"a PJSIP phone, with a stock ari.conf", arisim.TechPJSIP, false, "PJSIP/101", "PJSIP/{ext}"},
		{"a Local channel phone, with channelvars", arisim.TechLocal, true, "Local/101@phones", "Local/{ext}@phones"},
		{"a Local channel phone, with a stock ari.conf", arisim.TechLocal, false, "Local/101@phones", "Local/{ext}@phones"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url := newSim(t, arisim.Config{Tech: tt.tech, ChannelVars: tt.channelVars, Speed: 20, Operators: []string{"101", "102"}})
			quiet := slog.New(slog.DiscardHandler)
			events := make(chan screenpop.Event, 10000)
			metrics := ari.NewMetrics(nil)
			in := ari.NewIntake(ari.NewDecoder("FROM_DID"), events, metrics, quiet)
			client, err := ari.NewClient(ari.Config{URL: url, Username: testUser, Password: testPassword, App: "screenpop", SubscribeAll: true}, in, metrics, quiet)
			if err != nil {
				t.Fatal(err)
			}
			ops, err := screenpop.ParseEndpointPatterns([]string{tt.operators})
			if err != nil {
				t.Fatal(err)
			}
			cfg := screenpop.TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU"}
			before := &callLog{} // a tracker as it was before outbound calls
			old := screenpop.NewTracker(cfg, before, nil)
			cfg.OutboundContexts = []string{"from-internal"}
			after := &callLog{}
			tracker := screenpop.NewTracker(cfg, after, nil)

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); client.Run(ctx) }()
			defer func() { cancel(); <-done }()
			// Every event goes to both trackers, as serve's tracker gets it.
			handle := func(ev screenpop.Event) {
				for _, tr := range []*screenpop.Tracker{old, tracker} {
					tr.Handle(ev)
					tr.Advance(ev.At.Add(screenpop.DefaultLinger))
				}
			}
			next := func() screenpop.Event {
				select {
				case ev := <-events:
					return ev
				case <-time.After(10 * time.Second):
					t.Fatal("no event reached call tracking")
					return screenpop.Event{}
				}
			}
			handle(next()) // the resync
			waitUntil(t, "the client is ready", client.Ready)
			track := func(log *callLog, callID string) screenpop.Call {
				t.Helper()
				for {
					for _, c := range log.records() {
						if c.ID == callID {
							return c
						}
					}
					handle(next())
				}
			}

			req := screenpop.OriginateRequest{ChannelID: "screenpop-dial-t1", Endpoint: tt.endpoint, Extension: "+79161234567",
				Context: "from-internal", Priority: 1, CallerID: `"+79161234567" <101>`, Timeout: 30 * time.Second}
			if err := client.Originate(context.Background(), req); err != nil {
				t.Fatalf("Originate: %v", err)
			}
			got := s.Originates()
			want := []arisim.Originate{{Endpoint: tt.endpoint, Extension: "+79161234567", Context: "from-internal", Priority: 1,
				CallerID: `"+79161234567" <101>`, Timeout: 30, ChannelID: "screenpop-dial-t1", Variables: map[string]string{}}}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(arisim.Originate{}, "At")); diff != "" {
				t.Errorf("the simulator received (-want +got):\n%s", diff)
			}

			rec := track(after, "screenpop-dial-t1")
			type outbound struct {
				Direction             screenpop.Direction
				Caller, E164, DID     string
				Status                screenpop.Status
				AnsweredBy            string
				TalkedTo, OfferedTo   []string
				Offers                int
				Ring, Talk            float64
				CloseReason           string
				Started, Answered     bool
				StartedBeforeAnswered bool
			}
			sum := outbound{Direction: rec.Direction, Caller: rec.Caller, DID: rec.DID, Status: rec.Status,
				TalkedTo: rec.TalkedTo, OfferedTo: rec.OfferedTo, Offers: len(rec.Offers), Ring: rec.RingSeconds,
				Talk: rec.TalkSeconds, CloseReason: rec.CloseReason, Started: !rec.StartedAt.IsZero(), Answered: rec.AnsweredAt != nil}
			if rec.CallerE164 != nil {
				sum.E164 = *rec.CallerE164
			}
			if rec.AnsweredBy != nil {
				sum.AnsweredBy = *rec.AnsweredBy
			}
			if rec.AnsweredAt != nil {
				sum.StartedBeforeAnswered = rec.StartedAt.Before(*rec.AnsweredAt)
			}
			// The simulator's client answers 3 s after it rings and talks 3 s.
			wantRec := outbound{Direction: screenpop.Outbound, Caller: "+79161234567", E164: "+79161234567",
				Status: screenpop.StatusAnswered, AnsweredBy: "101", TalkedTo: []string{"101"}, OfferedTo: []string{},
				Ring: 3, Talk: 3, Started: true, Answered: true, StartedBeforeAnswered: true}
			if diff := cmp.Diff(wantRec, sum, cmpopts.EquateApprox(0, 0.1)); diff != "" {
				t.Errorf("the click-to-dial call record differs (-want +got):\n%s", diff)
			}

			// An inbound call, after it: the same record either way.
			wait := startCall(t, s, context.Background(), arisim.Call{ID: "in-1", Caller: "89031112233", DID: "74951112233",
				Operators: []string{"102"}})
			in1 := track(after, "in-1")
			in0 := track(before, "in-1")
			if _, err := wait(); err != nil {
				t.Fatal(err)
			}
			if in1.Direction != screenpop.Inbound || in1.Status != screenpop.StatusAnswered {
				t.Errorf("the inbound call was recorded as %s %s", in1.Direction, in1.Status)
			}
			if diff := cmp.Diff(in0, in1); diff != "" {
				t.Errorf("the inbound record changed with outbound contexts configured (-without +with):\n%s", diff)
			}
			for _, c := range before.records() {
				if c.ID != "in-1" {
					t.Errorf("a tracker without outbound contexts recorded %s (%s from %s)", c.ID, c.Status, c.Caller)
				}
			}
			if n := len(after.records()); n != 2 {
				t.Errorf("%d records, want the click-to-dial call and the inbound one", n)
			}
			if tot := metrics.Totals(); tot.Unknown+tot.Malformed+tot.Dropped > 0 {
				t.Errorf("the intake could not use every event: %+v", tot)
			}
		})
	}
}
