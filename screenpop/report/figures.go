package report

import (
	"cmp"
	"slices"
	"time"
)

// The figures a dealership's marketing asks of the reports after the
// calls by source: service level, distinct callers, how missed callers
// were called back, what the calls were about, and the previous period's
// figures to compare.

// Period is a summary's headline figures, for comparing two ranges.
type Period struct {
	From         string         `json:"from"`
	To           string         `json:"to"`
	Totals       Counts         `json:"totals"`
	Wait         Wait           `json:"wait"`
	ServiceLevel ServiceLevel   `json:"service_level"`
	Callers      Callers        `json:"callers"`
	Callbacks    Callbacks      `json:"callbacks"`
	Purposes     []PurposeCount `json:"purposes"`
}

// ServiceLevel is the share of the inbound calls answered within a
// threshold (reports.service_level in the config; 20 s by default) of
// their start: Within / all the calls, lost ones included.
type ServiceLevel struct {
	ThresholdSeconds float64 `json:"threshold_seconds"`
	// Calls are the inbound calls the rate is of: all of them but the
	// answered calls whose wait is uncertain (Uncertain: the record's gaps
	// say its start or answer was not seen), which are left out rather
	// than guessed in time or late.
	Calls     int     `json:"calls"`
	Within    int     `json:"within"`
	Uncertain int     `json:"uncertain"`
	Rate      float64 `json:"rate"` // 0 with no calls: see Calls
}

// Callers counts people rather than calls: the distinct numbers that
// called (a withheld caller has none and is not counted), and those of
// them calling for the first time (caller kind new: on no client, never
// called before).
type Callers struct {
	Distinct int `json:"distinct"`
	New      int `json:"new"`
}

// Callbacks is how the missed and abandoned inbound calls with a number
// were called back: by the first outbound call to that number after the
// missed one, whenever it was placed (the report may be read later than
// its days). A number that called again and got through was still not
// called back.
type Callbacks struct {
	// Missed counts the calls; CalledBack those that had a call back.
	Missed     int `json:"missed"`
	CalledBack int `json:"called_back"`
	// MedianSeconds is the median time to the call back, over the calls
	// called back (0 with none: see CalledBack).
	MedianSeconds float64 `json:"median_seconds"`
	// Within1h and Within1d count the calls called back within an hour
	// and a day; Never those not called back at all. Their shares are of
	// Missed.
	Within1h      int     `json:"within_1h"`
	Within1d      int     `json:"within_1d"`
	Never         int     `json:"never"`
	Within1hShare float64 `json:"within_1h_share"`
	Within1dShare float64 `json:"within_1d_share"`
	NeverShare    float64 `json:"never_share"`
}

// PurposeCount is how many calls operators noted with a purpose
// (calls.purposes: service_booking, sales, ...), and their share of the
// calls they are counted among. Calls without a note have no purpose
// and are not here.
type PurposeCount struct {
	Purpose string  `json:"purpose"`
	Calls   int     `json:"calls"`
	Share   float64 `json:"share"`
}

// DefaultServiceLevel is the service level's threshold unless configured.
const DefaultServiceLevel = 20 * time.Second

// serviceLevel counts the waits (of answered calls, in milliseconds)
// within sl, of total calls.
func serviceLevel(waits []int32, c Counts, sl time.Duration) ServiceLevel {
	// waits holds the answered calls' certain waits only.
	uncertain := max(c.Answered-len(waits), 0)
	l := ServiceLevel{ThresholdSeconds: sl.Seconds(), Calls: c.Total - uncertain, Uncertain: uncertain}
	for _, w := range waits {
		if time.Duration(w)*time.Millisecond <= sl {
			l.Within++
		}
	}
	l.Rate = ratio(l.Within, l.Calls)
	return l
}

// figures measures the call backs: the delays are of those of the missed
// calls called back (seconds), which it reorders. The median of an even
// number is the mean of the middle two.
func (cb *callbacks) figures() Callbacks {
	c := Callbacks{Missed: cb.missed, CalledBack: len(cb.delays), Never: cb.missed - len(cb.delays)}
	for _, d := range cb.delays {
		if d <= 3600 {
			c.Within1h++
		}
		if d <= 86400 {
			c.Within1d++
		}
	}
	if n := len(cb.delays); n > 0 {
		// Selected, not sorted: sorting a year's delays was a fifth of
		// its summary's time in Go.
		lo := nth(cb.delays, (n-1)/2)
		hi := lo
		if n%2 == 0 {
			hi = nth(cb.delays, n/2)
		}
		c.MedianSeconds = round((lo+hi)/2, 1)
	}
	c.Within1hShare = ratio(c.Within1h, c.Missed)
	c.Within1dShare = ratio(c.Within1d, c.Missed)
	c.NeverShare = ratio(c.Never, c.Missed)
	return c
}

// purposeCounts lists purposes' calls, most first, with their share of
// total calls.
func purposeCounts(purposes map[string]int, total int) []PurposeCount {
	l := make([]PurposeCount, 0, len(purposes))
	for p, n := range purposes {
		l = append(l, PurposeCount{Purpose: p, Calls: n, Share: ratio(n, total)})
	}
	slices.SortFunc(l, func(a, b PurposeCount) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Purpose, b.Purpose))
	})
	return l
}
