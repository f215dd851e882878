package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/screenpop/screenpop/screenpop"
)

// OperatorHandler serves an API request from an operator's page; op is
// the operator the request's key belongs to.
type OperatorHandler func(w http.ResponseWriter, r *http.Request, op screenpop.Operator)

// Route is one endpoint of the operators' API, such as
// {"POST /api/calls/{id}/note", h}. Requests carry the operator's key as
// "Authorization: Bearer KEY"; others get 401. A key that cannot be
// checked (the store is down or slow) gets 503 with Retry-After: the page
// keeps it and tries again.
type Route struct {
	Pattern string
	Handler OperatorHandler
}

// maxAPIBody bounds what a page may post.
const maxAPIBody = 64 << 10

func (s *Server) route(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			WriteError(w, http.StatusUnauthorized, "send the operator's key as Authorization: Bearer KEY")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), authWait)
		op, err := s.sockets.auth.OperatorByToken(ctx, token)
		cancel()
		if errors.Is(err, screenpop.ErrNotFound) {
			WriteError(w, http.StatusUnauthorized, "unknown key")
			return
		}
		if err != nil {
			s.sockets.log.Warn("an operator's key could not be checked; the page will retry", "err", err)
			unavailable(w)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
		rt.Handler(w, r, op)
	})
}

// unavailable answers 503: the store could not say whether a key is one.
// The code tells the pages which of their texts says so.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "2")
	WriteJSON(w, http.StatusServiceUnavailable, map[string]string{
		"error": "the key cannot be checked now (store unavailable); try again shortly",
		"code":  "key_unchecked",
	})
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// WriteError answers {"error": msg}: what went wrong, for the page to show.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, map[string]string{"error": msg})
}

// ReadJSON decodes a request body into v, answering 400 itself when it
// cannot; it reports whether the handler should go on.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		WriteError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}
