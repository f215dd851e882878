package oracletest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// The judge is what every end-to-end test's verdict rests on: a judge
// that counted a lost or doubled call as fine would let them all pass.
func TestJudgeSortsEveryRecordAsAUserOfTheCallLogWould(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	op := "101"
	call := func(id string, from, to time.Duration, status screenpop.Status) screenpop.Call {
		c := screenpop.Call{ID: id, DID: "74951112233", Status: status, StartedAt: at.Add(from), EndedAt: at.Add(to)}
		if status == screenpop.StatusAnswered {
			answered := at.Add(from + time.Second)
			c.AnsweredAt, c.AnsweredBy = &answered, &op
		}
		return c
	}
	truth := map[string]screenpop.Call{}
	for _, c := range []screenpop.Call{
		call("exact", 0, 10*time.Second, screenpop.StatusAnswered),
		call("flagged", 0, 10*time.Second, screenpop.StatusAnswered),
		call("wrong", 0, 10*time.Second, screenpop.StatusMissed),
		call("lost", 0, 10*time.Second, screenpop.StatusMissed),
		call("unseen", 30*time.Second, 35*time.Second, screenpop.StatusMissed),
		call("doubled", 0, 10*time.Second, screenpop.StatusMissed),
		call("notanswered", 0, 10*time.Second, screenpop.StatusAnswered),
	} {
		truth[c.ID] = c
	}
	flagged := truth["flagged"]
	flagged.EndedAt = at.Add(12 * time.Second)
	flagged.Gaps = []screenpop.Gap{screenpop.GapEnd}
	wrong := truth["wrong"]
	wrong.EndedAt = at.Add(12 * time.Second)
	notAnswered := truth["notanswered"]
	notAnswered.Status, notAnswered.AnsweredAt, notAnswered.AnsweredBy = screenpop.StatusMissed, nil, nil
	records := []screenpop.Call{truth["exact"], flagged, wrong, truth["doubled"], truth["doubled"], notAnswered,
		call("phantom", 0, time.Second, screenpop.StatusMissed)}
	blind := []Window{{From: at.Add(29 * time.Second), To: at.Add(40 * time.Second)}}

	v := Judge(truth, records, blind)
	want := Verdict{Exact: 2, Flagged: 1, Excused: 1, Gaps: map[screenpop.Gap]int{screenpop.GapEnd: 1},
		Doubled: []string{"doubled"}, Phantom: []string{"phantom"}, Lost: []string{"lost (missed 10:00:00.000-10:00:10.000)"},
		Wrong:     []string{"wrong: [ended_at] differ, gaps []", "notanswered: [status answered_at answered_by] differ, gaps []"},
		NotAnswer: []string{"notanswered answered by 101, stored missed (gaps [])"}}
	if diff := cmp.Diff(want, v, cmp.Transformer("sort", func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range s {
			m[x] = true
		}
		return m
	})); diff != "" {
		t.Errorf("verdict (-want +got):\n%s", diff)
	}
}

// The outbound websocket tests excuse an answered call stored otherwise
// only when its record says it does not know the answer; the others only
// when it was answered where the daemon could not see.
func TestAnAnsweredCallStoredOtherwiseIsExcusedByTheRuleOfItsTest(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	op := "101"
	answer := func(id string, from time.Duration) screenpop.Call {
		a := at.Add(from + time.Second)
		return screenpop.Call{ID: id, DID: "74951112233", Status: screenpop.StatusAnswered, StartedAt: at.Add(from), EndedAt: at.Add(from + 5*time.Second),
			AnsweredAt: &a, AnsweredBy: &op}
	}
	truth := map[string]screenpop.Call{"flagged": answer("flagged", 0), "unseen": answer("unseen", 30*time.Second)}
	flagged, unseen := truth["flagged"], truth["unseen"]
	flagged.Status, flagged.AnsweredAt, flagged.AnsweredBy, flagged.Gaps = screenpop.StatusMissed, nil, nil, []screenpop.Gap{screenpop.GapAnswer}
	unseen.Status, unseen.AnsweredAt, unseen.AnsweredBy = screenpop.StatusMissed, nil, nil
	records := []screenpop.Call{flagged, unseen}
	blind := []Window{{From: at.Add(29 * time.Second), To: at.Add(40 * time.Second)}}
	for _, c := range []struct {
		name  string
		judge func(map[string]screenpop.Call, []screenpop.Call, []Window) Verdict
		want  []string
	}{
		{"Judge excuses the call answered unseen", Judge, []string{"flagged answered by 101, stored missed (gaps [answer])"}},
		{"JudgeAnswerFlags excuses the call flagged", JudgeAnswerFlags, []string{"unseen answered by 101, stored missed (gaps [])"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, c.judge(truth, records, blind).NotAnswer); diff != "" {
				t.Errorf("answered but stored otherwise (-want +got):\n%s", diff)
			}
		})
	}
}
