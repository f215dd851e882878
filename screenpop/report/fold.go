package report

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"time"
)

// HourRow is one row of a store's hour query: the calls of one local hour
// and source, by how they ended.
type HourRow struct {
	// Hour is the hour's index in the grid (Grid.HourOf, GridDay.First).
	Hour   int
	Source string
	// Calls are all of them; Answered to Failed those that ended so (a
	// status none of these names counts in Calls alone).
	Calls, Answered, Missed, Abandoned, Busy, Failed int
	// NewCallers are the calls of caller kind new.
	NewCallers int
	// Waits are the answered calls' waits in milliseconds, but for those
	// whose start or answer was not seen (an estimate).
	Waits []int32
}

// RollupRow is one row of the hourly roll-ups: an HourRow, with the IDs
// of the numbers that called (dense, small integers), of those that
// called as new callers, the count of missed calls with a number, and
// the seconds to the first call back of those of them called back.
type RollupRow struct {
	HourRow
	Numbers, NewNumbers []int32
	MissedNumbered      int
	CallbackDelays      []float64
}

// OperatorRow is one row of a store's operator query: an operator's
// figures over some of the range (a day, or all of it; the fold adds an
// operator's rows up). RingMs and TalkMs are the ring and talk time of
// RingN and TalkN answered offers, summed in milliseconds; CallsAnswered
// and MissedCalls count calls, not rings.
type OperatorRow struct {
	Operator, Name              string
	Offered, Answered, NoAnswer int
	RingN, TalkN                int
	RingMs, TalkMs              int64
	CallsAnswered, MissedCalls  int
}

// plus adds o's counts and sums to r's (r nil: none yet); both are of one
// operator, over different days.
func (r *OperatorRow) plus(o OperatorRow) *OperatorRow {
	if r != nil {
		o.Offered += r.Offered
		o.Answered += r.Answered
		o.NoAnswer += r.NoAnswer
		o.RingN += r.RingN
		o.TalkN += r.TalkN
		o.RingMs += r.RingMs
		o.TalkMs += r.TalkMs
		o.CallsAnswered += r.CallsAnswered
		o.MissedCalls += r.MissedCalls
	}
	return &o
}

// callbacks are a source's missed calls with a number, and the seconds
// to their first call back of those called back.
type callbacks struct {
	missed int
	delays []float64
}

// Fold folds a store's rows of one grid into a Summary as they are read
// (a year's roll-ups are some 200,000 rows, not kept); Summary adds the
// rest. The rows may come in any order.
type Fold struct {
	g        Grid
	s        Summary
	sources  map[string]*SourceSummary
	dayWaits [][]int32
	srcWaits map[string][]int32

	ops     map[string]*OperatorRow
	opCalls map[string]int
	// callers are the numbers that called, over all and by source.
	callers     callerSets
	callbacks   map[string]*callbacks
	purposes    map[string]int
	srcPurposes map[string]map[string]int
}

// NewFold starts a fold of g's rows.
func NewFold(g Grid) *Fold {
	nDays := len(g.days) - 1
	f := &Fold{g: g, s: Summary{
		From:      g.days[0].Format(time.DateOnly),
		To:        g.days[nDays-1].Format(time.DateOnly),
		UTCOffset: g.days[0].Format("-07:00"),
		Days:      make([]Day, nDays),
		Hours:     make([]Hour, 24),
		Sources:   []SourceSummary{},
		Operators: []OperatorSummary{},
		Purposes:  []PurposeCount{},
	}, sources: map[string]*SourceSummary{}, dayWaits: make([][]int32, nDays), srcWaits: map[string][]int32{},
		ops: map[string]*OperatorRow{}, opCalls: map[string]int{}, callbacks: map[string]*callbacks{},
		purposes: map[string]int{}, srcPurposes: map[string]map[string]int{}}
	for i := range f.s.Days {
		f.s.Days[i].Date = g.days[i].Format(time.DateOnly)
	}
	for h := range f.s.Hours {
		f.s.Hours[h].Hour = h
	}
	return f
}

// source is the source named name's summary, made on first use.
func (f *Fold) source(name string) *SourceSummary {
	src := f.sources[name]
	if src == nil {
		src = &SourceSummary{Source: name, Days: make([]Counts, len(f.s.Days)), Purposes: []PurposeCount{}}
		f.sources[name] = src
	}
	return src
}

