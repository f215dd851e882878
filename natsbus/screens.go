package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/screenpop/screenpop/screenpop"
)

// screenMsg is a message of SP_SCREENS: an operator's message about a
// call of a box.
type screenMsg struct {
	Operator string             `json:"op"`
	PBX      string             `json:"pbx"`
	Message  *screenpop.Message `json:"m"`
}

// Screens publishes a box's screen messages (the holder's hub's) to
// SP_SCREENS, in order. It implements screenpop.ScreenSink.
type Screens struct {
	b   *Bus
	pbx string

	mu     sync.Mutex
	queue  []*nats.Msg
	wake   chan struct{}
	closed bool
	// Published counts the messages the stream has; PublishErrors the
	// attempts that failed (and were retried).
	Published, PublishErrors atomic.Uint64
}

// Screens returns the publisher of box pbx's screen messages; Run sends
// them.
func (b *Bus) Screens(pbx string) *Screens {
	return &Screens{b: b, pbx: pbx, wake: make(chan struct{}, 1)}
}

// Screen queues the operator's message for the stream. It never blocks:
// the hub's lock is held.
func (s *Screens) Screen(op string, m *screenpop.Message) {
	data, err := json.Marshal(screenMsg{Operator: op, PBX: s.pbx, Message: m})
	if err != nil {
		s.b.log.Error("encode a screen message", "err", err)
		return
	}
	key := "dial"
	switch {
	case m.Call != nil:
		key = m.Call.ID
	case m.Callout != nil:
		key = "dial-" + m.Callout.ChannelID
	}
	msg := &nats.Msg{Subject: screensSubject + token(op) + "." + token(s.pbx) + "." + token(key), Data: data}
	s.mu.Lock()
	s.queue = append(s.queue, msg)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// screensInFlight bounds the screen messages sent but not yet
// acknowledged by the stream.
const screensInFlight = 256

// screensAckWait is how long a screen message may wait for its
// acknowledgement before it counts as failed (Connect sets it as the
// JetStream client's timeout of asynchronous publishes).
const screensAckWait = 2 * time.Second

// sentScreen is a screen message sent and not yet acknowledged.
type sentScreen struct {
	msg *nats.Msg
	ack jetstream.PubAckFuture // nil: it could not be sent
	// err is the failure already taken from ack.
	err error
}

// Run publishes the queued messages in order until ctx ends. It sends
// each as soon as it is queued, without waiting for those before it to
// be acknowledged: the stream stores them in the order the connection
// sends them, and a pop queued behind a burst of other messages no
// longer waits for a round trip to NATS for each of them (tens of
// milliseconds under load). A message that fails is sent again; as a
// later message of the same call for the same operator must not be
// overtaken by an earlier one, once every message in flight has its
// answer, every message of each such call and operator from the first
// that failed is sent again, in order, one at a time, until the stream
// has it.
func (s *Screens) Run(ctx context.Context) error {
	var (
		flight []sentScreen // oldest first
		broken bool
	)
	for {
		if broken {
			if !s.settle(ctx, flight) {
				return nil
			}
			flight, broken = nil, false
		}
		s.mu.Lock()
		n := min(len(s.queue), screensInFlight-len(flight))
		q := s.queue[:n:n]
		if s.queue = s.queue[n:]; len(s.queue) == 0 {
			s.queue = nil
		}
		s.mu.Unlock()
		for _, msg := range q {
			// No retry inside the client: it would send a message again
			// after later ones.
			ack, err := s.b.js.PublishMsgAsync(msg, jetstream.WithRetryAttempts(0))
			if err != nil {
				ack, broken = nil, true
			}
			flight = append(flight, sentScreen{msg: msg, ack: ack, err: err})
		}
		if broken {
			continue
		}
		if len(flight) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-s.wake:
			}
			continue
		}
		var more <-chan struct{}
		if len(flight) < screensInFlight {
			more = s.wake
		}
		select {
		case <-ctx.Done():
			return nil
		case <-more:
		case <-flight[0].ack.Ok():
			s.Published.Add(1)
			flight[0] = sentScreen{}
			flight = flight[1:]
		case err := <-flight[0].ack.Err():
			flight[0].err, broken = err, true
		}
	}
}

// settle waits until every message in flight is answered, then sends
// again, in order, every message in flight of each subject (an
// operator's call) from the first of its messages that failed, one at a
// time, each until the stream has it; false if ctx ended first.
func (s *Screens) settle(ctx context.Context, flight []sentScreen) bool {
	// first is, by subject (an operator's call), the first message in
	// flight that failed.
	first := map[string]int{}
	for i, f := range flight {
		if f.err == nil {
			select {
			case <-ctx.Done():
				return false
			case <-f.ack.Ok():
				s.Published.Add(1)
				continue
			case f.err = <-f.ack.Err():
			}
		}
		if _, ok := first[f.msg.Subject]; !ok {
			first[f.msg.Subject] = i
		}
		s.PublishErrors.Add(1)
		s.b.log.Warn("publish a screen message; retrying", "pbx", s.pbx, "err", f.err)
	}
	// A call's messages are not each its whole state (a card goes with
	// the pop before it), so from the first that failed, every message
	// of its call goes again, in order: the latest alone would leave the
	// pages a card of a call they were never offered.
	for i, f := range flight {
		if j, ok := first[f.msg.Subject]; ok && i >= j {
			if s.publish(ctx, f.msg) != nil {
				return false
			}
		}
	}
	return true
}

