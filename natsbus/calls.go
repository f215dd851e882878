package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/screenpop/screenpop/screenpop"
)

// callMsg is a finished call's record in SP_CALLS, or, with Unseen set,
// a period when the box's events were not seen. PBX names the box: the
// record is stored by (pbx, call_id), the period by (pbx, from).
type callMsg struct {
	PBX    string                  `json:"pbx"`
	Call   screenpop.Call          `json:"call"`
	Unseen *screenpop.UnseenPeriod `json:"unseen,omitempty"`
}

// msgID is the message's de-duplication ID: the box and the call, or the
// box and the period's start.
func (m callMsg) msgID() string {
	if m.Unseen != nil {
		return m.PBX + "/unseen/" + m.Unseen.From.UTC().Format(time.RFC3339Nano)
	}
	return m.PBX + "/" + m.Call.ID
}

// CallLog publishes a box's call records to SP_CALLS, once each: its
// message ID is the box and the call, so a second copy (a retry, a
// takeover handing records over again) is dropped by the stream. It
// implements screenpop.CallLog and screenpop.UnseenLog (a period goes the
// same way, known by the box and its start); records wait in memory while
// NATS is away.
type CallLog struct {
	b   *Bus
	pbx string

	mu    sync.Mutex
	queue []callMsg
	wake  chan struct{}
	idle  *sync.Cond
	busy  bool
	// Published counts the records the stream took; PublishErrors the
	// attempts that failed (and were retried).
	Published, PublishErrors atomic.Uint64
}

// CallLog returns the publisher of box pbx's call records; Run sends
// them.
func (b *Bus) CallLog(pbx string) *CallLog {
	l := &CallLog{b: b, pbx: pbx, wake: make(chan struct{}, 1)}
	l.idle = sync.NewCond(&l.mu)
	return l
}

// Record queues c for the stream; it never blocks.
func (l *CallLog) Record(c screenpop.Call) { l.queue1(callMsg{PBX: l.pbx, Call: c}) }

// RecordUnseen queues p for the stream, in order with the records; it
// never blocks.
func (l *CallLog) RecordUnseen(p screenpop.UnseenPeriod) {
	p.PBX = l.pbx
	l.queue1(callMsg{PBX: l.pbx, Unseen: &p})
}

func (l *CallLog) queue1(m callMsg) {
	l.mu.Lock()
	l.queue = append(l.queue, m)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Waiting is how many records wait to be published.
func (l *CallLog) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.queue)
	if l.busy {
		n++
	}
	return n
}

// Run publishes the records until ctx ends; each is tried again until
// the stream has it.
func (l *CallLog) Run(ctx context.Context) error {
	for {
		l.mu.Lock()
		for len(l.queue) > 0 {
			m := l.queue[0]
			l.busy = true
			l.mu.Unlock()
			err := l.publish(ctx, m)
			l.mu.Lock()
			l.busy = false
			if err != nil {
				l.idle.Broadcast()
				l.mu.Unlock()
				return nil
			}
			l.queue = l.queue[1:]
		}
		l.idle.Broadcast()
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-l.wake:
		}
	}
}

func (l *CallLog) publish(ctx context.Context, m callMsg) error {
	data, err := json.Marshal(m)
	if err != nil {
		l.b.log.Error("encode a call record", "call", m.Call.ID, "err", err)
		return nil
	}
	msg := &nats.Msg{Subject: callsSubject + token(l.pbx), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, m.msgID())
	return l.b.publishUntilStored(ctx, msg, "call record", l.pbx, &l.Published, &l.PublishErrors)
}

