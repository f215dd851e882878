package web

import (
	"context"
	"net/http"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// The admin page (/admin) shows what the daemon sees: the ARI connection
// and its recent errors, the last events received, the calls under way,
// and for the last calls recorded how each was classified. It reads
// GET /api/admin/status with a staff token of the admin role.

// AdminStatus is what GET /api/admin/status answers.
type AdminStatus struct {
	At  time.Time `json:"at"`
	ARI ARIStatus `json:"ari"`
	// Events are the last ARI events received, newest first.
	Events []AdminEvent `json:"events"`
	// OpenCalls are the calls under way, oldest first (at most a few
	// hundred); OpenCount is how many there are.
	OpenCalls []screenpop.OpenCall `json:"open_calls"`
	OpenCount int                  `json:"open_count"`
	// RecentCalls are the last calls recorded, newest first, each with
	// its classification.
	RecentCalls []screenpop.Call `json:"recent_calls"`
	// Unseen are the last periods the daemon did not see a box's events,
	// newest first.
	Unseen []UnseenJSON `json:"unseen"`
	// Problems says what could not be read (call tracking not answering).
	Problems []string `json:"problems"`
	// Cluster is the cluster as this replica sees it; nil for a single
	// daemon.
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// ClusterStatus is the clustered mode's part of the admin page: the
// replicas alive (from their heartbeats) and who holds each box.
type ClusterStatus struct {
	// Replica is the one that answered.
	Replica  string           `json:"replica"`
	Replicas []ClusterReplica `json:"replicas"`
	Leases   []ClusterLease   `json:"leases"`
}

// ClusterReplica is one replica as its last heartbeat says.
type ClusterReplica struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	// Boxes it holds, as "pbx (epoch N)".
	Boxes []string `json:"boxes"`
	// Lag: messages of the box's log its call tracking has yet to read.
	Lag       uint64    `json:"lag"`
	Takeovers uint64    `json:"takeovers"`
	Sockets   int       `json:"sockets"`
	Started   time.Time `json:"started"`
	Seen      time.Time `json:"seen"`
}

// ClusterLease is who holds a box.
type ClusterLease struct {
	PBX    string    `json:"pbx"`
	Holder string    `json:"holder"`
	Epoch  uint64    `json:"epoch"`
	Since  time.Time `json:"since"`
}

// ARIStatus is the state of the connection to Asterisk.
type ARIStatus struct {
	URL          string `json:"url"`
	App          string `json:"app"`
	SubscribeAll bool   `json:"subscribe_all"`
	Connected    bool   `json:"connected"`
	// Replaced: another client took over the application name.
	Replaced bool `json:"replaced"`
	// Since is when the connection came up, or since when it has been
	// down; nil before the first attempt.
	Since      *time.Time `json:"since"`
	Reconnects int        `json:"reconnects"`
	// Failures are the attempts that failed since the last connection.
	Failures int `json:"failures"`
	// Errors are the recent errors, newest first.
	Errors []ARIError `json:"errors"`
}

// ARIError is one error of the ARI connection; the same error again is
// counted, not repeated.
type ARIError struct {
	Kind  string    `json:"kind"`
	Text  string    `json:"text"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	Count int       `json:"count"`
}

// AdminEvent is one ARI event received.
type AdminEvent struct {
	At      time.Time `json:"at"`
	Type    string    `json:"type"`
	Channel string    `json:"channel"`
	Peer    string    `json:"peer,omitempty"`
	// Detail is a Dial's status, the state a channel changed to, or why
	// it was destroyed.
	Detail string `json:"detail,omitempty"`
	// Result is what became of it: used, skipped, unknown, malformed or
	// dropped.
	Result string `json:"result"`
}

// AdminStatusHandler answers GET /api/admin/status with what status
// gives. Mount it behind RequireStaff with the admin role.
func AdminStatusHandler(status func(ctx context.Context) AdminStatus) StaffHandler {
	return func(w http.ResponseWriter, r *http.Request, _ screenpop.Staff) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		s := status(ctx)
		// Empty lists, not null: the page iterates them.
		if s.Events == nil {
			s.Events = []AdminEvent{}
		}
		if s.OpenCalls == nil {
			s.OpenCalls = []screenpop.OpenCall{}
		}
		if s.RecentCalls == nil {
			s.RecentCalls = []screenpop.Call{}
		}
		if s.Unseen == nil {
			s.Unseen = []UnseenJSON{}
		}
		if s.ARI.Errors == nil {
			s.ARI.Errors = []ARIError{}
		}
		if s.Problems == nil {
			s.Problems = []string{}
		}
		w.Header().Set("Cache-Control", "no-store")
		WriteJSON(w, http.StatusOK, s)
	}
}

// AdminPage serves the admin page itself; it asks for the token and
// reads the API.
func AdminPage() http.Handler { return staticPage("admin.html") }
