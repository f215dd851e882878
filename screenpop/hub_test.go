package screenpop

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// next reads the next message or fails.
func next(t *testing.T, sub *Subscription) Message {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		if !ok {
			t.Fatal("subscription closed")
		}
		return *m
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	return Message{}
}

func none(t *testing.T, sub *Subscription) {
	t.Helper()
	select {
	case m := <-sub.C:
		t.Fatalf("unexpected message %s %+v", m.Type, m.Call)
	default:
	}
}

func popCall(id string) PopCall {
	return PopCall{ID: id, Caller: "+79161234567", DID: "74951112233", Card: Card{Lookup: LookupPending}}
}

func TestHubSendsEachOperatorOnlyTheirCalls(t *testing.T) {
	h := NewHub(0, 0)
	a, b := h.Subscribe("101", 0), h.Subscribe("102", 0)
	next(t, a)
	next(t, b) // snapshots
	h.Offer("101", popCall("c1"))
	h.Offer("102", popCall("c2"))
	if m := next(t, a); m.Type != MsgOffered || m.Call.ID != "c1" {
		t.Errorf("101 got %s %v, want call.offered c1", m.Type, m.Call)
	}
	if m := next(t, b); m.Type != MsgOffered || m.Call.ID != "c2" {
		t.Errorf("102 got %s %v, want call.offered c2", m.Type, m.Call)
	}
	none(t, a)
	none(t, b)
}

func TestHubWithdrawsThePopFromOthersWhenOneAnswers(t *testing.T) {
	h := NewHub(0, 0)
	a, b := h.Subscribe("101", 0), h.Subscribe("102", 0)
	next(t, a)
	next(t, b)
	h.Offer("101", popCall("q1"))
	h.Offer("102", popCall("q1"))
	next(t, a)
	next(t, b)
	h.Answered("q1", "102")
	ma, mb := next(t, a), next(t, b)
	if ma.Type != MsgAnswered || ma.By != "102" || ma.Call.State != StateTaken {
		t.Errorf("101 got %s by %q state %s, want call.answered by 102, taken", ma.Type, ma.By, ma.Call.State)
	}
	if mb.Type != MsgAnswered || mb.Call.State != StateActive {
		t.Errorf("102 got %s state %s, want call.answered, active", mb.Type, mb.Call.State)
	}
	h.Ended("q1", StatusAnswered)
	if m := next(t, a); m.Type != MsgEnded || m.Call.Status != StatusAnswered {
		t.Errorf("101 got %s, want call.ended answered", m.Type)
	}
	// Nothing is kept for an ended call.
	if len(h.callOps) != 0 || len(h.operators["101"].calls) != 0 {
		t.Errorf("hub keeps ended calls: %v", h.callOps)
	}
}

func TestHubCatchesAReconnectingPageUpExactly(t *testing.T) {
	h := NewHub(0, 0)
	first := h.Subscribe("101", 0)
	next(t, first)
	h.Offer("101", popCall("c1"))
	seen := next(t, first).Seq
	first.Close()
	// While the page is away: an answer elsewhere, a new pop, a card.
	h.Offer("102", popCall("c1"))
	h.Answered("c1", "102")
	h.Offer("101", popCall("c2"))
	h.UpdateCard("c2", Card{Lookup: LookupUnknown})

	again := h.Subscribe("101", seen)
	snap := next(t, again)
	if snap.Type != MsgSnapshot || len(snap.Calls) != 1 || snap.Calls[0].ID != "c2" || snap.Reset {
		t.Fatalf("snapshot %+v, want c2 ringing and no reset", snap)
	}
	want := []string{MsgAnswered, MsgOffered, MsgCard}
	for i, typ := range want {
		m := next(t, again)
		if m.Type != typ || m.Seq != seen+uint64(i)+1 {
			t.Errorf("missed message %d: got %s seq %d, want %s seq %d", i, m.Type, m.Seq, typ, seen+uint64(i)+1)
		}
	}
	none(t, again)
}

func TestHubResetsAPageThatWasAwayTooLong(t *testing.T) {
	h := NewHub(4, 0)
	h.Offer("101", popCall("c0"))
	for i := 1; i <= 10; i++ {
		h.UpdateCard("c0", Card{Lookup: LookupPending})
	}
	sub := h.Subscribe("101", 1)
	if snap := next(t, sub); !snap.Reset || len(snap.Calls) != 1 {
		t.Errorf("snapshot %+v, want reset with the ringing call", snap)
	}
	none(t, sub)
}

func TestHubDropsASlowPageWithoutDelayingOthers(t *testing.T) {
	h := NewHub(4, 4)
	slow, fast, tab := h.Subscribe("101", 0), h.Subscribe("101", 0), h.Subscribe("101", 0)
	next(t, fast)
	next(t, tab)
	// slow never reads. Were the hub to wait for it, Offer would block
	// once slow's buffer is full and this loop would hang.
	for i := 0; i < 100; i++ {
		start := time.Now()
		h.Offer("101", popCall(fmt.Sprintf("c%d", i)))
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Offer took %v", d)
		}
		if m := next(t, fast); m.Call.ID != fmt.Sprintf("c%d", i) {
			t.Fatalf("fast page got %s, want c%d", m.Call.ID, i)
		}
		if m := next(t, tab); m.Call.ID != fmt.Sprintf("c%d", i) {
			t.Fatalf("second tab got %s, want c%d", m.Call.ID, i)
		}
	}
	select {
	case <-slow.Dropped:
	default:
		t.Error("a page that never reads was not dropped")
	}
}

func TestHubUnderConcurrentUse(t *testing.T) {
	h := NewHub(0, 0)
	var wg sync.WaitGroup
	for op := 0; op < 8; op++ {
		wg.Add(2)
		ext := fmt.Sprint(100 + op)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				id := fmt.Sprintf("%s-%d", ext, i)
				h.Offer(ext, popCall(id))
				h.UpdateCard(id, Card{Lookup: LookupUnknown})
				h.Answered(id, ext)
				h.Ended(id, StatusAnswered)
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				sub := h.Subscribe(ext, 0)
				for len(sub.C) > 0 {
					<-sub.C
				}
				sub.Close()
			}
		}()
	}
	wg.Wait()
	h.Close()
	if h.Subscribers() != 0 || len(h.callOps) != 0 {
		t.Errorf("%d subscribers and %d calls left", h.Subscribers(), len(h.callOps))
	}
}

func TestHubSaysWhoHasAPageOpen(t *testing.T) {
	h := NewHub(0, 0)
	defer h.Close()
	if h.Online("101") {
		t.Error("101 is online before opening a page")
	}
	a, b := h.Subscribe("101", 0), h.Subscribe("101", 0)
	if !h.Online("101") || h.Online("102") {
		t.Errorf("with two pages of 101 open: 101 online %v, 102 online %v", h.Online("101"), h.Online("102"))
	}
	a.Close()
	if !h.Online("101") {
		t.Error("101 is offline with one page still open")
	}
	b.Close()
	if h.Online("101") {
		t.Error("101 is online with every page closed")
	}
}