// publish sends msg and waits for the stream to have it, trying again
// until it does or ctx ends.
func (s *Screens) publish(ctx context.Context, msg *nats.Msg) error {
	return s.b.publishUntilStored(ctx, msg, "screen message", s.pbx, &s.Published, &s.PublishErrors)
}

// Restore puts every operator's screen of the box's calls as the stream
// last has it onto h (screenpop.Hub.Restore): a replica taking the box
// over goes on from there. A read that fails is tried again until ctx
// ends (a takeover while JetStream does not answer: without the screens,
// the calls the pages show would never be withdrawn); the last error is
// returned then. Reading again is harmless: Hub.Restore sets a screen.
func (s *Screens) Restore(ctx context.Context, h *screenpop.Hub) (int, error) {
	var n int
	err := retry(ctx, s.b.log, "read the operators' screens at takeover", func(ctx context.Context) error {
		n = 0
		return s.b.lastPerSubject(ctx, screensSubject+"*."+token(s.pbx)+".>", func(sm screenMsg, _ uint64) {
			h.Restore(sm.Operator, sm.Message)
			n++
		})
	})
	return n, err
}

// lastPerSubject reads the latest message of each subject matching
// filter in SP_SCREENS.
func (b *Bus) lastPerSubject(ctx context.Context, filter string, f func(screenMsg, uint64)) error {
	info, err := b.screens.Info(ctx)
	if err != nil {
		return fmt.Errorf("read stream %s: %w", ScreensStream, err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := b.js.OrderedConsumer(ctx, ScreensStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("read the operators' screens: %w", err)
	}
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(b.fetchWait))
		if err != nil {
			return fmt.Errorf("read the operators' screens: %w", err)
		}
		// The fetch waits out its whole second for messages beyond
		// those there are: it is not waited for once the last one came
		// (that second was spent on the tracker's goroutine at each
		// takeover, every pop of the box held up meanwhile).
		if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
			return nil
		}
		got := 0
		var pending uint64
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				continue
			}
			pending = meta.NumPending
			var sm screenMsg
			if err := json.Unmarshal(msg.Data(), &sm); err != nil || sm.Message == nil {
				b.log.Error("skip an unreadable screen message", "seq", meta.Sequence.Stream, "err", err)
			} else {
				sm.Message.Seq = meta.Sequence.Stream
				f(sm, meta.Sequence.Stream)
			}
			if pending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("read the operators' screens: %w", err)
		}
		if got == 0 || pending == 0 {
			return nil
		}
	}
}

// FollowScreens applies every operator's screen messages to h (a mirror
// hub: screenpop.NewMirrorHub with Epoch), numbered by the stream: first
// the latest of each call, then each one as it is stored, until ctx ends.
// ready is closed once the stored ones are applied.
func (b *Bus) FollowScreens(ctx context.Context, h *screenpop.Hub, ready chan<- struct{}) error {
	live := make(chan *nats.Msg, 1<<14)
	sub, err := b.nc.ChanSubscribe(liveSubject+">", live)
	if err != nil {
		return fmt.Errorf("subscribe to the operators' screens: %w", err)
	}
	defer sub.Unsubscribe()
	// Live messages wait in the channel while the stored ones are read;
	// the hub drops any it already has from the stored read.
	catchUp := func(ctx context.Context) error {
		return b.lastPerSubject(ctx, screensSubject+">", func(sm screenMsg, _ uint64) {
			h.Apply(sm.Operator, sm.Message)
		})
	}
	// A read that fails (JetStream not answering yet: "no responders"
	// while a restarted node rejoins) is tried again until it works: a
	// replica that gave up here would serve pages that never pop.
	if retry(ctx, b.log, "read the operators' screens", catchUp) != nil {
		return nil // ctx ended
	}
	close(ready)
	// Live messages published while the connection was down are lost to
	// this subscription: once it is back, the stored ones are read again
	// (the hub drops what it has).
	again := make(chan struct{}, 1)
	b.OnConnection(func(up bool) {
		if up {
			select {
			case again <- struct{}{}:
			default:
			}
		}
	})
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-again:
			if retry(ctx, b.log, "catch up with the operators' screens after NATS came back", catchUp) != nil {
				return nil // ctx ended
			}
		case msg := <-live:
			seq, err := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
			var sm screenMsg
			if err == nil {
				err = json.Unmarshal(msg.Data, &sm)
			}
			if err != nil || sm.Message == nil {
				b.log.Error("skip an unreadable screen message", "subject", msg.Subject, "err", err)
				continue
			}
			sm.Message.Seq = seq
			h.Apply(sm.Operator, sm.Message)
		}
	}
}
