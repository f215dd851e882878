package ari

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// originateBody is POST /channels in extension mode: ring the endpoint,
// and when it answers run extension@context.
type originateBody struct {
	Endpoint  string `json:"endpoint"`
	Extension string `json:"extension"`
	Context   string `json:"context"`
	Priority  int    `json:"priority"`
	CallerID  string `json:"callerId,omitempty"`
	Timeout   int    `json:"timeout,omitempty"` // seconds
	ChannelID string `json:"channelId,omitempty"`
}

// Originate asks Asterisk to ring req.Endpoint and, once it answers, to
// send it to req.Extension@req.Context (click-to-dial). An error is
// Asterisk refusing (a *StatusError: no such endpoint, ...) or not
// answering; a phone that does not pick up is told by its events.
//
// Without subscribeAll, Asterisk sends nothing about a channel our app did
// not see enter Stasis, so the client subscribes to the new channel (and,
// through its Dial, to the client's leg): the call is recorded like any
// other.
func (c *Client) Originate(ctx context.Context, req screenpop.OriginateRequest) error {
	body := originateBody{
		Endpoint: req.Endpoint, Extension: req.Extension, Context: req.Context, Priority: req.Priority,
		CallerID: req.CallerID, ChannelID: req.ChannelID,
	}
	if req.Timeout > 0 {
		body.Timeout = int((req.Timeout + time.Second - 1) / time.Second)
	}
	// In the body, not the query: the client's number must not end up in
	// an access log. The answer is the new channel, whose ID we chose.
	var ch ariv5.ChannelData
	var answer any
	if req.ChannelID == "" {
		answer = &ch
	}
	if err := c.do(ctx, http.MethodPost, "/channels", nil, body, answer); err != nil {
		return fmt.Errorf("originate from %s: %w", req.Endpoint, err)
	}
	if !c.cfg.SubscribeAll {
		id := cmp.Or(req.ChannelID, ch.ID)
		if err := c.Subscribe(ctx, "channel:"+id); err != nil {
			c.log.Warn("cannot follow an originated channel; its call record will be missing", "channel", id, "err", err)
		}
	}
	return nil
}
