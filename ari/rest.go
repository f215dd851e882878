package ari

// The REST calls are small net/http helpers decoding into the library's
// types rather than github.com/CyCoreSystems/ari/v5/client/native: that
// client's HTTP client is an unexported zero value (so no CA file and no
// timeout), its calls take no context, Channel.List returns only IDs
// (a resync would cost one GET per channel), it has no event filter call,
// and it decodes an error body as if it were the answer.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	ariv5 "github.com/CyCoreSystems/ari/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// maxResponse bounds a REST answer; GET /channels on a PBX with ten
// thousand channels is about 10 MB.
const maxResponse = 64 << 20

// StatusError is a REST call Asterisk answered with an error status, e.g.
// 409 when setting a variable on a channel that is not in our Stasis app.
type StatusError struct {
	URL     string // the ARI base URL
	Method  string
	Path    string // below URL, without the query
	Code    int
	Message string // Asterisk's explanation, if it gave one
	// AnsweredBefore: ARI at this URL answered requests before this one.
	AnsweredBefore bool
}

func (e *StatusError) Error() string {
	switch e.Code {
	case http.StatusUnauthorized:
		return fmt.Sprintf("ARI at %s rejected the username or password", e.URL)
	case http.StatusNotFound:
		if e.Message == "" && e.AnsweredBefore {
			// Asterisk's HTTP server comes up before its ARI module
			// while it starts, and loses it while the module reloads.
			return fmt.Sprintf("ARI at %s has no %s for now, though it answered before: Asterisk is restarting, or reloading its ARI module (res_ari); screenpop reconnects by itself once ARI is back", e.URL, e.Path)
		}
		if e.Message == "" {
			// Asterisk explains a missing channel or application; a bare
			// 404 is the HTTP server not knowing the path at all.
			return fmt.Sprintf("ARI at %s has no %s: ARI is not enabled there (http.conf and ari.conf enabled = yes) or the URL does not end in /ari", e.URL, e.Path)
		}
	}
	s := fmt.Sprintf("ARI at %s answered %s %s with %d %s", e.URL, e.Method, e.Path, e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Check asks Asterisk who it is (GET /asterisk/info), to tell at start-up
// whether the URL, the credentials and TLS are right.
func (c *Client) Check(ctx context.Context) error {
	var info ariv5.AsteriskInfo
	if err := c.do(ctx, http.MethodGet, "/asterisk/info", nil, nil, &info); err != nil {
		return fmt.Errorf("check ARI: %w", err)
	}
	return nil
}

// Channels lists every channel Asterisk has now (GET /channels).
func (c *Client) Channels(ctx context.Context) ([]screenpop.Channel, error) {
	var data []ariv5.ChannelData
	if err := c.do(ctx, http.MethodGet, "/channels", nil, nil, &data); err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	chans := make([]screenpop.Channel, 0, len(data))
	for i := range data {
		chans = append(chans, c.in.dec.channel(&data[i]))
	}
	return chans, nil
}

// Bridges lists the members (channel IDs) of every bridge Asterisk has
// now (GET /bridges), by bridge ID: a resync tells from them who answered
// a call while the events were missed.
func (c *Client) Bridges(ctx context.Context) (map[string][]string, error) {
	var data []ariv5.BridgeData
	if err := c.do(ctx, http.MethodGet, "/bridges", nil, nil, &data); err != nil {
		return nil, fmt.Errorf("list bridges: %w", err)
	}
	bridges := make(map[string][]string, len(data))
	for _, b := range data {
		if b.ID != "" && len(b.ChannelIDs) > 0 {
			bridges[b.ID] = b.ChannelIDs
		}
	}
	return bridges, nil
}

// waitingInApp lists the channels in our Stasis app (GET /applications/{app}).
func (c *Client) waitingInApp(ctx context.Context) ([]string, error) {
	var app struct {
		ChannelIDs []string `json:"channel_ids"`
	}
	if err := c.do(ctx, http.MethodGet, "/applications/"+url.PathEscape(c.cfg.App), nil, nil, &app); err != nil {
		return nil, fmt.Errorf("list channels in app %s: %w", c.cfg.App, err)
	}
	// With subscribeAll the app is subscribed to every channel through a
	// pseudo-channel, __AST_CHANNEL_ALL_TOPIC: it is no channel, and
	// continuing it answers 404.
	waiting := slices.DeleteFunc(app.ChannelIDs, func(id string) bool { return strings.HasPrefix(id, "__AST_") })
	if len(waiting) == 0 {
		return nil, nil
	}
	return waiting, nil
}

// Continue lets a channel in our Stasis app go on in the dialplan, at the
// next priority. Without subscribeAll, a channel that leaves our app sends
// us nothing more, so we subscribe to it first: its call is followed to
// its end.
func (c *Client) Continue(ctx context.Context, channelID string) error {
	if !c.cfg.SubscribeAll {
		if err := c.Subscribe(ctx, "channel:"+channelID); err != nil {
			// Continuing matters more than following: the caller must not wait.
			c.log.Warn("cannot follow a channel leaving Stasis; its call record will be incomplete", "channel", channelID, "err", err)
		}
	}
	if err := c.do(ctx, http.MethodPost, "/channels/"+url.PathEscape(channelID)+"/continue", nil, nil, nil); err != nil {
		return fmt.Errorf("continue channel %s: %w", channelID, err)
	}
	return nil
}

// SetVariable sets a channel variable (or a function such as
// CALLERID(name)); Asterisk allows it only on channels in our Stasis app.
func (c *Client) SetVariable(ctx context.Context, channelID, name, value string) error {
	// In the body, not the query: the value can be a caller's name, which
	// must not end up in an access log.
	body := map[string]string{"variable": name, "value": value}
	if err := c.do(ctx, http.MethodPost, "/channels/"+url.PathEscape(channelID)+"/variable", nil, body, nil); err != nil {
		return fmt.Errorf("set %s on channel %s: %w", name, channelID, err)
	}
	return nil
}

// Subscribe adds an event source (channel:ID, bridge:ID, endpoint:tech/res,
// deviceState:name) to our application. Asterisk forgets subscriptions
// when the events websocket closes.
func (c *Client) Subscribe(ctx context.Context, eventSource string) error {
	q := url.Values{"eventSource": {eventSource}}
	if err := c.do(ctx, http.MethodPost, "/applications/"+url.PathEscape(c.cfg.App)+"/subscription", q, nil, nil); err != nil {
		return fmt.Errorf("subscribe to %s: %w", eventSource, err)
	}
	return nil
}

// setEventFilter asks Asterisk to send only AllowedEvents, which is most
// of the saving: a call makes about 100 events, a dozen of them useful.
func (c *Client) setEventFilter(ctx context.Context) error {
	type eventType struct {
		Type string `json:"type"`
	}
	filter := struct {
		Allowed []eventType `json:"allowed"`
	}{}
	for _, t := range AllowedEvents {
		filter.Allowed = append(filter.Allowed, eventType{t})
	}
	if c.out != nil {
		// Asterisk passes the answers to REST over the websocket through
		// the application's event filter too (stasis_app_event_allowed).
		filter.Allowed = append(filter.Allowed, eventType{restResponse})
	}
	if err := c.do(ctx, http.MethodPut, "/applications/"+url.PathEscape(c.cfg.App)+"/eventFilter", nil, filter, nil); err != nil {
		return fmt.Errorf("set event filter: %w", err)
	}
	return nil
}

// do makes one REST call: body (if not nil) goes as JSON, a 2xx answer is
// decoded into out (if not nil), any other becomes a *StatusError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	if c.overWebsocket(ctx) {
		return c.doWS(ctx, method, path, query, body, out)
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	u := c.base.String() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(resp, method, path)
	}
	c.answered.Store(true)
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			return fmt.Errorf("%s answered %s %s with %s: %w", c.base, method, path, cmp.Or(ct, "no Content-Type"), ErrNotARI)
		}
		return fmt.Errorf("decode answer to %s %s from ARI at %s: %w", method, path, c.base, err)
	}
	return nil
}

// ErrNotARI: the URL answers HTTP, but not as ARI does (JSON): a web
// server, a proxy's page, another service on that port.
var ErrNotARI = errors.New("not Asterisk's ARI, which answers JSON")

// statusError reads Asterisk's explanation ({"message": "..."}) of an
// error status.
func (c *Client) statusError(resp *http.Response, method, path string) *StatusError {
	e := &StatusError{URL: c.base.String(), Method: method, Path: path, Code: resp.StatusCode, AnsweredBefore: c.answered.Load()}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var msg struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(b, &msg) == nil {
		e.Message = cmp.Or(msg.Message, msg.Error)
	}
	return e
}

// transportError says in words an admin can act on why no answer came. The
// URL is the base (never credentials, never a query).
func (c *Client) transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		// It repeats the full request URL; ours is shorter.
		err = ue.Err
	}
	var (
		unknownCA x509.UnknownAuthorityError
		badName   x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		notTLS    tls.RecordHeaderError
		op        *net.OpError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("ARI at %s did not answer in time: %w", c.base, err)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("TLS: the certificate of ARI at %s is signed by an unknown authority (give the CA that signed it as the CA file): %w", c.base, err)
	case errors.As(err, &badName):
		return fmt.Errorf("TLS: the certificate of ARI at %s is not valid for %s: %w", c.base, c.base.Hostname(), err)
	case errors.As(err, &invalid):
		return fmt.Errorf("TLS: the certificate of ARI at %s is not valid: %w", c.base, err)
	case errors.As(err, &verify):
		return fmt.Errorf("TLS: cannot verify the certificate of ARI at %s: %w", c.base, err)
	case errors.As(err, &notTLS):
		return fmt.Errorf("TLS: ARI at %s does not speak TLS (use http://): %w", c.base, err)
	case strings.Contains(err.Error(), "HTTP response to HTTPS client"):
		return fmt.Errorf("TLS: ARI at %s does not speak TLS (use http://): %w", c.base, err)
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("ARI at %s is unreachable: %w", c.base, err)
	}
	return fmt.Errorf("ARI at %s: %w", c.base, err)
}
