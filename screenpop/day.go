package screenpop

import (
	"fmt"
	"time"
)

// ParseDayOrInstant reads what analysts and admins type for a date: a day,
// YYYY-MM-DD, as the instant it starts in zone (day is true), or an RFC
// 3339 instant, 2026-03-01T09:00:00+03:00, as it is.
func ParseDayOrInstant(s string, zone *time.Location) (t time.Time, day bool, err error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, zone); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, false, nil
	}
	return time.Time{}, false, fmt.Errorf("want a date such as 2026-03-01 or an instant such as 2026-03-01T09:00:00+03:00, got %q", s)
}

// StartOfDay is midnight of t's day in t's location.
func StartOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}
