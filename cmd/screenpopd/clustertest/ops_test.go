package clustertest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/internal/browsertest"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/natsbus/natstest"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
)

// board reads one board from the replica's wallboard socket.
func board(r *replicas.Replica, t *testing.T, token string) (screenpop.Board, error) {
	c, _, err := websocket.DefaultDialer.Dial("ws://"+r.HTTP+"/wallboard/ws", nil)
	if err != nil {
		return screenpop.Board{}, err
	}
	defer c.Close()
	if err := c.WriteJSON(map[string]string{"type": "hello", "token": token}); err != nil {
		return screenpop.Board{}, err
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var m struct {
			Type  string           `json:"type"`
			Board *screenpop.Board `json:"board"`
		}
		if err := c.ReadJSON(&m); err != nil {
			return screenpop.Board{}, err
		}
		if m.Board != nil {
			return *m.Board, nil
		}
	}
}

func TestReplicasTellTheClusterOnReadyzTheAdminPageAndTheWallboard(t *testing.T) {
	nats := natstest.Start(t, 1)
	s, simURL := oracletest.Sim(t)
	dsn := replicas.FreshSchema(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs := replicas.Cluster(t, 2, simURL, nats.URL, dsn, 1)
	h, epoch := replicas.Holder(t, rs)
	standby := rs[0]
	if standby == h {
		standby = rs[1]
	}
	token := replicas.AdminToken(t, dsn)

	// The standby's /readyz names the holder, its epoch and its lag.
	want := fmt.Sprintf("replica %s: holds pbx1 (epoch %d), log lag ", h.Name, epoch)
	var body string
	defer func() {
		if t.Failed() {
			t.Logf("the standby's last /readyz:\n%s", body)
		}
	}()
	oracletest.WaitLong(t, "the standby's /readyz names the holder", func() bool {
		_, body = standby.Readyz()
		return strings.Contains(body, want) && strings.Contains(body, "holds: no box (standby)") &&
			strings.Contains(body, fmt.Sprintf("lease: box pbx1 held by %s (epoch %d)", h.Name, epoch))
	})
	t.Logf("standby %s's /readyz:\n%s", standby.Name, body)
	_, body = h.Readyz()
	if !strings.Contains(body, fmt.Sprintf("holds: pbx1 (epoch %d)", epoch)) || !strings.Contains(body, "replica "+standby.Name+": standby, log lag ") {
		t.Errorf("the holder's /readyz:\n%s", body)
	}

	// Calls go through; the standby's admin page and wallboard show them.
	const n = 20
	st := <-oracletest.RunLoad(t, ctx, s, oracletest.Load(n, callRate, 5))
	if st.Completed != n {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, n)
	}
	for _, r := range rs {
		var as web.AdminStatus
		oracletest.WaitLong(t, "replica "+r.Name+"'s admin page lists both replicas and the lease", func() bool {
			var err error
			as, err = r.AdminStatus(token)
			return err == nil && as.Cluster != nil && len(as.Cluster.Replicas) == 2 && len(as.Cluster.Leases) == 1 && len(as.RecentCalls) > 0
		})
		c := as.Cluster
		if c.Replica != r.Name || c.Leases[0].Holder != h.Name || c.Leases[0].Epoch != epoch || c.Leases[0].PBX != "pbx1" {
			t.Errorf("replica %s's admin page: cluster %+v", r.Name, c)
		}
		names := []string{c.Replicas[0].Name, c.Replicas[1].Name}
		if names[0] != "r1" || names[1] != "r2" {
			t.Errorf("replicas listed: %v", names)
		}
		for _, cr := range c.Replicas {
			holds := len(cr.Boxes) == 1 && cr.Boxes[0] == fmt.Sprintf("pbx1 (epoch %d)", epoch)
			if holds != (cr.Name == h.Name) || cr.Addr == "" || cr.Started.IsZero() {
				t.Errorf("replica %s as %s's admin page has it: %+v", cr.Name, r.Name, cr)
			}
		}
		standbyProblem := false
		for _, p := range as.Problems {
			standbyProblem = standbyProblem || strings.Contains(p, "is a standby: replica "+h.Name+" reads Asterisk")
		}
		if standbyProblem != (r != h) {
			t.Errorf("replica %s's problems: %q", r.Name, as.Problems)
		}
		if r == h && !as.ARI.Connected {
			t.Errorf("the holder's admin page: ARI %+v", as.ARI)
		}
		t.Logf("replica %s's admin page: %d replicas, lease pbx1 held by %s (epoch %d), %d recent calls, ARI connected %v",
			r.Name, len(c.Replicas), c.Leases[0].Holder, c.Leases[0].Epoch, len(as.RecentCalls), as.ARI.Connected)

		var b screenpop.Board
		oracletest.WaitLong(t, "replica "+r.Name+"'s wallboard counts today's calls", func() bool {
			var err error
			b, err = board(r, t, token)
			return err == nil && b.Total.Calls == n
		})
		t.Logf("replica %s's wallboard: %d calls today, %d answered, %d lost", r.Name, b.Total.Calls, b.Total.Answered, b.Total.Lost)
	}

	// An admin sees the cluster on the standby's admin page.
	bctx := browsertest.New(t)
	err := chromedp.Do(bctx, chromedp.Navigate("http://"+standby.HTTP+"/admin"),
		chromedp.WaitVisible("#login"), chromedp.SendKeys("#token", token), chromedp.Click(`#login button[type="submit"]`),
		chromedp.WaitVisible("#cluster"))
	if err != nil {
		t.Fatalf("the admin page: %v", err)
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#cluster-replicas tbody tr, #cluster-leases tbody tr")].map(r => r.innerText.replace(/\s+/g, " ").trim())`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("SCREENPOP_SHOTS") != "" {
		os.WriteFile(filepath.Join(os.Getenv("SCREENPOP_SHOTS"), "admin-cluster.jpg"), shot, 0o644)
	}
	t.Logf("the standby's admin page, cluster rows: %q", rows)
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "r1 http://") || !strings.HasPrefix(rows[1], "r2 http://") ||
		!strings.Contains(rows[2], fmt.Sprintf("pbx1 %s %d", h.Name, epoch)) {
		t.Errorf("the admin page's cluster rows: %q", rows)
	}

	// The metrics say it too.
	resp, err := http.Get("http://" + standby.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"screenpop_cluster_replicas_seen 2",
		fmt.Sprintf(`screenpop_cluster_lease_holder{pbx="pbx1",replica="%s"} 1`, h.Name),
		fmt.Sprintf(`screenpop_cluster_lease_epoch{pbx="pbx1"} %d`, epoch),
		`screenpop_cluster_replica_lag{replica="` + h.Name + `"}`,
		"screenpop_cluster_publish_errors_total 0", "screenpop_cluster_heartbeat_errors_total 0"} {
		if !strings.Contains(string(mb), m) {
			t.Errorf("the standby's /metrics has no %q", m)
		}
	}
}
