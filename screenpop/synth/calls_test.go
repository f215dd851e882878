package synth

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

func TestCallsMakeAPlausibleCallLog(t *testing.T) {
	msk := time.FixedZone("MSK", 3*60*60)
	cfg := CallsConfig{Seed: 7, From: time.Date(2025, 3, 3, 0, 0, 0, 0, msk), To: time.Date(2025, 3, 24, 0, 0, 0, 0, msk),
		PerDay: 40, DIDs: []string{"74951112233", "74951112234"}, Operators: []string{"101", "102", "103"},
		Known: Phones(1, 50), Purposes: []string{"service_booking", "sales", "parts", "other"}}
	h := Calls(cfg)
	if diff := cmp.Diff(h, Calls(cfg)); diff != "" {
		t.Fatalf("two histories of one config differ:\n%s", diff)
	}
	status := map[screenpop.Status]int{}
	inbound, ids, days := 0, map[string]bool{}, map[string]bool{}
	for i, c := range h.Calls {
		if ids[c.ID] {
			t.Errorf("call %s twice", c.ID)
		}
		ids[c.ID] = true
		if c.StartedAt.Before(cfg.From) || !c.StartedAt.Before(cfg.To) || c.EndedAt.Before(c.StartedAt) {
			t.Errorf("call %s from %s to %s, outside the range or ending first", c.ID, c.StartedAt, c.EndedAt)
		}
		if i > 0 && c.StartedAt.Before(h.Calls[i-1].StartedAt) {
			t.Errorf("call %s out of order", c.ID)
		}
		if c.Direction == screenpop.Inbound {
			inbound++
			status[c.Status]++
			days[c.StartedAt.In(msk).Format(time.DateOnly)] = true
			if (c.Status == screenpop.StatusAnswered) != (c.AnsweredBy != nil && c.AnsweredAt != nil) {
				t.Errorf("call %s is %s, answered by %v", c.ID, c.Status, c.AnsweredBy)
			}
		}
	}
	// Three weeks of 40 calls a weekday, 20 on Saturdays and 10 on
	// Sundays, give or take a fifth.
	if want := 15*40 + 3*20 + 3*10; inbound < want*3/4 || inbound > want*5/4 || len(days) != 21 {
		t.Errorf("%d inbound calls on %d days, want about %d on 21", inbound, len(days), want)
	}
	lost := status[screenpop.StatusMissed] + status[screenpop.StatusAbandoned]
	if status[screenpop.StatusAnswered] < inbound*3/4 || lost < inbound/10 || lost > inbound/4 {
		t.Errorf("outcomes %v of %d calls: want most answered, about one in six lost", status, inbound)
	}
	noted := map[string]bool{}
	for _, n := range h.Notes {
		noted[n.CallID] = true
	}
	for _, c := range h.Calls {
		if noted[c.ID] && c.Status != screenpop.StatusAnswered {
			t.Errorf("a note on %s call %s", c.Status, c.ID)
		}
	}
	if len(h.Notes) < status[screenpop.StatusAnswered]/2 {
		t.Errorf("%d notes on %d answered calls", len(h.Notes), status[screenpop.StatusAnswered])
	}
}
