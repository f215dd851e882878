package store

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// The reports answer an analyst's question: which advertising brings
// calls, and how many of them do we lose. They count inbound calls only
// (an operator's call out is nobody's advertising), by the source their
// number had when they started (calls.source, "" when it had none), by
// local day and hour of day.
//
// Each store aggregates in SQL, by local hour: the daemon's zone is not
// the database's, and a zone can be half an hour off UTC or change its
// offset mid-range, so Go computes the instants each local hour starts
// (a grid) and the SQL puts every call in its hour by those instants. Go
// then folds the hours into days, hours of day and sources. The 90th
// percentile of the wait cannot be folded from counts, so the hours come
// with the answered calls' waits, for Go to sort by day.

// Counts is how the inbound calls of a slice of the report (a day, a
// source, an hour of day) ended.
type Counts struct {
	Total     int `json:"total"`
	Answered  int `json:"answered"`
	Missed    int `json:"missed"`
	Abandoned int `json:"abandoned"`
	Busy      int `json:"busy"`
	Failed    int `json:"failed"`
	// Lost are the calls nobody answered (missed, abandoned, busy or
	// failed); LostRate their share of Total, 0 with no calls.
	Lost     int     `json:"lost"`
	LostRate float64 `json:"lost_rate"`
	// NewCallers are the calls of numbers that had never called and were
	// on no client (caller kind new): people the advertising reached.
	NewCallers int `json:"new_callers"`
}

// Wait is how long answered callers waited for an operator (a call's
// wait_seconds: from its start to the answer).
type Wait struct {
	// Answered is how many calls it is measured over.
	Answered   int     `json:"answered"`
	AvgSeconds float64 `json:"avg_seconds"`
	// P90Seconds: nine callers in ten waited this long or less.
	P90Seconds float64 `json:"p90_seconds"`
}

// Shares are the outcomes' shares of all the calls, 0 to 1.
type Shares struct {
	Answered  float64 `json:"answered"`
	Missed    float64 `json:"missed"`
	Abandoned float64 `json:"abandoned"`
	Busy      float64 `json:"busy"`
	Failed    float64 `json:"failed"`
}

// Day is one local day of the report. A day without answered calls has
// a Wait of zeros with Answered 0: nobody waited, which the page and the
// CSV show as empty, not as 0 s.
type Day struct {
	Date string `json:"date"` // 2006-01-02
	Counts
	Wait         Wait         `json:"wait"`
	ServiceLevel ServiceLevel `json:"service_level"`
}

// Hour is one hour of the day (0 to 23, local) over all the report's days.
type Hour struct {
	Hour int `json:"hour"`
	Counts
}

// SourceSummary is one source's calls.
type SourceSummary struct {
	// Source is the advertising source; "" for calls to numbers that had
	// none.
	Source string `json:"source"`
	Counts
	Wait         Wait         `json:"wait"`
	ServiceLevel ServiceLevel `json:"service_level"`
	Callers      Callers      `json:"callers"`
	Callbacks    Callbacks    `json:"callbacks"`
	// Purposes are what the operators noted the source's calls were
	// about, most first.
	Purposes []PurposeCount `json:"purposes"`
	// Days has one entry per day of the report, in Summary.Days' order.
	Days []Counts `json:"days"`
}

// OperatorSummary is how an operator took the inbound calls that dialled
// their phone.
type OperatorSummary struct {
	Operator string `json:"operator"` // the extension
	Name     string `json:"name"`     // "" if no operator has the extension now
	// Offered is how often their phone rang; Answered how often they
	// answered; NoAnswer how often it rang out unanswered. A call that
	// rang them twice (a queue trying them again) counts twice, as a
	// queue's statistics count it.
	Offered  int `json:"offered"`
	Answered int `json:"answered"`
	NoAnswer int `json:"no_answer"`
	// Calls counts the calls that rang their phone, each once however
	// often it rang; CallsAnswered those they answered; TakenByColleague
	// those a colleague answered while every ring of theirs was still
	// ringing (a ring-all queue: nobody missed anything); MissedCalls the
	// rest: it rang out on them, or the caller gave up while it rang.
	Calls            int `json:"calls"`
	CallsAnswered    int `json:"calls_answered"`
	TakenByColleague int `json:"taken_by_colleague"`
	MissedCalls      int `json:"missed_calls"`
	// AnswerRate is CallsAnswered / (CallsAnswered + MissedCalls): of the
	// calls they could have taken, the share they took. 0 with none.
	AnswerRate float64 `json:"answer_rate"`
	// RingAvgSeconds is how long their phone rang before they answered;
	// TalkAvgSeconds how long they talked (their own leg: a transfer ends
	// it). Both over the calls they answered.
	RingAvgSeconds float64 `json:"ring_avg_seconds"`
	TalkAvgSeconds float64 `json:"talk_avg_seconds"`
}

