package report

import (
	"testing"
	"time"
	_ "time/tzdata" // the grid tests' zones, wherever they run

	"github.com/google/go-cmp/cmp"
)

func TestGridHasEachLocalHourOnce(t *testing.T) {
	zone := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	for _, tc := range []struct {
		name  string
		day   time.Time
		hours []int // the local hours the day has
		// first is when the day's hour 10 starts, in UTC.
		first string
	}{
		{"a day in Moscow has 24 hours, each starting at 3 past the UTC hour",
			time.Date(2025, 3, 10, 0, 0, 0, 0, zone("Europe/Moscow")), hourRange(0, 24), "2025-03-10T07:00:00Z"},
		{"the day Berlin's clocks go forward has no 2 o'clock",
			time.Date(2025, 3, 30, 0, 0, 0, 0, zone("Europe/Berlin")), append(hourRange(0, 2), hourRange(3, 24)...), "2025-03-30T08:00:00Z"},
		{"the day Berlin's clocks go back has each hour once",
			time.Date(2025, 10, 26, 0, 0, 0, 0, zone("Europe/Berlin")), hourRange(0, 24), "2025-10-26T09:00:00Z"},
		{"hours in India start on the half hour of UTC",
			time.Date(2025, 3, 10, 0, 0, 0, 0, zone("Asia/Kolkata")), hourRange(0, 24), "2025-03-10T04:30:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGrid(tc.day, tc.day.AddDate(0, 0, 1))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.hours, g.hourOfDay); diff != "" {
				t.Errorf("hours of the day (-want +got):\n%s", diff)
			}
			for i, h := range g.hourOfDay {
				if h == 10 && g.hours[i].UTC().Format(time.RFC3339) != tc.first {
					t.Errorf("hour 10 starts at %s, want %s", g.hours[i].UTC().Format(time.RFC3339), tc.first)
				}
			}
			if !g.hours[0].Equal(tc.day) || !g.hours[len(g.hours)-1].Equal(g.End()) || !g.End().Equal(tc.day.AddDate(0, 0, 1)) {
				t.Errorf("the hours run from %s to %s, want the whole day", g.hours[0], g.hours[len(g.hours)-1])
			}
		})
	}
}

func hourRange(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestGridRefusesAnEmptyOrTooLongRange(t *testing.T) {
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		from, to time.Time
		ok       bool
	}{
		{"a range ending where it starts is empty", day, day, false},
		{"a range ending before it starts is empty", day, day.AddDate(0, 0, -1), false},
		{"a range ending within its first day is empty", day, day.Add(23 * time.Hour), false},
		{"MaxDays days are allowed", day, day.AddDate(0, 0, MaxDays), true},
		{"a day more is refused", day, day.AddDate(0, 0, MaxDays+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewGrid(tc.from, tc.to)
			if (err == nil) != tc.ok {
				t.Errorf("from %s to %s: error %v, want ok %v", tc.from, tc.to, err, tc.ok)
			}
		})
	}
}

// TestGridDaysTileItsHours checks the days a store reads the raw rows by:
// each day's hours are the grid's, in order, from its start to its end,
// including the day clocks go forward and the day they go back.
func TestGridDaysTileItsHours(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []time.Time{
		time.Date(2025, 3, 29, 0, 0, 0, 0, berlin),
		time.Date(2025, 10, 25, 0, 0, 0, 0, berlin),
	} {
		g, err := NewGrid(from, from.AddDate(0, 0, 3))
		if err != nil {
			t.Fatal(err)
		}
		days := g.Days()
		if len(days) != 3 {
			t.Fatalf("from %s: %d days, want 3", from, len(days))
		}
		next := 0 // the grid hour the day should start with
		for d, day := range days {
			if want := from.AddDate(0, 0, d); !day.Start.Equal(want) || !day.End.Equal(from.AddDate(0, 0, d+1)) {
				t.Errorf("day %d runs from %s to %s, want from %s", d, day.Start, day.End, want)
			}
			if day.First != next || !day.Hours[0].Equal(day.Start) || !day.Hours[len(day.Hours)-1].Equal(day.End) {
				t.Errorf("day %d: first hour %d (want %d), hours from %s to %s", d, day.First, next, day.Hours[0], day.Hours[len(day.Hours)-1])
			}
			for i, h := range day.Hours[:len(day.Hours)-1] {
				if got := g.HourOf(h); got != day.First+i {
					t.Errorf("day %d hour %d (%s) is grid hour %d, want %d", d, i, h, got, day.First+i)
				}
			}
			next = day.First + len(day.Hours) - 1
		}
		if g.HourOf(g.End()) != -1 || g.HourOf(g.Start().Add(-time.Nanosecond)) != -1 {
			t.Errorf("from %s: an instant outside the grid has an hour", from)
		}
	}
}
