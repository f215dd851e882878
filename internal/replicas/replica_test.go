package replicas

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// Which replica holds which box is what every cluster test's kills and
// takeovers rest on: a replica read as holding a box it does not (another
// box's line, another replica's lease) would send the kill elsewhere.
func TestHoldsBoxReadsTheReplicasOwnLineForTheBox(t *testing.T) {
	for _, c := range []struct {
		name, readyz string
		want         map[string]uint64 // by box, "" the one of cluster.pbx
	}{
		{"one box, held", "ready\nbox: holder (epoch 3); log lag: 0 messages\nholds: box (epoch 3)\nlease: box held by r1 (epoch 3)\n",
			map[string]uint64{"": 3, "pbx1": 0}},
		{"one box, another replica's", "ready\nbox: standby; log lag: 2 messages\nholds: no box (standby)\nlease: box held by r2 (epoch 4)\nreplica r2: holds box (epoch 4), log lag 0 messages, seen 1s ago\n",
			map[string]uint64{"": 0}},
		{"two boxes, one held", "ready\nbox pbx1: standby; log lag: 0 messages\nbox pbx2: holder (epoch 7); log lag: 0 messages\nholds: pbx2 (epoch 7)\nlease: box pbx1 held by r2 (epoch 5)\nlease: box pbx2 held by r1 (epoch 7)\n",
			map[string]uint64{"": 0, "pbx1": 0, "pbx2": 7}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, c.readyz) }))
			defer srv.Close()
			r := &Replica{HTTP: strings.TrimPrefix(srv.URL, "http://"), Cmd: &exec.Cmd{}}
			for pbx, want := range c.want {
				if got := r.HoldsBox(pbx); got != want {
					t.Errorf("HoldsBox(%q) = %d, want %d", pbx, got, want)
				}
			}
			if got := r.Holds(); got != c.want[""] {
				t.Errorf("Holds() = %d, want %d", got, c.want[""])
			}
		})
	}
}
