package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// Notebook is what operators' notes, leads and complaints need of the
// client base. Its errors wrap screenpop.ErrUnknownClient,
// ErrUnknownComplaint, ErrNotLead and ErrComplaintClosed for what the
// operator can put right.
type Notebook interface {
	SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error)
	UpdateLead(ctx context.Context, id int64, u screenpop.LeadUpdate) (screenpop.Client, error)
	CloseComplaint(ctx context.Context, id int64, reason string, by screenpop.Operator, at time.Time) (clientID int64, err error)
}

// Refresher redraws the pops of calls under way that show a client, once
// an operator changed what the client's card says. The Popper is one.
type Refresher interface {
	Refresh(clientID int64)
}

// notes serves the operators' API for acting on a call.
type notes struct {
	book     Notebook
	may      Permissions
	pops     Refresher // nil: pops are not redrawn
	purposes screenpop.Purposes
	log      *slog.Logger
	now      func() time.Time
}

// NotesRoutes are the operators' API for acting on a call:
//
//	GET  /api/purposes              the purposes to choose from
//	POST /api/calls/{id}/note       {purpose, note, client_id}: the call's purpose and note
//	POST /api/clients/{id}          {last_name, first_name, patronymic, car: {make, model, plate}}: a lead's details
//	POST /api/complaints/{id}/close {reason}: close a complaint
//
// An operator may note only a call offered to them or that they placed,
// naming a client on its card, change a lead only while it is on their
// screen, and close a complaint only of a client on one of their calls
// (may); anything else is not found, whether or not it exists.
func NotesRoutes(book Notebook, pops Refresher, may Permissions, purposes screenpop.Purposes, log *slog.Logger) []Route {
	h := &notes{book: book, pops: pops, may: may, purposes: purposes, log: log, now: time.Now}
	return []Route{
		{"GET /api/purposes", h.listPurposes},
		{"POST /api/calls/{id}/note", h.saveNote},
		{"POST /api/clients/{id}", h.updateLead},
		{"POST /api/complaints/{id}/close", h.closeComplaint},
	}
}

func (h *notes) listPurposes(w http.ResponseWriter, r *http.Request, op screenpop.Operator) {
	WriteJSON(w, http.StatusOK, h.purposes)
}

func (h *notes) saveNote(w http.ResponseWriter, r *http.Request, op screenpop.Operator) {
	var req struct {
		Purpose  string `json:"purpose"`
		Note     string `json:"note"`
		ClientID int64  `json:"client_id"`
	}
	if !ReadJSON(w, r, &req) {
		return
	}
	n, err := h.purposes.NewNote(r.PathValue("id"), req.ClientID, req.Purpose, req.Note, op, h.now())
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	// The call's box, when there are several: ?pbx= (PopCall.PBX); none
	// with one box, so that its URLs stay as they were.
	n.PBX = r.URL.Query().Get("pbx")
	if !h.may.CallNotable(op.Extension, screenpop.CallKey(n.PBX, n.CallID), n.ClientID) {
		WriteError(w, http.StatusNotFound, ErrNotYours)
		return
	}
	n, err = h.book.SaveNote(r.Context(), n)
	if err != nil {
		h.fail(w, "save the note", err, "call", screenpop.CallKey(n.PBX, n.CallID), "operator", op.Extension)
		return
	}
	h.refresh(n.ClientID)
	WriteJSON(w, http.StatusOK, n)
}

func (h *notes) updateLead(w http.ResponseWriter, r *http.Request, op screenpop.Operator) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req struct {
		LastName   string `json:"last_name"`
		FirstName  string `json:"first_name"`
		Patronymic string `json:"patronymic"`
		Car        *struct {
			Make  string `json:"make"`
			Model string `json:"model"`
			Plate string `json:"plate"`
		} `json:"car"`
	}
	if !ReadJSON(w, r, &req) {
		return
	}
	u := screenpop.LeadUpdate{LastName: req.LastName, FirstName: req.FirstName, Patronymic: req.Patronymic}
	if req.Car != nil {
		u.Car = &screenpop.Car{Make: req.Car.Make, Model: req.Car.Model, Plate: req.Car.Plate}
	}
	u, err := u.Check()
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !h.may.LeadEditable(op.Extension, id) {
		WriteError(w, http.StatusNotFound, ErrNotYours)
		return
	}
	c, err := h.book.UpdateLead(r.Context(), id, u)
	if err != nil {
		h.fail(w, "update the lead", err, "client", id, "operator", op.Extension)
		return
	}
	h.refresh(id)
	WriteJSON(w, http.StatusOK, c)
}

func (h *notes) closeComplaint(w http.ResponseWriter, r *http.Request, op screenpop.Operator) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if !ReadJSON(w, r, &req) {
		return
	}
	reason, err := screenpop.CheckResolution(req.Reason)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !h.may.ComplaintClosable(op.Extension, id) {
		WriteError(w, http.StatusNotFound, ErrNotYours)
		return
	}
	clientID, err := h.book.CloseComplaint(r.Context(), id, reason, op, h.now())
	if err != nil {
		h.fail(w, "close the complaint", err, "complaint", id, "operator", op.Extension)
		return
	}
	h.refresh(clientID)
	WriteJSON(w, http.StatusOK, map[string]any{"complaint_id": id, "client_id": clientID, "closed": true})
}

func (h *notes) refresh(clientID int64) {
	if h.pops != nil && clientID != 0 {
		h.pops.Refresh(clientID)
	}
}

// fail answers an error from the client base: what the operator can put
// right with its reason, anything else as the daemon's failure, logged.
func (h *notes) fail(w http.ResponseWriter, doing string, err error, attrs ...any) {
	switch {
	case errors.Is(err, screenpop.ErrUnknownClient):
		WriteError(w, http.StatusNotFound, "no such client")
	case errors.Is(err, screenpop.ErrUnknownComplaint):
		WriteError(w, http.StatusNotFound, "no such complaint")
	case errors.Is(err, screenpop.ErrNotLead):
		WriteError(w, http.StatusConflict, "the client is not a lead: their details come from the client base")
	case errors.Is(err, screenpop.ErrComplaintClosed):
		WriteError(w, http.StatusConflict, "the complaint is already closed")
	default:
		h.log.Error(doing, append(attrs, "err", err)...)
		WriteError(w, http.StatusInternalServerError, "could not "+doing+"; try again")
	}
}

// pathID is the {id} of the request's path as a positive number, or
// answers 400 itself.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		WriteError(w, http.StatusBadRequest, "the ID in the path is not a number")
		return 0, false
	}
	return id, true
}
