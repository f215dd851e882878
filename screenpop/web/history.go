package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/screenpop/screenpop/screenpop"
)

// historyLength is how many of a client's calls the page lists.
const historyLength = 20

// History is the call log as a client's call history.
type History interface {
	ClientCalls(ctx context.Context, clientID int64, limit int) ([]screenpop.ClientCall, error)
}

// HistoryRoutes serves GET /api/clients/{id}/calls: the client's last
// calls, newest first, in and out, on all their numbers, so the operator
// sees them and can call back from there.
func HistoryRoutes(h History) []Route {
	return []Route{{"GET /api/clients/{id}/calls", func(w http.ResponseWriter, r *http.Request, _ screenpop.Operator) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			WriteError(w, http.StatusBadRequest, "the ID in the path is not a number")
			return
		}
		calls, err := h.ClientCalls(r.Context(), id, historyLength)
		if err != nil {
			WriteError(w, http.StatusInternalServerError, "could not read the client's calls; try again")
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"calls": calls})
	}}}
}
