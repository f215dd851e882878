package arisim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/ari/arisim"
)

// outboundPeer is the server end of the simulator's outbound websocket:
// it checks the handshake as screenpop does and keeps what arrives.
type outboundPeer struct {
	uri   string
	conns chan *listener
	mu    sync.Mutex
	auth  []string // Authorization headers seen
	proto []string // Sec-WebSocket-Protocol headers seen
}

func newOutboundPeer(t *testing.T) *outboundPeer {
	t.Helper()
	p := &outboundPeer{conns: make(chan *listener, 16)}
	up := websocket.Upgrader{Subprotocols: []string{"ari"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.auth = append(p.auth, r.Header.Get("Authorization"))
		p.proto = append(p.proto, r.Header.Get("Sec-WebSocket-Protocol"))
		p.mu.Unlock()
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		l := &listener{t: t, ws: ws, more: make(chan struct{}), done: make(chan struct{})}
		go func() {
			defer close(l.done)
			for {
				_, msg, err := ws.ReadMessage()
				if err != nil {
					return
				}
				l.mu.Lock()
				l.msgs = append(l.msgs, msg)
				close(l.more)
				l.more = make(chan struct{})
				l.mu.Unlock()
			}
		}()
		p.conns <- l
	}))
	t.Cleanup(srv.Close)
	p.uri = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ari/events"
	return p
}

func (p *outboundPeer) next(t *testing.T) *listener {
	t.Helper()
	select {
	case l := <-p.conns:
		t.Cleanup(l.close)
		return l
	case <-time.After(time.Minute):
		t.Fatal("the simulator did not connect")
		return nil
	}
}

// events is the messages that are events of a call, with the application
// named app as X: what differs between two applications' copies.
func events(msgs [][]byte, app string) []string {
	var out []string
	for _, m := range msgs {
		s := string(m)
		if strings.HasPrefix(s, `{"type":"Application`) || strings.HasPrefix(s, `{"type":"RESTResponse"`) {
			continue
		}
		out = append(out, strings.Replace(s, `"application":"`+app+`"`, `"application":"X"`, 1))
	}
	return out
}

func TestOutboundEventsAreTheInboundEventsByteForByte(t *testing.T) {
	s, base := newSim(t, arisim.Config{EntityID: "02:00:00:00:00:42"})
	in := listen(t, s, base, "inbound", true)
	peer := newOutboundPeer(t)
	if _, err := s.Outbound(arisim.OutboundConfig{URI: peer.uri, Username: "asterisk1", Password: "pw", Apps: []string{"outbound"}, SubscribeAll: true}); err != nil {
		t.Fatal(err)
	}
	out := peer.next(t)
	peer.mu.Lock()
	if got, want := peer.auth[0], authHeader("asterisk1", "pw").Get("Authorization"); got != want {
		t.Errorf("Authorization %q, want Basic auth of websocket_client.conf's username and password %q", got, want)
	}
	if peer.proto[0] != "ari" {
		t.Errorf("Sec-WebSocket-Protocol %q, want ari", peer.proto[0])
	}
	peer.mu.Unlock()
	first := out.waitN(1)
	var reg map[string]any
	if err := json.Unmarshal(first[0], &reg); err != nil || reg["type"] != "ApplicationRegistered" || reg["application"] != "outbound" || reg["asterisk_id"] != "02:00:00:00:00:42" {
		t.Fatalf("first message %s, want ApplicationRegistered of outbound with the entity ID", first[0])
	}
	for _, sc := range []arisim.Scenario{arisim.Answered, arisim.Queue, arisim.Missed} {
		if _, err := s.Place(t.Context(), arisim.Call{Scenario: sc, Caller: "+79161234567", DID: "74951112233", Operators: []string{"101", "102"}}); err != nil {
			t.Fatal(err)
		}
	}
	total := int(s.Events())
	waitUntil(t, "both websockets have every event", func() bool {
		return len(events(in.messages(), "inbound")) == total && len(events(out.messages(), "outbound")) == total
	})
	want, got := events(in.messages(), "inbound"), events(out.messages(), "outbound")
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("outbound events differ from inbound ones (-inbound +outbound):\n%s", d)
	}
	for _, m := range got {
		if !strings.Contains(m, `"asterisk_id":"02:00:00:00:00:42"`) {
			t.Fatalf("event without the entity ID: %s", m)
		}
	}
	t.Logf("%d events of 3 calls, identical on both websockets", len(got))
}

