package oracletest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
)

// SimUser and SimPassword are the ARI user of the simulator Sim starts
// (the daemon's default ari.username) and its password.
const (
	SimUser     = "screenpop"
	SimPassword = "pw"
)

// Sim is a simulator in real time (Speed 1: the daemon's clock and
// Asterisk's agree, as on a PBX) with six operators and the recommended
// channelvars, and its URL; it is closed when the test ends.
func Sim(t *testing.T) (*arisim.Sim, string) {
	t.Helper()
	s := arisim.New(arisim.Config{Username: SimUser, Password: SimPassword, ChannelVars: true, Speed: 1,
		Operators: []string{"101", "102", "103", "104", "105", "106"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	url, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

// Load is n generated calls at rate a second, ringing 1-6 s and talking
// 2-15 s.
func Load(n int, rate float64, seed uint64) arisim.Load {
	return arisim.Load{Rate: rate, Calls: n, Seed: seed, RingFor: [2]time.Duration{time.Second, 6 * time.Second},
		TalkFor: [2]time.Duration{2 * time.Second, 15 * time.Second}}
}

// Oracle runs the oracle on the simulator at simURL until the test ends
// (or ctx does), and waits for it to connect.
func Oracle(t *testing.T, ctx context.Context, simURL string) *Tracked {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	o := RunTracked(t, ctx, ari.Config{URL: simURL, Username: SimUser, Password: SimPassword, App: "oracle", SubscribeAll: true})
	t.Cleanup(cancel) // before RunTracked's cleanup waits for it
	WaitLong(t, "the oracle is connected", o.Client.Ready)
	return o
}

// RunLoad runs the calls in the background; the channel gets the
// simulator's figures when they are over.
func RunLoad(t *testing.T, ctx context.Context, s *arisim.Sim, l arisim.Load) <-chan arisim.Stats {
	done := make(chan arisim.Stats, 1)
	go func() {
		st, err := s.Run(ctx, l)
		if err != nil {
			t.Errorf("load: %v", err)
		}
		done <- st
	}()
	return done
}
