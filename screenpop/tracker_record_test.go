package screenpop

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recorded is what the record's own rules decide: the offers' last
// outcomes in dial order, who the call was offered to, its times, and the
// status they lead to.
type recorded struct {
	Status    Status
	Operators []string
	Outcomes  []Outcome
	OfferedTo []string
	Ring      float64
	Wait      float64
	Talk      float64
}

// TestRecordRules holds the rules record applies when a call ends, on
// top of what the events said: offers still ringing, a cancel that came
// before its answer, the dial order, and the ring, wait and talk times.
func TestRecordRules(t *testing.T) {
	p := newPBX()
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	tests := []struct {
		name   string
		events func() []Event
		want   recorded
	}{
		{
			name: "a phone still ringing when the call ends is cancelled then, and rang until then",
			events: func() []Event {
				a := p.phone(trunk, "101")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(1)),
					one(hangupRequest(trunk, p.at(5)), destroyed(trunk, p.at(5), 16)))
			},
			want: recorded{Status: StatusAbandoned, Operators: []string{"101"}, Outcomes: []Outcome{OutcomeCancelled},
				OfferedTo: []string{"101"}, Ring: 4, Wait: 5},
		},
		{
			name: "a cancel Asterisk sends before the answer that caused it is answered elsewhere",
			events: func() []Event {
				a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(1)), ring(trunk, b, p.at(1)),
					one(dial(trunk, b, "CANCEL", p.at(4)), dial(trunk, a, "ANSWER", p.at(4)),
						destroyed(b, p.at(4), 26), destroyed(a, p.at(64), 16), destroyed(trunk, p.at(64), 16)))
			},
			want: recorded{Status: StatusAnswered, Operators: []string{"101", "102"},
				Outcomes: []Outcome{OutcomeAnswered, OutcomeAnsweredElsewhere}, OfferedTo: []string{"101", "102"}, Ring: 3, Wait: 4, Talk: 60},
		},
		{
			name: "app_dial's cancel of the other phones, sent as one answers and long before its answer, is answered elsewhere",
			events: func() []Event {
				// The operator's announcement (Dial's A option) plays
				// between the cancel and the answer.
				a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(1)), ring(trunk, b, p.at(1)),
					one(Event{Kind: EventChannelUpdated, Channel: state(a, "Up"), At: p.at(4)}, dial(trunk, b, "CANCEL", p.at(4.001)),
						destroyed(b, p.at(4.002), 26), dial(trunk, a, "ANSWER", p.at(6.5)),
						destroyed(a, p.at(64), 16), destroyed(trunk, p.at(64), 16)))
			},
			want: recorded{Status: StatusAnswered, Operators: []string{"101", "102"},
				Outcomes: []Outcome{OutcomeAnswered, OutcomeAnsweredElsewhere}, OfferedTo: []string{"101", "102"}, Ring: 5.5, Wait: 6.5, Talk: 57.5},
		},
		{
			name: "a cancel before the answer is answered elsewhere by its hangup's cause when the answering phone's state came later",
			events: func() []Event {
				a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(1)), ring(trunk, b, p.at(1)),
					one(dial(trunk, b, "CANCEL", p.at(4.001)), destroyed(b, p.at(4.002), 26),
						Event{Kind: EventChannelUpdated, Channel: state(a, "Up"), At: p.at(4.003)}, dial(trunk, a, "ANSWER", p.at(4.01)),
						destroyed(a, p.at(64), 16), destroyed(trunk, p.at(64), 16)))
			},
			want: recorded{Status: StatusAnswered, Operators: []string{"101", "102"},
				Outcomes: []Outcome{OutcomeAnswered, OutcomeAnsweredElsewhere}, OfferedTo: []string{"101", "102"}, Ring: 3.01, Wait: 4.01, Talk: 59.99},
		},
		{
			name: "phones hung up as answered elsewhere after the caller hung up (Dial's c option) were cancelled by the caller",
			events: func() []Event {
				a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(1)), ring(trunk, b, p.at(1)),
					one(hangupRequest(trunk, p.at(9)), dial(trunk, a, "CANCEL", p.at(9)), dial(trunk, b, "CANCEL", p.at(9)),
						destroyed(a, p.at(9.001), 26), destroyed(b, p.at(9.001), 26), destroyed(trunk, p.at(9.002), 16)))
			},
			want: recorded{Status: StatusAbandoned, Operators: []string{"101", "102"},
				Outcomes: []Outcome{OutcomeCancelled, OutcomeCancelled}, OfferedTo: []string{"101", "102"}, Ring: 8, Wait: 9.002},
		},
		{
			name: "ring-all offers are listed in Asterisk's dial order, whatever order their events arrive in",
			events: func() []Event {
				a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, b, p.at(1.2)), ring(trunk, a, p.at(1.1)),
					one(hangupRequest(trunk, p.at(9)), dial(trunk, a, "CANCEL", p.at(9)), dial(trunk, b, "CANCEL", p.at(9)),
						destroyed(a, p.at(9), 16), destroyed(b, p.at(9), 16), destroyed(trunk, p.at(9), 16)))
			},
			want: recorded{Status: StatusAbandoned, Operators: []string{"101", "102"},
				Outcomes: []Outcome{OutcomeCancelled, OutcomeCancelled}, OfferedTo: []string{"101", "102"}, Ring: 7.9, Wait: 9},
		},
		{
			name: "a phone dialled that never rang is not offered the call and adds no ringing",
			events: func() []Event {
				a := p.phone(trunk, "101")
				return one(created(trunk, p.at(0)), created(a, p.at(1)), dial(trunk, a, "", p.at(1)),
					dial(trunk, a, "NOANSWER", p.at(21)), destroyed(a, p.at(21), 19), destroyed(trunk, p.at(22), 16))
			},
			want: recorded{Status: StatusFailed, Operators: []string{"101"}, Outcomes: []Outcome{OutcomeNoAnswer},
				OfferedTo: []string{}, Wait: 22},
		},
		{
			name: "an unanswered call rings from its first ring to the end of its last",
			events: func() []Event {
				a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(1)),
					one(dial(trunk, a, "NOANSWER", p.at(16)), destroyed(a, p.at(16), 0)), ring(trunk, b, p.at(17)),
					one(dial(trunk, b, "NOANSWER", p.at(32)), destroyed(b, p.at(32), 0), destroyed(trunk, p.at(40), 16)))
			},
			want: recorded{Status: StatusMissed, Operators: []string{"101", "102"},
				Outcomes: []Outcome{OutcomeNoAnswer, OutcomeNoAnswer}, OfferedTo: []string{"101", "102"}, Ring: 31, Wait: 40},
		},
		{
			name: "an answered call waits from its start to the answer and talks from the answer to its end",
			events: func() []Event {
				a := p.phone(trunk, "101")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(1)),
					one(dial(trunk, a, "ANSWER", p.at(3)), destroyed(a, p.at(63), 16), destroyed(trunk, p.at(63), 16)))
			},
			want: recorded{Status: StatusAnswered, Operators: []string{"101"}, Outcomes: []Outcome{OutcomeAnswered},
				OfferedTo: []string{"101"}, Ring: 2, Wait: 3, Talk: 60},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, log, _ := newTestTracker()
			c := onlyRecord(t, tr, log, p, tt.events())
			got := recorded{Status: c.Status, OfferedTo: c.OfferedTo, Ring: c.RingSeconds, Wait: c.WaitSeconds, Talk: c.TalkSeconds}
			for _, o := range c.Offers {
				got.Operators = append(got.Operators, o.Operator)
				got.Outcomes = append(got.Outcomes, o.Outcome)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("record differs (-want +got):\n%s", diff)
			}
		})
	}
}