// Hour adds an hour row. A row outside the grid is left out: the
// queries never give one.
func (f *Fold) Hour(r HourRow) {
	g := f.g
	if r.Hour < 0 || r.Hour >= len(g.hourDay) {
		return
	}
	day := g.hourDay[r.Hour]
	src := f.source(r.Source)
	s := &f.s
	for _, c := range []*Counts{&s.Totals, &s.Days[day].Counts, &s.Hours[g.hourOfDay[r.Hour]].Counts, &src.Counts, &src.Days[day]} {
		c.add(r)
	}
	if len(r.Waits) > 0 {
		f.dayWaits[day] = append(f.dayWaits[day], r.Waits...)
		f.srcWaits[r.Source] = append(f.srcWaits[r.Source], r.Waits...)
	}
}

// RollupDay adds the roll-ups of a day of the grid (its index) and a
// source: its hours' rows added up, their lists joined (the numbers need
// not be distinct). Its counts by hour of the day come apart
// (HourCounts), as do none of the Caller and Callback rows: the roll-ups
// hold them.
func (f *Fold) RollupDay(day int, r RollupRow) {
	if day < 0 || day >= len(f.s.Days) {
		return
	}
	src := f.source(r.Source)
	s := &f.s
	for _, c := range []*Counts{&s.Totals, &s.Days[day].Counts, &src.Counts, &src.Days[day]} {
		c.add(r.HourRow)
	}
	if len(r.Waits) > 0 {
		f.dayWaits[day] = append(f.dayWaits[day], r.Waits...)
		f.srcWaits[r.Source] = append(f.srcWaits[r.Source], r.Waits...)
	}
	f.callers.addIDs(r.Source, r.Numbers, r.NewNumbers)
	if r.MissedNumbered > 0 {
		cb := f.callbacksOf(r.Source)
		cb.missed += r.MissedNumbered
		cb.delays = append(cb.delays, r.CallbackDelays...)
	}
}

// HourCounts adds the counts of an hour of the grid (r.Hour; its source,
// if any, and its waits are not read) to its hour of the day's, for a
// fold of RollupDay rows.
func (f *Fold) HourCounts(r HourRow) {
	if r.Hour < 0 || r.Hour >= len(f.g.hourDay) {
		return
	}
	f.s.Hours[f.g.hourOfDay[r.Hour]].Counts.add(r)
}

// callbacksOf is source's call backs, made on first use.
func (f *Fold) callbacksOf(source string) *callbacks {
	cb := f.callbacks[source]
	if cb == nil {
		cb = &callbacks{}
		f.callbacks[source] = cb
	}
	return cb
}

// Operator adds an operator's figures of some of the range's calls.
func (f *Fold) Operator(r OperatorRow) {
	f.ops[r.Operator] = f.ops[r.Operator].plus(r)
}

// OperatorCalls adds calls that rang operator's phone (calls.offered_to),
// each once however often it rang. Those the operator neither answered
// nor missed, a colleague answered while each of their rings was still
// ringing.
func (f *Fold) OperatorCalls(operator string, calls int) {
	f.opCalls[operator] += calls
}

// Caller adds a number (as stored: E.164) that called from source, and
// whether any of its calls from there was of caller kind new. The store
// gives each source's numbers once.
func (f *Fold) Caller(source, number string, isNew bool) {
	f.callers.addNumber(source, number, isNew)
}

// Callback adds a missed call with a number, from source, and the seconds
// to its first call back (nil: never called back).
func (f *Fold) Callback(source string, delay *float64) {
	cb := f.callbacksOf(source)
	cb.missed++
	if delay != nil {
		cb.delays = append(cb.delays, *delay)
	}
}

// Purpose adds calls from source that operators noted with purpose.
func (f *Fold) Purpose(source, purpose string, calls int) {
	f.purposes[purpose] += calls
	if f.srcPurposes[source] == nil {
		f.srcPurposes[source] = map[string]int{}
	}
	f.srcPurposes[source][purpose] += calls
}

