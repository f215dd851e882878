package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
)

// Unseen periods (screenpop/unseen.go) go where call records go: each
// call log of the chain that keeps them gets them, the box named as on
// its calls. In clustered mode the node holding a box writes them as it
// writes its records: whatever CallLog the cluster hands its tracker gets
// them if it is a screenpop.UnseenLog.

func (ls callLogs) RecordUnseen(p screenpop.UnseenPeriod) {
	for _, l := range ls {
		if u, ok := l.(screenpop.UnseenLog); ok {
			u.RecordUnseen(p)
		}
	}
}

func (t tagPBX) RecordUnseen(p screenpop.UnseenPeriod) {
	p.PBX = t.pbx
	if u, ok := t.next.(screenpop.UnseenLog); ok {
		u.RecordUnseen(p)
	}
}

func (l logCalls) RecordUnseen(p screenpop.UnseenPeriod) {
	l.log.Warn("the call log has a hole: calls that began and ended while the events were not seen are not in it",
		"pbx", p.PBX, "from", p.From, "to", p.To, "unseen", p.Duration().Round(time.Millisecond), "reason", p.Reason,
		"calls_in_progress", p.CallsInProgress, "calls_ended_unseen", p.CallsEndedUnseen)
}

// countUnseen counts the unseen periods for /metrics.
type countUnseen struct{ periods, seconds prometheus.Counter }

func newCountUnseen(reg prometheus.Registerer) countUnseen {
	c := countUnseen{
		periods: prometheus.NewCounter(prometheus.CounterOpts{Name: "screenpop_unseen_periods_total",
			Help: "Periods during which a box's events were not seen (ARI drop, daemon stopped or killed): calls that began and ended then are not in the call log."}),
		seconds: prometheus.NewCounter(prometheus.CounterOpts{Name: "screenpop_unseen_seconds_total",
			Help: "Seconds during which a box's events were not seen, summed over the unseen periods."}),
	}
	reg.MustRegister(c.periods, c.seconds)
	return c
}

func (countUnseen) Record(screenpop.Call) {}

func (c countUnseen) RecordUnseen(p screenpop.UnseenPeriod) {
	c.periods.Inc()
	c.seconds.Add(p.Duration().Seconds())
}

// unseenLister is the store as the calls command reads unseen periods.
type unseenLister interface {
	UnseenPeriods(ctx context.Context, from, to time.Time, limit int) ([]screenpop.UnseenPeriod, error)
}

// printUnseen writes a line for each unseen period that overlaps [from,
// to), oldest first: the call log listed may lack calls then.
func printUnseen(ctx context.Context, st unseenLister, from, to time.Time, out io.Writer) error {
	periods, err := st.UnseenPeriods(ctx, from, to, 0)
	if err != nil {
		return fmt.Errorf("calls: %w", err)
	}
	for i := len(periods) - 1; i >= 0; i-- {
		if _, err := fmt.Fprintln(out, web.UnseenWarning(periods[i], time.Local)); err != nil {
			return err
		}
	}
	return nil
}
