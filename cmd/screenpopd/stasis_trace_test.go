package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// stasisPosts sends the stasis trace up to the call entering our app and
// collects the REST calls the daemon makes until it continues the channel.
// With storeUp, it first waits for the store to be open.
func stasisPosts(t *testing.T, ast *fakeAsterisk, d *daemon, storeUp bool) (vars []string, took time.Duration) {
	t.Helper()
	lines := traceLines(t, "stasis.jsonl")
	ws := ast.nextConn(t)
	d.waitMetricSum(t, "screenpop_ari_connected", 1) // the resync is done
	if storeUp {
		// The store opens in the background: a call before it is open
		// is continued unnamed (its lookup fails at once), which is not
		// what a test with a client base is about.
		d.waitReady(t, http.StatusOK)
	}
	entered := indexOf(t, lines, `"StasisStart"`) + 1
	send(t, ws, lines[:entered])
	sent := time.Now()
	for {
		select {
		case p := <-ast.posts:
			switch {
			case strings.HasSuffix(p.Path, "/call-stasis-2/variable"):
				var v struct{ Variable, Value string }
				json.Unmarshal([]byte(p.Body), &v)
				vars = append(vars, v.Variable+"="+v.Value)
			case strings.HasSuffix(p.Path, "/call-stasis-2/continue"):
				return vars, p.At.Sub(sent)
			}
		case <-time.After(time.Minute):
			t.Fatalf("the channel waiting in Stasis was never continued (variables set: %v)", vars)
		}
	}
}

func TestStasisTraceNamesTheCallerForDeskPhonesAndContinuesWithinTheDeadline(t *testing.T) {
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	d.cfg.ARIMode = "both"
	ivan := ivanPetrov()
	ivan.Manager = &screenpop.Employee{Name: "Сергей Кузнецов", Extension: "205"}
	seed(t, d.dataDir, ivan)
	logs := d.startLogged(t, slog.LevelWarn)
	vars, took := stasisPosts(t, ast, d, true)
	defer func() {
		if t.Failed() {
			t.Logf("the daemon's warnings and errors:\n%s", logs.String())
		}
	}()
	want := []string{"CALLERID(name)=Петров Иван", "SCREENPOP_CLIENT_ID=1", "SCREENPOP_MANAGER=205"}
	// The variables go out together, in no set order.
	if slices.Sort(vars); !slices.Equal(vars, want) {
		t.Errorf("variables set %q, want %q", vars, want)
	}
	if took > screenpop.DefaultStasisDeadline {
		t.Errorf("continued %v after StasisStart; the deadline is %v", took, screenpop.DefaultStasisDeadline)
	}
}

func TestStasisContinuesWithinTheDeadlineWithTheDatabaseDown(t *testing.T) {
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	d.cfg.ARIMode = "both"
	d.cfg.DSN = Secret("postgres://postgres@" + freePort(t) + "/test?sslmode=disable&connect_timeout=1")
	d.start(t)
	vars, took := stasisPosts(t, ast, d, false)
	if len(vars) != 0 {
		t.Errorf("set %q without a client base", vars)
	}
	if took > screenpop.DefaultStasisDeadline {
		t.Errorf("continued %v after StasisStart; the deadline is %v", took, screenpop.DefaultStasisDeadline)
	}
	if code, body := d.get(t, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "store") {
		t.Errorf("/readyz = %d %q while the database is down", code, body)
	}
}

func TestReconnectContinuesChannelsLeftWaitingInTheApp(t *testing.T) {
	ast := newFakeAsterisk(t)
	ast.waiting <- []string{"left-behind"}
	d := newDaemon(t, ast.srv.URL+"/ari")
	d.cfg.ARIMode = "both"
	d.start(t)
	ast.nextConn(t)
	select {
	case p := <-ast.posts:
		if p.Path != "/ari/channels/left-behind/continue" {
			t.Errorf("first REST call %s, want the waiting channel continued", p.Path)
		}
	case <-time.After(time.Minute):
		t.Fatal("a channel left waiting in the app was not continued on connect")
	}
}
