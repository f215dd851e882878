package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// What the operator's page shows besides the pops: the calls of their
// shift, which a reload must not lose, and the names behind extensions and
// dialled numbers (colleagues, the sources lines advertise).

// Shift bounds the session list a page gets back on a reload: the
// operator's calls of the last ShiftHours, at most ShiftCalls of them.
const (
	ShiftHours = 12
	ShiftCalls = 500
	// maxLineLookups bounds the numbers one directory request may ask about.
	maxLineLookups = 100
	// shiftLookups bounds the callers a shift listing names, and
	// shiftLookupTime the time it spends on it: a reload must be quick.
	shiftLookups    = 100
	shiftLookupTime = 2 * time.Second
)

// Directory names what the operator's page shows as numbers: the
// operators, the sources.
type Directory interface {
	Operators(ctx context.Context) ([]screenpop.Operator, error)
	Sources(ctx context.Context) ([]screenpop.Source, error)
}

// ShiftCall is a call of the operator's shift as the page's session list
// shows it: as the page's pops name them, plus the line's source.
type ShiftCall struct {
	ID string `json:"call_id"`
	// PBX is the call's box, left out with one box (as PopCall's).
	PBX      string `json:"pbx,omitempty"`
	Caller   string `json:"caller"`
	Withheld bool   `json:"withheld"`
	DID      string `json:"did"`
	Source   string `json:"source"`
	// Client is the full name of the (first) client with the caller's
	// number, as the pop showed it; "" for an unknown or withheld caller,
	// and for callers past the first shiftLookups, or when the client
	// base did not answer in time (then the response's clients_incomplete
	// is true).
	Client     string              `json:"client"`
	Direction  screenpop.Direction `json:"direction"`
	State      string              `json:"state"`
	Status     screenpop.Status    `json:"status"`
	AnsweredBy string              `json:"answered_by,omitempty"`
	StartedAt  time.Time           `json:"started_at"`
}

// ShiftRoutes are the operators' API for what a page must get back after
// a reload:
//
//	GET /api/shift                  my calls of the last ShiftHours, newest first
//	GET /api/directory?did=N&did=M  {operators: {ext: name}, lines: {N: source}}
func ShiftRoutes(calls CallLog, dir Directory, clients screenpop.Directory, region string, log *slog.Logger) []Route {
	h := &shift{calls: calls, dir: dir, clients: clients, region: region, log: log, now: time.Now}
	return []Route{
		{"GET /api/shift", h.list},
		{"GET /api/directory", h.directory},
	}
}

type shift struct {
	calls   CallLog
	dir     Directory
	clients screenpop.Directory
	region  string
	log     *slog.Logger
	now     func() time.Time
}

func (h *shift) list(w http.ResponseWriter, r *http.Request, op screenpop.Operator) {
	f := screenpop.CallFilter{From: h.now().Add(-ShiftHours * time.Hour), Operator: op.Extension, Limit: ShiftCalls}
	out := []ShiftCall{}
	var numbers []string // each row's caller in E.164, "" if none
	err := h.calls.Calls(r.Context(), f, func(c screenpop.Call) error {
		e164 := ""
		if c.CallerE164 != nil && !c.Withheld {
			e164 = *c.CallerE164
		}
		numbers = append(numbers, e164)
		sc := ShiftCall{ID: c.ID, PBX: c.PBX, Caller: c.Caller, Withheld: c.Withheld, DID: c.DID, Source: c.Source, Direction: c.Direction,
			State: screenpop.StateEnded, Status: c.Status, StartedAt: c.StartedAt}
		if c.Withheld {
			sc.Caller = ""
		}
		if c.AnsweredBy != nil {
			sc.AnsweredBy = *c.AnsweredBy
		}
		out = append(out, sc)
		return nil
	})
	if err != nil {
		h.log.Error("list an operator's shift", "operator", op.Extension, "err", err)
		WriteError(w, http.StatusServiceUnavailable, "the call log cannot be read now; try again")
		return
	}
	complete := h.nameClients(r.Context(), out, numbers)
	WriteJSON(w, http.StatusOK, map[string]any{"calls": out, "hours": ShiftHours, "clients_incomplete": !complete})
}

// nameClients sets each call's client from the client base, within the
// lookups' bounds; it reports whether every caller was looked up.
func (h *shift) nameClients(ctx context.Context, out []ShiftCall, numbers []string) bool {
	if h.clients == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, shiftLookupTime)
	defer cancel()
	names := map[string]string{}
	complete := true
	for i, num := range numbers {
		if num == "" {
			continue
		}
		name, done := names[num]
		if !done {
			if len(names) >= shiftLookups {
				complete = false
				continue
			}
			recs, err := h.clients.LookupPhone(ctx, num)
			if err != nil {
				h.log.Warn("name the callers of a shift", "caller", screenpop.MaskNumber(num), "err", err)
				return false
			}
			if len(recs) > 0 {
				name = recs[0].FullName()
			}
			names[num] = name
		}
		out[i].Client = name
	}
	return complete
}

func (h *shift) directory(w http.ResponseWriter, r *http.Request, _ screenpop.Operator) {
	dids := r.URL.Query()["did"]
	if len(dids) > maxLineLookups {
		WriteError(w, http.StatusBadRequest, "ask about at most 100 numbers at once")
		return
	}
	ops, err := h.dir.Operators(r.Context())
	if err != nil {
		h.log.Error("list the operators for a page", "err", err)
		WriteError(w, http.StatusServiceUnavailable, "the operators cannot be read now; try again")
		return
	}
	srcs, err := h.dir.Sources(r.Context())
	if err != nil {
		h.log.Error("list the sources for a page", "err", err)
		WriteError(w, http.StatusServiceUnavailable, "the sources cannot be read now; try again")
		return
	}
	names := make(map[string]string, len(ops))
	for _, op := range ops {
		names[op.Extension] = op.Name
	}
	lines := map[string]string{}
	now := h.now()
	for _, did := range dids {
		if name := screenpop.SourceName(srcs, did, now, h.region); name != "" {
			lines[did] = name
		}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"operators": names, "lines": lines})
}