func TestOutboundQueuesWhileDisconnectedAndReplaysOnReconnect(t *testing.T) {
	s, base := newSim(t, arisim.Config{})
	in := listen(t, s, base, "inbound", true)
	peer := newOutboundPeer(t)
	o, err := s.Outbound(arisim.OutboundConfig{URI: peer.uri, Username: "asterisk1", Password: "pw", Apps: []string{"outbound"}, SubscribeAll: true,
		ReconnectInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first := peer.next(t)
	first.waitN(1)
	o.Disconnect(true)
	waitUntil(t, "the first connection is closed", func() bool { return !o.Connected() })
	if _, err := s.Place(t.Context(), arisim.Call{Scenario: arisim.Answered, Caller: "+79161234567", DID: "74951112233", Operators: []string{"101"}}); err != nil {
		t.Fatal(err)
	}
	total := int(s.Events())
	waitUntil(t, "the inbound websocket has the call's events and the outbound one queued them", func() bool {
		return len(events(in.messages(), "inbound")) == total && o.Queued() == total
	})
	want := events(in.messages(), "inbound")
	o.Reconnect()
	second := peer.next(t)
	msgs := second.waitN(len(want) + 1)
	// The queue first, in order, then ApplicationRegistered again.
	if got := events(msgs[:len(want)], "outbound"); !slices.Equal(got, want) {
		t.Fatalf("the replay is not the call's events in order:\n%s", cmp.Diff(want, got))
	}
	if !bytes.HasPrefix(msgs[len(want)], []byte(`{"type":"ApplicationRegistered"`)) {
		t.Fatalf("after the replay came %s, want ApplicationRegistered", msgs[len(want)])
	}
	if o.Queued() != 0 || o.Lost() != 0 {
		t.Fatalf("after the replay %d still queued, %d lost", o.Queued(), o.Lost())
	}
	t.Logf("%d events queued while disconnected, replayed in order on reconnect", len(want))
}

func TestOutboundAnswersRESTRequestsAsAsteriskDoes(t *testing.T) {
	s, base := newSim(t, arisim.Config{})
	peer := newOutboundPeer(t)
	if _, err := s.Outbound(arisim.OutboundConfig{URI: peer.uri, Username: "asterisk1", Password: "pw", Apps: []string{"outbound"}, SubscribeAll: true}); err != nil {
		t.Fatal(err)
	}
	l := peer.next(t)
	l.waitN(1)
	send := func(req string) map[string]any {
		t.Helper()
		n := l.count()
		if err := l.ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			t.Fatal(err)
		}
		msgs := l.waitN(n + 1)
		var m map[string]any
		if err := json.Unmarshal(msgs[n], &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	got := send(`{"type":"RESTRequest","transaction_id":"t1","request_id":"r1","method":"GET","uri":"asterisk/info"}`)
	if got["type"] != "RESTResponse" || got["transaction_id"] != "t1" || got["request_id"] != "r1" || got["status_code"] != 200.0 ||
		got["reason_phrase"] != "OK" || got["uri"] != "asterisk/info" || got["content_type"] != "application/json" || got["application"] != "outbound" {
		t.Fatalf("answer to GET asterisk/info: %v", got)
	}
	var info struct {
		System struct {
			EntityID string `json:"entity_id"`
		} `json:"system"`
	}
	if err := json.Unmarshal([]byte(got["message_body"].(string)), &info); err != nil || info.System.EntityID == "" {
		t.Fatalf("message_body %v: %v", got["message_body"], err)
	}
	got = send(`{"type":"RESTRequest","request_id":"r2","method":"POST","uri":"channels/nope/variable","content_type":"application/json","message_body":"{\"variable\":\"X\",\"value\":\"1\"}"}`)
	if got["status_code"] != 404.0 || !strings.Contains(got["message_body"].(string), "Channel not found") {
		t.Fatalf("answer to a variable on a missing channel: %v", got)
	}
	got = send(`not json`)
	if got["status_code"] != 400.0 || got["reason_phrase"] != "Failed to parse request message JSON" {
		t.Fatalf("answer to a message that is not JSON: %v", got)
	}
	// An event filter without RESTResponse silences the answers, as
	// stasis_app_event_allowed does on Asterisk.
	send(`{"type":"RESTRequest","request_id":"r3","method":"PUT","uri":"applications/outbound/eventFilter","content_type":"application/json","message_body":"{\"allowed\":[{\"type\":\"RESTResponse\"},{\"type\":\"Dial\"}]}"}`)
	n := l.count()
	if err := l.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"RESTRequest","request_id":"r4","method":"PUT","uri":"applications/outbound/eventFilter","content_type":"application/json","message_body":"{\"allowed\":[{\"type\":\"Dial\"}]}"}`)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the filter without RESTResponse is set", func() bool {
		code, body := rest(t, http.MethodGet, base+"/applications/outbound", "")
		return code == http.StatusOK && !strings.Contains(body, "RESTResponse")
	})
	if _, err := s.Place(t.Context(), arisim.Call{Scenario: arisim.Answered, Caller: "+79161234567", DID: "74951112233", Operators: []string{"101"}}); err != nil {
		t.Fatal(err)
	}
	msgs := l.waitFor("a Dial", func(msgs [][]byte) bool { return len(msgs) > n && typeOf(t, msgs[len(msgs)-1]) == "Dial" })
	for _, m := range msgs[n:] {
		if typeOf(t, m) != "Dial" {
			t.Fatalf("through a filter of Dial alone came %s", m)
		}
	}
}
