package arisim

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Handler serves the simulated Asterisk HTTP server: ARI under /ari/, and
// the HTTP server's bare 404 anywhere else. For a server of the caller's
// own (httptest); Close then ends the websockets and calls, the caller
// its server.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ari/", s.serveARI)
	return mux
}

// serveARI authenticates and routes one ARI request.
func (s *Sim) serveARI(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
		writeError(w, http.StatusUnauthorized, "Authentication required")
		return
	}
	var path []string
	for _, seg := range strings.Split(strings.Trim(strings.TrimPrefix(r.URL.EscapedPath(), "/ari/"), "/"), "/") {
		seg, err := url.PathUnescape(seg)
		if err != nil {
			writeError(w, http.StatusNotFound, "Resource not found")
			return
		}
		path = append(path, seg)
	}
	type route struct {
		method  string
		handler func(http.ResponseWriter, *http.Request, []string)
	}
	var routes []route
	switch {
	case match(path, "asterisk", "info"):
		routes = []route{{http.MethodGet, s.serveInfo}}
	case match(path, "channels"):
		routes = []route{{http.MethodGet, s.serveChannels}, {http.MethodPost, s.serveOriginate}}
	case match(path, "channels", "*"):
		routes = []route{{http.MethodGet, s.serveChannel}}
	case match(path, "channels", "*", "continue"):
		routes = []route{{http.MethodPost, s.serveContinue}}
	case match(path, "channels", "*", "variable"):
		routes = []route{{http.MethodPost, s.serveSetVariable}}
	case match(path, "bridges"):
		routes = []route{{http.MethodGet, s.serveBridges}}
	case match(path, "applications"):
		routes = []route{{http.MethodGet, s.serveApplications}}
	case match(path, "applications", "*"):
		routes = []route{{http.MethodGet, s.serveApplication}}
	case match(path, "applications", "*", "subscription"):
		routes = []route{{http.MethodPost, s.serveSubscribe}, {http.MethodDelete, s.serveUnsubscribe}}
	case match(path, "applications", "*", "eventFilter"):
		routes = []route{{http.MethodPut, s.serveEventFilter}}
	case match(path, "events"):
		routes = []route{{http.MethodGet, func(w http.ResponseWriter, r *http.Request, _ []string) { s.serveEvents(w, r) }}}
	default:
		writeError(w, http.StatusNotFound, "Resource not found")
		return
	}
	for _, rt := range routes {
		if rt.method == r.Method {
			rt.handler(w, r, path)
			return
		}
	}
	writeError(w, http.StatusMethodNotAllowed, "Invalid method")
}

// match reports whether path is pattern, "*" standing for any segment.
func match(path []string, pattern ...string) bool {
	if len(path) != len(pattern) {
		return false
	}
	for i, p := range pattern {
		if p != "*" && p != path[i] {
			return false
		}
	}
	return true
}

// authorized checks Basic auth, or the api_key=user:password parameter
// Asterisk also accepts.
func (s *Sim) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		user, pass, ok = strings.Cut(r.URL.Query().Get("api_key"), ":")
	}
	return ok && subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.Username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Password)) == 1
}

func (s *Sim) serveInfo(w http.ResponseWriter, _ *http.Request, _ []string) {
	started := s.clock.sim.Format(timeLayout)
	writeJSON(w, http.StatusOK, map[string]any{
		"build":  map[string]any{"os": "Linux", "kernel": "6.1.0", "machine": "x86_64", "options": "", "date": "2026-11-01 00:00:00 UTC", "user": "arisim"},
		"system": map[string]any{"version": asteriskVersion, "entity_id": s.cfg.EntityID},
		"config": map[string]any{"name": "", "default_language": "en", "setid": map[string]any{"user": "asterisk", "group": "asterisk"}},
		"status": map[string]any{"startup_time": started, "last_reload_time": started},
	})
}

