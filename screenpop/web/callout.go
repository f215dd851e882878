package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// Callouts places click-to-dial calls (callouts) from the operator's own
// phone. screenpop.Callouts is one.
type Callouts interface {
	Place(ctx context.Context, op screenpop.Operator, number string) (screenpop.Callout, error)
	// Number normalises a number to E.164, or says why it cannot be
	// dialled (wrapping screenpop.ErrInvalidNumber).
	Number(raw string) (string, error)
}

// Callbacks is the shared callback list. Its errors wrap
// screenpop.ErrNoCallback, or are a *screenpop.ClaimedError, for what the
// operator should be told. The stores are one.
type Callbacks interface {
	Callbacks(ctx context.Context, now time.Time) ([]screenpop.Callback, error)
	ClaimCallback(ctx context.Context, number, operator string, now time.Time) (screenpop.Callback, error)
	CloseCallback(ctx context.Context, number, operator, reason string, now time.Time) error
}

// listFresh is how long one reading of the callback list serves every
// operator's page: they all ask every few seconds, and the list is the
// same for all.
const listFresh = 2 * time.Second

// calling serves click-to-dial and the callback list.
type calling struct {
	callouts  Callouts
	callbacks Callbacks
	log       *slog.Logger
	now       func() time.Time

	mu     sync.Mutex // held while reading the list, so pages asking together share one query
	list   []screenpop.Callback
	listAt time.Time
}

// CalloutRoutes are the operators' API for calling clients:
//
//	POST /api/dial                    {number}: ring my phone, then the number
//	GET  /api/callbacks               the callback list, longest waiting first
//	POST /api/callbacks/{number}/claim I am calling this client back
//	POST /api/callbacks/{number}/close {reason}: no callback needed
func CalloutRoutes(d Callouts, cb Callbacks, log *slog.Logger) []Route {
	h := &calling{callouts: d, callbacks: cb, log: log, now: time.Now}
	return []Route{
		{"POST /api/dial", h.placeCallout},
		{"GET /api/callbacks", h.listCallbacks},
		{"POST /api/callbacks/{number}/claim", h.claim},
		{"POST /api/callbacks/{number}/close", h.close},
	}
}

// placeCallout rings the operator's own phone and then the number. The request
// names only the number: the phone is always the authenticated operator's.
func (h *calling) placeCallout(w http.ResponseWriter, r *http.Request, op screenpop.Operator) {
	var req struct {
		Number string `json:"number"`
	}
	if !ReadJSON(w, r, &req) {
		return
	}
	d, err := h.callouts.Place(r.Context(), op, req.Number)
	switch {
	case errors.Is(err, screenpop.ErrInvalidNumber):
		WriteError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		// Callouts logged it: Asterisk's reason is the operator's to see.
		WriteError(w, http.StatusBadGateway, err.Error())
	default:
		WriteJSON(w, http.StatusAccepted, d)
	}
}

func (h *calling) listCallbacks(w http.ResponseWriter, r *http.Request, op screenpop.Operator) {
	list, err := h.read(r.Context())
	if err != nil {
		h.log.Error("read the callback list", "operator", op.Extension, "err", err)
		WriteError(w, http.StatusServiceUnavailable, "the callback list is unavailable; try again shortly")
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"callbacks": list})
}

// read is the callback list, read at most every listFresh.
func (h *calling) read(ctx context.Context) ([]screenpop.Callback, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if h.list != nil && now.Sub(h.listAt) < listFresh && !now.Before(h.listAt) {
		return h.list, nil
	}
	list, err := h.callbacks.Callbacks(ctx, now)
	if err != nil {
		return nil, err
	}
	h.list, h.listAt = list, now
	return list, nil
}

// changed drops the shared reading: the next page sees the change at once.
func (h *calling) changed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.list = nil
}

// number is the path's number in E.164, or false once the answer is sent.
func (h *calling) number(w http.ResponseWriter, r *http.Request) (string, bool) {
	n, err := h.callouts.Number(r.PathValue("number"))
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return n, true
}

func (h *calling) claim(w http.ResponseWriter, r *http.Request, op screenpop.Operator) {
	number, ok := h.number(w, r)
	if !ok {
		return
	}
	cb, err := h.callbacks.ClaimCallback(r.Context(), number, op.Extension, h.now())
	var taken *screenpop.ClaimedError
	switch {
	case errors.As(err, &taken):
		WriteJSON(w, http.StatusConflict, map[string]any{"error": taken.Error(), "claim": taken.Claim})
	case errors.Is(err, screenpop.ErrNoCallback):
		WriteError(w, http.StatusNotFound, "this client no longer waits for a callback")
	case err != nil:
		h.fail(w, "claim a callback", err, op)
	default:
		h.changed()
		WriteJSON(w, http.StatusOK, cb)
	}
}

func (h *calling) close(w http.ResponseWriter, r *http.Request, op screenpop.Operator) {
	number, ok := h.number(w, r)
	if !ok {
		return
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if !ReadJSON(w, r, &req) {
		return
	}
	switch reason := strings.TrimSpace(req.Reason); {
	case reason == "":
		WriteError(w, http.StatusBadRequest, "say why no callback is needed")
		return
	case len([]rune(reason)) > screenpop.MaxCloseReason:
		WriteError(w, http.StatusBadRequest, "the reason is too long")
		return
	}
	err := h.callbacks.CloseCallback(r.Context(), number, op.Extension, req.Reason, h.now())
	switch {
	case errors.Is(err, screenpop.ErrNoCallback):
		WriteError(w, http.StatusNotFound, "this client no longer waits for a callback")
	case err != nil:
		h.fail(w, "close a callback", err, op)
	default:
		h.changed()
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *calling) fail(w http.ResponseWriter, what string, err error, op screenpop.Operator) {
	h.log.Error(what, "operator", op.Extension, "err", err)
	WriteError(w, http.StatusInternalServerError, what+" failed; try again shortly")
}
