package continuity_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// faultProxy stands between the daemon and the simulator on loopback and
// breaks the events websocket on demand: a clean close (FIN), a reset
// (RST) or a silent black hole (nothing passes either way; the daemon must
// notice by its pings). While a drop lasts, new events websockets wait;
// REST calls always pass.
type faultProxy struct {
	ln     net.Listener
	target string

	mu   sync.Mutex
	ws   map[*proxied]bool
	up   chan struct{} // closed while the link is up
	wg   sync.WaitGroup
	done chan struct{}
}

type proxied struct {
	client, server net.Conn
	mu             sync.Mutex
	black          bool
}

func (p *proxied) blackholed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.black
}

// dropKind is how the proxy breaks the events websocket.
type dropKind int

const (
	dropClose dropKind = iota
	dropReset
	dropBlackHole
)

func (k dropKind) String() string { return [...]string{"clean close", "reset", "black hole"}[k] }

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, ws: map[*proxied]bool{}, up: make(chan struct{}), done: make(chan struct{})}
	close(p.up)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) close() {
	close(p.done)
	p.ln.Close()
	p.mu.Lock()
	for c := range p.ws {
		c.client.Close()
		c.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

// serve forwards one connection; an events websocket waits for the link
// to be up and can be broken.
func (p *faultProxy) serve(client net.Conn) {
	defer client.Close()
	br := bufio.NewReader(client)
	head, err := br.Peek(len("GET /ari/events"))
	if err != nil {
		return
	}
	ws := strings.HasPrefix(string(head), "GET /ari/events")
	if ws {
		p.mu.Lock()
		up := p.up
		p.mu.Unlock()
		select {
		case <-up:
		case <-p.done:
			return
		}
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	pc := &proxied{client: client, server: server}
	if ws {
		p.mu.Lock()
		p.ws[pc] = true
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.ws, pc)
			p.mu.Unlock()
		}()
	}
	copied := make(chan struct{}, 2)
	pipe := func(dst net.Conn, src io.Reader) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !pc.blackholed() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		copied <- struct{}{}
	}
	go pipe(server, br)
	go pipe(client, server)
	<-copied
	client.Close()
	server.Close()
	<-copied
}

// cut breaks every events websocket now, the given way, and holds new
// ones until heal.
func (p *faultProxy) cut(kind dropKind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = make(chan struct{})
	n := 0
	for c := range p.ws {
		n++
		switch kind {
		case dropClose:
			if tc, ok := c.client.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			c.server.Close()
		case dropReset:
			if tc, ok := c.client.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.client.Close()
			c.server.Close()
		case dropBlackHole:
			c.mu.Lock()
			c.black = true
			c.mu.Unlock()
		}
	}
	return n
}

// heal lets events websockets through again.
func (p *faultProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.up:
	default:
		close(p.up)
	}
}