func (s *Sim) serveChannels(w http.ResponseWriter, _ *http.Request, _ []string) {
	s.mu.Lock()
	b := []byte{'['}
	for i, ch := range s.aliveChannels() {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendChannel(b, ch)
	}
	s.mu.Unlock()
	b = append(b, ']')
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// serveBridges lists the bridges that have members, as GET /bridges does.
// A call cut short (abort) leaves its bridge behind with no channel alive
// in it: Asterisk would have destroyed it, so it is forgotten here.
func (s *Sim) serveBridges(w http.ResponseWriter, _ *http.Request, _ []string) {
	s.mu.Lock()
	b := []byte{'['}
	n := 0
	for id, br := range s.bridges {
		if len(br.channels) == 0 {
			continue // just created: empty bridges are of no use to a resync
		}
		if !slices.ContainsFunc(br.channels, func(ch string) bool { return s.chans[ch] != nil }) {
			delete(s.bridges, id)
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendBridge(b, br)
	}
	s.mu.Unlock()
	b = append(b, ']')
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Sim) serveChannel(w http.ResponseWriter, _ *http.Request, path []string) {
	s.mu.Lock()
	ch := s.chans[path[1]]
	var b []byte
	if ch != nil {
		b = s.appendChannel(nil, ch)
	}
	s.mu.Unlock()
	if ch == nil {
		writeError(w, http.StatusNotFound, "Channel not found")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// serveContinue is POST /channels/{id}/continue: the channel leaves our
// Stasis application and goes on in the dialplan.
func (s *Sim) serveContinue(w http.ResponseWriter, _ *http.Request, path []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chans[path[1]]
	switch {
	case ch == nil:
		writeError(w, http.StatusNotFound, "Channel not found")
	case ch.stasisApp == "":
		writeError(w, http.StatusConflict, "Channel not in Stasis application")
	default:
		select {
		case <-ch.continued:
		default:
			close(ch.continued)
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// serveSetVariable is POST /channels/{id}/variable, with variable and
// value in the query or the JSON body.
func (s *Sim) serveSetVariable(w http.ResponseWriter, r *http.Request, path []string) {
	p, err := params(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name, value := p.get("variable"), p.get("value")
	if name == "" {
		writeError(w, http.StatusBadRequest, "Variable name is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chans[path[1]]
	switch {
	case ch == nil:
		writeError(w, http.StatusNotFound, "Channel not found")
		return
	case ch.stasisApp == "":
		writeError(w, http.StatusConflict, "Channel not in Stasis application")
		return
	}
	s.setVariable(ch, name, value)
	w.WriteHeader(http.StatusNoContent)
}

// setVariable applies a variable or function set through ARI, with the
// event Asterisk publishes for it; s.mu is held. The event is one of the
// channel's call, as the trace of a Stasis call has it, so that a client
// waiting for Result.Events of the call waits for this one too.
func (s *Sim) setVariable(ch *channel, name, value string) {
	at := s.clock.now()
	switch strings.ToUpper(name) {
	case "CALLERID(NAME)":
		ch.caller.name = value
		ch.call.emit(s.chanEvent("ChannelCallerId", at, ch, nil, callerPresentation))
	case "CALLERID(NUM)", "CALLERID(NUMBER)":
		ch.caller.number = value
		ch.call.emit(s.chanEvent("ChannelCallerId", at, ch, nil, callerPresentation))
	default:
		ch.setVar(name, value)
		if strings.TrimLeft(name, "_") == "FROM_DID" {
			ch.fromDID = value
		}
		ch.call.emit(s.varsetEvent(at, ch, name, value))
	}
}

func (s *Sim) serveApplications(w http.ResponseWriter, _ *http.Request, _ []string) {
	s.mu.Lock()
	list := []appJSON{}
	for _, a := range s.apps {
		list = append(list, s.appJSON(a))
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b appJSON) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, list)
}

func (s *Sim) serveApplication(w http.ResponseWriter, _ *http.Request, path []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[path[1]]
	if a == nil {
		writeError(w, http.StatusNotFound, "Application not found")
		return
	}
	writeJSON(w, http.StatusOK, s.appJSON(a))
}

// serveSubscribe is POST /applications/{app}/subscription?eventSource=
// channel:ID,bridge:ID,endpoint:TECH/RES,deviceState:NAME.
func (s *Sim) serveSubscribe(w http.ResponseWriter, r *http.Request, path []string) {
	s.subscription(w, r, path[1], true)
}

func (s *Sim) serveUnsubscribe(w http.ResponseWriter, r *http.Request, path []string) {
	s.subscription(w, r, path[1], false)
}

func (s *Sim) subscription(w http.ResponseWriter, r *http.Request, name string, on bool) {
	p, err := params(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var sources []string
	for _, src := range p.list("eventSource") {
		if src = strings.TrimSpace(src); src != "" {
			sources = append(sources, src)
		}
	}
	if len(sources) == 0 {
		writeError(w, http.StatusBadRequest, "Missing parameter eventSource")
		return
	}
	j, status, msg := s.subscribe(name, sources, on)
	if status != http.StatusOK {
		writeError(w, status, msg)
		return
	}
	// Answered once the lock is let go: a slow reader of the answer must
	// not hold up the calls.
	writeJSON(w, http.StatusOK, j)
}

// subscribe changes app name's subscriptions and describes the app, or
// says why not (a status and Asterisk's message).
func (s *Sim) subscribe(name string, sources []string, on bool) (appJSON, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[name]
	if a == nil {
		return appJSON{}, http.StatusNotFound, "Application not found"
	}
	for _, src := range sources {
		kind, id, _ := strings.Cut(src, ":")
		switch kind {
		case "channel":
			if s.chans[id] == nil {
				return appJSON{}, http.StatusUnprocessableEntity, "Event source does not exist"
			}
		case "bridge", "endpoint", "deviceState":
		default:
			return appJSON{}, http.StatusBadRequest, "Invalid event source URI scheme '" + kind + "'"
		}
		if on {
			a.sources[src] = true
		} else if !a.sources[src] {
			return appJSON{}, http.StatusConflict, "Application not subscribed to event source"
		}
	}
	if !on {
		for _, src := range sources {
			delete(a.sources, src)
		}
	}
	return s.appJSON(a), http.StatusOK, ""
}

// serveEventFilter is PUT /applications/{app}/eventFilter with
// {"allowed":[{"type":T}...],"disallowed":[...]}; an empty body clears it.
func (s *Sim) serveEventFilter(w http.ResponseWriter, r *http.Request, path []string) {
	var f struct {
		Allowed    []eventType `json:"allowed"`
		Disallowed []eventType `json:"disallowed"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, &f)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid event filter: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[path[1]]
	if a == nil {
		writeError(w, http.StatusNotFound, "Application not found")
		return
	}
	a.allowed, a.disallowed = nil, nil
	for _, t := range f.Allowed {
		a.allowed = append(a.allowed, t.Type)
	}
	for _, t := range f.Disallowed {
		a.disallowed = append(a.disallowed, t.Type)
	}
	writeJSON(w, http.StatusOK, s.appJSON(a))
}

// reqParams are a request's parameters: the query, overlaid by the fields
// of a JSON object body, as Asterisk reads them.
type reqParams struct {
	query url.Values
	body  map[string]json.RawMessage
}

func params(r *http.Request) (reqParams, error) {
	p := reqParams{query: r.URL.Query()}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return p, fmt.Errorf("read body: %v", err)
	}
	if len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &p.body); err != nil {
			return p, fmt.Errorf("body is not a JSON object: %v", err)
		}
	}
	return p, nil
}

// get is a parameter as a string ("" if absent).
func (p reqParams) get(name string) string {
	if raw, ok := p.body[name]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return strings.Trim(string(raw), `"`)
	}
	return p.query.Get(name)
}

// list is a parameter given as a comma-separated string, repeated in the
// query, or a JSON array.
func (p reqParams) list(name string) []string {
	if raw, ok := p.body[name]; ok {
		var l []string
		if json.Unmarshal(raw, &l) == nil {
			return l
		}
		return strings.Split(p.get(name), ",")
	}
	var l []string
	for _, v := range p.query[name] {
		l = append(l, strings.Split(v, ",")...)
	}
	return l
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers as Asterisk does: {"message": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}
