package report

import (
	"fmt"
	"slices"
	"time"
)

// Grid is the local days and hours of a summary's range, as instants: a
// store puts each call in the hour holding its start (HourRow.Hour).
type Grid struct {
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

// NewGrid lays out the local days from from's date to to's (excluded), in
// from's location. A range that is empty or longer than MaxDays is an
// error.
func NewGrid(from, to time.Time) (Grid, error) {
	loc := from.Location()
	to = to.In(loc)
	first := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	end := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc)
	if !end.After(first) {
		return Grid{}, fmt.Errorf("summary from %s to %s: the range is empty", first.Format(time.DateOnly), end.Format(time.DateOnly))
	}
	var g Grid
	for d := 0; ; d++ {
		day := time.Date(first.Year(), first.Month(), first.Day()+d, 0, 0, 0, 0, loc)
		if !day.Before(end) {
			break
		}
		if d == MaxDays {
			return Grid{}, fmt.Errorf("summary from %s to %s: more than %d days", first.Format(time.DateOnly), end.Format(time.DateOnly), MaxDays)
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

// Previous is the grid of the days of the same number just before g's
// (a week against the week before).
func (g Grid) Previous() (Grid, error) {
	n := len(g.days) - 1
	first := g.Start()
	return NewGrid(time.Date(first.Year(), first.Month(), first.Day()-n, 0, 0, 0, 0, first.Location()), first)
}

// Start is the instant the grid's first day starts; End the one its last
// day ends.
func (g Grid) Start() time.Time { return g.days[0] }
func (g Grid) End() time.Time   { return g.days[len(g.days)-1] }

// GridDay is one local day of a Grid, for a store that reads the calls a
// day at a time.
type GridDay struct {
	// Start and End bound the day.
	Start, End time.Time
	// Hours are the instants the day's hours start at, then End; the
	// first is the grid's hour First (an HourRow's Hour counts from 0).
	Hours []time.Time
	First int
}

// Days are the grid's days, in order.
func (g Grid) Days() []GridDay {
	days := make([]GridDay, 0, len(g.days)-1)
	first := 0 // the day's first hour
	for day := range len(g.days) - 1 {
		last := first
		for last < len(g.hourDay) && g.hourDay[last] == day {
			last++
		}
		days = append(days, GridDay{Start: g.days[day], End: g.days[day+1], Hours: g.hours[first : last+1], First: first})
		first = last
	}
	return days
}

// OnUTCHours says whether every hour of g starts on a UTC hour: whether
// hourly roll-ups kept by UTC hour serve it.
func (g Grid) OnUTCHours() bool {
	for _, t := range g.hours {
		if t.Unix()%3600 != 0 || t.Nanosecond() != 0 {
			return false
		}
	}
	return true
}

// HourOf is the index of the grid hour holding t (an HourRow's Hour), -1
// outside the grid.
func (g Grid) HourOf(t time.Time) int {
	i, found := slices.BinarySearchFunc(g.hours, t, func(h, t time.Time) int { return h.Compare(t) })
	if !found {
		i--
	}
	if i < 0 || i >= len(g.hours)-1 {
		return -1
	}
	return i
}