// publishUntilStored sends msg and waits for its stream to have it, trying
// again (50 ms, doubling to 1 s: a pop or a record waits on it) until it
// does or ctx ends; published and failed count the outcomes.
func (b *Bus) publishUntilStored(ctx context.Context, msg *nats.Msg, what, pbx string, published, failed *atomic.Uint64) error {
	for wait := 50 * time.Millisecond; ; wait = min(wait*2, time.Second) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := b.js.PublishMsg(pctx, msg)
		cancel()
		if err == nil {
			published.Add(1)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failed.Add(1)
		b.log.Warn("publish a "+what+"; retrying", "pbx", pbx, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Flush waits until every queued record is published or ctx ends.
func (l *CallLog) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.idle.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.queue) > 0 || l.busy {
		if ctx.Err() != nil {
			return fmt.Errorf("%d call records not published: %w", len(l.queue), ctx.Err())
		}
		l.idle.Wait()
	}
	return nil
}

// Saver stores a batch of call records in one transaction, skipping
// those already stored (spool.Saver), and unseen periods, each once by
// (pbx, from).
type Saver interface {
	SaveCalls(ctx context.Context, calls []screenpop.Call) error
	SaveUnseen(ctx context.Context, periods []screenpop.UnseenPeriod) error
}

// Writer moves call records from SP_CALLS into the database: any
// replica's writer may take a batch; it is acked only once the database
// committed it, so a writer that dies leaves its batch to another.
type Writer struct {
	b *Bus
	// Written counts records stored (or found already stored), Unseen
	// the unseen periods; Failures the batches the database refused for
	// now.
	Written, Unseen, Failures atomic.Uint64
}

// Writer returns a call log writer.
func (b *Bus) Writer() *Writer { return &Writer{b: b} }

// Pending is how many records wait in the stream for a writer, or were
// taken and not yet acked.
func (w *Writer) Pending(ctx context.Context) (uint64, error) {
	cons, err := w.b.calls.Consumer(ctx, writerConsumer)
	if err != nil {
		return 0, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// Run writes batches of up to 500 records until ctx ends.
func (w *Writer) Run(ctx context.Context, db Saver) error {
	// A replica started while NATS is slow (a cluster under load, a
	// leader being elected) tries again rather than run without a writer.
	var cons jetstream.Consumer
	if retry(ctx, w.b.log, "open the call log writers' consumer", func(ctx context.Context) (err error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		cons, err = w.b.calls.Consumer(cctx, writerConsumer)
		return err
	}) != nil {
		return nil // ctx ended
	}
	wait := time.Second
	for ctx.Err() == nil {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			if ctx.Err() == nil {
				w.b.log.Warn("take call records", "err", err)
				sleep(ctx, wait)
			}
			continue
		}
		var (
			msgs   []jetstream.Msg
			calls  []screenpop.Call
			unseen []screenpop.UnseenPeriod
		)
		for msg := range batch.Messages() {
			var m callMsg
			err := json.Unmarshal(msg.Data(), &m)
			switch {
			case err == nil && m.Unseen != nil:
				m.Unseen.PBX = m.PBX
				msgs, unseen = append(msgs, msg), append(unseen, *m.Unseen)
			case err == nil && m.Call.ID != "":
				m.Call.PBX = m.PBX
				msgs, calls = append(msgs, msg), append(calls, m.Call)
			default:
				// Not a record: said, and taken out of the way.
				w.b.log.Error("drop an unreadable call record", "subject", msg.Subject(), "err", err)
				msg.Term()
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			w.b.log.Warn("take call records", "err", err)
		}
		if len(msgs) == 0 {
			continue
		}
		for {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := db.SaveCalls(sctx, calls)
			if err == nil && len(unseen) > 0 {
				err = db.SaveUnseen(sctx, unseen)
			}
			cancel()
			if err == nil {
				break
			}
			w.Failures.Add(1)
			w.b.log.Error("write call records; they wait in the stream", "records", len(calls), "unseen_periods", len(unseen), "err", err, "retry_in", wait)
			// Keep the batch while trying again: the stream would hand it
			// out again only after its ack wait.
			for _, m := range msgs {
				m.InProgress()
			}
			if !sleep(ctx, wait) {
				return nil
			}
			wait = min(wait*2, 10*time.Second)
		}
		wait = time.Second
		for i, m := range msgs {
			if i == len(msgs)-1 {
				actx, cancel := context.WithTimeout(ctx, 5*time.Second)
				m.DoubleAck(actx)
				cancel()
				continue
			}
			m.Ack()
		}
		w.Written.Add(uint64(len(calls)))
		w.Unseen.Add(uint64(len(unseen)))
	}
	return nil
}

// retry runs try until it succeeds, waiting 250 ms, doubling to 5 s,
// between tries and logging each failure; once ctx ends it returns the
// last error. For a JetStream that does not answer yet: replicas
// starting together, a node rejoining, a leader being elected.
func retry(ctx context.Context, log *slog.Logger, what string, try func(context.Context) error) error {
	for wait := 250 * time.Millisecond; ; wait = min(wait*2, 5*time.Second) {
		err := try(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		log.Warn(what+"; retrying", "err", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