// Summary finishes the fold into a Summary; sl is the service level's
// threshold. The fold is done with: add no rows after it.
func (f *Fold) Summary(sl time.Duration) Summary {
	s, sources, dayWaits, srcWaits, source := f.s, f.sources, f.dayWaits, f.srcWaits, f.source
	s.Totals.finish()
	n := 0
	for _, w := range dayWaits {
		n += len(w)
	}
	waits := make([]int32, 0, n)
	for i := range s.Days {
		s.Days[i].finish()
		s.Days[i].ServiceLevel = serviceLevel(dayWaits[i], s.Days[i].Counts, sl)
		s.Days[i].Wait = waitOf(dayWaits[i])
		waits = append(waits, dayWaits[i]...)
	}
	for h := range s.Hours {
		s.Hours[h].finish()
	}
	s.ServiceLevel = serviceLevel(waits, s.Totals, sl)
	s.Wait = waitOf(waits)

	s.Callers = f.callers.all()
	for name, c := range f.callers.bySource() {
		source(name).Callers = c
	}
	var all callbacks
	for name, cb := range f.callbacks {
		all.missed += cb.missed
		all.delays = append(all.delays, cb.delays...)
		source(name)
	}
	s.Callbacks = all.figures()
	for name := range f.srcPurposes {
		source(name)
	}
	s.Purposes = purposeCounts(f.purposes, s.Totals.Total)

	for _, src := range sources {
		src.finish()
		for i := range src.Days {
			src.Days[i].finish()
		}
		src.Wait = waitOf(srcWaits[src.Source])
		src.ServiceLevel = serviceLevel(srcWaits[src.Source], src.Counts, sl)
		cb := f.callbacks[src.Source]
		if cb == nil {
			cb = &callbacks{}
		}
		src.Callbacks = cb.figures()
		src.Purposes = purposeCounts(f.srcPurposes[src.Source], src.Total)
		s.Sources = append(s.Sources, *src)
	}
	slices.SortFunc(s.Sources, func(a, b SourceSummary) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.Source, b.Source))
	})
	t := s.Totals
	s.Shares = Shares{
		Answered: ratio(t.Answered, t.Total), Missed: ratio(t.Missed, t.Total), Abandoned: ratio(t.Abandoned, t.Total),
		Busy: ratio(t.Busy, t.Total), Failed: ratio(t.Failed, t.Total),
	}
	for _, o := range f.ops {
		calls := f.opCalls[o.Operator]
		s.Operators = append(s.Operators, OperatorSummary{
			Operator: o.Operator, Name: o.Name,
			Offered: o.Offered, Answered: o.Answered, NoAnswer: o.NoAnswer,
			Calls: calls, CallsAnswered: o.CallsAnswered, MissedCalls: o.MissedCalls,
			TakenByColleague: calls - o.CallsAnswered - o.MissedCalls,
			AnswerRate:       ratio(o.CallsAnswered, o.CallsAnswered+o.MissedCalls),
			RingAvgSeconds:   avgSeconds(o.RingMs, o.RingN),
			TalkAvgSeconds:   avgSeconds(o.TalkMs, o.TalkN),
		})
	}
	slices.SortFunc(s.Operators, func(a, b OperatorSummary) int {
		return cmp.Or(cmp.Compare(b.Offered, a.Offered), cmp.Compare(a.Operator, b.Operator))
	})
	return s
}

func (c *Counts) add(r HourRow) {
	c.Total += r.Calls
	c.NewCallers += r.NewCallers
	c.Answered += r.Answered
	c.Missed += r.Missed
	c.Abandoned += r.Abandoned
	c.Busy += r.Busy
	c.Failed += r.Failed
}

// finish works out what follows from the counts.
func (c *Counts) finish() {
	c.Lost = c.Total - c.Answered
	c.LostRate = ratio(c.Lost, c.Total)
}

// waitOf measures waits (in milliseconds, as the call log keeps them).
// Its percentile is the nearest rank: the ceil(0.9 n)-th smallest, a wait
// some caller really had.
func waitOf(waits []int32) Wait {
	if len(waits) == 0 {
		return Wait{}
	}
	var ms int64
	for _, w := range waits {
		ms += int64(w)
	}
	n := len(waits)
	return Wait{Answered: n, AvgSeconds: avgSeconds(ms, n), P90Seconds: round(float64(nth(waits, (9*n+9)/10-1))/1000, 1)}
}

// nth is the k-th smallest of xs (from 0), which it reorders: a selection,
// not a sort, as a year's report measures a million waits. Introselect:
// Hoare's partition around a median of three, and a sort once the part
// left is small or the partitions have not been halving it.
func nth[T cmp.Ordered](xs []T, k int) T {
	lo, hi := 0, len(xs)-1
	budget := 2 * bits.Len(uint(len(xs)))
	for hi-lo > 32 && budget > 0 {
		budget--
		mid := lo + (hi-lo)/2
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		// xs[lo..j] <= pivot <= xs[i..hi], and j < i.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k] // between the parts: equal to the pivot
		}
	}
	slices.Sort(xs[lo : hi+1])
	return xs[k]
}

// ratio is n/d, 0 when d is. It is not rounded: a page that shows it
// as a percentage to a tenth rounds it once.
func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// avgSeconds is the average of n durations summing to ms milliseconds, in
// seconds to a tenth.
func avgSeconds(ms int64, n int) float64 {
	if n == 0 {
		return 0
	}
	return round(float64(ms)/float64(n)/1000, 1)
}

func round(x float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(x*p) / p
}