// Summary is the reports' view of the inbound calls of a range of days.
type Summary struct {
	// From and To are the first and last day (To included), 2006-01-02,
	// in the daemon's zone; UTCOffset is that zone's offset at From's
	// start (+03:00).
	From      string `json:"from"`
	To        string `json:"to"`
	UTCOffset string `json:"utc_offset"`
	Totals    Counts `json:"totals"`
	Shares    Shares `json:"shares"`
	Wait      Wait   `json:"wait"`
	// Days has every day of the range, calls or not; Hours the 24 hours
	// of the day.
	Days  []Day  `json:"days"`
	Hours []Hour `json:"hours"`
	// Sources are the sources that had calls, most calls first.
	Sources []SourceSummary `json:"sources"`
	// Operators are those whose phones the calls dialled, most offered
	// first.
	Operators []OperatorSummary `json:"operators"`

	ServiceLevel ServiceLevel `json:"service_level"`
	// Callers are the distinct numbers that called; Callbacks how the
	// missed ones were called back; Purposes what the calls were about.
	Callers   Callers        `json:"callers"`
	Callbacks Callbacks      `json:"callbacks"`
	Purposes  []PurposeCount `json:"purposes"`
	// Previous is the same figures over the days of the same number just
	// before From (a week against the week before).
	Previous Period `json:"previous"`
}

// MaxSummaryDays bounds a summary's range: a year and a day (a leap year,
// plus the day a range of "the last year" may start on).
const MaxSummaryDays = 367

// grid is the local days and hours of a summary's range, as instants.
type grid struct {
	// days are the instants the days start at, then the end of the last.
	days []time.Time
	// hours are the instants the local hours start at, then the end of
	// the last; hourDay and hourOfDay say which day and hour of the day
	// each is. On the day clocks go forward the skipped hour has no
	// entry; on the day they go back, one entry spans two hours.
	hours     []time.Time
	hourDay   []int
	hourOfDay []int
}

// newGrid lays out the local days from from's date to to's (excluded), in
// from's location.
func newGrid(from, to time.Time) (grid, error) {
	loc := from.Location()
	to = to.In(loc)
	first := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	end := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc)
	if !end.After(first) {
		return grid{}, fmt.Errorf("summary from %s to %s: the range is empty", first.Format(time.DateOnly), end.Format(time.DateOnly))
	}
	var g grid
	for d := 0; ; d++ {
		day := time.Date(first.Year(), first.Month(), first.Day()+d, 0, 0, 0, 0, loc)
		if !day.Before(end) {
			break
		}
		if d == MaxSummaryDays {
			return grid{}, fmt.Errorf("summary from %s to %s: more than %d days", first.Format(time.DateOnly), end.Format(time.DateOnly), MaxSummaryDays)
		}
		g.days = append(g.days, day)
		for h := range 24 {
			at := time.Date(day.Year(), day.Month(), day.Day(), h, 0, 0, 0, loc)
			// A local time the clocks skipped is normalised to a later
			// one, possibly one already laid out.
			if n := len(g.hours); n > 0 && !at.After(g.hours[n-1]) {
				continue
			}
			if at.Day() != day.Day() {
				break
			}
			g.hours = append(g.hours, at)
			g.hourDay = append(g.hourDay, d)
			g.hourOfDay = append(g.hourOfDay, at.Hour())
		}
	}
	g.days = append(g.days, end)
	g.hours = append(g.hours, end)
	return g, nil
}

func (g grid) start() time.Time { return g.days[0] }
func (g grid) end() time.Time   { return g.days[len(g.days)-1] }

