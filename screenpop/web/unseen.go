package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// Unseen periods (screenpop.UnseenPeriod) where analysts look: the call
// listing and its CSV export warn of those that overlap the range asked,
// the reports and the wallboard show the time unseen, the admin page the
// last ones.

// UnseenLister lists the unseen periods that overlap [from, to) (zero:
// unbounded), the latest first, limit at most if > 0. The call log a
// handler is given is asked for them if it is one.
type UnseenLister interface {
	UnseenPeriods(ctx context.Context, from, to time.Time, limit int) ([]screenpop.UnseenPeriod, error)
}

// UnseenWarning is what an analyst is told of a period, times in zone.
func UnseenWarning(p screenpop.UnseenPeriod, zone *time.Location) string {
	box := "Asterisk"
	if p.PBX != "" {
		box = "pbx " + p.PBX
	}
	return fmt.Sprintf("the call log did not see %s from %s to %s (%s): calls that began and ended then are not in it",
		box, p.From.In(zone).Format(time.DateTime), p.To.In(zone).Format(time.DateTime), p.Reason.Describe())
}

// UnseenJSON is a period as the API sends it.
type UnseenJSON struct {
	PBX              string    `json:"pbx"`
	From             time.Time `json:"from"`
	To               time.Time `json:"to"`
	Seconds          float64   `json:"seconds"`
	Reason           string    `json:"reason"`
	CallsInProgress  int       `json:"calls_in_progress"`
	CallsEndedUnseen int       `json:"calls_ended_unseen"`
	// Warning is UnseenWarning, in the daemon's zone.
	Warning string `json:"warning"`
}

func unseenJSON(ps []screenpop.UnseenPeriod, zone *time.Location) []UnseenJSON {
	out := make([]UnseenJSON, len(ps))
	for i, p := range ps {
		out[i] = UnseenJSON{PBX: p.PBX, From: p.From, To: p.To, Seconds: p.Duration().Seconds(), Reason: string(p.Reason),
			CallsInProgress: p.CallsInProgress, CallsEndedUnseen: p.CallsEndedUnseen, Warning: UnseenWarning(p, zone)}
	}
	return out
}

// LastUnseen is the last periods of l (limit at most) as the admin page
// shows them.
func LastUnseen(ctx context.Context, l UnseenLister, limit int, zone *time.Location) ([]UnseenJSON, error) {
	ps, err := l.UnseenPeriods(ctx, time.Time{}, time.Time{}, limit)
	if err != nil {
		return nil, fmt.Errorf("read unseen periods: %w", err)
	}
	return unseenJSON(ps, zone), nil
}

// UnseenSummary is the unseen time of a range: Seconds counts each moment
// of each box once, however many periods cover it.
type UnseenSummary struct {
	Seconds float64      `json:"seconds"`
	Periods []UnseenJSON `json:"periods"`
}

// unseenIn reads the periods that overlap [from, to) from log, if it
// keeps them (ok false if not).
func unseenIn(ctx context.Context, log any, from, to time.Time, zone *time.Location) (s UnseenSummary, ok bool, err error) {
	l, ok := log.(UnseenLister)
	if !ok {
		return s, false, nil
	}
	ps, err := l.UnseenPeriods(ctx, from, to, 0)
	if err != nil {
		return s, true, fmt.Errorf("read unseen periods: %w", err)
	}
	return UnseenSummary{Seconds: screenpop.UnseenTotal(ps, from, to).Seconds(), Periods: unseenJSON(ps, zone)}, true, nil
}

// UnseenHeader and UnseenCountHeader carry, on the CSV export (whose
// shape stays one row per call), the warnings of the periods that overlap
// it (one header each) and how many there are.
const (
	UnseenHeader      = "Screenpop-Unseen"
	UnseenCountHeader = "Screenpop-Unseen-Periods"
)

func setUnseenHeaders(h http.Header, s UnseenSummary) {
	h.Set(UnseenCountHeader, strconv.Itoa(len(s.Periods)))
	for _, p := range s.Periods {
		h.Add(UnseenHeader, p.Warning)
	}
}

// withUnseen adds "unseen" to a JSON object v marshals to.
func withUnseen(v any, s UnseenSummary) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	u, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	m["unseen"] = u
	return m, nil
}
