package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/screenpop/screenpop/natsbus/natstest"
	"github.com/screenpop/screenpop/screenpop"
)

// Every screen of a box is read back, with other boxes' screens and
// updates interleaved in the stream.
func TestARestoreReadsEveryScreenOfManyBoxes(t *testing.T) {
	servers(t, func(t *testing.T, url string) {
		holder := connect(t, url, "h", 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pbx := fmt.Sprintf("rv%d", time.Now().UnixNano())
		a, b := holder.Screens(pbx+"a"), holder.Screens(pbx+"b")
		go a.Run(ctx)
		go b.Run(ctx)
		pa, pb := screenpop.NewHub(0, 0), screenpop.NewHub(0, 0)
		pa.SendTo(a)
		pb.SendTo(b)
		const n = 1500
		for i := range n {
			op := fmt.Sprint(100 + i%50)
			pa.Offer(op, screenpop.PopCall{ID: fmt.Sprintf("a.%d", i), Caller: "+79161234567"})
			pb.Offer(op, screenpop.PopCall{ID: fmt.Sprintf("b.%d", i), Caller: "+79161234567"})
		}
		eventually(t, "published", 60*time.Second, func() bool { return a.Published.Load() >= n && b.Published.Load() >= n })
		reader := connect(t, url, "r", 0)
		got, err := reader.Screens(pbx+"a").Restore(ctx, screenpop.NewHub(0, 0))
		t.Logf("published %d/%d, restored %d (%v)", a.Published.Load(), b.Published.Load(), got, err)
		if got != n {
			t.Errorf("restored %d screens, want %d", got, n)
		}
	})
}

// Every subject is read while the screens keep changing.
func TestAReadOfTheScreensWhileTheyChangeSeesEveryOne(t *testing.T) {
	servers(t, func(t *testing.T, url string) {
		holder := connect(t, url, "h", 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pbx := fmt.Sprintf("ru%d", time.Now().UnixNano())
		s := holder.Screens(pbx)
		go s.Run(ctx)
		const n = 1500
		msg := func(i int) *screenpop.Message {
			return &screenpop.Message{Type: "call.ringing", Call: &screenpop.PopCall{ID: fmt.Sprintf("c.%d", i)}}
		}
		for i := range n {
			s.Screen("101", msg(i))
		}
		eventually(t, "published", 60*time.Second, func() bool { return s.Published.Load() >= n })
		done := make(chan struct{})
		go func() {
			defer close(done)
			for k := 0; ctx.Err() == nil; k++ {
				s.Screen("101", msg(k%n))
				if k%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
		reader := connect(t, url, "r", 0)
		for round := range 20 {
			seen := map[string]bool{}
			err := reader.lastPerSubject(ctx, screensSubject+"*."+token(pbx)+".>", func(sm screenMsg, _ uint64) { seen[sm.Message.Call.ID] = true })
			if len(seen) != n || err != nil {
				t.Errorf("round %d: read %d subjects (%v), want %d", round, len(seen), err, n)
			}
		}
		cancel()
		<-done
	})
}

// A call's pop (call.offered) that the stream did not take is sent again
// before the later message of the same call (its card) that was in
// flight with it: the card alone would reach the pages, and app.js drops
// a call.card for a call it does not show.
func TestAFailedPopIsSentAgainBeforeItsCard(t *testing.T) {
	url := natstest.Start(t, 1).URL
	holder := connect(t, url, "h", 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := make(chan *nats.Msg, 64)
	sub, err := holder.nc.ChanSubscribe(liveSubject+">", live)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	sink := holder.Screens("pbx1")
	go sink.Run(ctx)
	producer := screenpop.NewHub(0, 0)
	producer.SendTo(sink)
	deleteStream(t, url, ScreensStream)
	call := screenpop.PopCall{ID: "1764583200.1", Caller: "+79161234567"}
	producer.Offer("101", call)
	producer.UpdateCard(call.Key(), screenpop.Card{Lookup: "found", Caller: "+79161234567"})
	eventually(t, "a publish failed", 30*time.Second, func() bool { return sink.PublishErrors.Load() > 0 })
	connect(t, url, "again", 0) // makes the streams again
	var types []string
	timeout := time.After(30 * time.Second)
	for len(types) == 0 || types[len(types)-1] != screenpop.MsgCard {
		select {
		case m := <-live:
			var sm screenMsg
			if err := json.Unmarshal(m.Data, &sm); err != nil {
				t.Fatal(err)
			}
			types = append(types, sm.Message.Type)
		case <-timeout:
			t.Fatalf("pages got %v", types)
		}
	}
	if !slices.Contains(types, screenpop.MsgOffered) {
		t.Errorf("pages got %v: the pop (%s) never", types, screenpop.MsgOffered)
	}
}
