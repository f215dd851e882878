package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTheProfilerIsServedOnlyOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"", true},
		{"127.0.0.1:6060", true},
		{"[::1]:6060", true},
		{"0.0.0.0:6060", false},
		{"192.168.1.10:6060", false},
		{":6060", false},
		{"localhost:6060", false}, // a name may resolve anywhere
		{"6060", false},
	} {
		_, err := load(t, "--debug-pprof-listen", tc.addr)
		if tc.ok && err != nil {
			t.Errorf("debug.pprof_listen %q refused: %v", tc.addr, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "debug.pprof_listen:")) {
			t.Errorf("debug.pprof_listen %q: got %v, want it refused by name", tc.addr, err)
		}
	}
}

func TestTheProfilerAnswersWhereConfigured(t *testing.T) {
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	servePprof(ctx, addr, discardLogger())
	var body string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/debug/pprof/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if body = string(b); resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the profiler did not answer within a minute: %v %s", err, body)
		}
	}
	if !strings.Contains(body, "goroutine") {
		t.Errorf("the profiler's index lists no goroutine profile:\n%s", body)
	}
}
