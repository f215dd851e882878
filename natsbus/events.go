package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/screenpop/screenpop/screenpop"
)

const (
	epochHeader = "Sp-Epoch"
	// tickEvery is how often the ingest tells the log the time when
	// nothing else went out: what Tracker.Run's ticker does alone.
	tickEvery = 250 * time.Millisecond
	// maxBatch and maxBatchBytes bound a message of events: one event per
	// message while they come one at a time, packed while they queue up.
	maxBatch      = 64
	maxBatchBytes = 32 << 10
	// joinReplay bounds how far back a replica that starts reads the log:
	// from the last resync, unless that is older than this.
	joinReplay = 15 * time.Minute
)

// Ingest appends one box's events to its log under one epoch of its
// lease. It implements screenpop.EventLog.
type Ingest struct {
	b     *Bus
	pbx   string
	epoch uint64
	n     uint64
	// Appended counts the events in the log; Retries the publishes tried
	// again after NATS failed them.
	Appended, Retries atomic.Uint64
	// lastAt is Asterisk's time of the last event appended, at lastWall
	// on this host's clock: a tick is lastAt plus the wall time since.
	lastAt, lastWall time.Time
	// skipResync leaves the next resync out of the log (SkipResync).
	skipResync bool
}

// SkipResync leaves the next resync the intake hands Run out of the log:
// the new holder of a handover without a gap (handover.go) has it all.
func (in *Ingest) SkipResync() { in.skipResync = true }

// now is Asterisk's clock as the ingest knows it: the last event's time
// plus the wall time since; the wall clock before any event.
func (in *Ingest) now() time.Time {
	if in.lastAt.IsZero() {
		return time.Now().UTC()
	}
	return in.lastAt.Add(time.Since(in.lastWall))
}

// Ingest returns the appender of box pbx's events under epoch.
func (b *Bus) Ingest(pbx string, epoch uint64) *Ingest {
	return &Ingest{b: b, pbx: pbx, epoch: epoch}
}

// Append puts ev in the log, alone, and returns once the stream has it.
func (in *Ingest) Append(ctx context.Context, _ uint64, ev screenpop.Event) error {
	if err := in.publish(ctx, []screenpop.Event{ev}); err != nil {
		return err
	}
	if !ev.At.IsZero() {
		in.lastAt, in.lastWall = ev.At, time.Now()
	}
	return nil
}

// Run appends what the intake hands over on events, in order, until ctx
// ends or events is closed; when nothing went out for a tick, it appends
// a Tick at Asterisk's clock (the last event's time) plus the wall time
// since. Events that queue up while a publish is in flight go out
// together in one message. stop, if not nil, is asked every tick whether
// to give the box up (Asterisk gave our application to someone else).
func (in *Ingest) Run(ctx context.Context, events <-chan screenpop.Event, stop func() bool) error {
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var batch []screenpop.Event
	if in.lastWall.IsZero() {
		in.lastWall = time.Now()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if ev.Kind == screenpop.EventResync && in.skipResync {
				in.skipResync = false
				in.lastAt, in.lastWall = ev.At, time.Now()
				continue
			}
			batch = append(batch[:0], ev)
			size := approxSize(ev)
		more:
			for len(batch) < maxBatch && size < maxBatchBytes && ev.Kind != screenpop.EventResync {
				select {
				case next, ok := <-events:
					if !ok {
						break more
					}
					if next.Kind == screenpop.EventResync {
						// A resync opens a message of its own, so that a
						// replica starting can begin there.
						if err := in.publish(ctx, batch); err != nil {
							return err
						}
						batch = append(batch[:0], next)
						break more
					}
					batch = append(batch, next)
					size += approxSize(next)
				default:
					break more
				}
			}
			if err := in.publish(ctx, batch); err != nil {
				return err
			}
			if at := batch[len(batch)-1].At; !at.IsZero() {
				in.lastAt = at
			}
			in.lastWall = time.Now()
		case now := <-tick.C:
			if stop != nil && stop() {
				return errors.New("asterisk gave the application to another client")
			}
			if in.lastAt.IsZero() || now.Sub(in.lastWall) < tickEvery {
				continue
			}
			at := in.lastAt.Add(now.Sub(in.lastWall))
			if err := in.publish(ctx, []screenpop.Event{{Kind: screenpop.EventTick, At: at}}); err != nil {
				return err
			}
			in.lastAt, in.lastWall = at, now
		}
	}
}

func approxSize(ev screenpop.Event) int { return 400 + 300*len(ev.Channels) }

// publish appends one message of events, trying again until the stream
// has it or ctx ends; its ID makes a retry that the stream already had
// harmless.
func (in *Ingest) publish(ctx context.Context, evs []screenpop.Event) error {
	kind := ".e"
	if evs[0].Kind == screenpop.EventResync {
		kind = ".r"
	}
	return in.publishKind(ctx, evs, kind)
}

