package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/screenpop/screenpop/screenpop"
)

// StaffAuthenticator finds the staff member a token belongs to. An
// operator's token is not a staff token: it opens the pop page only.
type StaffAuthenticator interface {
	StaffByToken(ctx context.Context, token string) (screenpop.Staff, error)
}

// StaffHandler serves a request from a staff token's holder.
type StaffHandler func(w http.ResponseWriter, r *http.Request, st screenpop.Staff)

// RequireStaff serves h only to requests with a staff token whose role
// allows need, sent as "Authorization: Bearer TOKEN" (or, for a link a
// browser opens, such as a CSV download, as ?token=TOKEN). Others get 401
// (no or unknown token), 403 (a token of a role that may not) or 503 (a
// token the store could not check now: the page keeps it and retries).
func RequireStaff(auth StaffAuthenticator, need screenpop.Role, h StaffHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			token = r.URL.Query().Get("token")
		}
		if token == "" {
			WriteError(w, http.StatusUnauthorized, "send a staff token ("+string(need)+" role) as Authorization: Bearer TOKEN; screenpopd token add makes one")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), authWait)
		st, err := auth.StaffByToken(ctx, token)
		cancel()
		if errors.Is(err, screenpop.ErrNotFound) {
			WriteError(w, http.StatusUnauthorized, "unknown staff token (operators' keys open the pop page only)")
			return
		}
		if err != nil {
			unavailable(w)
			return
		}
		if !st.Role.Allows(need) {
			WriteError(w, http.StatusForbidden, "this needs a token with the "+string(need)+" role; yours is "+string(st.Role))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
		h(w, r, st)
	})
}

// Handle mounts h on the server's mux at pattern (http.ServeMux syntax),
// for pages and APIs with their own authentication, such as the staff's.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }
