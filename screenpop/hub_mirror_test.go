package screenpop

import "testing"

// seqSink numbers the producer hub's messages as a stream would (with
// gaps: other operators' messages share the numbering) and hands them to
// the mirrors.
type seqSink struct {
	seq     uint64
	mirrors []*Hub
}

func (s *seqSink) Screen(op string, m *Message) {
	s.seq += 3
	cp := *m
	cp.Seq = s.seq
	for _, h := range s.mirrors {
		h.Apply(op, &cp)
	}
}

func TestAPageMovingToAnotherMirrorGetsTheSnapshotAndEveryCallChangedSince(t *testing.T) {
	a, b := NewMirrorHub("c1", 0, 0), NewMirrorHub("c1", 0, 0)
	producer := NewHub(0, 0)
	sink := &seqSink{mirrors: []*Hub{a, b}}
	producer.SendTo(sink)

	pageA := a.Resume("101", "", 0)
	if snap := next(t, pageA); snap.Type != MsgSnapshot || len(snap.Calls) != 0 {
		t.Fatalf("first message: %+v", snap)
	}
	producer.Offer("101", PopCall{ID: "c-1", Caller: "+79161234567"})
	m := next(t, pageA)
	if m.Type != MsgOffered || m.Seq != 3 {
		t.Fatalf("pop on replica a: %+v", m)
	}
	since := m.Seq
	pageA.Close() // replica a dies; the page reconnects to b
	producer.Answered("c-1", "101")
	producer.Offer("101", PopCall{ID: "c-2", Caller: "+79161234568"})
	producer.Ended("c-1", StatusAnswered)

	pageB := b.Resume("101", "c1", since)
	snap := next(t, pageB)
	if snap.Type != MsgSnapshot || snap.Reset || len(snap.Calls) != 1 || snap.Calls[0].ID != "c-2" {
		t.Fatalf("snapshot on b: %+v", snap)
	}
	// Each call's latest message, in stream order: c-2 rang, then c-1
	// ended (its answer, superseded, is not replayed).
	got1, got2 := next(t, pageB), next(t, pageB)
	if got1.Type != MsgOffered || got1.Call.ID != "c-2" || got2.Type != MsgEnded || got2.Call.ID != "c-1" || got1.Seq >= got2.Seq {
		t.Fatalf("replayed: %+v then %+v", got1, got2)
	}
	// A page from a single daemon's numbering starts afresh.
	other := b.Resume("101", "single-daemon", 2)
	if snap := next(t, other); !snap.Reset {
		t.Errorf("a foreign epoch's page was not reset: %+v", snap)
	}
	// A message replayed late (older than one applied) changes nothing.
	a.Apply("101", &Message{V: MessageVersion, Seq: 1, Type: MsgOffered, Call: &PopCall{ID: "c-2", State: StateRinging}})
	b.Apply("101", &Message{V: MessageVersion, Seq: 1, Type: MsgOffered, Call: &PopCall{ID: "c-1", State: StateRinging}})
	if again := b.Resume("101", "c1", 0); len(next(t, again).Calls) != 1 {
		t.Error("an old message brought an ended call back")
	}
}

func TestARestoredProducerHubCarriesTheOldHoldersScreensOn(t *testing.T) {
	h := NewHub(0, 0)
	var got []string
	h.SendTo(sinkFunc(func(op string, m *Message) { got = append(got, op+" "+m.Type) }))
	h.Restore("101", &Message{Type: MsgOffered, Call: &PopCall{ID: "c-1", State: StateRinging}})
	h.Restore("102", &Message{Type: MsgOffered, Call: &PopCall{ID: "c-1", State: StateRinging}})
	h.Answered("c-1", "102")
	if len(got) != 2 || got[0][4:] != MsgAnswered {
		t.Errorf("messages after the takeover: %v", got)
	}
}

type sinkFunc func(string, *Message)

func (f sinkFunc) Screen(op string, m *Message) { f(op, m) }

func TestDroppedPagesOfAMirrorReconnectAndCatchUp(t *testing.T) {
	h := NewMirrorHub("c1", 0, 0)
	p1, p2 := h.Resume("101", "", 0), h.Resume("102", "", 0)
	next(t, p1)
	next(t, p2)
	h.Apply("101", &Message{V: MessageVersion, Seq: 4, Type: MsgOffered, Call: &PopCall{ID: "c-1", State: StateRinging}})
	m := next(t, p1)
	if n := h.DropSubscribers(); n != 2 {
		t.Errorf("dropped %d pages, want 2", n)
	}
	for _, p := range []*Subscription{p1, p2} {
		if _, ok := <-p.C; ok {
			t.Error("a dropped page's subscription is still open")
		}
	}
	if h.Subscribers() != 0 {
		t.Errorf("%d pages still subscribed", h.Subscribers())
	}
	// The hub goes on: a page coming back catches up from its number.
	h.Apply("101", &Message{V: MessageVersion, Seq: 9, Type: MsgMissed, Call: &PopCall{ID: "c-1", State: StateMissed}})
	again := h.Resume("101", "c1", m.Seq)
	if snap := next(t, again); snap.Type != MsgSnapshot || snap.Reset {
		t.Fatalf("snapshot: %+v", snap)
	}
	if got := next(t, again); got.Seq != 9 || got.Type != MsgMissed {
		t.Errorf("caught up with %+v, want the missed call (9)", got)
	}
}
