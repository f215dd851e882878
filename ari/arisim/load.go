package arisim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Load is a stream of generated calls for Run. Call i depends only on the
// Load and i, so a seed gives the same calls every time.
type Load struct {
	// Rate is calls per second of simulated time.
	Rate float64
	// Calls is how many calls to place; 0 places calls until Run's ctx is
	// done.
	Calls int
	Seed  uint64
	// Mix says what kinds of call to make; the zero Mix is DefaultMix.
	Mix Mix
	// Known are the numbers of known clients, for the callers who are
	// not unknown. Without them every caller is unknown.
	Known []string
	// DIDs are the numbers called; default 74951112233.
	DIDs []string
	// Operators are the extensions to ring; default Config.Operators. A
	// queue call rings two or three of them.
	Operators []string
	// RingFor and TalkFor are the ranges ring and talk times are drawn
	// from, uniformly; defaults 1-6 s and 5-60 s.
	RingFor, TalkFor [2]time.Duration
}

// Mix weighs the scenarios against one another, and gives the shares of
// callers who are unknown (a number not among Load.Known) or withheld
// ("anonymous").
type Mix struct {
	Answered, Missed, Abandoned, Busy, Queue, Stasis float64
	Unknown, Withheld                                float64
}

// DefaultMix is a day in a small call centre.
var DefaultMix = Mix{Answered: 55, Missed: 10, Abandoned: 10, Busy: 5, Queue: 20, Unknown: 0.3, Withheld: 0.05}

func (m Mix) weights() []float64 {
	return []float64{m.Answered, m.Missed, m.Abandoned, m.Busy, m.Queue, m.Stasis}
}

// withDefaults fills in what the zero Load leaves open.
func (l Load) withDefaults(operators []string) Load {
	if l.Mix == (Mix{}) {
		l.Mix = DefaultMix
	}
	if len(l.DIDs) == 0 {
		l.DIDs = []string{"74951112233"}
	}
	if len(l.Operators) == 0 {
		l.Operators = operators
	}
	if l.RingFor == ([2]time.Duration{}) {
		l.RingFor = [2]time.Duration{time.Second, 6 * time.Second}
	}
	if l.TalkFor == ([2]time.Duration{}) {
		l.TalkFor = [2]time.Duration{5 * time.Second, 60 * time.Second}
	}
	return l
}

func (l Load) check() error {
	total := 0.0
	for _, w := range l.Mix.weights() {
		if w < 0 {
			return errors.New("arisim: a scenario weight is negative")
		}
		total += w
	}
	switch {
	case l.Rate <= 0:
		return fmt.Errorf("arisim: load rate %g is not positive", l.Rate)
	case total == 0:
		return errors.New("arisim: the load mix has no scenario")
	case len(l.Operators) == 0:
		return errors.New("arisim: the load has no operator to ring")
	case l.RingFor[0] <= 0 || l.RingFor[1] < l.RingFor[0] || l.TalkFor[0] <= 0 || l.TalkFor[1] < l.TalkFor[0]:
		return errors.New("arisim: ring and talk ranges must be positive, shortest first")
	}
	return nil
}

// Call is the load's call number i (0, 1, ...), with the defaults of a
// simulator whose operators are operators.
func (l Load) Call(i int, operators []string) Call {
	l = l.withDefaults(operators)
	rng := rand.New(rand.NewPCG(l.Seed, uint64(i)))
	c := Call{
		DID:      l.DIDs[rng.IntN(len(l.DIDs))],
		Scenario: Scenarios[pick(rng, l.Mix.weights())],
		RingFor:  between(rng, l.RingFor),
		TalkFor:  between(rng, l.TalkFor),
	}
	switch r := rng.Float64(); {
	case r < l.Mix.Withheld:
		c.Caller, c.CallerName = "anonymous", "Anonymous"
	case r < l.Mix.Withheld+l.Mix.Unknown || len(l.Known) == 0:
		// A Russian mobile number, in international or national form.
		n := fmt.Sprintf("9%09d", rng.IntN(1e9))
		if rng.IntN(4) == 0 {
			c.Caller = "8" + n
		} else {
			c.Caller = "+7" + n
		}
	default:
		c.Caller = l.Known[rng.IntN(len(l.Known))]
	}
	if c.Scenario != Queue {
		if len(l.Operators) > 0 {
			c.Operators = []string{l.Operators[rng.IntN(len(l.Operators))]}
		}
		return c
	}
	ops := append([]string(nil), l.Operators...)
	rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	c.Operators = ops[:min(len(ops), 2+rng.IntN(2))]
	c.AnswerBy = c.Operators[rng.IntN(len(c.Operators))]
	return c
}

// pick draws an index with the given weights.
func pick(rng *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return 0
}

// between draws a duration from a range, to the millisecond.
func between(rng *rand.Rand, r [2]time.Duration) time.Duration {
	d := r[0]
	if span := r[1] - r[0]; span > 0 {
		d += time.Duration(rng.Int64N(int64(span)))
	}
	return d.Round(time.Millisecond)
}

// Stats is what a Run did.
type Stats struct {
	// Placed calls were started; Completed ran to their end, Failed were
	// cut short (ctx done, simulator closed) or refused.
	Placed, Completed, Failed int
	// Events is how many events the run's calls generated.
	Events int
	// MaxLag is how late, in wall time, the latest call started against
	// the rate's schedule: a run that keeps up stays within milliseconds.
	MaxLag time.Duration
}

// Run places the load's calls at its rate, each in a goroutine of its
// own, and returns when they have all ended: after Load.Calls calls, or
// when ctx is done or the simulator closes, which cuts the calls under
// way short (their channels are hung up). The error is nil only when
// every call was placed.
func (s *Sim) Run(ctx context.Context, l Load) (Stats, error) {
	l = l.withDefaults(s.cfg.Operators)
	if err := l.check(); err != nil {
		return Stats{}, err
	}
	if err := s.check(); err != nil {
		return Stats{}, err
	}
	var (
		mu    sync.Mutex
		stats Stats
		wg    sync.WaitGroup
	)
	// finish waits for the calls under way: Run owns their goroutines.
	finish := func(err error) (Stats, error) {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return stats, err
	}
	interval := time.Duration(float64(time.Second) / (l.Rate * s.cfg.Speed))
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; l.Calls == 0 || i < l.Calls; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return finish(ctx.Err())
			case <-s.done:
				return finish(errClosed)
			case <-timer.C:
			}
		} else if err := s.alive(ctx); err != nil {
			return finish(err)
		}
		lag := time.Since(due)
		c := l.Call(i, s.cfg.Operators)
		mu.Lock()
		stats.Placed++
		stats.MaxLag = max(stats.MaxLag, lag)
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Place(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			stats.Events += res.Events
			if err != nil {
				stats.Failed++
				if ctx.Err() == nil && !s.isClosed() {
					s.log.Warn("arisim: a generated call failed", "err", err)
				}
				return
			}
			stats.Completed++
		}()
	}
	return finish(nil)
}
