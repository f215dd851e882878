package screenpop

import (
	"errors"
	"fmt"
	"time"
)

// Callback is a client waiting to be called back: one item of the shared
// callback list. A number is on the list from its first missed or
// abandoned inbound call after its last resolution: an outbound call to
// it (by anyone, click-to-dial or not), an inbound call from it that was
// answered, or an operator closing the item by hand. The store computes
// the list from the call log.
type Callback struct {
	// Number is the client's number in E.164.
	Number string `json:"number"`
	// FirstMissedAt and LastMissedAt are when the first and the last
	// missed call of the item started; Attempts counts them.
	FirstMissedAt time.Time `json:"first_missed_at"`
	LastMissedAt  time.Time `json:"last_missed_at"`
	Attempts      int       `json:"attempts"`
	// DID is the line (advertising source) the last attempt dialled.
	DID string `json:"did"`
	// Client is who the client base says has the number (the first of
	// several), nil for an unknown number.
	Client *CallbackClient `json:"client"`
	// Claim is the operator handling the item, nil when nobody is (or
	// their claim lapsed).
	Claim *Claim `json:"claim"`
}

// CallbackClient names the client of a callback.
type CallbackClient struct {
	ID       int64  `json:"client_id"`
	FullName string `json:"full_name"`
	// Others is how many more clients share the number.
	Others int `json:"others"`
}

// Claim is an operator taking a callback, so that no one else calls the
// same client meanwhile.
type Claim struct {
	Operator  string    `json:"operator"` // extension
	Name      string    `json:"name"`     // the operator's name, "" if no longer an operator
	ClaimedAt time.Time `json:"claimed_at"`
}

// ClaimLapse is how long a claim holds: an operator who took a callback
// and did not call within it no longer keeps it from the others.
const ClaimLapse = 15 * time.Minute

// MaxCloseReason bounds the reason an operator gives for closing an item.
const MaxCloseReason = 500

// ErrNoCallback is wrapped by the error a store returns when a number has
// no open item on the callback list.
var ErrNoCallback = errors.New("no open callback for this number")

// ClaimedError is the error a store returns when another operator holds
// a callback's claim.
type ClaimedError struct{ Claim Claim }

func (e *ClaimedError) Error() string {
	who := e.Claim.Operator
	if e.Claim.Name != "" {
		who = fmt.Sprintf("%s (%s)", e.Claim.Name, e.Claim.Operator)
	}
	return fmt.Sprintf("operator %s is already calling this client back (since %s)", who, e.Claim.ClaimedAt.UTC().Format("15:04 UTC"))
}
