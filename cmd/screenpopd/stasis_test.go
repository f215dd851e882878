package main

import (
	"context"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/arisim"
)

// In stasis mode the daemon sees a call only through its Stasis app; once
// it continues the channel, only its subscription keeps the events
// coming. The record must still be whole.
func TestStasisModeFollowsACallToItsEndAfterContinuingIt(t *testing.T) {
	sim := arisim.New(arisim.Config{Username: "screenpop", Password: "pw", Operators: []string{"101"}, ChannelVars: true, Speed: 5}, discardLogger())
	url, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	d := newDaemon(t, url)
	d.cfg.ARIMode = "stasis"
	d.start(t)
	d.waitReady(t, 200)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := sim.Place(ctx, arisim.Call{ID: "st1", Caller: "+79161234567", DID: "74951112233", Scenario: arisim.Stasis,
		Operators: []string{"101"}, RingFor: 2 * time.Second, TalkFor: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Continued {
		t.Fatal("the daemon did not continue the call waiting in its Stasis app")
	}
	d.waitCallsRecorded(t, 1)
	d.shutdown(t)
	got := storedCalls(t, d.cfg)
	want := []any{"answered", "101", 2.0, 3.0, ""}
	if len(got) != 1 || !approxRow(got["st1"], want) {
		t.Errorf("call log holds %v, want st1 = %v (answered by 101, ring 2 s, talk 3 s, its end seen)", got, want)
	}
}
