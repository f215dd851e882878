package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/screenpop/screenpop/natsbus"
	"github.com/screenpop/screenpop/natsbus/natstest"
)

// natsCheckYAML is a clustered config whose ARI is down (its line is not
// what these tests read) pointing at NATS url with extra cluster lines.
func natsCheckYAML(t *testing.T, url, extra string) string {
	return fmt.Sprintf("ari:\n  url: http://%s/ari\n  username: screenpop\n  password: pw\nstore:\n  dsn: postgres://postgres@127.0.0.1:5432/test?sslmode=disable\n"+
		"http:\n  listen: %s\ncluster:\n  nats_url: %s\n  replica: sp-check\n  pbx: pbx1\n%s", freePort(t), freePort(t), url, extra)
}

func wantLine(t *testing.T, out, prefix, contains string) {
	t.Helper()
	l := line(out, prefix)
	if l == "" || !strings.Contains(l, contains) {
		t.Errorf("want a line %q... with %q, got %q; output:\n%s", prefix, contains, l, out)
	}
}

func TestCheckReportsTheClustersNATSStreamsLeasesAndReplicas(t *testing.T) {
	c := natstest.Start(t, 1)

	t.Run("before any replica ran: NATS ok, the streams not made yet", func(t *testing.T) {
		out, _ := runCheckConfig(t, natsCheckYAML(t, c.URL, ""))
		wantLine(t, out, "nats: ok (nats-server ", "JetStream on")
		wantLine(t, out, "nats.streams: warning: not made yet: SP_EVENTS, SP_SCREENS, SP_CALLS, KV_SP_LEASES, KV_SP_REPLICAS, KV_SP_BOXES", "the first replica to start")
		if l := line(out, "nats.leases"); l != "" {
			t.Errorf("leases reported with no bucket: %q", l)
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bus, err := natsbus.Connect(ctx, natsbus.Config{URL: c.URL, Replica: "sp-a", LeaseTTL: 3 * time.Second}, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	reps, err := bus.Replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lease := bus.Lease("pbx1")
	go lease.Run(ctx, func(hctx context.Context, _ uint64) { <-hctx.Done() })
	for deadline := time.Now().Add(30 * time.Second); lease.Epoch() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the lease was not taken in 30 s")
		}
	}
	epoch := lease.Epoch()
	if err := reps.Beat(ctx, natsbus.ReplicaInfo{Addr: "http://10.0.0.5:8080", Boxes: []natsbus.HeldBox{{PBX: "pbx1", Epoch: epoch}}, Lag: 7}); err != nil {
		t.Fatal(err)
	}

	t.Run("with a replica running: streams R1 (a warning), the writers, the box's holder, the replicas", func(t *testing.T) {
		out, _ := runCheckConfig(t, natsCheckYAML(t, c.URL, ""))
		t.Logf("check printed:\n%s", out)
		wantLine(t, out, "nats.streams: ok (", "SP_EVENTS R1")
		wantLine(t, out, "nats.replication: warning: the streams are kept on one NATS server (R1)", "fix: in production run NATS as a three-node cluster")
		wantLine(t, out, "nats.consumers: ok", "SP_CALLS: writer")
		wantLine(t, out, "nats.leases: ok", fmt.Sprintf("box pbx1 held by sp-a (epoch %d)", epoch))
		wantLine(t, out, "nats.replicas: ok (1 alive: ", fmt.Sprintf("sp-a at http://10.0.0.5:8080, holds pbx1 (epoch %d), lag 7", epoch))
	})
	t.Run("a box no replica holds is a warning naming the box", func(t *testing.T) {
		out, _ := runCheckConfig(t, strings.Replace(natsCheckYAML(t, c.URL, ""), "pbx: pbx1", "pbx: pbx2", 1))
		wantLine(t, out, "nats.leases: warning: no replica holds box pbx2", "fix: start a replica")
	})
	t.Run("cluster.replicas 3 against R1 streams says so", func(t *testing.T) {
		out, _ := runCheckConfig(t, natsCheckYAML(t, c.URL, "  replicas: 3\n"))
		wantLine(t, out, "nats.streams: warning: SP_EVENTS has R1, cluster.replicas is 3", "raises a stream's replication")
	})
}

func TestCheckSaysWhyNATSCannotBeUsed(t *testing.T) {
	start := func(t *testing.T, o *server.Options) string {
		o.Host, o.Port, o.NoLog, o.NoSigs = "127.0.0.1", -1, true, true
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatal("nats-server did not start")
		}
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		return s.ClientURL()
	}
	t.Run("nothing listening", func(t *testing.T) {
		addr := freePort(t)
		out, err := runCheckConfig(t, natsCheckYAML(t, "nats://"+addr, ""))
		if err == nil {
			t.Error("check passed")
		}
		wantLine(t, out, "nats: ", "nats: nothing answers at nats://"+addr+" (connection refused), so NATS cannot be reached; fix: start nats-server there")
	})
	t.Run("wrong password", func(t *testing.T) {
		url := start(t, &server.Options{Username: "sp", Password: "right", JetStream: true, StoreDir: filepath.Join(t.TempDir(), "js")})
		out, err := runCheckConfig(t, natsCheckYAML(t, url, "  user: sp\n  password: wrong\n"))
		if err == nil {
			t.Error("check passed")
		}
		wantLine(t, out, "nats: ", "nats: NATS at "+url+" refused this client's credentials")
		wantLine(t, out, "nats: ", "fix: set cluster.creds_file, or cluster.user with cluster.password")
		out, _ = runCheckConfig(t, natsCheckYAML(t, url, "  user: sp\n  password: right\n"))
		wantLine(t, out, "nats: ok", "JetStream on")
	})
	t.Run("JetStream off", func(t *testing.T) {
		url := start(t, &server.Options{})
		out, err := runCheckConfig(t, natsCheckYAML(t, url, ""))
		if err == nil {
			t.Error("check passed")
		}
		wantLine(t, out, "nats: ", "nats: NATS at "+url+" answers, but JetStream is not enabled (for this account); fix: start nats-server with -js")
	})
}
