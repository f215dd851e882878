package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// records are the JSON log lines with message msg.
func (s *syncBuffer) records(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(s.String(), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// waitRecord waits until a line with message msg is logged and returns it.
func (s *syncBuffer) waitRecord(t *testing.T, msg string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if rs := s.records(msg); len(rs) > 0 {
			return rs[0]
		}
	}
	t.Fatalf("no %q logged within a minute; the log:\n%s", msg, s)
	return nil
}

// startLogged starts the daemon logging JSON at level into the returned
// buffer, as --log-format json --log-level LEVEL would.
func (d *daemon) startLogged(t *testing.T, level slog.Level) *syncBuffer {
	t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel
	go func() {
		d.done <- serve(ctx, d.cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})))
	}()
	t.Cleanup(func() { cancel(); <-d.done })
	return logs
}

// dialPage opens the operator socket as the page does and says hello.
func dialPage(t *testing.T, d *daemon, key string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+d.http+"/ws", nil)
	if err != nil {
		t.Fatalf("open the operator socket: %v", err)
	}
	if err := ws.WriteJSON(map[string]any{"type": "hello", "token": key}); err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestTheLogTellsAnAdminWhatHappensWithNumbersMasked(t *testing.T) {
	lines := traceLines(t, "answered.jsonl")
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	keys := seed(t, d.dataDir, ivanPetrov())
	logs := d.startLogged(t, slog.LevelDebug)
	ws := ast.nextConn(t)
	d.waitReady(t, http.StatusOK)

	if r := logs.waitRecord(t, "connected to ARI"); r["channels"] != 0.0 {
		t.Errorf("the ARI connection is logged with %v channels at the resync, want 0: %v", r["channels"], r)
	}
	if r := logs.waitRecord(t, "resynced with Asterisk"); r["channels"] != 0.0 || r["calls_in_progress"] != 0.0 ||
		r["calls_ended_unseen"] != 0.0 || r["calls_first_seen"] != 0.0 {
		t.Errorf("the resync is logged as %v, want 0 channels and no calls", r)
	}

	page := dialPage(t, d, keys["101"])
	defer page.Close()
	if r := logs.waitRecord(t, "operator page connected"); r["operator"] != "101" || !strings.HasPrefix(r["remote"].(string), "127.0.0.1:") {
		t.Errorf("the page's connection is logged as %v, want operator 101 from 127.0.0.1", r)
	}

	bad := dialPage(t, d, "not-a-key")
	defer bad.Close()
	if r := logs.waitRecord(t, "operator socket refused"); !strings.HasPrefix(r["remote"].(string), "127.0.0.1:") {
		t.Errorf("the refused key is logged as %v, want the address it came from", r)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.http+"/api/calls", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if r := logs.waitRecord(t, "request refused: no good key or token"); r["path"] != "/api/calls" || r["status"] != 401.0 ||
		!strings.HasPrefix(r["remote"].(string), "127.0.0.1:") {
		t.Errorf("the refused staff token is logged as %v, want /api/calls, 401, and the address", r)
	}

	send(t, ws, lines)
	if r := logs.waitRecord(t, "pop sent"); r["operator"] != "101" || r["call"] != "call-answered" || r["latency"] == nil || r["level"] != "DEBUG" {
		t.Errorf("the pop is logged as %v, want it at debug, to 101, for call-answered, with its latency", r)
	}
	r := logs.waitRecord(t, "call ended")
	if r["level"] != "INFO" || r["call"] != "call-answered" || r["status"] != "answered" || r["answered_by"] != "101" || r["caller"] != "***4567" {
		t.Errorf("the call's end is logged as %v, want at info call-answered answered by 101 from ***4567", r)
	}

	page.Close()
	if r := logs.waitRecord(t, "operator page left"); r["operator"] != "101" {
		t.Errorf("the page leaving is logged as %v, want operator 101", r)
	}
	d.shutdown(t)
	for _, personal := range []string{"9161234567", "Петров", "Иван"} {
		if strings.Contains(logs.String(), personal) {
			t.Errorf("the log holds %q:\n%s", personal, logs)
		}
	}
}
