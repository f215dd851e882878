package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/spool"
)

func TestStopsRunLastStartedFirstAndSayWhatFailed(t *testing.T) {
	var order []string
	var s stops
	step := func(what string, err error) {
		s.add(what, func(time.Time) error { order = append(order, what); return err })
	}
	step("database", errors.New("connection reset"))
	step("call log writer", context.Canceled)
	step("HTTP", http.ErrServerClosed)
	step("ARI", nil)
	err := s.stop(time.Minute)
	if d := cmp.Diff([]string{"ARI", "HTTP", "call log writer", "database"}, order); d != "" {
		t.Errorf("stopped in the wrong order (-want +got):\n%s", d)
	}
	if err == nil || err.Error() != "stop database: connection reset" {
		t.Errorf("stop returned %v; want only the database's failure, named", err)
	}
	order = nil
	if err := s.stop(time.Minute); err != nil || order != nil {
		t.Errorf("a second stop ran %v (%v); want nothing stopped twice", order, err)
	}
}

func TestServeThatCannotListenReleasesItsSpool(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	d := newDaemon(t, "http://127.0.0.1:1") // no Asterisk: serve must fail before it matters
	d.cfg.HTTPListen = taken.Addr().String()
	err = serve(t.Context(), d.cfg, discardLogger())
	if err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("serve on a taken address returned %v; want the listen error naming it", err)
	}
	// The next start gets the spool: the early return closed it.
	sp, err := spool.Open(filepath.Join(d.dataDir, "spool"), 1<<20)
	if err != nil {
		t.Fatalf("the spool after serve gave up: %v", err)
	}
	sp.Close()
}
