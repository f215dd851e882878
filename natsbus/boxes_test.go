package natsbus

import (
	"context"
	"testing"
	"time"
)

func TestABoxIsBoundToOneEntityIDForTheWholeCluster(t *testing.T) {
	servers(t, func(t *testing.T, url string) {
		a, b := connect(t, url, "a", 0), connect(t, url, "b", 0)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Names unique to the run: the machine's server keeps its buckets.
		suffix := time.Now().Format("150405.000000000")
		pbx1, pbx2, eid1, eid2 := "pbx1."+suffix, "pbx2."+suffix, "02:00:00:00:00:01/"+suffix, "02:00:00:00:00:02/"+suffix
		steps := []struct {
			name        string
			on          *Bus
			pbx, eid    string
			holder, had string
		}{
			{"a first box is bound", a, pbx1, eid1, "", ""},
			{"it is bound again, from another replica", b, pbx1, eid1, "", ""},
			{"another box of the same Asterisk is refused, naming the first", b, pbx2, eid1, pbx1, ""},
			{"the first box become another Asterisk is refused, naming what it was", a, pbx1, eid2, "", eid1},
			{"another box of its own Asterisk is bound", b, pbx2, eid2, "", ""},
		}
		for _, s := range steps {
			holder, had, err := s.on.Bindings().BindBox(ctx, s.pbx, s.eid)
			if err != nil || holder != s.holder || had != s.had {
				t.Errorf("%s: holder %q, had %q, err %v; want holder %q, had %q", s.name, holder, had, err, s.holder, s.had)
			}
		}
	})
}

func TestKVTokensKeepDistinctNamesDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"", "=", "pbx1", "pbx.1", "pbx=2E1", "02:fc:00:00:00:01", "02=3Afc"} {
		k := kvToken(s)
		if other, dup := seen[k]; dup {
			t.Errorf("%q and %q both give %q", s, other, k)
		}
		seen[k] = s
		if back := kvUntoken(k); back != s {
			t.Errorf("%q gives %q, read back as %q", s, k, back)
		}
		for _, c := range k {
			if !(c == '-' || c == '_' || c == '=' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				t.Errorf("%q gives %q, with %q, not allowed in a key", s, k, c)
			}
		}
	}
}

func TestAReplicaThatYieldsLeavesAFreeBoxToAnotherAndTakesItWhenNoneDoes(t *testing.T) {
	servers(t, func(t *testing.T, url string) {
		// A TTL long enough that b starts while a still yields, on a
		// loaded machine.
		ttl := 5 * time.Second
		a, b := connect(t, url, "a", ttl), connect(t, url, "b", ttl)
		pbx := "yield." + time.Now().Format("150405.000000000")
		la, lb := a.Lease(pbx), b.Lease(pbx)
		la.Yield = func() bool { return true } // a holds its share already
		hold := func(ctx context.Context, _ uint64) { <-ctx.Done() }
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		aDone := make(chan struct{})
		go func() { defer close(aDone); la.Run(ctx, hold) }()
		bctx, stopB := context.WithCancel(ctx)
		bDone := make(chan struct{})
		go func() { defer close(bDone); lb.Run(bctx, hold) }()
		eventually(t, "b takes the box a left free", 2*ttl, func() bool { return lb.Epoch() != 0 })
		if la.Epoch() != 0 {
			t.Fatalf("a took the box while it yielded")
		}
		// b stops: with no other replica, a takes the box after all.
		start := time.Now()
		stopB()
		lb.Superseded()
		<-bDone
		eventually(t, "a takes the box no one else takes", 4*ttl, func() bool { return la.Epoch() != 0 })
		t.Logf("a yielded, then took the box %s after b gave it up (TTL %s)", time.Since(start).Round(time.Millisecond), ttl)
		cancel()
		<-aDone
	})
}
