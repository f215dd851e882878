package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/screenpop/screenpop/ari/arisim"
)

// loadYAML loads a config file with the given text.
func loadYAML(t *testing.T, text string) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "screenpop.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addFlags(fs)
	if err := fs.Parse([]string{"--config", path, "--store-data-dir", t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	return loadConfig(fs)
}

func TestConfigBoxes(t *testing.T) {
	t.Run("a config that names no boxes has the one box of ari.*, unnamed", func(t *testing.T) {
		cfg, err := loadYAML(t, "ari:\n  url: http://pbx:8088/ari\n  password: pw\n")
		if err != nil {
			t.Fatal(err)
		}
		want := []Box{{URL: "http://pbx:8088/ari", Username: "screenpop", Password: "pw", Connect: "inbound", REST: "websocket"}}
		if d := cmp.Diff(want, cfg.boxes()); d != "" {
			t.Fatalf("boxes (-want +got):\n%s", d)
		}
	})
	t.Run("boxes take from ari.* what they leave out", func(t *testing.T) {
		cfg, err := loadYAML(t, `ari:
  password: shared
  connect: outbound
asterisk:
  boxes:
    - name: pbx1
      url: http://10.0.0.1:8088/ari
      connect: inbound
    - name: pbx2
      username: pbx2
      password: own
`)
		if err != nil {
			t.Fatal(err)
		}
		want := []Box{
			{Name: "pbx1", URL: "http://10.0.0.1:8088/ari", Username: "screenpop", Password: "shared", Connect: "inbound", REST: "websocket"},
			{Name: "pbx2", Username: "pbx2", Password: "own", Connect: "outbound", REST: "websocket"},
		}
		if d := cmp.Diff(want, cfg.boxes()); d != "" {
			t.Fatalf("boxes (-want +got):\n%s", d)
		}
	})
	for _, tc := range []struct{ name, yaml, want string }{
		{"a box with no name is refused", "asterisk:\n  boxes:\n    - url: http://a:8088/ari\n",
			"asterisk.boxes: entry 1: name must be set"},
		{"two boxes of one name are refused", "asterisk:\n  boxes:\n    - {name: a, url: http://a:8088/ari}\n    - {name: a, url: http://b:8088/ari}\n",
			`asterisk.boxes: box "a" is listed twice`},
		{"an inbound box needs a URL", "asterisk:\n  boxes:\n    - {name: a}\n",
			`asterisk.boxes: box "a": url: want http://host:port/ari`},
		{"two outbound boxes of one user are refused", "asterisk:\n  boxes:\n    - {name: a, connect: outbound}\n    - {name: b, connect: outbound}\n",
			`asterisk.boxes: box "b" and box "a" both use username "screenpop"`},
		{"an unknown key is refused", "asterisk:\n  boxes:\n    - {name: a, url: http://a:8088/ari, uri: x}\n",
			`asterisk.boxes: entry 1: unknown key "uri"`},
		{"a wrong connection mode is refused", "ari:\n  connect: sideways\n", `ari.connect: want inbound or outbound, got "sideways"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadYAML(t, tc.yaml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("config error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestServeFollowsTwoBoxesEachRecordNamingItsBox runs the daemon with two
// simulated Asterisks, one it connects to and one that connects to it
// (outbound websocket), and a third that is a copy of the first (same
// entity ID), which is refused.
// boxSim is a simulated box with entity ID eid, at speed, with the
// given operators, until the test ends.
func boxSim(t *testing.T, eid string, speed float64, operators ...string) (*arisim.Sim, string) {
	t.Helper()
	s := arisim.New(arisim.Config{Username: "screenpop", Password: "pw", ChannelVars: true, Speed: speed, EntityID: eid, Operators: operators}, nil)
	url, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

func TestServeFollowsTwoBoxesEachRecordNamingItsBox(t *testing.T) {
	s1, url1 := boxSim(t, "02:00:00:00:00:01", 10, "101")
	s2, _ := boxSim(t, "02:00:00:00:00:02", 10, "101")
	_, url3 := boxSim(t, "02:00:00:00:00:01", 10, "101")
	d := newDaemon(t, url1)
	d.cfg.Boxes = []Box{
		{Name: "pbx1", URL: url1, Username: "screenpop", Password: "pw", Connect: "inbound", REST: "websocket"},
		{Name: "pbx2", Username: "pbx2", Password: "pw2", Connect: "outbound", REST: "websocket"},
	}
	logs := d.startLogged(t, slog.LevelInfo)
	if _, err := s2.Outbound(arisim.OutboundConfig{URI: "ws://" + d.http + "/ari/events", Username: "pbx2", Password: "pw2", SubscribeAll: true,
		ReconnectInterval: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	d.waitReady(t, http.StatusOK)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range []*arisim.Sim{s1, s2} {
		if _, err := s.Place(ctx, arisim.Call{Scenario: arisim.Answered, Caller: "+79161234567", DID: "74951112233"}); err != nil {
			t.Fatal(err)
		}
	}
	byPBX := map[string]int{}
	for deadline := time.Now().Add(time.Minute); byPBX["pbx1"] < 1 || byPBX["pbx2"] < 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("calls recorded by box %v; the log:\n%s", byPBX, logs)
		}
		byPBX = map[string]int{}
		for _, r := range logs.records("call ended") {
			if r["status"] == "answered" {
				byPBX[r["pbx"].(string)]++
			}
		}
	}
	t.Logf("answered calls recorded by box: %v", byPBX)

	// A third box that is the first Asterisk again is refused, naming both.
	cancel()
	d.shutdown(t)
	d2 := newDaemon(t, url1)
	d2.cfg.DataDir = d.cfg.DataDir // the bindings of the first run
	d2.cfg.Boxes = append(d.cfg.Boxes[:1:1], Box{Name: "pbx3", URL: url3, Username: "screenpop", Password: "pw", Connect: "inbound", REST: "websocket"})
	logs2 := d2.startLogged(t, slog.LevelInfo)
	r := logs2.waitRecord(t, "cannot connect to ARI; retrying")
	if err, _ := r["err"].(string); r["pbx"] != "pbx3" || !strings.Contains(err, `box "pbx3" at `+url3+` has entity ID 02:00:00:00:00:01, which box "pbx1" already has`) {
		t.Fatalf("the refusal is logged as %v", r)
	}
	if body := d2.waitReady(t, http.StatusServiceUnavailable); !strings.Contains(body, "ARI") {
		t.Fatalf("/readyz says %q", body)
	}
}

func TestCheckChecksEveryBoxAndItsEntityID(t *testing.T) {
	sim := func(eid string) string {
		s := arisim.New(arisim.Config{Username: "screenpop", Password: "pw", EntityID: eid}, nil)
		url, err := s.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return url
	}
	url1, url2 := sim("02:00:00:00:00:01"), sim("02:00:00:00:00:01")
	d := newDaemon(t, url1)
	d.cfg.Boxes = []Box{
		{Name: "pbx1", URL: url1, Username: "screenpop", Password: "pw", Connect: "inbound", REST: "websocket"},
		{Name: "pbx2", URL: url2, Username: "screenpop", Password: "pw", Connect: "inbound", REST: "websocket"},
		{Name: "pbx3", Username: "pbx3", Password: "pw", Connect: "outbound", REST: "websocket"},
	}
	var out strings.Builder
	if check(context.Background(), d.cfg, &out) {
		t.Fatalf("check passed with two boxes of one entity ID:\n%s", out.String())
	}
	for _, want := range []string{
		"asterisk pbx1: ok (entity ID 02:00:00:00:00:01)\n",
		`asterisk pbx2: ` + url2 + ` has entity ID 02:00:00:00:00:01, like box "pbx1": they are the same Asterisk; fix: give each Asterisk its own entityid in asterisk.conf`,
		"asterisk pbx3: ok (outbound: waits for Asterisk to connect to ws://" + d.http + "/ari/events as user pbx3)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check does not say %q:\n%s", want, out.String())
		}
	}
}
