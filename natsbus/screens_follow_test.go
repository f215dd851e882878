package natsbus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/screenpop/screenpop/natsbus/natstest"
	"github.com/screenpop/screenpop/screenpop"
)

// TestAReplicaWhoseFirstReadOfTheScreensFailsKeepsTrying: a replica
// restarted while JetStream does not answer yet (a loaded CI run: "no
// responders" as its NATS node rejoined) once gave up following the
// operators' screens for good, and its pages never popped again. Here the
// screens stream is missing when the replica starts following, and made
// again later: the replica must catch up and pass pops on.
func TestAReplicaWhoseFirstReadOfTheScreensFailsKeepsTrying(t *testing.T) {
	url := natstest.Start(t, 1).URL
	web := connect(t, url, "w", 0)
	deleteStream(t, url, ScreensStream)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	mirror := screenpop.NewMirrorHub(web.Epoch(), 0, 0)
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- web.FollowScreens(ctx, mirror, ready) }()
	select {
	case <-ready:
		t.Fatal("ready with no screens stream to read")
	case err := <-done:
		t.Fatalf("FollowScreens gave up: %v", err)
	case <-time.After(300 * time.Millisecond): // a few failed tries: the fault's length
	}

	holder := connect(t, url, "h", 0) // makes the cluster's streams again
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("FollowScreens gave up: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the replica did not catch up with the screens once the stream was back")
	}
	sink := holder.Screens("pbx1")
	go sink.Run(ctx)
	producer := screenpop.NewHub(0, 0)
	producer.SendTo(sink)
	page := mirror.Resume("101", web.Epoch(), 0)
	defer page.Close()
	if snap := <-page.C; snap.Type != screenpop.MsgSnapshot {
		t.Fatalf("first message %+v, want a snapshot", snap)
	}
	producer.Offer("101", screenpop.PopCall{ID: "1764583200.1", Caller: "+79161234567"})
	select {
	case pop := <-page.C:
		if pop.Type != screenpop.MsgOffered || pop.Call.ID != "1764583200.1" {
			t.Fatalf("the page got %+v, want the pop of 1764583200.1", pop)
		}
	case <-time.After(time.Minute):
		t.Fatal("the page on the replica got no pop")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("FollowScreens: %v", err)
	}
}

// TestAFollowerWhoseFirstReadOfTheLogFailsKeepsTrying: as the screens, a
// follower that found no log at its start once returned an error that
// Replica.Run reads only at shutdown; the replica ran on with no call
// tracking. Here the events stream is missing when the follower starts,
// and made again later: the follower must deliver what is appended then.
func TestAFollowerWhoseFirstReadOfTheLogFailsKeepsTrying(t *testing.T) {
	url := natstest.Start(t, 1).URL
	b := connect(t, url, "a", 0)
	deleteStream(t, url, EventsStream)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, done := make(chan screenpop.LogEntry, 100), make(chan error, 1)
	go func() { done <- b.Follower("pbx1").Run(ctx, out) }()
	select {
	case err := <-done:
		t.Fatalf("the follower gave up: %v", err)
	case <-time.After(300 * time.Millisecond): // a few failed tries: the fault's length
	}

	a := connect(t, url, "h", 0) // makes the cluster's streams again
	events := make(chan screenpop.Event, 10)
	go a.Ingest("pbx1", 3).Run(ctx, events, nil)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	events <- screenpop.Event{Kind: screenpop.EventResync, At: at}
	select {
	case e := <-out:
		if e.Event.Kind != screenpop.EventResync || e.Epoch != 3 {
			t.Errorf("first entry %+v, want the resync under epoch 3", e)
		}
	case err := <-done:
		t.Fatalf("the follower gave up: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the follower delivered nothing once the log was back")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// deleteStream deletes one of the cluster's streams, as if JetStream did
// not have it yet.
func deleteStream(t *testing.T, url, name string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(context.Background(), name); err != nil {
		t.Fatal(err)
	}
}

// TestATakeoverWhoseFirstReadOfTheScreensFailsKeepsTrying: Restore, at a
// takeover, tried once; a JetStream that did not answer left the new
// holder without the screens. Here the stream is missing at first.
func TestATakeoverWhoseFirstReadOfTheScreensFailsKeepsTrying(t *testing.T) {
	url := natstest.Start(t, 1).URL
	b := connect(t, url, "a", 0)
	deleteStream(t, url, ScreensStream)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := b.Screens("pbx1").Restore(ctx, screenpop.NewHub(0, 0))
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("Restore returned %d, %v with no screens stream: it should try again", r.n, r.err)
	case <-time.After(300 * time.Millisecond): // a few failed tries: the fault's length
	}
	connect(t, url, "h", 0) // makes the cluster's streams again
	if r := <-done; r.err != nil || r.n != 0 {
		t.Errorf("Restore = %d, %v once the stream was back, want 0 screens and no error", r.n, r.err)
	}
}
