package cluster

import (
	"context"
	"time"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/natsbus"
	"github.com/screenpop/screenpop/screenpop"
)

// handoverWait is how long a replica that took a box over from a holder
// that gave it up waits for the old holder's handover mark before it
// appends its own events (natsbus/handover.go): the old holder needs a
// tick (250 ms) to see that Asterisk replaced it, then appends what it
// read. Without the mark by then it takes over with a resync, as after a
// crash.
const handoverWait = 3 * time.Second

// appendRest appends, once a holder's reader has stopped, the events it
// read that are not yet in the log: those on the events channel, then
// those the intake's backlog still holds, in order.
func appendRest(ctx context.Context, in *natsbus.Ingest, epoch uint64, events <-chan screenpop.Event, intake *ari.Intake) error {
	drain := func() error {
		for {
			select {
			case ev := <-events:
				if err := in.Append(ctx, epoch, ev); err != nil {
					return err
				}
			default:
				return nil
			}
		}
	}
	if err := drain(); err != nil {
		return err
	}
	rest := intake.Rest()
	// The backlog's pump may have handed one more on before it stopped:
	// older than the rest.
	if err := drain(); err != nil {
		return err
	}
	for _, ev := range rest {
		if err := in.Append(ctx, epoch, ev); err != nil {
			return err
		}
	}
	return nil
}
