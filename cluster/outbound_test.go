package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
)

func TestForwardEvents(t *testing.T) {
	t.Run("every event the client handed on is carried in order, then the appender's channel closes", func(t *testing.T) {
		in := make(chan screenpop.Event, 3)
		for _, typ := range []string{"StasisStart", "ChannelStateChange", "StasisEnd"} {
			in <- screenpop.Event{Type: typ}
		}
		out := make(chan screenpop.Event, 3)
		clientDone := make(chan struct{})
		close(clientDone)
		done := make(chan struct{})
		go func() {
			defer close(done)
			forwardEvents(context.Background(), in, out, ari.NewIntake(nil, nil, nil, nil), clientDone)
		}()
		waitClosed(t, done)
		var got []string
		for ev := range out {
			got = append(got, ev.Type)
		}
		want := []string{"StasisStart", "ChannelStateChange", "StasisEnd"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events carried (-want +got):\n%s", diff)
		}
	})
	t.Run("a lost lease stops it though the appender reads nothing", func(t *testing.T) {
		in := make(chan screenpop.Event, 1)
		in <- screenpop.Event{Type: "StasisStart"}
		out := make(chan screenpop.Event) // nobody reads it
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			forwardEvents(ctx, in, out, ari.NewIntake(nil, nil, nil, nil), make(chan struct{}))
		}()
		waitClosed(t, done)
		if _, ok := <-out; ok {
			t.Errorf("the appender's channel is open after the lease was lost")
		}
	})
}

func waitClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("forwardEvents did not return")
	}
}
