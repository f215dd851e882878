package testport

import (
	"fmt"
	"net"
	"testing"
)

func TestPickedPortsAreOutsideTheEphemeralRangeFreeAndNeverRepeated(t *testing.T) {
	lo, hi := span()
	seen := map[int]bool{}
	for range 200 {
		p := Pick(t)
		if p < lo || p > hi {
			t.Fatalf("port %d outside %d-%d", p, lo, hi)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	p := Pick(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("the picked port %d cannot be listened on: %v", p, err)
	}
	l.Close()
	eph, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer eph.Close()
	if ep := eph.Addr().(*net.TCPAddr).Port; ep >= lo && ep <= hi {
		t.Fatalf("the kernel's own pick %d falls in the range testport draws from (%d-%d)", ep, lo, hi)
	}
}
