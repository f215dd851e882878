package arisim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/ari/arisim"
)

func TestRESTNeedsTheARIUsersPassword(t *testing.T) {
	_, url := newSim(t, arisim.Config{})
	paths := []struct{ method, path string }{
		{http.MethodGet, "/asterisk/info"},
		{http.MethodGet, "/channels"},
		{http.MethodPost, "/channels/1.1/continue"},
		{http.MethodPost, "/channels/1.1/variable"},
		{http.MethodPut, "/applications/screenpop/eventFilter"},
		{http.MethodGet, "/events?app=screenpop"},
	}
	for _, p := range paths {
		for _, auth := range []struct{ name, user, password string }{
			{"no credentials", "", ""},
			{"a wrong password", testUser, "wrong"},
		} {
			t.Run(p.method+" "+p.path+" with "+auth.name+" is refused", func(t *testing.T) {
				req, _ := http.NewRequest(p.method, url+p.path, nil)
				if auth.user != "" {
					req.SetBasicAuth(auth.user, auth.password)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body struct{ Message string }
				_ = json.NewDecoder(resp.Body).Decode(&body)
				if resp.StatusCode != http.StatusUnauthorized || body.Message != "Authentication required" ||
					!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("got %d %q (WWW-Authenticate %q), want 401 asking for Basic auth", resp.StatusCode, body.Message, resp.Header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	t.Run("api_key in the query is accepted as Asterisk does", func(t *testing.T) {
		resp, err := http.Get(url + "/asterisk/info?api_key=" + testUser + ":" + testPassword)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("got %d, want 200", resp.StatusCode)
		}
	})
}

func TestRESTAnswersLikeAsterisk22(t *testing.T) {
	_, url := newSim(t, arisim.Config{})
	base := strings.TrimSuffix(url, "/ari")
	tests := []struct {
		name, method, url string
		status            int
		contains          string
	}{
		{"asterisk/info says which Asterisk this is", http.MethodGet, url + "/asterisk/info", 200, `"version":"22.10.1"`},
		{"the channel list of an idle PBX is empty", http.MethodGet, url + "/channels", 200, `[]`},
		{"an unknown channel is not found", http.MethodGet, url + "/channels/1795561236.146", 404, `"message":"Channel not found"`},
		{"continuing an unknown channel finds no channel", http.MethodPost, url + "/channels/nope/continue", 404, `"message":"Channel not found"`},
		{"an application without a websocket is not found", http.MethodGet, url + "/applications/screenpop", 404, `"message":"Application not found"`},
		{"its event filter neither", http.MethodPut, url + "/applications/screenpop/eventFilter", 404, `"message":"Application not found"`},
		{"an unknown resource is not found, with a message", http.MethodGet, url + "/recordings/stored", 404, `"message":"Resource not found"`},
		{"a known resource with the wrong method is not allowed", http.MethodDelete, url + "/channels", 405, `"message":"Invalid method"`},
		{"outside /ari the HTTP server knows nothing", http.MethodGet, base + "/httpstatus", 404, ``},
		{"originate needs an endpoint", http.MethodPost, url + "/channels?extension=100", 400, `"message":"Endpoint must be specified"`},
		{"originate needs an extension or an application", http.MethodPost, url + "/channels?endpoint=PJSIP/101", 400, `"message":"Application or extension must be specified"`},
		{"the events websocket needs an application", http.MethodGet, url + "/events", 400, `"message":"Missing parameter app"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rest(t, tt.method, tt.url, "")
			if status != tt.status || !strings.Contains(body, tt.contains) {
				t.Errorf("got %d %s, want %d with %s", status, body, tt.status, tt.contains)
			}
		})
	}
}

// startCall places a call in the background and returns a function that
// waits for its result.
func startCall(t *testing.T, s *arisim.Sim, ctx context.Context, c arisim.Call) func() (arisim.Result, error) {
	t.Helper()
	type outcome struct {
		res arisim.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := s.Place(ctx, c)
		done <- outcome{res, err}
	}()
	var got *outcome
	wait := func() (arisim.Result, error) {
		if got == nil {
			select {
			case o := <-done:
				got = &o
			case <-time.After(10 * time.Second):
				t.Fatal("the call did not end")
			}
		}
		return got.res, got.err
	}
	t.Cleanup(func() { _, _ = wait() })
	return wait
}

type channelJSON struct {
	ID, Name, State string
	Caller          struct{ Name, Number string }
	Dialplan        struct{ Context, Exten string }
	Channelvars     map[string]string
}

func channelsOf(t *testing.T, url string) []channelJSON {
	t.Helper()
	status, body := rest(t, http.MethodGet, url+"/channels", "")
	if status != http.StatusOK {
		t.Fatalf("GET /channels: %d %s", status, body)
	}
	var chans []channelJSON
	if err := json.Unmarshal([]byte(body), &chans); err != nil {
		t.Fatalf("GET /channels answered %s: %v", body, err)
	}
	return chans
}

func TestChannelsListsTheChannelsOfTheCallsUnderWay(t *testing.T) {
	s, url := newSim(t, arisim.Config{ChannelVars: true, Speed: 1})
	watch := listen(t, s, url, "watcher", true)
	ctx, cancel := context.WithCancel(context.Background())
	wait := startCall(t, s, ctx, arisim.Call{ID: "call-1", Caller: "+79161234567", DID: "74951112233", Scenario: arisim.Answered,
		Operators: []string{"101"}, RingFor: time.Hour})
	watch.waitRinging()

	chans := channelsOf(t, url)
	var names []string
	for _, ch := range chans {
		names = append(names, strings.Split(ch.Name, "-")[0]+" "+ch.State)
		if ch.Channelvars["CHANNEL(linkedid)"] != "call-1" {
			t.Errorf("%s has linkedid %q, want call-1", ch.Name, ch.Channelvars["CHANNEL(linkedid)"])
		}
	}
	want := []string{"Local/74951112233@from Ringing", "Local/74951112233@from Ring", "Local/101@phones Ringing", "Local/101@phones Ring"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("channels differ (-want +got):\n%s", diff)
	}
	if chans[1].ID != "call-1-2" || chans[1].Caller.Number != "+79161234567" || chans[1].Dialplan.Context != "from-trunk" {
		t.Errorf("the inbound leg is %+v", chans[1])
	}
	status, body := rest(t, http.MethodGet, url+"/channels/call-1-2", "")
	if status != http.StatusOK || !strings.Contains(body, `"id":"call-1-2"`) {
		t.Errorf("GET /channels/call-1-2: %d %s", status, body)
	}

	cancel()
	if _, err := wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("Place returned %v, want the context's error", err)
	}
	if chans := channelsOf(t, url); len(chans) != 0 {
		t.Errorf("a cancelled call left channels behind: %+v", chans)
	}
}

func TestVariablesCanOnlyBeSetOnChannelsInStasis(t *testing.T) {
	s, url := newSim(t, arisim.Config{Speed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startCall(t, s, ctx, arisim.Call{ID: "call-1", Caller: "+79161234567", DID: "74951112233", Operators: []string{"101"}, RingFor: time.Hour})
	waitUntil(t, "the phone rings", func() bool { return len(channelsOf(t, url)) == 4 })
	for _, tt := range []struct{ name, path, body string }{
		{"in the body", "/channels/call-1-2/variable", `{"variable":"CALLERID(name)","value":"Ivanov Ivan"}`},
		{"in the query", "/channels/call-1-2/variable?variable=CALLERID(name)&value=Ivanov", ""},
		{"continue", "/channels/call-1-2/continue", ""},
	} {
		t.Run(tt.name+" on a channel not in Stasis is a conflict", func(t *testing.T) {
			status, body := rest(t, http.MethodPost, url+tt.path, tt.body)
			if status != http.StatusConflict || !strings.Contains(body, "Channel not in Stasis application") {
				t.Errorf("got %d %s, want 409", status, body)
			}
		})
	}
	t.Run("a variable without a name is a bad request", func(t *testing.T) {
		if status, body := rest(t, http.MethodPost, url+"/channels/call-1-2/variable", `{"value":"x"}`); status != http.StatusBadRequest {
			t.Errorf("got %d %s, want 400", status, body)
		}
	})
}

// events reads the types and a few fields of events.
type eventJSON struct {
	Type       string
	Args       []string
	Dialstatus string
	Channel    channelJSON
	Peer       channelJSON
}

func decodeAll(t *testing.T, msgs [][]byte) []eventJSON {
	t.Helper()
	evs := make([]eventJSON, 0, len(msgs))
	for _, m := range msgs {
		var e eventJSON
		if err := json.Unmarshal(m, &e); err != nil {
			t.Fatalf("event is not JSON: %v", err)
		}
		evs = append(evs, e)
	}
	return evs
}

// waitRinging waits, on a subscribeAll listener, until a call rings its
// phone and waits for the answer: the inbound leg's Dial and the
// originate's have both said RINGING, the last events before the ring
// time. The phone's channels exist earlier, still dialling.
func (l *listener) waitRinging() {
	l.t.Helper()
	l.waitFor("the phone rings", func(msgs [][]byte) bool {
		return bytes.Count(bytes.Join(msgs, nil), []byte(`"dialstatus":"RINGING"`)) >= 2
	})
}

func hasType(typ string) func([][]byte) bool {
	return func(msgs [][]byte) bool {
		for _, m := range msgs {
			if strings.Contains(string(m), `"type":"`+typ+`"`) {
				return true
			}
		}
		return false
	}
}

func TestAStasisCallWaitsForContinueAndTakesTheVariablesSet(t *testing.T) {
	s, url := newSim(t, arisim.Config{ChannelVars: true, Speed: 10})
	l := listen(t, s, url, "screenpop", false)
	wait := startCall(t, s, context.Background(), arisim.Call{ID: "call-1", Caller: "+79161234567", DID: "74951112233",
		Scenario: arisim.Stasis, Operators: []string{"101"}})

	msgs := l.waitFor("StasisStart", hasType("StasisStart"))
	start := decodeAll(t, msgs)[len(msgs)-1]
	if start.Channel.ID != "call-1-2" || !slices.Equal(start.Args, []string{"inbound", "74951112233"}) {
		t.Errorf("StasisStart is for %s with %v, want call-1-2 with [inbound 74951112233]", start.Channel.ID, start.Args)
	}
	// The application lists the channel it holds in Stasis, as Asterisk's
	// GET /applications/{app} does.
	if status, body := rest(t, http.MethodGet, url+"/applications/screenpop", ""); status != http.StatusOK || !strings.Contains(body, `"channel_ids":["call-1-2"]`) {
		t.Errorf("the app in Stasis: %d %s; want channel_ids [call-1-2]", status, body)
	}
	time.Sleep(100 * time.Millisecond) // a second of simulated time
	if hasType("Dial")(l.messages()) || len(channelsOf(t, url)) != 2 {
		t.Fatal("the call went on before it was continued")
	}
	if status, body := rest(t, http.MethodPost, url+"/channels/call-1-2/variable", `{"variable":"CALLERID(name)","value":"Иванов Иван"}`); status != http.StatusNoContent {
		t.Fatalf("set CALLERID(name): %d %s", status, body)
	}
	if status, body := rest(t, http.MethodPost, url+"/channels/call-1-2/continue", ""); status != http.StatusNoContent {
		t.Fatalf("continue: %d %s", status, body)
	}
	res, err := wait()
	if err != nil || !res.Continued {
		t.Fatalf("Place returned %+v, %v; want a continued call", res, err)
	}
	if status, body := rest(t, http.MethodGet, url+"/applications/screenpop", ""); status != http.StatusOK || !strings.Contains(body, `"channel_ids":[]`) {
		t.Errorf("the app once the call ended: %d %s; want no channel_ids", status, body)
	}
	// Without subscribeAll, the app sees the channel only while it is in
	// Stasis. Its last event may still be on its way.
	var got []string
	for _, e := range decodeAll(t, l.waitFor("StasisEnd", hasType("StasisEnd"))) {
		got = append(got, e.Type+" "+e.Channel.Caller.Name)
	}
	want := []string{"StasisStart ", "ChannelCallerId Иванов Иван", "StasisEnd Иванов Иван"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events of an app without subscribeAll differ (-want +got):\n%s", diff)
	}
}

func TestAStasisCallNobodyContinuesEndsWhenTheCallerGivesUp(t *testing.T) {
	s, url := newSim(t, arisim.Config{StasisTimeout: 5 * time.Second})
	l := listen(t, s, url, "screenpop", true)
	res, err := s.Place(context.Background(), arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.Stasis, Operators: []string{"101"}})
	if err != nil || res.Continued {
		t.Fatalf("Place returned %+v, %v; want a call that was not continued", res, err)
	}
	evs := decodeAll(t, l.waitN(res.Events))
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if !slices.Contains(types, "StasisEnd") || slices.ContainsFunc(evs, func(e eventJSON) bool { return e.Type == "Dial" && e.Peer.Dialplan.Context == "phones" }) {
		t.Errorf("the call should end in Stasis without dialling a phone: %v", types)
	}
	if len(channelsOf(t, url)) != 0 {
		t.Error("the call left channels behind")
	}
}

func TestAStasisCallWithoutTheApplicationGoesOnAtOnce(t *testing.T) {
	s, url := newSim(t, arisim.Config{})
	l := listen(t, s, url, "another-app", true)
	res, err := s.Place(context.Background(), arisim.Call{Caller: "+79161234567", DID: "74951112233", Scenario: arisim.Stasis, Operators: []string{"101"}})
	if err != nil || res.Continued {
		t.Fatalf("Place returned %+v, %v", res, err)
	}
	msgs := l.waitN(res.Events)
	if hasType("StasisStart")(msgs) || !strings.Contains(string(slices.Concat(msgs...)), `"value":"FAILED"`) || !hasType("ChannelEnteredBridge")(msgs) {
		t.Error("Stasis should fail (STASISSTATUS=FAILED) and the call be answered")
	}
}

func TestTheEventFilterIsAppliedAndForgottenWithTheSocket(t *testing.T) {
	s, url := newSim(t, arisim.Config{})
	call := arisim.Call{Caller: "+79161234567", DID: "74951112233", Operators: []string{"101"}}
	l := listen(t, s, url, "screenpop", true)
	status, body := rest(t, http.MethodPut, url+"/applications/screenpop/eventFilter",
		`{"allowed":[{"type":"ChannelCreated"},{"type":"Dial"}],"disallowed":[{"type":"Dial"}]}`)
	if status != http.StatusOK || !strings.Contains(body, `"events_allowed":[{"type":"ChannelCreated"},{"type":"Dial"}]`) {
		t.Fatalf("PUT eventFilter: %d %s", status, body)
	}
	if _, err := s.Place(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	msgs := l.waitN(4)
	time.Sleep(20 * time.Millisecond)
	for _, m := range l.messages() {
		if typ := typeOf(t, m); typ != "ChannelCreated" {
			t.Errorf("the filter let a %s through", typ)
		}
	}
	if len(msgs) != 4 {
		t.Errorf("got %d ChannelCreated, want 4", len(msgs))
	}

	l.close()
	waitUntil(t, "the application is unregistered", func() bool { return !s.Connected("screenpop") })
	l = listen(t, s, url, "screenpop", true)
	res, err := s.Place(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := l.waitN(res.Events); len(msgs) != res.Events {
		t.Errorf("after a reconnect got %d events, want all %d: the filter must die with the socket", len(msgs), res.Events)
	}
}

func TestEventsAreNotReplayedToAClientThatWasAway(t *testing.T) {
	s, url := newSim(t, arisim.Config{})
	call := arisim.Call{Caller: "+79161234567", DID: "74951112233", Operators: []string{"101"}}
	l := listen(t, s, url, "screenpop", true)
	l.close()
	waitUntil(t, "the application is unregistered", func() bool { return !s.Connected("screenpop") })
	if _, err := s.Place(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	l = listen(t, s, url, "screenpop", true)
	call.Caller = "+79035550101"
	res, err := s.Place(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	msgs := l.waitN(res.Events)
	time.Sleep(20 * time.Millisecond)
	if len(l.messages()) != res.Events || strings.Contains(string(slices.Concat(msgs...)), "+79161234567") {
		t.Errorf("got %d events, want only the %d of the call made while connected", len(l.messages()), res.Events)
	}
}

func TestASecondConnectionReplacesTheFirst(t *testing.T) {
	s, url := newSim(t, arisim.Config{})
	first := listen(t, s, url, "screenpop", true)
	second := listen(t, s, url, "screenpop", true)
	first.waitFor("ApplicationReplaced", hasType("ApplicationReplaced"))
	res, err := s.Place(context.Background(), arisim.Call{Caller: "+79161234567", DID: "74951112233", Operators: []string{"101"}})
	if err != nil {
		t.Fatal(err)
	}
	second.waitN(res.Events)
	if n := len(first.messages()); n != 1 {
		t.Errorf("the replaced connection got %d messages, want only ApplicationReplaced", n)
	}
}

func TestSubscribingToAChannelSendsItsEventsWithoutSubscribeAll(t *testing.T) {
	s, url := newSim(t, arisim.Config{Speed: 1})
	l := listen(t, s, url, "screenpop", false)
	watch := listen(t, s, url, "watcher", true)
	ctx, cancel := context.WithCancel(context.Background())
	wait := startCall(t, s, ctx, arisim.Call{ID: "call-1", Caller: "+79161234567", DID: "74951112233", Operators: []string{"101"}, RingFor: time.Hour})
	// Subscribed while the call still dials, the app would get the Dials
	// of call-1-2 too.
	watch.waitRinging()
	if n := len(l.messages()); n != 0 {
		t.Fatalf("without subscribeAll the app got %d events of a call it did not subscribe to", n)
	}
	if status, body := rest(t, http.MethodPost, url+"/applications/screenpop/subscription?eventSource=channel:call-1-2", ""); status != http.StatusOK ||
		!strings.Contains(body, `"channel_ids":["call-1-2"]`) {
		t.Fatalf("subscribe: %d %s", status, body)
	}
	if status, _ := rest(t, http.MethodPost, url+"/applications/screenpop/subscription?eventSource=channel:nope", ""); status != http.StatusUnprocessableEntity {
		t.Errorf("subscribing to a channel that does not exist: got %d, want 422", status)
	}
	cancel()
	if _, err := wait(); err == nil {
		t.Fatal("the call was not cut short")
	}
	for _, e := range decodeAll(t, l.waitFor("the subscribed channel's end", hasType("ChannelDestroyed"))) {
		if e.Channel.ID != "call-1-2" {
			t.Errorf("got a %s of %s, want only call-1-2's events", e.Type, e.Channel.ID)
		}
	}
}

func TestThePingsOfTheClientAreAnswered(t *testing.T) {
	s, url := newSim(t, arisim.Config{})
	l := listen(t, s, url, "screenpop", true)
	pong := make(chan string, 1)
	l.ws.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := l.ws.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-pong:
		if got != "are you there" {
			t.Errorf("pong carried %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}

func TestCloseEndsTheWebsocketsAndTheCalls(t *testing.T) {
	cfg := arisim.Config{Username: testUser, Password: testPassword, Operators: []string{"101"}}
	s := arisim.New(cfg, nil)
	url, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t, s, url, "screenpop", true)
	wait := startCall(t, s, context.Background(), arisim.Call{Caller: "+79161234567", DID: "74951112233", RingFor: time.Hour})
	l.waitFor("the call", hasType("Dial"))
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := wait(); err == nil {
		t.Error("a call under way when the simulator closed returned no error")
	}
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the events websocket stayed open after Close")
	}
}

func TestOriginateCallsTheOperatorsPhoneThenTheClient(t *testing.T) {
	for _, tech := range []string{arisim.TechLocal, arisim.TechPJSIP} {
		endpoint := map[string]string{arisim.TechLocal: "Local/101@phones", arisim.TechPJSIP: "PJSIP/101"}[tech]
		t.Run("through "+endpoint, func(t *testing.T) {
			s, url := newSim(t, arisim.Config{Tech: tech, ChannelVars: true})
			l := listen(t, s, url, "screenpop", true)
			status, body := rest(t, http.MethodPost, url+"/channels?endpoint="+endpoint+"&extension=89161234567&context=from-internal&callerId=Operator%20101%20%3C101%3E",
				// A long talk (5 s at the tests' speed) keeps the channel up
				// while the second originate below asks for its ID, however
				// slow a loaded machine is to send it.
				`{"channelId":"c2d-1","variables":{"CLICK_TO_DIAL":"1","TALK":"500"}}`)
			if status != http.StatusOK || !strings.Contains(body, `"id":"c2d-1"`) || !strings.Contains(body, `"state":"Down"`) {
				t.Fatalf("originate: %d %s", status, body)
			}
			if status, _ := rest(t, http.MethodPost, url+"/channels?endpoint=PJSIP/102&extension=1&channelId=c2d-1", ""); status != http.StatusConflict {
				t.Errorf("a second originate with the same channel ID: got %d, want 409", status)
			}
			got := s.Originates()
			if len(got) != 1 || got[0].Endpoint != endpoint || got[0].Extension != "89161234567" || got[0].Context != "from-internal" ||
				got[0].CallerID != "Operator 101 <101>" || got[0].Variables["CLICK_TO_DIAL"] != "1" {
				t.Errorf("recorded originates: %+v", got)
			}
			msgs := l.waitFor("the call to end", func(m [][]byte) bool {
				return len(m) > 0 && strings.Contains(string(m[len(m)-1]), "BridgeDestroyed")
			})
			var dials []string
			for _, e := range decodeAll(t, msgs) {
				if e.Type == "Dial" {
					dials = append(dials, strings.Split(e.Peer.Name, "-")[0]+" "+e.Dialstatus)
				}
			}
			want := []string{endpoint + " ", endpoint + " RINGING", endpoint + " ANSWER", "PJSIP/trunk ", "PJSIP/trunk RINGING", "PJSIP/trunk ANSWER"}
			if diff := cmp.Diff(want, dials); diff != "" {
				t.Errorf("the Dials of the originated call differ (-want +got):\n%s", diff)
			}
			waitUntil(t, "the channels are gone", func() bool { return len(channelsOf(t, url)) == 0 })
		})
	}
}

func TestASubscriptionToAChannelEndsWithTheChannel(t *testing.T) {
	s, url := newSim(t, arisim.Config{Speed: 1})
	l := listen(t, s, url, "screenpop", false)
	watch := listen(t, s, url, "watcher", true)
	ctx, cancel := context.WithCancel(context.Background())
	wait := startCall(t, s, ctx, arisim.Call{ID: "call-1", Caller: "+79161234567", DID: "74951112233", Operators: []string{"101"}, RingFor: time.Hour})
	watch.waitRinging()
	if status, body := rest(t, http.MethodPost, url+"/applications/screenpop/subscription?eventSource=channel:call-1-2", ""); status != http.StatusOK {
		t.Fatalf("subscribe: %d %s", status, body)
	}
	cancel()
	if _, err := wait(); err == nil {
		t.Fatal("the call was not cut short")
	}
	l.waitFor("the subscribed channel's end", hasType("ChannelDestroyed"))
	status, body := rest(t, http.MethodPost, url+"/applications/screenpop/subscription?eventSource=endpoint:PJSIP/101", "")
	if status != http.StatusOK || !strings.Contains(body, `"channel_ids":[]`) {
		t.Errorf("after the channel was destroyed, a subscribe answered %d %s; want no channel_ids left", status, body)
	}
}
