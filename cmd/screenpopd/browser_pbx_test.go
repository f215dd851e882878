package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/screenpop/screenpop/ari/arisim"
)

// Two boxes ring operator 101 with calls of one ID: the page shows two
// pops, each with its own caller, and when one box's call ends the other's
// still rings.
func TestBrowserKeepsTwoBoxesCallsOfOneIDApart(t *testing.T) {
	sims := map[string]*arisim.Sim{}
	var boxes []Box
	for i, pbx := range []string{"pbx1", "pbx2"} {
		s := arisim.New(arisim.Config{Username: "screenpop", Password: "pw", ChannelVars: true,
			EntityID: fmt.Sprintf("02:00:00:00:00:%02d", i+1), Operators: []string{"101"}}, nil)
		url, err := s.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		sims[pbx] = s
		boxes = append(boxes, Box{Name: pbx, URL: url, Username: "screenpop", Password: "pw", Connect: "inbound", REST: "websocket"})
	}
	d := newDaemon(t, boxes[0].URL)
	d.cfg.Boxes = boxes
	keys := seed(t, d.dataDir)
	d.start(t)
	d.waitReady(t, http.StatusOK)

	ctx := browser(t)
	open, cancelOpen := context.WithTimeout(ctx, time.Minute)
	defer cancelOpen()
	if err := chromedp.Do(open, chromedp.Navigate("http://"+d.http+"/#token="+keys["101"]), chromedp.WaitVisible("#desk"),
		waitText("#conn", "online")); err != nil {
		t.Fatalf("open the operator page: %v\n%s", err, pageHTML(ctx))
	}

	// pbx1's caller gives up after 3 s of ringing; pbx2's rings on.
	const id = "1765000000.1"
	calls, cancelCalls := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelCalls()
	done := make(chan error, 2)
	for pbx, c := range map[string]arisim.Call{
		"pbx1": {ID: id, Scenario: arisim.Abandoned, Caller: "+79161230001", DID: "74951112233", RingFor: 3 * time.Second},
		"pbx2": {ID: id, Scenario: arisim.Missed, Caller: "+79035550002", DID: "74951112233", RingFor: 40 * time.Second},
	} {
		go func() { _, err := sims[pbx].Place(calls, c); done <- err }()
	}
	one, two := `.call[data-call-id="pbx1/`+id+`"]`, `.call[data-call-id="pbx2/`+id+`"]`
	step, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(step, waitText(one+" .number", "+79161230001"), waitText(two+" .number", "+79035550002")); err != nil {
		t.Fatalf("the page does not show both boxes' calls %s: %v\n%s", id, err, pageHTML(ctx))
	}
	if err := chromedp.Do(step, chromedp.WaitNotPresent(one), chromedp.WaitVisible(two+`[data-state="ringing"]`)); err != nil {
		t.Fatalf("after pbx1's caller hung up, pbx2's call of the same ID does not ring on: %v\n%s", err, pageHTML(ctx))
	}
	n, err := chromedp.Run(step, chromedp.Evaluate[int](`document.querySelectorAll(".call").length`))
	if err != nil || n != 1 {
		t.Errorf("the page shows %d pops, want pbx2's alone (%v)", n, err)
	}
	t.Logf("two boxes' calls %s: two pops, one per box; pbx1's withdrawn, pbx2's ringing", id)
	cancelCalls()
	<-done
	<-done
}
