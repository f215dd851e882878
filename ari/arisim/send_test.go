package arisim_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/screenpop/screenpop/ari/arisim"
)

func TestOnSendDescribesEveryFrameAsItLeaves(t *testing.T) {
	var (
		mu   sync.Mutex
		sent []arisim.Sent
	)
	s, url := newSim(t, arisim.Config{ChannelVars: true, OnSend: func(sn arisim.Sent) {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, sn)
	}})
	l := listen(t, s, url, "screenpop", true)
	start := time.Now()
	// A queue call rings both phones: two Dial RINGING, and every other
	// kind of event, with and without a channel.
	if _, err := s.Place(context.Background(), arisim.Call{ID: "call-1", Caller: "+79161234567", DID: "74951112233",
		Scenario: arisim.Queue, Operators: []string{"101", "102"}, AnswerBy: "102"}); err != nil {
		t.Fatalf("Place: %v", err)
	}
	msgs := l.waitN(int(s.Events()))
	// The hook is told after the write returns, which may be after the
	// client has read the frame.
	waitUntil(t, "the hook is told of every frame", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sent) == len(msgs)
	})
	mu.Lock()
	got := append([]arisim.Sent(nil), sent...)
	mu.Unlock()

	type channelJSON struct {
		Name        string            `json:"name"`
		State       string            `json:"state"`
		ChannelVars map[string]string `json:"channelvars"`
	}
	var want []arisim.Sent
	ringing := map[string]bool{}
	for _, m := range msgs {
		var e struct {
			Type       string       `json:"type"`
			DialStatus string       `json:"dialstatus"`
			Channel    *channelJSON `json:"channel"`
			Peer       *channelJSON `json:"peer"`
		}
		if err := json.Unmarshal(m, &e); err != nil {
			t.Fatalf("event is not JSON: %v: %s", err, m)
		}
		w := arisim.Sent{App: "screenpop", Type: e.Type, DialStatus: e.DialStatus}
		ch := e.Channel
		if e.Type == "Dial" {
			ch = e.Peer
		}
		if ch != nil {
			w.CallID, w.Channel, w.State = ch.ChannelVars["CHANNEL(linkedid)"], ch.Name, ch.State
		}
		if e.Type == "Dial" && e.DialStatus == "RINGING" {
			ringing[e.Peer.Name[:len("Local/101@phones")]] = true
		}
		want = append(want, w)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(arisim.Sent{}, "At")); diff != "" {
		t.Errorf("the hook's frames differ from those the client read (-read +told):\n%s", diff)
	}
	if !ringing["Local/101@phones"] || !ringing["Local/102@phones"] {
		t.Errorf("the client read Dial RINGING for %v, want both phones", ringing)
	}
	for i, sn := range got {
		if sn.At.Before(start) || i > 0 && sn.At.Before(got[i-1].At) {
			t.Fatalf("frame %d (%s) is stamped %v, before the call or the frame before it", i, sn.Type, sn.At)
		}
	}
}
