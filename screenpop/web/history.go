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
// sees them and can call back from there. Only a client on a call the
// operator is being offered, talks to or served in their session (may):
// any other ID is not found, whether or not there is such a client.
func HistoryRoutes(h History, may Permissions) []Route {
	return []Route{{"GET /api/clients/{id}/calls", func(w http.ResponseWriter, r *http.Request, op screenpop.Operator) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			WriteError(w, http.StatusBadRequest, "the ID in the path is not a number")
			return
		}
		switch ok, err := may.ClientReadable(r.Context(), op.Extension, id); {
		case err != nil:
			WriteError(w, http.StatusServiceUnavailable, "whether this client was on your calls cannot be checked now (call log unavailable); try again shortly")
			return
		case !ok:
			WriteError(w, http.StatusNotFound, ErrNotYours)
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

// Permissions says what an operator's work lets them read and change:
// screenpop.Access.
type Permissions interface {
	ClientReadable(ctx context.Context, operator string, clientID int64) (bool, error)
	CallNotable(operator, callID string, clientID int64) bool
	LeadEditable(operator string, leadID int64) bool
	ComplaintClosable(operator string, complaintID int64) bool
}

// ErrNotYours is the answer for anything beyond an operator's calls; it
// does not tell whether the thing exists.
const ErrNotYours = "not found among your calls: you can open what is on the calls offered to you, that you talk to, or that you served in your session"
