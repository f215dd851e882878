// Package testport picks loopback ports for tests that must listen on the
// same port again later (a server restarted on its store) or hand a port
// to another process.
//
// Asking the kernel for port 0 and closing the listener is not enough for
// those: the kernel hands the same ephemeral range to every outgoing
// connection and every other port-0 listener on the machine, so on a busy
// machine running many test packages at once the port is often taken
// before the server listens again. Ports here come from outside the
// ephemeral range, at random, so only another test doing the same can
// collide, and only in the moment between the probe and the listen.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	handed = map[int]bool{}
)

// span is the range ports are drawn from: below the kernel's ephemeral
// range when there is room, else above it.
func span() (lo, hi int) {
	elo, ehi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var a, z int
		if n, _ := fmt.Sscan(strings.TrimSpace(string(b)), &a, &z); n == 2 && a > 0 && z >= a {
			elo, ehi = a, z
		}
	}
	if elo-10000 >= 2000 {
		return 10000, elo - 1
	}
	return ehi + 1, 65535
}

// Pick returns a loopback port that no one listens on now, from outside
// the ephemeral range, never the same twice in one test binary.
func Pick(t testing.TB) int {
	t.Helper()
	lo, hi := span()
	mu.Lock()
	defer mu.Unlock()
	for range 1000 {
		p := lo + rand.IntN(hi-lo+1)
		if handed[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		handed[p] = true
		return p
	}
	t.Fatalf("no free loopback port in %d-%d after 1000 tries", lo, hi)
	return 0
}

// Addr is Pick as a "127.0.0.1:port" address.
func Addr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", Pick(t))
}
