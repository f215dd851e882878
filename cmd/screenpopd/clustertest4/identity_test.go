package clustertest4_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/natsbus/natstest"
)

// refusals are the log records of r that refuse a box for its entity ID.
func refusals(t *testing.T, r *replicas.Replica) []map[string]any {
	t.Helper()
	f, err := os.Open(r.LogPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		if e, _ := rec["err"].(string); strings.Contains(e, "box identity refused") {
			out = append(out, rec)
		}
	}
	return out
}

// TestABoxWithAnotherBoxsEntityIDIsRefusedNamingBoth: two boxes of a
// cluster that are one Asterisk (the same entity ID, as a copied VM
// keeps it): whichever is bound second is refused by the replica that
// reads it, its log naming both boxes; the other box's calls go on.
func TestABoxWithAnotherBoxsEntityIDIsRefusedNamingBoth(t *testing.T) {
	nats := natstest.Start(t, 1)
	s1, url1 := boxSim(t, "02:00:00:00:00:07")
	s2, url2 := boxSim(t, "02:00:00:00:00:07")
	dsn := replicas.FreshSchema(t)
	rs := cluster(t, 2, url1, boxesConfig(map[string]string{"pbx1": url1, "pbx2": url2}), nats.URL, dsn)

	var refused map[string]any
	oracletest.WaitWithin(t, long, "a replica refuses one box", func() bool {
		for _, r := range rs {
			if recs := refusals(t, r); len(recs) > 0 {
				refused = recs[0]
				return true
			}
		}
		return false
	})
	msg, _ := refused["err"].(string)
	t.Logf("refused: %s (pbx %v)", msg, refused["pbx"])
	bound, other := "pbx1", "pbx2"
	if refused["pbx"] == "pbx1" {
		bound, other = other, bound
	}
	if !strings.Contains(msg, `box "`+other+`" at `) || !strings.Contains(msg, `which box "`+bound+`" already has`) ||
		!strings.Contains(msg, "02:00:00:00:00:07") || !strings.Contains(msg, "SP_BOXES") {
		t.Errorf("the refusal names not both boxes, the entity ID and where the binding is kept: %s", msg)
	}

	// The box bound first goes on; the refused one records nothing.
	sims := map[string]*arisim.Sim{"pbx1": s1, "pbx2": s2}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, name := range []string{bound, other} {
		if _, err := sims[name].Place(ctx, arisim.Call{Scenario: arisim.Answered, Caller: "+79161234567", DID: "74951112233"}); err != nil {
			t.Fatal(err)
		}
	}
	oracletest.WaitWithin(t, long, "the call of box "+bound+" in the call log", func() bool { return replicas.Rows(dsn) >= 1 })
	replicas.Settle(t, dsn)
	calls := replicas.Stored(t, dsn)
	if len(calls) != 1 || calls[0].PBX != bound {
		t.Errorf("the call log: %d rows (first of %q), want the one call of %s", len(calls), func() string {
			if len(calls) > 0 {
				return calls[0].PBX
			}
			return ""
		}(), bound)
	}
}
