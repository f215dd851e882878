package ari

import (
	"crypto/tls"
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
