package main

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// TestAnARIDropIsAnUnseenPeriodInTheCallLog cuts the events websocket of
// a running daemon: once it has reconnected, the call log holds the
// period it did not see, from its first resync (the last it saw) to the
// one after the reconnect, and /metrics counts it.
func TestAnARIDropIsAnUnseenPeriodInTheCallLog(t *testing.T) {
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	started := time.Now()
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, http.StatusOK)
	counted := regexp.MustCompile(`(?m)^screenpop_unseen_periods_total 1$`)
	if _, body := d.get(t, "/metrics"); !regexp.MustCompile(`(?m)^screenpop_unseen_periods_total 0$`).MatchString(body) {
		t.Fatalf("the first connection counted an unseen period:\n%s", body)
	}
	cut := time.Now()
	ws.Close()
	ast.nextConn(t)
	waitFor(t, time.Minute, "the reconnected daemon counts the unseen period", func() bool {
		_, body := d.get(t, "/metrics")
		return counted.MatchString(body)
	})
	back := time.Now()
	d.shutdown(t)

	db, err := store.OpenSQLite(context.Background(), filepath.Join(d.dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ps, err := db.UnseenPeriods(context.Background(), time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The stop (SIGTERM) saves the state; the next start would add a
	// period of its own, not this one.
	if len(ps) != 1 {
		t.Fatalf("unseen periods %+v, want the drop's", ps)
	}
	p := ps[0]
	if p.PBX != "" || p.Reason != screenpop.UnseenARIDrop || p.From.Before(started.Truncate(time.Millisecond)) || p.From.After(cut) ||
		p.To.Before(cut.Truncate(time.Millisecond)) || p.To.After(back) {
		t.Errorf("period %+v: want an ARI drop from the first resync (after %v, before the cut %v) to the reconnect (between the cut and %v)",
			p, started, cut, back)
	}
	t.Logf("the drop was unseen for %v (cut to reconnected: %v)", p.Duration(), back.Sub(cut).Round(time.Millisecond))
}
