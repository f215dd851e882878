package screenpop

import "errors"

// ErrNotFound is wrapped by the error a store returns when what was asked
// for does not exist: a token nobody holds, an unknown call. Any other
// error means the store could not say (it is down or slow): a key it
// could not check is not an unknown key, and a page keeps it.
var ErrNotFound = errors.New("not found")

// Role is what a staff token may do besides an operator's page.
type Role string

// The staff roles. An admin may do everything the others may.
const (
	// RoleAnalyst reads the whole call log, its exports and reports.
	RoleAnalyst Role = "analyst"
	// RoleAdmin also sees the daemon's diagnostics.
	RoleAdmin Role = "admin"
	// RoleSupervisor watches the call centre live: the wallboard.
	RoleSupervisor Role = "supervisor"
)

// Roles lists the staff roles.
var Roles = []Role{RoleAnalyst, RoleAdmin, RoleSupervisor}

// Allows reports whether a token of role r may use what needs role need.
func (r Role) Allows(need Role) bool {
	return r == need || r == RoleAdmin
}

// Staff is the holder of a staff (API) token: an analyst, their tool (a
// spreadsheet, Metabase), an admin. Operators' tokens are not staff
// tokens: they open the pop page and the operators' API only.
type Staff struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
}
