package spool

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func ptr[T any](v T) *T { return &v }

// sameTime compares times by instant and location: a call read back from
// the spool must be the call appended.
var sameTime = cmp.Comparer(func(a, b time.Time) bool {
	return a.Equal(b) && a.Location() == b.Location()
})

// answeredCall rang one operator, who answered. It carries a caller's
// number and name, which the logs must never show.
func answeredCall(id string) screenpop.Call {
	answered := t0.Add(6500 * time.Millisecond)
	return screenpop.Call{
		ID: id, Direction: screenpop.Inbound, Status: screenpop.StatusAnswered,
		Caller: "0612345678", CallerE164: ptr("+31612345678"), CallerName: "J. de Vries",
		OfferedTo: []string{"bob"}, AnsweredBy: ptr("bob"), TalkedTo: []string{"bob"},
		StartedAt: t0, AnsweredAt: &answered, EndedAt: t0.Add(3 * time.Minute),
		Offers: []screenpop.Offer{{Operator: "bob", Channel: "PJSIP/bob-00000003", DialedAt: t0.Add(2 * time.Second),
			AnsweredAt: &answered, EndedAt: ptr(t0.Add(3 * time.Minute)), Outcome: screenpop.OutcomeAnswered, DialStatus: "ANSWER"}},
	}
}

func callIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s.%d", prefix, i+1)
	}
	return ids
}

// refusal is how the fakes refuse data, as a real database refuses a
// value it cannot hold: saving it again fails again.
type refusal string

func (r refusal) Error() string { return string(r) }

func isRefusal(err error) bool {
	var r refusal
	return errors.As(err, &r)
}
