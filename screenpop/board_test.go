package screenpop

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBoardShowsWaitingCallsAndEachOperatorsState(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	answered := ago(100)
	open := []OpenCall{
		{ID: "talk", Direction: Inbound, DID: "74951112233", StartedAt: ago(120), State: OpenAnswered, Talking: "101", AnsweredBy: "101", AnsweredAt: &answered},
		{ID: "ring", Direction: Inbound, DID: "74957778899", StartedAt: ago(30), State: OpenRinging, Ringing: []string{"102", "104"}},
		{ID: "wait", Direction: Inbound, DID: "74950000000", StartedAt: ago(45), State: OpenWaiting, Ringing: []string{}},
		{ID: "out", Direction: Outbound, StartedAt: ago(10), State: OpenAnswered, Talking: "103", AnsweredAt: &answered},
		{ID: "transfer", Direction: Inbound, DID: "74951112233", StartedAt: ago(300), State: OpenAnswered, Talking: "105", AnsweredBy: "106", AnsweredAt: &answered},
	}
	lines := map[string]string{"74951112233": "Радио «Европа Плюс»", "74957778899": "Сайт"}
	online := map[string]bool{"101": true, "103": true, "106": true}
	b := NewBoard(BoardParts{
		Now: now, Open: open,
		Operators: []Operator{{Name: "Анна", Extension: "101"}, {Name: "Борис", Extension: "102"}, {Name: "Вера", Extension: "103"},
			{Name: "Глеб", Extension: "105"}, {Name: "Дарья", Extension: "106"}, {Name: "Ефим", Extension: "107"}},
		Online: func(ext string) bool { return online[ext] },
		Line: func(did string, _ time.Time) string {
			if l, ok := lines[did]; ok {
				return l
			}
			return did
		},
		Callbacks: []Callback{{Number: "+1", FirstMissedAt: ago(600)}, {Number: "+2", FirstMissedAt: ago(3600)}},
	})
	since := answered.UTC()
	wantOps := []BoardOperator{
		{Extension: "101", Name: "Анна", State: OperatorTalking, Since: &since, Line: "Радио «Европа Плюс»"},
		{Extension: "102", Name: "Борис", State: OperatorRinging, Line: "Сайт"},
		{Extension: "103", Name: "Вера", State: OperatorTalking},
		{Extension: "105", Name: "Глеб", State: OperatorTalking, Line: "Радио «Европа Плюс»"},
		{Extension: "106", Name: "Дарья", State: OperatorFree},
		{Extension: "107", Name: "Ефим", State: OperatorOffline},
		{Extension: "104", Name: "104", State: OperatorRinging, Line: "Сайт"},
	}
	if diff := cmp.Diff(wantOps, b.Operators); diff != "" {
		t.Errorf("operators (-want +got):\n%s", diff)
	}
	wantCalls := []BoardCall{
		{ID: "wait", Line: "74950000000", State: OpenWaiting, StartedAt: ago(45), Ringing: []string{}},
		{ID: "ring", Line: "Сайт", State: OpenRinging, StartedAt: ago(30), Ringing: []string{"Борис", "104"}},
	}
	if diff := cmp.Diff(wantCalls, b.Calls); diff != "" {
		t.Errorf("waiting calls, longest first (-want +got):\n%s", diff)
	}
	if b.Talking != 3 {
		t.Errorf("talking: %d calls, want 3", b.Talking)
	}
	oldest := ago(3600)
	if diff := cmp.Diff(BoardCallbacks{Count: 2, Oldest: &oldest}, b.Callbacks); diff != "" {
		t.Errorf("callbacks (-want +got):\n%s", diff)
	}
}

func TestTodayCountsEachCallOnceByLineWithTheServiceLevel(t *testing.T) {
	zone := time.FixedZone("MSK", 3*3600)
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, zone)
	at := func(h, m, s int) time.Time { return time.Date(2026, 3, 2, h, m, s, 0, zone) }
	answeredAfter := func(start time.Time, secs int) *time.Time {
		a := start.Add(time.Duration(secs) * time.Second)
		return &a
	}
	d := &Today{Zone: zone, ServiceLevel: 20 * time.Second, Line: func(did string, _ time.Time) string {
		if did == "74951112233" {
			return "Радио"
		}
		return ""
	}}
	calls := []struct {
		c    Call
		line string
	}{
		{Call{ID: "a", DID: "74951112233", Status: StatusAnswered, StartedAt: at(9, 0, 0), AnsweredAt: answeredAfter(at(9, 0, 0), 10)}, ""},
		{Call{ID: "b", DID: "74951112233", Status: StatusAnswered, StartedAt: at(9, 5, 0), AnsweredAt: answeredAfter(at(9, 5, 0), 40)}, ""},
		{Call{ID: "c", DID: "74951112233", Status: StatusMissed, StartedAt: at(9, 10, 0)}, ""},
		// The same call again, from the call log this time: counted once.
		{Call{ID: "c", DID: "74951112233", Status: StatusMissed, StartedAt: at(9, 10, 0), Source: "Радио"}, ""},
		// Another box's call of the same ID: another call.
		{Call{ID: "c", PBX: "pbx2", DID: "74951112233", Status: StatusMissed, StartedAt: at(9, 20, 0)}, ""},
		{Call{ID: "d", DID: "74957778899", Status: StatusAbandoned, StartedAt: at(10, 0, 0)}, ""},
		{Call{ID: "e", DID: "74957778899", Status: StatusAnswered, StartedAt: at(10, 1, 0), AnsweredAt: answeredAfter(at(10, 1, 0), 5), Gaps: []Gap{GapAnswer}}, "Сайт"},
		// Left out: yesterday's, an outbound call, an employee's.
		{Call{ID: "y", DID: "74951112233", Status: StatusMissed, StartedAt: at(0, 0, 0).Add(-time.Second)}, ""},
		{Call{ID: "o", Direction: Outbound, Status: StatusAnswered, StartedAt: at(11, 0, 0)}, ""},
		{Call{ID: "i", Caller: "104", DID: "74951112233", Status: StatusMissed, StartedAt: at(11, 0, 0)}, ""},
	}
	for _, c := range calls {
		d.Add(c.c, c.line, now)
	}
	sl := func(f float64) *float64 { return &f }
	want := []LineToday{
		{Line: "Радио", Calls: 4, Answered: 2, Lost: 2, InTime: 1, ServiceLevel: sl(100.0 / 4)},
		{Line: "74957778899", Calls: 1, Lost: 1, ServiceLevel: sl(0)},
		{Line: "Сайт", Calls: 1, Answered: 1, Untimed: 1},
	}
	if diff := cmp.Diff(want, d.Lines(now)); diff != "" {
		t.Errorf("today's lines (-want +got):\n%s", diff)
	}
	if got := d.Lines(now.Add(24 * time.Hour)); len(got) != 0 {
		t.Errorf("the next day starts with %v, want nothing", got)
	}
}
