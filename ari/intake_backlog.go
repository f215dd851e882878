package ari

import (
	"context"
	"sync"

	"github.com/screenpop/screenpop/screenpop"
)

// DefaultBacklog is how many events may wait for call tracking beyond its
// own queue: about 20 s of a 1,000 calls/s centre whose tracking stands
// still, some 250 MiB at worst. A real burst is a fraction of it.
const DefaultBacklog = 1 << 18

// backlog keeps, in order, the events call tracking has no room for, so
// that the socket reader never waits (Asterisk cuts a socket it cannot
// write to for 100 ms) and no event is lost to a short stall. One pump
// goroutine, started when the first event waits and ended when none is
// left (or its ctx is done), hands them on.
type backlog struct {
	bound   int
	overrun chan struct{} // signalled when events were given up

	mu      sync.Mutex
	q       []screenpop.Event
	head    int  // q[head:] wait
	pumping bool // a pump is running, or a resync is being handed on
	// lost is set from the first event given up until the next resync:
	// what follows a lost event would mislead call tracking, so it is
	// given up too, and the resync says what is true.
	lost bool
}

func newBacklog(bound int) backlog {
	return backlog{bound: bound, overrun: make(chan struct{}, 1)}
}

func (b *backlog) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.q) - b.head
}

// put hands ev on at once when nothing waits and there is room, else
// queues it; false when it was given up.
func (b *backlog) put(ctx context.Context, in *Intake, ev screenpop.Event) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lost {
		in.m.Dropped.Inc()
		return false
	}
	if b.head == len(b.q) && !b.pumping {
		select {
		case in.out <- ev:
			return true
		default:
		}
	}
	if len(b.q)-b.head >= b.bound {
		b.lost = true
		in.m.Dropped.Inc()
		in.problem(ErrorOverload, "call tracking fell more than its backlog behind; gave ARI events up, reconnecting to resync")
		in.log.Error("call tracking fell more than its backlog behind; giving ARI events up until a resync", "backlog", b.bound, "type", ev.Type, "channel", ev.Channel.ID)
		select {
		case b.overrun <- struct{}{}:
		default:
		}
		return false
	}
	b.q = append(b.q, ev)
	if !b.pumping {
		b.pumping = true
		go b.pump(ctx, in.out)
	}
	return true
}

// resync hands ev on behind whatever waits, whatever the bound, and ends
// an overrun.
func (b *backlog) resync(ctx context.Context, in *Intake, ev screenpop.Event) {
	b.mu.Lock()
	b.lost = false
	select {
	case <-b.overrun:
	default:
	}
	if b.head < len(b.q) || b.pumping {
		b.q = append(b.q, ev)
		if !b.pumping {
			b.pumping = true
			go b.pump(ctx, in.out)
		}
		b.mu.Unlock()
		return
	}
	b.pumping = true // what comes meanwhile queues behind it
	b.mu.Unlock()
	select {
	case in.out <- ev:
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pumping = false
	if b.head < len(b.q) {
		b.pumping = true
		go b.pump(ctx, in.out)
	}
}

// pump hands the waiting events on, oldest first. The event being handed
// on stays in q until it is taken, so that put never overtakes it.
func (b *backlog) pump(ctx context.Context, out chan<- screenpop.Event) {
	for {
		b.mu.Lock()
		if b.head == len(b.q) {
			b.pumping = false
			b.reset()
			b.mu.Unlock()
			return
		}
		ev := b.q[b.head]
		b.mu.Unlock()
		select {
		case out <- ev:
		case <-ctx.Done():
			b.mu.Lock()
			b.pumping = false
			b.mu.Unlock()
			return
		}
		b.mu.Lock()
		b.q[b.head] = screenpop.Event{}
		b.head++
		if b.head >= 4096 && 2*b.head >= len(b.q) {
			n := copy(b.q, b.q[b.head:])
			clear(b.q[n:])
			b.q, b.head = b.q[:n], 0
		}
		b.mu.Unlock()
	}
}

// reset empties q, giving a big one's memory back.
func (b *backlog) reset() {
	if cap(b.q) > 4096 {
		b.q = nil
	} else {
		b.q = b.q[:0]
	}
	b.head = 0
}

// gaveUp reports whether events were given up since the last resync.
func (b *backlog) gaveUp() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lost
}
