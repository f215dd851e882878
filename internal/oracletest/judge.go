package oracletest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// Window is a time the daemon could not see Asterisk: a call that began
// and ended inside one cannot be known.
type Window struct{ From, To time.Time }

func (w Window) String() string {
	return fmt.Sprintf("%s-%s (%s)", w.From.Format("15:04:05.000"), w.To.Format("15:04:05.000"), w.To.Sub(w.From).Round(time.Millisecond))
}

// InsideOne reports whether the call began and ended inside one of the
// blind windows.
func InsideOne(c screenpop.Call, blind []Window) bool {
	for _, w := range blind {
		if !c.StartedAt.Before(w.From) && !c.EndedAt.After(w.To) {
			return true
		}
	}
	return false
}

// Seeable counts the calls of truth that did not begin and end inside
// one of the blind windows: those the call log must hold.
func Seeable(truth map[string]screenpop.Call, blind []Window) int {
	n := 0
	for _, c := range truth {
		if !InsideOne(c, blind) {
			n++
		}
	}
	return n
}

// AnsweredUnseen reports whether the call was answered and ended inside
// one blind window: the daemon cannot know it was answered (the record
// must say so, GapAnswer, which Unflagged checks).
func AnsweredUnseen(c screenpop.Call, blind []Window) bool {
	if c.AnsweredAt == nil {
		return false
	}
	for _, w := range blind {
		if !c.AnsweredAt.Before(w.From) && !c.EndedAt.After(w.To) {
			return true
		}
	}
	return false
}

// Spans reports whether the call was in progress at one of the times.
func Spans(c screenpop.Call, at []time.Time) bool {
	for _, a := range at {
		if c.StartedAt.Before(a) && c.EndedAt.After(a) {
			return true
		}
	}
	return false
}

// Verdict is a daemon's records against the oracle's.
type Verdict struct {
	Exact, Flagged, Excused                  int
	Gaps                                     map[screenpop.Gap]int
	Doubled, Phantom, Lost, Wrong, NotAnswer []string
}

// Judge compares records (every one the daemon handed over, in order)
// with the truth; calls that began and ended inside one blind window may
// be missing, and an answered call stored otherwise must have been
// answered and ended inside one (AnsweredUnseen).
func Judge(truth map[string]screenpop.Call, records []screenpop.Call, blind []Window) Verdict {
	return judge(truth, records, blind, func(want, _ screenpop.Call) bool { return AnsweredUnseen(want, blind) })
}

// JudgeAnswerFlags is Judge where an answered call stored otherwise is
// excused wherever it was answered, if its record says it does not know
// the answer (GapAnswer): the rule of the tests of Asterisk's outbound
// websockets, whose blind windows are only the holes a killed holder
// left.
func JudgeAnswerFlags(truth map[string]screenpop.Call, records []screenpop.Call, blind []Window) Verdict {
	return judge(truth, records, blind, func(_, got screenpop.Call) bool { return slices.Contains(got.Gaps, screenpop.GapAnswer) })
}

// judge is Judge with what excuses an answered call stored otherwise.
func judge(truth map[string]screenpop.Call, records []screenpop.Call, blind []Window, unknownAnswer func(want, got screenpop.Call) bool) Verdict {
	v := Verdict{Gaps: map[screenpop.Gap]int{}}
	got := map[string]screenpop.Call{}
	for _, c := range records {
		if _, dup := got[c.ID]; dup {
			v.Doubled = append(v.Doubled, c.ID)
		}
		got[c.ID] = c
		if _, ok := truth[c.ID]; !ok {
			v.Phantom = append(v.Phantom, c.ID)
		}
	}
	for id, want := range truth {
		c, ok := got[id]
		switch {
		case !ok && InsideOne(want, blind):
			v.Excused++
			continue
		case !ok:
			v.Lost = append(v.Lost, fmt.Sprintf("%s (%s %s-%s)", id, want.Status, want.StartedAt.Format("15:04:05.000"), want.EndedAt.Format("15:04:05.000")))
			continue
		}
		if want.Status == screenpop.StatusAnswered && c.Status != screenpop.StatusAnswered && !unknownAnswer(want, c) {
			v.NotAnswer = append(v.NotAnswer, fmt.Sprintf("%s answered by %s, stored %s (gaps %v)", id, *want.AnsweredBy, c.Status, c.Gaps))
		}
		if bad := c.Unflagged(want); len(bad) > 0 {
			v.Wrong = append(v.Wrong, fmt.Sprintf("%s: %v differ, gaps %v", id, bad, c.Gaps))
			continue
		}
		if len(c.Gaps) == 0 {
			v.Exact++
			continue
		}
		v.Flagged++
		for _, g := range c.Gaps {
			v.Gaps[g]++
		}
	}
	return v
}

// Report logs the verdict's counts and fails the test for every record
// that is wrong and unflagged, doubled, phantom, lost, or answered but
// stored otherwise.
func (v Verdict) Report(t *testing.T) {
	t.Helper()
	t.Logf("records: %d exact, %d flagged (gaps: start %d, offers %d, answer %d, end %d), %d wrong and unflagged; %d doubled, %d phantom, %d lost, %d not recorded because they began and ended while the daemon could not see them; %d answered calls stored otherwise",
		v.Exact, v.Flagged, v.Gaps[screenpop.GapStart], v.Gaps[screenpop.GapOffers], v.Gaps[screenpop.GapAnswer], v.Gaps[screenpop.GapEnd],
		len(v.Wrong), len(v.Doubled), len(v.Phantom), len(v.Lost), v.Excused, len(v.NotAnswer))
	for _, list := range []struct {
		what string
		ids  []string
	}{{"wrong and unflagged", v.Wrong}, {"doubled", v.Doubled}, {"phantom", v.Phantom}, {"lost", v.Lost}, {"answered but stored otherwise", v.NotAnswer}} {
		FailList(t, list.what, list.ids)
	}
}

// FailList fails the test naming up to ten of items, if there are any.
func FailList(t *testing.T, what string, items []string) {
	t.Helper()
	if len(items) > 0 {
		sort.Strings(items)
		t.Errorf("%d %s: %s", len(items), what, strings.Join(items[:min(len(items), 10)], "; "))
	}
}
