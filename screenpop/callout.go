package screenpop

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// OriginateRequest asks the PBX to ring Endpoint and, once it answers, to
// run Extension@Context from Priority (ARI POST /channels).
type OriginateRequest struct {
	// ChannelID names the channel made for Endpoint, so that its events
	// can be told apart.
	ChannelID string
	Endpoint  string // PJSIP/101
	Extension string
	Context   string
	Priority  int
	// CallerID is what the endpoint's phone shows while it rings:
	// "name" <number>.
	CallerID string
	// Timeout is how long Endpoint may ring.
	Timeout time.Duration
}

// Originator starts calls on the PBX. The ari package's client is one.
type Originator interface {
	Originate(ctx context.Context, req OriginateRequest) error
}

// CalloutConfig says how click-to-dial reaches an operator's phone and the
// client.
type CalloutConfig struct {
	// Endpoint is the operator's phone with {ext} for their extension:
	// PJSIP/{ext}.
	Endpoint string
	// Context is where the client's number is dialled once the operator
	// picks up; it should be one of TrackerConfig.OutboundContexts, so
	// that the call is recorded as the operator's outbound call.
	Context string
	// Region is the country of national number forms.
	Region string
	// Timeout is how long the operator's phone rings; default 30 s.
	Timeout time.Duration
}

// DefaultCalloutTimeout is how long click-to-dial rings the operator's phone.
const DefaultCalloutTimeout = 30 * time.Second

// ErrInvalidNumber is wrapped by the error Place returns for a number that
// cannot be dialled: nothing was sent to the PBX.
var ErrInvalidNumber = errors.New("not a phone number: give the client's number with its country code or in the national form")

// Callout is a click-to-dial call the PBX accepted: the operator's phone
// is about to ring.
type Callout struct {
	ChannelID string `json:"channel_id"`
	Number    string `json:"number"`   // the client's, in E.164
	Endpoint  string `json:"endpoint"` // the operator's phone
}

// CalloutFailure says why a click-to-dial call never reached the operator.
type CalloutFailure struct {
	ChannelID string `json:"channel_id"`
	Number    string `json:"number"`
	// Code is one of busy, no_answer, offline, rejected, unreachable: the
	// page words it in the operator's language; Reason is the same in
	// English, with Asterisk's own words.
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// How long a placed dial is remembered for its failure to be reported:
// the operator's phone rings at most Timeout, and an answered one leaves
// the list when its call ends.
const calloutMemory = 5 * time.Minute

// Callouts places click-to-dial calls, callouts in the code (a Dial is
// Asterisk's): Asterisk rings the operator's own phone first and, when
// they pick up, dials the client. It hears the tracker's notices to tell
// the operator's pages when their phone could not be reached.
type Callouts struct {
	pbx Originator
	cfg CalloutConfig
	hub *Hub
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	pending map[string]placed // by channel ID
}

type placed struct {
	operator, number string
	at               time.Time
}

// NewCallouts returns Callouts placing calls through pbx and reporting
// failures to the operators' pages through hub.
func NewCallouts(pbx Originator, cfg CalloutConfig, hub *Hub, log *slog.Logger) *Callouts {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultCalloutTimeout
	}
	return &Callouts{pbx: pbx, cfg: cfg, hub: hub, log: log, now: time.Now, pending: map[string]placed{}}
}

// Number normalises a number an operator asked to dial, or says why it
// cannot be dialled (wrapping ErrInvalidNumber).
func (d *Callouts) Number(raw string) (string, error) {
	return dialable(raw, d.cfg.Region)
}

func dialable(raw, region string) (string, error) {
	n := ParseNumber(raw, region)
	if n.E164 == "" {
		if strings.TrimSpace(raw) == "" {
			return "", fmt.Errorf("no number given: %w", ErrInvalidNumber)
		}
		return "", fmt.Errorf("%q: %w", raw, ErrInvalidNumber)
	}
	return n.E164, nil
}

