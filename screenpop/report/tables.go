package report

import "slices"

// The reports' CSV exports (GET /api/reports/summary?format=csv&table=...)
// are a summary's figures as tables: a row per source, day, operator or
// purpose, or the period against the previous one. Columns are named as
// the JSON and the SQL views name the same figures. A cell is a string,
// an int, a float64, or nil for a figure that does not exist (the wait of
// a day nobody was answered on), which a spreadsheet must show empty
// rather than as 0.

// TableNames are the tables a summary exports.
var TableNames = []string{"sources", "days", "operators", "purposes", "comparison"}

// Table is one of TableNames as a header and rows; ok is false for
// another name.
func (s Summary) Table(name string) (header []string, rows [][]any, ok bool) {
	switch name {
	case "sources":
		header = append([]string{"source"}, countsHeader...)
		header = append(header, "distinct_callers", "new_numbers")
		header = append(header, waitHeader...)
		header = append(header, levelHeader...)
		header = append(header, callbacksHeader...)
		purposes := s.purposeNames()
		for _, p := range purposes {
			header = append(header, "purpose_"+p)
		}
		for _, src := range s.Sources {
			r := []any{src.Source}
			r = append(r, countsCells(src.Counts)...)
			r = append(r, src.Callers.Distinct, src.Callers.New)
			r = append(r, waitCells(src.Wait)...)
			r = append(r, levelCells(src.ServiceLevel)...)
			r = append(r, callbackCells(src.Callbacks)...)
			for _, p := range purposes {
				n := 0
				for _, c := range src.Purposes {
					if c.Purpose == p {
						n = c.Calls
					}
				}
				r = append(r, n)
			}
			rows = append(rows, r)
		}
	case "days":
		header = append([]string{"day"}, countsHeader...)
		header = append(header, waitHeader...)
		header = append(header, levelHeader...)
		for _, d := range s.Days {
			r := append([]any{d.Date}, countsCells(d.Counts)...)
			r = append(r, waitCells(d.Wait)...)
			rows = append(rows, append(r, levelCells(d.ServiceLevel)...))
		}
	case "operators":
		header = []string{"operator", "operator_name", "offered", "answered", "no_answer",
			"calls", "calls_answered", "taken_by_colleague", "missed_calls", "answer_rate",
			"avg_ring_seconds", "avg_talk_seconds"}
		for _, o := range s.Operators {
			r := []any{o.Operator, o.Name, o.Offered, o.Answered, o.NoAnswer,
				o.Calls, o.CallsAnswered, o.TakenByColleague, o.MissedCalls, rate(o.AnswerRate, o.CallsAnswered+o.MissedCalls)}
			r = append(r, seconds(o.RingAvgSeconds, o.Answered), seconds(o.TalkAvgSeconds, o.Answered))
			rows = append(rows, r)
		}
	case "purposes":
		header = []string{"source", "purpose", "calls", "share"}
		for _, src := range s.Sources {
			for _, p := range src.Purposes {
				rows = append(rows, []any{src.Source, p.Purpose, p.Calls, p.Share})
			}
		}
	case "comparison":
		header = []string{"figure", "this_period", "previous_period"}
		this, prev := s.Period(), s.Previous
		rows = append(rows, []any{"from", this.From, prev.From}, []any{"to", this.To, prev.To})
		a, b := countsCells(this.Totals), countsCells(prev.Totals)
		for i, h := range countsHeader {
			rows = append(rows, []any{h, a[i], b[i]})
		}
		rows = append(rows, []any{"distinct_callers", this.Callers.Distinct, prev.Callers.Distinct},
			[]any{"new_numbers", this.Callers.New, prev.Callers.New})
		pairs := []struct {
			header []string
			a, b   []any
		}{
			{waitHeader, waitCells(this.Wait), waitCells(prev.Wait)},
			{levelHeader, levelCells(this.ServiceLevel), levelCells(prev.ServiceLevel)},
			{callbacksHeader, callbackCells(this.Callbacks), callbackCells(prev.Callbacks)},
		}
		for _, p := range pairs {
			for i, h := range p.header {
				rows = append(rows, []any{h, p.a[i], p.b[i]})
			}
		}
		count := func(l []PurposeCount, p string) int {
			for _, c := range l {
				if c.Purpose == p {
					return c.Calls
				}
			}
			return 0
		}
		names := s.purposeNames()
		for _, c := range prev.Purposes {
			if !slices.Contains(names, c.Purpose) {
				names = append(names, c.Purpose)
			}
		}
		for _, p := range names {
			rows = append(rows, []any{"purpose_" + p, count(this.Purposes, p), count(prev.Purposes, p)})
		}
	default:
		return nil, nil, false
	}
	return header, rows, true
}

// purposeNames are the purposes of s's calls, most first.
func (s Summary) purposeNames() []string {
	names := make([]string, len(s.Purposes))
	for i, p := range s.Purposes {
		names[i] = p.Purpose
	}
	return names
}

var (
	countsHeader    = []string{"total", "answered", "missed", "abandoned", "busy", "failed", "lost", "lost_rate", "new_callers"}
	waitHeader      = []string{"avg_wait_seconds", "p90_wait_seconds"}
	levelHeader     = []string{"service_level_seconds", "answered_within_level", "service_level"}
	callbacksHeader = []string{"missed_with_number", "called_back", "median_callback_seconds",
		"called_back_within_1h", "called_back_within_1d", "never_called_back",
		"called_back_within_1h_share", "called_back_within_1d_share", "never_called_back_share"}
)

func countsCells(c Counts) []any {
	return []any{c.Total, c.Answered, c.Missed, c.Abandoned, c.Busy, c.Failed, c.Lost, rate(c.LostRate, c.Total), c.NewCallers}
}

func waitCells(w Wait) []any {
	return []any{seconds(w.AvgSeconds, w.Answered), seconds(w.P90Seconds, w.Answered)}
}

func levelCells(l ServiceLevel) []any {
	return []any{l.ThresholdSeconds, l.Within, rate(l.Rate, l.Calls)}
}

func callbackCells(c Callbacks) []any {
	return []any{c.Missed, c.CalledBack, seconds(c.MedianSeconds, c.CalledBack), c.Within1h, c.Within1d, c.Never,
		rate(c.Within1hShare, c.Missed), rate(c.Within1dShare, c.Missed), rate(c.NeverShare, c.Missed)}
}

// seconds is an average or percentile over n values: nil over none.
func seconds(v float64, n int) any {
	if n == 0 {
		return nil
	}
	return v
}

// rate is a share of n: nil of none.
func rate(v float64, n int) any {
	if n == 0 {
		return nil
	}
	return v
}
