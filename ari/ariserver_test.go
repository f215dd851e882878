package ari

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/aritrace"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"github.com/gorilla/websocket"
)

// ariServer stands in for Asterisk's HTTP server with ARI enabled under
// /ari: it checks Basic auth, answers the REST calls the client makes and
// records them, and serves the events websocket, whose connections the
// test drives.
type ariServer struct {
	t        *testing.T
	srv      *httptest.Server
	user     string
	password string

	mu               sync.Mutex
	channels         []ariv5.ChannelData
	channelsStatus   []int         // GET /channels answers these, one per call, then 200
	channelsGate     chan struct{} // when set, GET /channels waits for it to close
	filterStatus     int           // PUT eventFilter answers this; 0 is 200
	filterStatusOnce []int         // or these first, one per call
	filters          []string      // bodies of PUT eventFilter
	calls            []call        // POSTs
	handshakes       int           // events websocket handshakes, refused ones too
	all              []*wsConn

	channelsAsked chan struct{} // a value each GET /channels
	conns         chan *wsConn  // each events websocket accepted
}

// call is a POST the server received.
type call struct {
	Path  string // escaped
	Query string
	Body  string
}

// wsConn is one events websocket, server side.
type wsConn struct {
	t     *testing.T
	ws    *websocket.Conn
	query string
	deaf  atomic.Bool   // stop answering pings
	gone  chan struct{} // closed when the client went away or was dropped
	// closeCode is the close code the client sent, or -1: read after gone.
	closeCode int
}

func newARIServer(t *testing.T, tls bool) *ariServer {
	t.Helper()
	s := &ariServer{
		t:             t,
		user:          "screenpop",
		password:      "s3cret-Pa55",
		channelsAsked: make(chan struct{}, 100),
		conns:         make(chan *wsConn, 100),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ari/asterisk/info", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, ariv5.AsteriskInfo{SystemInfo: ariv5.SystemInfo{Version: "22.10.1", EntityID: "02:fc:00:00:00:01"}})
	})
	mux.HandleFunc("GET /ari/channels", s.serveChannels)
	// No bridges: the resync's calls are told by their channels' states.
	mux.HandleFunc("GET /ari/bridges", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, []ariv5.BridgeData{}) })
	// As Asterisk does: the application and the channels in it (none
	// here; the daemon continues any it finds).
	mux.HandleFunc("GET /ari/applications/{app}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"name": r.PathValue("app"), "channel_ids": []string{}})
	})
	mux.HandleFunc("PUT /ari/applications/{app}/eventFilter", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.filters = append(s.filters, string(b))
		status := s.filterStatus
		if len(s.filterStatusOnce) > 0 {
			status, s.filterStatusOnce = s.filterStatusOnce[0], s.filterStatusOnce[1:]
		}
		s.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, map[string]any{"name": r.PathValue("app")})
	})
	post := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.calls = append(s.calls, call{Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: string(b)})
		s.mu.Unlock()
		switch r.PathValue("id") {
		case "gone":
			w.WriteHeader(http.StatusNotFound)
			writeJSON(w, map[string]string{"message": "Channel not found"})
		case "not-in-stasis":
			w.WriteHeader(http.StatusConflict)
			writeJSON(w, map[string]string{"message": "Channel not in Stasis application"})
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}
	mux.HandleFunc("POST /ari/channels/{id}/continue", post)
	mux.HandleFunc("POST /ari/channels/{id}/variable", post)
	mux.HandleFunc("POST /ari/applications/{app}/subscription", post)
	mux.HandleFunc("GET /ari/events", s.serveEvents)

	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			s.mu.Lock()
			s.handshakes++
			s.mu.Unlock()
		}
		u, p, ok := r.BasicAuth()
		if !ok || u != s.user || p != s.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(w, map[string]string{"error": "Authentication required"})
			return
		}
		mux.ServeHTTP(w, r)
	})
	s.srv = httptest.NewUnstartedServer(auth)
	// Refused TLS handshakes are the point of some tests, not news.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(func() {
		s.mu.Lock()
		if s.channelsGate != nil {
			select {
			case <-s.channelsGate:
			default:
				close(s.channelsGate)
			}
		}
		all := s.all
		s.mu.Unlock()
		// httptest does not track hijacked connections: end them, so
		// that Close does not wait on their handlers.
		for _, c := range all {
			c.drop()
		}
		s.srv.Close()
	})
	return s
}

// URL is the ARI base URL, as an admin would configure it.
func (s *ariServer) URL() string { return s.srv.URL + "/ari" }

func (s *ariServer) setChannels(chans ...ariv5.ChannelData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels = chans
}

func (s *ariServer) serveChannels(w http.ResponseWriter, r *http.Request) {
	select {
	case s.channelsAsked <- struct{}{}:
	default:
	}
	s.mu.Lock()
	gate := s.channelsGate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	status := 0
	if len(s.channelsStatus) > 0 {
		status, s.channelsStatus = s.channelsStatus[0], s.channelsStatus[1:]
	}
	chans := s.channels
	s.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		writeJSON(w, map[string]string{"message": "Internal Server Error"})
		return
	}
	if chans == nil {
		chans = []ariv5.ChannelData{}
	}
	writeJSON(w, chans)
}

func (s *ariServer) serveEvents(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &wsConn{t: s.t, ws: ws, query: r.URL.RawQuery, gone: make(chan struct{}), closeCode: -1}
	ws.SetPingHandler(func(data string) error {
		if !c.deaf.Load() {
			_ = ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		}
		return nil
	})
	s.mu.Lock()
	s.all = append(s.all, c)
	s.mu.Unlock()
	s.conns <- c
	defer close(c.gone)
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				c.closeCode = ce.Code
			}
			ws.Close()
			return
		}
	}
}

// accept waits for the client to open the events websocket.
func (s *ariServer) accept() *wsConn {
	s.t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(5 * time.Second):
		s.t.Fatal("the client did not open the events websocket")
		return nil
	}
}

// noConnection checks that the client opens no events websocket for d.
func (s *ariServer) noConnection(d time.Duration) {
	s.t.Helper()
	select {
	case <-s.conns:
		s.t.Fatal("the client opened another events websocket")
	case <-time.After(d):
	}
}

func (s *ariServer) eventFilters() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.filters...)
}

func (s *ariServer) postCalls() []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]call(nil), s.calls...)
}

func (s *ariServer) handshakeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakes
}

// send writes events to the client, one text message each.
func (c *wsConn) send(msgs ...[]byte) {
	c.t.Helper()
	for _, m := range msgs {
		if err := c.ws.WriteMessage(websocket.TextMessage, m); err != nil {
			c.t.Fatalf("send event: %v", err)
		}
	}
}

func (c *wsConn) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("send binary message: %v", err)
	}
}

// drop breaks the connection without a close frame, as a restarting
// Asterisk or a lost network does.
func (c *wsConn) drop() {
	c.ws.NetConn().Close()
	<-c.gone
}

// waitGone waits for the client to end the connection.
func (c *wsConn) waitGone(d time.Duration) {
	c.t.Helper()
	select {
	case <-c.gone:
	case <-time.After(d):
		c.t.Fatal("the client kept the connection open")
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// tracesDir is the repository's copy of the recorded traces, or
// $SCREENPOP_TRACES.
func tracesDir(tb testing.TB) string {
	tb.Helper()
	dir, err := aritrace.Dir()
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// traceLines reads a recorded trace (a path below aritrace.Dir), one event
// a line.
func traceLines(t testing.TB, name string) [][]byte {
	t.Helper()
	lines, err := aritrace.Lines(name)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}