// publishKind is publish to the subject of kind (.e, .r, .h).
func (in *Ingest) publishKind(ctx context.Context, evs []screenpop.Event, kind string) error {
	data, err := encodeEvents(evs)
	if err != nil {
		return fmt.Errorf("encode events for the log: %w", err)
	}
	in.n++
	msg := &nats.Msg{Subject: eventsSubject + token(in.pbx) + kind, Data: data, Header: nats.Header{}}
	msg.Header.Set(epochHeader, strconv.FormatUint(in.epoch, 10))
	msg.Header.Set(jetstream.MsgIDHeader, in.pbx+"/"+strconv.FormatUint(in.epoch, 10)+"/"+strconv.FormatUint(in.n, 10))
	for wait := 50 * time.Millisecond; ; wait = min(wait*2, time.Second) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := in.b.js.PublishMsg(pctx, msg)
		cancel()
		if err == nil {
			in.Appended.Add(uint64(len(evs)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		in.Retries.Add(1)
		in.b.log.Warn("append events to the log; retrying", "pbx", in.pbx, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Follower reads one box's log for call tracking.
type Follower struct {
	b   *Bus
	pbx string
	// pending is how many messages of the log the follower has yet to
	// read, as of the last one read: its lag.
	pending atomic.Uint64
	// Start is the stream position it began at.
	Start uint64
}

// Follower returns a reader of box pbx's log.
func (b *Bus) Follower(pbx string) *Follower { return &Follower{b: b, pbx: pbx} }

// Pending is how many messages of the log were still to be read when
// the last one was: 0 for a follower that keeps up.
func (f *Follower) Pending() uint64 { return f.pending.Load() }

// Run hands out the log's entries, in order, from the box's last resync
// (or, if that is older than joinReplay, from joinReplay ago) until ctx
// ends. A replica that starts thus knows every call that began after the
// resync as the holder does; calls already open then it knows from the
// resync, as a daemon reconnecting to Asterisk does.
func (f *Follower) Run(ctx context.Context, out chan<- screenpop.LogEntry) error {
	// A replica started while JetStream does not answer yet (a node
	// rejoining, a leader being elected) tries again: a replica that gave
	// up here would run on with no call tracking at all.
	var it jetstream.MessagesContext
	if retry(ctx, f.b.log, "follow the log of "+f.pbx, func(ctx context.Context) (err error) {
		it, err = f.open(ctx)
		return err
	}) != nil {
		return nil // ctx ended
	}
	defer it.Stop()
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			f.b.log.Warn("read the log", "pbx", f.pbx, "err", err)
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			continue
		}
		f.pending.Store(meta.NumPending)
		epoch, err := strconv.ParseUint(msg.Headers().Get(epochHeader), 10, 64)
		var evs []screenpop.Event
		if err == nil {
			evs, err = decodeEvents(msg.Data())
		}
		if err != nil {
			// Not ours, or damaged: said, skipped, never fatal.
			f.b.log.Error("skip an unreadable message in the log", "pbx", f.pbx, "seq", meta.Sequence.Stream, "err", err)
			continue
		}
		for _, ev := range evs {
			select {
			case out <- screenpop.LogEntry{Epoch: epoch, Seq: meta.Sequence.Stream, Event: ev}:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// encodeEvents writes a message of the log as encoding/json would, but
// for the fields whose value is zero, which it leaves out (a dial's
// message of 1,501 bytes is 941): a replica of any version reads them
// as zero, as it read them before. Invalid UTF-8 becomes U+FFFD, as
// encoding/json has it.
func encodeEvents(evs []screenpop.Event) ([]byte, error) {
	return jsonv2.Marshal(evs, jsonv2.OmitZeroStructFields(true), jsontext.AllowInvalidUTF8(true))
}

// decodeEvents reads a message of the log as encoding/json reads it,
// with go-json-experiment's implementation of it: every replica decodes
// every message, and that was the largest part of a standby's CPU time
// (38% in BenchmarkClusterPopLatency's profile), at twice the cost.
// Appenders before encodeEvents wrote with encoding/json.
func decodeEvents(data []byte) ([]screenpop.Event, error) {
	var evs []screenpop.Event
	err := jsonv1.Unmarshal(data, &evs)
	return evs, err
}

// open finds where to start following the box's log (its last resync, if
// recent) and opens the consumer there.
func (f *Follower) open(ctx context.Context) (jetstream.MessagesContext, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{eventsSubject + token(f.pbx) + ".*"}}
	last, err := f.b.events.GetLastMsgForSubject(ctx, eventsSubject+token(f.pbx)+".r")
	switch {
	case err == nil && time.Since(last.Time) <= joinReplay:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, last.Sequence
	case err == nil || errors.Is(err, jetstream.ErrMsgNotFound):
		from := time.Now().Add(-joinReplay)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
	default:
		return nil, fmt.Errorf("find the last resync of %s in the log: %w", f.pbx, err)
	}
	f.Start = cfg.OptStartSeq
	cons, err := f.b.js.OrderedConsumer(ctx, EventsStream, cfg)
	if err != nil {
		return nil, fmt.Errorf("follow the log of %s: %w", f.pbx, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(512), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("follow the log of %s: %w", f.pbx, err)
	}
	return it, nil
}
