package natsbus

import (
	"context"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// A new holder may go on without a resync only when the box's log ends
// with the old holder's handover mark: not before the mark, not when the
// old holder appended after it, and not for a mark of its own epoch.
func TestANewHolderGoesOnWithoutAGapOnlyAfterTheOldHoldersMark(t *testing.T) {
	servers(t, func(t *testing.T, url string) {
		b := connect(t, url, "a", 0)
		ctx := context.Background()
		t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		old := b.Ingest("pbx1", 3)
		ev := screenpop.Event{Kind: screenpop.EventChannelCreated, At: t0, Channel: screenpop.Channel{ID: "1764583200.1", Name: "PJSIP/trunk"}}
		if err := old.Append(ctx, 3, ev); err != nil {
			t.Fatal(err)
		}
		if b.WaitHandedOver(ctx, "pbx1", 5, 200*time.Millisecond) {
			t.Fatal("went on without a gap before the old holder marked the log")
		}
		if err := old.HandedOver(ctx); err != nil {
			t.Fatal(err)
		}
		if !b.WaitHandedOver(ctx, "pbx1", 5, 10*time.Second) {
			t.Fatal("the old holder's mark ends the log, yet the new holder did not go on without a gap")
		}
		if b.WaitHandedOver(ctx, "pbx1", 3, 200*time.Millisecond) {
			t.Fatal("a holder took its own mark for a handover")
		}
		if b.WaitHandedOver(ctx, "pbx2", 5, 200*time.Millisecond) {
			t.Fatal("another box's mark was taken for this box's")
		}
		// The mark is a tick after the old holder's last event: it moves
		// the followers' clock and nothing else.
		out := make(chan screenpop.LogEntry, 10)
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go b.Follower("pbx1").Run(fctx, out)
		var got []screenpop.LogEntry
		for len(got) < 2 {
			select {
			case e := <-out:
				got = append(got, e)
			case <-time.After(20 * time.Second):
				t.Fatalf("entries read: %+v", got)
			}
		}
		if m := got[1]; m.Epoch != 3 || m.Event.Kind != screenpop.EventTick || m.Event.At.Before(t0) {
			t.Errorf("the mark as followers read it: %+v", m)
		}
		// A late mark of an older holder (paused past its lease, woken,
		// replaced) after the next holder's events is not the end of
		// that holder's events.
		if err := b.Ingest("pbx1", 4).Append(ctx, 4, ev); err != nil {
			t.Fatal(err)
		}
		if err := old.HandedOver(ctx); err != nil {
			t.Fatal(err)
		}
		if b.WaitHandedOver(ctx, "pbx1", 5, 200*time.Millisecond) {
			t.Fatal("a stale mark of epoch 3 after epoch 4's events was taken for epoch 4's handover")
		}
		// The old holder appending after its mark (it was not replaced
		// after all) means no handover.
		if err := old.Append(ctx, 3, ev); err != nil {
			t.Fatal(err)
		}
		if b.WaitHandedOver(ctx, "pbx1", 5, 200*time.Millisecond) {
			t.Fatal("went on without a gap though the old holder appended after its mark")
		}
	})
}