// hourRow is one row of a store's hour query: the calls of one local hour
// (an index into grid.hours) and source that ended with one status.
type hourRow struct {
	hour    int
	source  string
	status  screenpop.Status
	calls   int
	newOnes int
	// waits are the answered calls' wait_seconds.
	waits []float64
}

// operatorRow is one row of a store's operator query: ringMs and talkMs
// are the ring and talk time of ringN and talkN answered offers, summed in
// milliseconds; callsAnswered and missedCalls count calls, not rings.
type operatorRow struct {
	operator, name              string
	offered, answered, noAnswer int
	ringN, talkN                int
	ringMs, talkMs              int64
	callsAnswered, missedCalls  int
}

// plus adds o's counts and sums to r's (r nil: none yet); both are of one
// operator, over different days.
func (r *operatorRow) plus(o operatorRow) *operatorRow {
	if r != nil {
		o.offered += r.offered
		o.answered += r.answered
		o.noAnswer += r.noAnswer
		o.ringN += r.ringN
		o.talkN += r.talkN
		o.ringMs += r.ringMs
		o.talkMs += r.talkMs
		o.callsAnswered += r.callsAnswered
		o.missedCalls += r.missedCalls
	}
	return &o
}

// operatorCallRow is one row of a store's per-call operator query: the
// calls that rang an operator (calls.offered_to). Those they neither
// answered nor missed, a colleague answered while each of their rings was
// ringing.
type operatorCallRow struct {
	operator string
	calls    int
}

// callerRow is the distinct numbers of a source's calls (all: of every
// source's), and those with a call of caller kind new.
type callerRow struct {
	source   string
	all      bool
	distinct int
	newOnes  int
}

// callbackDelayRow is one missed call with a number: its source, and the
// seconds to its first call back (nil: never called back).
type callbackDelayRow struct {
	source string
	delay  *float64
}

// purposeRow counts a source's calls noted with a purpose.
type purposeRow struct {
	source, purpose string
	calls           int
}

// summaryRows are what a store's queries give for one range.
type summaryRows struct {
	hours     []hourRow
	ops       []operatorRow
	opCalls   []operatorCallRow
	callers   []callerRow
	callbacks []callbackDelayRow
	purposes  []purposeRow
}

// period is s's headline figures.
func (s Summary) period() Period {
	return Period{From: s.From, To: s.To, Totals: s.Totals, Wait: s.Wait, ServiceLevel: s.ServiceLevel,
		Callers: s.Callers, Callbacks: s.Callbacks, Purposes: s.Purposes}
}

// previousGrid is the grid of the days of the same number just before
// g's.
func previousGrid(g grid) (grid, error) {
	n := len(g.days) - 1
	first := g.start()
	return newGrid(time.Date(first.Year(), first.Month(), first.Day()-n, 0, 0, 0, 0, first.Location()), first)
}

