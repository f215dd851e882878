package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/screenpop/screenpop/screenpop"
)

// OperatorHandler serves an API request from an operator's page; op is
// the operator the request's key belongs to.
type OperatorHandler func(w http.ResponseWriter, r *http.Request, op screenpop.Operator)

// Route is one endpoint of the operators' API, such as
// {"POST /api/calls/{id}/note", h}. Requests carry the operator's key as
// "Authorization: Bearer KEY"; others get 401.
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
		op, err := s.sockets.auth.OperatorByToken(r.Context(), token)
		if err != nil {
			WriteError(w, http.StatusUnauthorized, "unknown key")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
		rt.Handler(w, r, op)
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
