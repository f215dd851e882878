package clustertest3_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// balancer is a round-robin TCP load balancer in front of the replicas,
// what Asterisk's websocket_client.conf uri points at in clustered mode
// (HAProxy in mode tcp, nginx's stream module): each connection goes to
// the next replica that accepts TCP and lives as long as both sides do.
// A replica that turns the websocket away answers through it like any
// other; Asterisk dials again and lands on the next one.
type balancer struct {
	ln       net.Listener
	backends []string
	wg       sync.WaitGroup

	mu     sync.Mutex
	next   int
	conns  map[net.Conn]bool
	closed bool
	// picked counts the connections taken to each backend.
	picked map[string]int
}

// newBalancer listens on a loopback port and spreads connections over
// backends (host:port) until the test ends.
func newBalancer(t *testing.T, backends []string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, backends: backends, conns: map[net.Conn]bool{}, picked: map[string]int{}}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(b.close)
	return b
}

func (b *balancer) addr() string { return b.ln.Addr().String() }

func (b *balancer) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		up, err := b.dial()
		if err != nil {
			c.Close() // no replica takes TCP: as a balancer with every backend down
			continue
		}
		if !b.track(c, up) {
			return
		}
		b.wg.Add(2)
		go b.pipe(c, up)
		go b.pipe(up, c)
	}
}

// dial connects to the next backend that accepts, trying each once.
func (b *balancer) dial() (net.Conn, error) {
	for range b.backends {
		b.mu.Lock()
		addr := b.backends[b.next%len(b.backends)]
		b.next++
		b.mu.Unlock()
		up, err := net.Dial("tcp", addr)
		if err == nil {
			b.mu.Lock()
			b.picked[addr]++
			b.mu.Unlock()
			return up, nil
		}
	}
	return nil, errors.New("no backend accepts")
}

func (b *balancer) track(cs ...net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		b.conns[c] = true
	}
	return true
}

// pipe copies from one side to the other; when either ends, both do, as
// a TCP balancer closes a connection whose other half closed.
func (b *balancer) pipe(from, to net.Conn) {
	defer b.wg.Done()
	_, _ = io.Copy(to, from)
	from.Close()
	to.Close()
	b.mu.Lock()
	delete(b.conns, from)
	delete(b.conns, to)
	b.mu.Unlock()
}

// spread is how many connections went to each backend.
func (b *balancer) spread() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := map[string]int{}
	for k, v := range b.picked {
		m[k] = v
	}
	return m
}

func (b *balancer) close() {
	b.ln.Close()
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}
