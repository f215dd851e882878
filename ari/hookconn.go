package ari

import (
	"crypto/tls"
	"io"
	"net"
)

// hookConn calls before ahead of each read from the network. The events
// reader sets it to hand on, together, the events it decoded from the
// bytes one read brought: call tracking then wakes once a read rather than
// once an event, and no event waits on the network, because the hook runs
// before a read that may block. before is set before the reader starts
// and called only by it.
type hookConn struct {
	net.Conn
	before func()
}

func (c *hookConn) Read(p []byte) (int, error) {
	if c.before != nil {
		c.before()
	}
	return c.Conn.Read(p)
}

// hookOf finds the hookConn under a websocket's connection, through TLS.
func hookOf(c net.Conn) *hookConn {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	hc, _ := c.(*hookConn)
	return hc
}

// ReadFrom keeps the connection's own (sendfile, splice) for what the HTTP
// server sends.
func (c *hookConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite keeps the connection's own, which the HTTP server uses to end
// an answer before it closes.
func (c *hookConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// HookListener wraps ln so that a connection it accepts can hand on
// together the events of one read when it turns out to be Asterisk's
// outbound websocket (the reader sets the hook then); for every other
// connection the hook stays unset and costs a nil check a read.
func HookListener(ln net.Listener) net.Listener { return hookListener{ln} }

type hookListener struct{ net.Listener }

func (l hookListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &hookConn{Conn: c}, nil
}