// summarize folds a store's rows into a Summary; sl is the service
// level's threshold.
func summarize(g grid, rows summaryRows, sl time.Duration) Summary {
	nDays := len(g.days) - 1
	s := Summary{
		From:      g.days[0].Format(time.DateOnly),
		To:        g.days[nDays-1].Format(time.DateOnly),
		UTCOffset: g.days[0].Format("-07:00"),
		Days:      make([]Day, nDays),
		Hours:     make([]Hour, 24),
		Sources:   []SourceSummary{},
		Operators: []OperatorSummary{},
		Purposes:  []PurposeCount{},
	}
	for i := range s.Days {
		s.Days[i].Date = g.days[i].Format(time.DateOnly)
	}
	for h := range s.Hours {
		s.Hours[h].Hour = h
	}
	sources := map[string]*SourceSummary{}
	source := func(name string) *SourceSummary {
		src := sources[name]
		if src == nil {
			src = &SourceSummary{Source: name, Days: make([]Counts, nDays), Purposes: []PurposeCount{}}
			sources[name] = src
		}
		return src
	}
	dayWaits := make([][]float64, nDays)
	srcWaits := map[string][]float64{}
	for _, r := range rows.hours {
		if r.hour < 0 || r.hour >= len(g.hourDay) {
			continue // outside the range: the queries never give one
		}
		day := g.hourDay[r.hour]
		src := source(r.source)
		for _, c := range []*Counts{&s.Totals, &s.Days[day].Counts, &s.Hours[g.hourOfDay[r.hour]].Counts, &src.Counts, &src.Days[day]} {
			c.add(r)
		}
		dayWaits[day] = append(dayWaits[day], r.waits...)
		srcWaits[r.source] = append(srcWaits[r.source], r.waits...)
	}
	s.Totals.finish()
	var waits []float64
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

	for _, r := range rows.callers {
		c := Callers{Distinct: r.distinct, New: r.newOnes}
		if r.all {
			s.Callers = c
		} else {
			source(r.source).Callers = c
		}
	}
	var delays []*float64
	srcDelays := map[string][]*float64{}
	for _, r := range rows.callbacks {
		delays = append(delays, r.delay)
		srcDelays[r.source] = append(srcDelays[r.source], r.delay)
		source(r.source)
	}
	s.Callbacks = callbacksOf(delays)
	purposes := map[string]int{}
	srcPurposes := map[string]map[string]int{}
	for _, r := range rows.purposes {
		purposes[r.purpose] += r.calls
		if srcPurposes[r.source] == nil {
			srcPurposes[r.source] = map[string]int{}
		}
		srcPurposes[r.source][r.purpose] += r.calls
		source(r.source)
	}
	s.Purposes = purposeCounts(purposes, s.Totals.Total)

	for _, src := range sources {
		src.finish()
		for i := range src.Days {
			src.Days[i].finish()
		}
		src.Wait = waitOf(srcWaits[src.Source])
		src.ServiceLevel = serviceLevel(srcWaits[src.Source], src.Counts, sl)
		src.Callbacks = callbacksOf(srcDelays[src.Source])
		src.Purposes = purposeCounts(srcPurposes[src.Source], src.Total)
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
	perCall := map[string]operatorCallRow{}
	for _, r := range rows.opCalls {
		perCall[r.operator] = r
	}
	for _, o := range rows.ops {
		calls := perCall[o.operator].calls
		s.Operators = append(s.Operators, OperatorSummary{
			Operator: o.operator, Name: o.name,
			Offered: o.offered, Answered: o.answered, NoAnswer: o.noAnswer,
			Calls: calls, CallsAnswered: o.callsAnswered, MissedCalls: o.missedCalls,
			TakenByColleague: calls - o.callsAnswered - o.missedCalls,
			AnswerRate:       ratio(o.callsAnswered, o.callsAnswered+o.missedCalls),
			RingAvgSeconds:   avgSeconds(o.ringMs, o.ringN),
			TalkAvgSeconds:   avgSeconds(o.talkMs, o.talkN),
		})
	}
	slices.SortFunc(s.Operators, func(a, b OperatorSummary) int {
		return cmp.Or(cmp.Compare(b.Offered, a.Offered), cmp.Compare(a.Operator, b.Operator))
	})
	return s
}

func (c *Counts) add(r hourRow) {
	c.Total += r.calls
	c.NewCallers += r.newOnes
	switch r.status {
	case screenpop.StatusAnswered:
		c.Answered += r.calls
	case screenpop.StatusMissed:
		c.Missed += r.calls
	case screenpop.StatusAbandoned:
		c.Abandoned += r.calls
	case screenpop.StatusBusy:
		c.Busy += r.calls
	case screenpop.StatusFailed:
		c.Failed += r.calls
	}
}

// finish works out what follows from the counts.
func (c *Counts) finish() {
	c.Lost = c.Total - c.Answered
	c.LostRate = ratio(c.Lost, c.Total)
}

// waitOf measures waits (in seconds, to the millisecond). Its percentile
// is the nearest rank: the ceil(0.9 n)-th smallest, a wait some caller
// really had.
func waitOf(waits []float64) Wait {
	if len(waits) == 0 {
		return Wait{}
	}
	var ms int64
	for _, w := range waits {
		ms += int64(math.Round(w * 1000))
	}
	slices.Sort(waits)
	n := len(waits)
	return Wait{Answered: n, AvgSeconds: avgSeconds(ms, n), P90Seconds: round(waits[(9*n+9)/10-1], 1)}
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
