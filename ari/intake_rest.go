package ari

import (
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// Rest returns, and takes out of the backlog, the events still waiting
// there once the connection that fed the intake has ended (its context
// done, which stops the backlog's pump). They come after whatever the
// pump had already put on the events channel: a holder handing a box
// over appends the channel's events first, then these, so that the log
// has every event it read, in order.
func (in *Intake) Rest() []screenpop.Event {
	b := &in.backlog
	for {
		b.mu.Lock()
		if !b.pumping {
			break
		}
		b.mu.Unlock()
		time.Sleep(time.Millisecond) // the pump sees its context done at once
	}
	defer b.mu.Unlock()
	rest := append([]screenpop.Event(nil), b.q[b.head:]...)
	b.reset()
	return rest
}
