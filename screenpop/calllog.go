package screenpop

import "time"

// The call log as analysts read it (the calls command, GET /api/calls):
// one filter for the store, which lists, and the web, which parses it.

// CallFilter says which calls to list. Its zero value lists every call;
// each field set narrows the listing.
type CallFilter struct {
	// From and To bound started_at: From included, To not. Zero: no bound.
	From, To time.Time
	// Direction is inbound or outbound; "" lists both.
	Direction Direction
	// Statuses and Kinds list the statuses and caller kinds wanted; empty:
	// any.
	Statuses []Status
	Kinds    []CallerKind
	// Source and Campaign are matched exactly as the calls were logged
	// with them.
	Source, Campaign string
	// Operator is an extension: the calls for which their phone was
	// dialled, on which they talked (a transfer to them too), or which
	// they placed.
	Operator string
	// Caller is a number in any form (89161234567, +7 916 123-45-67): it
	// matches the calls with its E.164 form, in or out. One with no E.164
	// form (an extension, "anonymous") matches the caller as logged.
	Caller string
	// AfterStartedAt and AfterID continue a listing after the call that
	// started then with that ID: the last one of the previous page. Calls
	// logged since do not shift the pages, nor repeat or skip a call.
	AfterStartedAt time.Time
	AfterID        string
	// AfterPBX is that call's box: two boxes' calls may share an ID and a
	// start.
	AfterPBX string
	// PBX lists only the calls of that box ("" the one box of a single-box
	// setup); nil: every box.
	PBX *string
	// Uncertain lists only the records with a gap (Call.Gaps); Gaps only
	// those with one of these gaps. Neither: exact and uncertain alike.
	Uncertain bool
	Gaps      []Gap
	// Limit is the most calls to list; 0 lists them all.
	Limit int
	// Offers reads each call's offers too; otherwise Offers is empty.
	Offers bool
}