// Place rings op's own phone and, when they pick up, dials number. The
// phone is always the operator's: no request can ring anyone else's. An
// error says why the call could not be placed; a failure later (the phone
// does not answer) reaches the operator's pages as a dial.failed message.
func (d *Callouts) Place(ctx context.Context, op Operator, number string) (Callout, error) {
	e164, err := d.Number(number)
	if err != nil {
		return Callout{}, err
	}
	if op.Extension == "" {
		return Callout{}, errors.New("dial: the operator has no extension")
	}
	dl := Callout{
		ChannelID: "screenpop-dial-" + strings.ToLower(rand.Text()),
		Number:    e164,
		Endpoint:  strings.Replace(d.cfg.Endpoint, "{ext}", op.Extension, 1),
	}
	req := OriginateRequest{
		ChannelID: dl.ChannelID, Endpoint: dl.Endpoint, Extension: e164, Context: d.cfg.Context, Priority: 1,
		// The phone shows whom it is about to call; its number stays the
		// operator's own, so the dialplan knows who is calling out.
		CallerID: fmt.Sprintf("%q <%s>", e164, op.Extension),
		Timeout:  d.cfg.Timeout,
	}
	// Remembered before the originate: its failure can come before the
	// answer to the request does.
	d.remember(dl.ChannelID, placed{operator: op.Extension, number: e164, at: d.now()})
	if err := d.pbx.Originate(ctx, req); err != nil {
		d.forget(dl.ChannelID)
		d.log.Warn("click-to-dial refused", "operator", op.Extension, "endpoint", dl.Endpoint, "number", MaskNumber(e164), "err", err)
		return Callout{}, fmt.Errorf("ring your phone: %w", err)
	}
	d.log.Info("click-to-dial placed", "operator", op.Extension, "endpoint", dl.Endpoint, "number", MaskNumber(e164), "channel", dl.ChannelID)
	return dl, nil
}

func (d *Callouts) remember(id string, p placed) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, old := range d.pending {
		if p.at.Sub(old.at) > calloutMemory {
			delete(d.pending, k)
		}
	}
	d.pending[id] = p
}

func (d *Callouts) forget(id string) (placed, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.pending[id]
	delete(d.pending, id)
	return p, ok
}

// Notice tells the operator when a dial they placed failed to reach their
// phone, and forgets dials whose call is over. It returns at once.
func (d *Callouts) Notice(n Notice) {
	switch n.Kind {
	case NoticeCalloutFailed:
		p, ok := d.forget(n.ChannelID)
		if !ok {
			return // not ours: someone else's originate
		}
		f := calloutFailure(n)
		f.ChannelID, f.Number = n.ChannelID, p.number
		d.log.Info("click-to-dial did not reach the operator", "operator", p.operator, "channel", n.ChannelID,
			"dial_status", n.DialStatus, "cause", n.Cause, "reason", f.Code)
		d.hub.CalloutFailed(p.operator, f)
	case NoticeEnded:
		// Click-to-dial calls are named after the phone's channel.
		d.forget(n.CallID)
	}
}

// calloutFailure words why the operator's phone did not answer, from the
// dial status if there was one, else from the hangup cause.
func calloutFailure(n Notice) CalloutFailure {
	code := "unreachable"
	switch n.DialStatus {
	case "BUSY":
		code = "busy"
	case "NOANSWER", "CANCEL":
		code = "no_answer"
	case "CHANUNAVAIL":
		code = "offline"
	case "":
		switch n.Cause {
		case 17:
			code = "busy"
		case 18, 19, 0, 16:
			code = "no_answer"
		case 20:
			code = "offline"
		case 21:
			code = "rejected"
		}
	}
	why := map[string]string{
		"busy":        "your phone is busy",
		"no_answer":   "your phone did not answer",
		"offline":     "your phone is not connected (offline or not registered)",
		"rejected":    "your phone rejected the call",
		"unreachable": "your phone cannot be reached",
	}[code]
	switch {
	case n.DialStatus != "":
		why += " (" + n.DialStatus + ")"
	case n.CauseText != "":
		why += fmt.Sprintf(" (cause %d, %s)", n.Cause, n.CauseText)
	case n.Cause != 0:
		why += fmt.Sprintf(" (cause %d)", n.Cause)
	}
	return CalloutFailure{Code: code, Reason: why}
}
