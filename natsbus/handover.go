package natsbus

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/screenpop/screenpop/screenpop"
)

// A handover without a gap. Asterisk gives an ARI application to one
// events websocket at a time: when the next holder connects, the old one
// is sent ApplicationReplaced and nothing more, so every event went to
// exactly one of the two, the old holder's all before the new one's.
// The old holder appends what it read, then a handover mark (a tick on
// sp.ev.<pbx>.h); the new holder appends nothing of its own until the
// mark is the log's last message, and then leaves out its connection's
// resync: the log goes on as if one reader had read it all, and the
// calls in progress are tracked exactly, not flagged. Without the mark
// (the old holder died) the new holder appends its resync as at any
// takeover.

const handoverKind = ".h"

// HandedOver appends the handover mark under this ingest's epoch, a tick
// at Asterisk's clock: every event this holder read is in the log before
// it. It is the last thing a holder that Asterisk replaced appends.
func (in *Ingest) HandedOver(ctx context.Context) error {
	return in.publishKind(ctx, []screenpop.Event{{Kind: screenpop.EventTick, At: in.now()}}, handoverKind)
}

// WaitHandedOver waits, until within has passed, for box pbx's log to end
// with a handover mark of an epoch older than epoch (this holder's), and
// reports whether it did. The log of a box whose old holder died never
// gets one: the caller then takes over with a resync.
func (b *Bus) WaitHandedOver(ctx context.Context, pbx string, epoch uint64, within time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		if b.endsHandedOver(ctx, pbx, epoch) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// endsHandedOver reports whether box pbx's log ends with a handover mark
// of an epoch older than epoch: the mark comes after its last events and
// its last resync, and is of their epoch.
func (b *Bus) endsHandedOver(ctx context.Context, pbx string, epoch uint64) bool {
	// last is the position and epoch of the subject's last message;
	// found is false when it has none; err when that is not known (NATS
	// slow or away), which is never taken for "none".
	last := func(kind string) (seq, ep uint64, found bool, err error) {
		m, err := b.events.GetLastMsgForSubject(ctx, eventsSubject+token(pbx)+kind)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0, 0, false, nil
		}
		if err != nil {
			return 0, 0, false, err
		}
		ep, err = strconv.ParseUint(m.Header.Get(epochHeader), 10, 64)
		return m.Sequence, ep, err == nil, err
	}
	mark, markEpoch, found, err := last(handoverKind)
	if err != nil || !found || markEpoch >= epoch {
		return false
	}
	for _, kind := range []string{".e", ".r"} {
		// After the mark, or from a later holder than the mark's (a
		// holder paused past its lease that wakes, is replaced and
		// marks late): not the end of the last holder's events.
		seq, ep, found, err := last(kind)
		if err != nil || found && (seq > mark || ep > markEpoch) {
			return false
		}
	}
	return true
}
