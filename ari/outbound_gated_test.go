package ari

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/arisim"
)

// dialGated makes box pbx1 (user screenpop) a gated box of srv, and
// Asterisk dial it at uri.
func dialGated(t *testing.T, s *arisim.Sim, srv *OutboundServer, uri string, admit Admit) *arisim.Outbound {
	t.Helper()
	if err := srv.AddGated("pbx1", "screenpop", simPassword, admit); err != nil {
		t.Fatal(err)
	}
	o, err := s.Outbound(arisim.OutboundConfig{URI: uri, Username: "screenpop", Password: simPassword, SubscribeAll: true, ReconnectInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestAGatedBoxIsTurnedAwayWith503UntilItsAdmissionPicksAClient(t *testing.T) {
	s, _ := newSim(t, "")
	srv, uri := outboundServer(t)
	h := startClient(t, outboundConfig("pbx1", "screenpop"))
	var open atomic.Bool
	o := dialGated(t, s, srv, uri, func(context.Context) (*Client, error) {
		if !open.Load() {
			return nil, errors.New("replica r2 holds box pbx1 (epoch 7)")
		}
		return h.c, nil
	})
	waitFor(t, "Asterisk is turned away", func() bool { return o.LastError() != nil && srv.TurnedAway() >= 2 })
	if err := o.LastError(); !strings.Contains(err.Error(), "503 Service Unavailable") || !strings.Contains(err.Error(), "replica r2 holds box pbx1 (epoch 7)") {
		t.Fatalf("Asterisk was told %q, want a 503 naming the holder", err)
	}
	if o.Connects() != 0 || o.Queued() == 0 || h.c.OutboundUp() {
		t.Fatalf("turned away, Asterisk connected %d times with %d events queued; the client has a websocket: %t", o.Connects(), o.Queued(), h.c.OutboundUp())
	}
	if srv.Refused() != 0 {
		t.Errorf("%d connections counted refused: being turned away is not a refusal", srv.Refused())
	}
	open.Store(true)
	h.nextResync(t)
	waitFor(t, "the client is ready", h.c.Ready)
	if !h.c.OutboundUp() || o.Queued() != 0 {
		t.Fatalf("admitted: websocket attached %t, %d events still queued", h.c.OutboundUp(), o.Queued())
	}
}

func TestAConnectionAdmittedToAStoppedClientIsClosedSoThatAsteriskDialsAgain(t *testing.T) {
	s, _ := newSim(t, "")
	srv, uri := outboundServer(t)
	stopped := startClient(t, outboundConfig("pbx1", "screenpop"))
	stopped.stop()
	<-stopped.done
	h := startClient(t, outboundConfig("pbx1", "screenpop"))
	var asked atomic.Int32
	o := dialGated(t, s, srv, uri, func(context.Context) (*Client, error) {
		if asked.Add(1) == 1 {
			return stopped.c, nil // its lease was lost between admission and upgrade
		}
		return h.c, nil
	})
	h.nextResync(t)
	waitFor(t, "the client is ready", h.c.Ready)
	if o.Connects() != 2 || srv.TurnedAway() != 1 {
		t.Fatalf("Asterisk connected %d times, %d turned away; want the first closed (1013) and the second taken", o.Connects(), srv.TurnedAway())
	}
}
