package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// TestRollupsCommands checks the roll-ups of a store as an administrator
// would: fine after calls are written, drift reported when the roll-ups
// are damaged behind the triggers' back, and fine again once rebuilt.
func TestRollupsCommands(t *testing.T) {
	dir := t.TempDir()
	data := "--store-data-dir=" + dir
	mustCLI(t, "migrate", data)

	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(dir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, time.March, 2, 9, 15, 0, 0, time.UTC)
	var calls []screenpop.Call
	for i, status := range []screenpop.Status{screenpop.StatusAnswered, screenpop.StatusMissed, screenpop.StatusAnswered} {
		at := start.Add(time.Duration(i) * 40 * time.Minute)
		c := screenpop.Call{ID: "call-" + string(rune('a'+i)), Direction: screenpop.Inbound, Caller: "+79161234567",
			DID: "+74951110001", Status: status, WaitSeconds: 7.5, StartedAt: at, EndedAt: at.Add(time.Minute)}
		if status == screenpop.StatusAnswered {
			ans := at.Add(7500 * time.Millisecond)
			c.AnsweredAt, c.AnsweredBy = &ans, &[]string{"101"}[0]
			c.OfferedTo = []string{"101"}
			c.Offers = []screenpop.Offer{{Operator: "101", Channel: "PJSIP/101", DialedAt: at, RingingAt: &at, AnsweredAt: &ans,
				Outcome: screenpop.OutcomeAnswered}}
		}
		calls = append(calls, c)
	}
	if err := db.SaveCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if out := mustCLI(t, "rollups", "check", data); !strings.Contains(out, "rollups: ok") {
		t.Errorf("rollups check after writing calls printed:\n%s", out)
	}

	raw, err := sql.Open("sqlite", filepath.Join(dir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE rollup_calls SET calls = calls + 1, missed = missed + 1 WHERE missed > 0`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	out, err := cli(t, "rollups", "check", data)
	if err == nil || !strings.Contains(out, "rollups: 1 rows of calls (by hour or day) and 0 of operators differ from the call log; fix: screenpopd rollups rebuild") ||
		!strings.Contains(out, "rollup_calls 2026-03-02T09:00:00.000Z : kept 3 1 2 0 0 0 2 [00001D4C] [] [] 0 [], the calls give 2 1 1 0 0 0 2 [00001D4C] [] [] 0 []") {
		t.Errorf("rollups check of damaged roll-ups: %v\n%s", err, out)
	}

	out = mustCLI(t, "rollups", "rebuild", data)
	if !strings.Contains(out, "rebuilt the roll-ups of 3 inbound calls: 2 rows of calls by hour, 2 of operators by hour") {
		t.Errorf("rollups rebuild printed:\n%s", out)
	}
	if out := mustCLI(t, "rollups", "check", data); !strings.Contains(out, "rollups: ok") {
		t.Errorf("rollups check after the rebuild printed:\n%s", out)
	}
}
