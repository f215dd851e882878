package screenpop

import "time"

// Status is how a call ended, from the caller's point of view.
type Status string

// The statuses a call can end with.
const (
	// StatusAnswered: an operator took the call.
	StatusAnswered Status = "answered"
	// StatusMissed: phones rang, nobody answered, and the ringing ended
	// without the caller hanging up (ring timeout).
	StatusMissed Status = "missed"
	// StatusAbandoned: the caller hung up while phones rang or while
	// waiting before any phone rang.
	StatusAbandoned Status = "abandoned"
	// StatusBusy: every operator dialled was busy; no phone rang.
	StatusBusy Status = "busy"
	// StatusFailed: no phone could be reached (unavailable, congestion).
	StatusFailed Status = "failed"
)

// Direction says who placed a call.
type Direction string

// The directions of a call.
const (
	// Inbound: a client called the call centre.
	Inbound Direction = "inbound"
	// Outbound: an operator called a client, from their phone or by
	// click-to-dial. Its record holds the client's number in Caller, no
	// DID and no offers; AnsweredBy is the operator who placed it and
	// TalkedTo holds them once the client answered. Its status is
	// answered, missed (the client's phone rang, or the dial timed out),
	// busy or failed (the client's number could not be reached).
	Outbound Direction = "outbound"
)

// Outcome is how one offer (one operator's phone being dialled) ended.
type Outcome string

// The outcomes of an offer.
const (
	OutcomeRinging           Outcome = "ringing" // not over yet
	OutcomeAnswered          Outcome = "answered"
	OutcomeAnsweredElsewhere Outcome = "answered_elsewhere"
	OutcomeNoAnswer          Outcome = "no_answer"
	OutcomeCancelled         Outcome = "cancelled" // the caller hung up
	OutcomeBusy              Outcome = "busy"
	OutcomeFailed            Outcome = "failed"
)

// Offer is one operator's phone being dialled for a call.
type Offer struct {
	Operator string `json:"operator"`
	Channel  string `json:"channel"`
	// DialedAt is when the dial began; RingingAt when the phone started
	// ringing (zero if it never rang); AnsweredAt when it was picked up.
	DialedAt   time.Time  `json:"dialed_at"`
	RingingAt  *time.Time `json:"ringing_at"`
	AnsweredAt *time.Time `json:"answered_at"`
	// EndedAt is when ringing stopped (or, for an answered offer, when the
	// operator's leg hung up).
	EndedAt *time.Time `json:"ended_at"`
	Outcome Outcome    `json:"outcome"`
	// DialStatus is Asterisk's last word on the dial (ANSWER, NOANSWER...).
	DialStatus string `json:"dial_status,omitempty"`
}

// Rang reports whether the operator's phone actually rang.
func (o *Offer) Rang() bool { return o.RingingAt != nil || o.AnsweredAt != nil }

// Call is one call as the call log keeps it: all its legs folded into one
// record. Most fields are written from the client's side of an inbound
// call; an outbound call (an operator calling a client) fills them as
// Outbound says.
type Call struct {
	ID string `json:"call_id"`
	// PBX names the Asterisk box the call was on (asterisk.boxes[].name),
	// "" with the one box of a single-box config. Call IDs are unique only
	// within a box: (PBX, ID) is the call's key.
	PBX       string    `json:"pbx,omitempty"`
	Direction Direction `json:"direction"`
	// Caller is the client's number as Asterisk had it (for an outbound
	// call, the number the operator dialled); CallerE164 its E.164 form,
	// nil when withheld or not a phone number.
	Caller     string  `json:"caller"`
	CallerE164 *string `json:"caller_e164"`
	// CallerName is the caller ID name the carrier sent; LookupName the
	// name screenpop put on the caller ID from its client base (Stasis
	// mode), "" if none.
	CallerName string `json:"caller_name"`
	LookupName string `json:"lookup_name,omitempty"`
	// Withheld: the caller hid their number (no number, an "anonymous"
	// caller ID, or presentation prohibited). Caller is then empty, unless
	// the config keeps prohibited numbers for the company's own use.
	Withheld bool `json:"withheld"`
	// DID is the dialled number: which line (advertising source) was called.
	DID    string `json:"did"`
	Status Status `json:"status"`
	// OfferedTo lists the operators whose phones rang, in order.
	OfferedTo []string `json:"offered_to"`
	// AnsweredBy is the first operator who answered, nil if nobody did;
	// for an outbound call, the operator who placed it, whatever its status.
	AnsweredBy *string `json:"answered_by"`
	// TalkedTo lists every operator the caller was connected to, in order;
	// a transfer adds one.
	TalkedTo []string `json:"talked_to"`
	// RingSeconds runs from the first phone ringing to the answer (or to
	// the end of ringing); WaitSeconds from the call's start to the answer
	// (or to its end); TalkSeconds from the answer to the end.
	RingSeconds float64 `json:"ring_seconds"`
	WaitSeconds float64 `json:"wait_seconds"`
	TalkSeconds float64 `json:"talk_seconds"`
	// HangupCause is the Q.850 cause of the inbound leg's hangup.
	HangupCause     int        `json:"hangup_cause"`
	HangupCauseText string     `json:"hangup_cause_text"`
	StartedAt       time.Time  `json:"started_at"`
	AnsweredAt      *time.Time `json:"answered_at"`
	EndedAt         time.Time  `json:"ended_at"`
	// CloseReason is empty for a call whose end was seen; otherwise it says
	// why the tracker closed it (its end was never seen, or it ended while
	// the ARI connection was down).
	CloseReason string `json:"close_reason,omitempty"`
	// Gaps says which parts of this record the daemon could not see
	// exactly (its view of Asterisk was interrupted while they happened):
	// see Gap. Empty for a record that is exact.
	Gaps   []Gap   `json:"gaps,omitempty"`
	Offers []Offer `json:"offers"`
	// Source and Campaign are what the dialled number advertised when the
	// call started (the source mapping valid then), empty if it was not
	// mapped. The store sets them as it saves the call; a later change of
	// the mapping does not rewrite them.
	Source   string `json:"source"`
	Campaign string `json:"campaign"`
	// CallerKind says who called (for an outbound call, who was called):
	// see CallerKind. The tracker sets withheld and internal; the store
	// decides the others from the client base and the call log as they
	// were when the call started.
	CallerKind CallerKind `json:"caller_kind"`
	// Classification says, for the admin page, which rule decided the
	// DID, each operator and the status. It is not stored.
	Classification []string `json:"classification,omitempty"`
}

// Gap names a part of a call record that the daemon did not see happen
// and so cannot state exactly. The record keeps what Asterisk could still
// tell (a channel's creation time, bridge membership) and says what is an
// estimate; analysts filter on it, and averages leave such durations out.
type Gap string

// The parts of a record that can be uncertain.
const (
	// GapStart: the call began while the daemon was not watching; its
	// start is the inbound channel's creation time, but what happened
	// before the daemon saw it is unknown.
	GapStart Gap = "start"
	// GapOffers: phones may have rung unseen; OfferedTo and Offers may
	// miss some.
	GapOffers Gap = "offers"
	// GapAnswer: the call was answered unseen; AnsweredAt (and so wait,
	// ring and talk) are estimates.
	GapAnswer Gap = "answer"
	// GapEnd: the end was not seen; EndedAt (and so talk) is an estimate,
	// and CloseReason says why.
	GapEnd Gap = "end"
	// GapCaller: the caller ID was not seen before the call ended unseen
	// (the events that carried it were lost): Caller, CallerE164,
	// Withheld and CallerName may be wrong.
	GapCaller Gap = "caller"
)

// AllGaps lists the gaps in the order a record gives them.
var AllGaps = []Gap{GapStart, GapCaller, GapOffers, GapAnswer, GapEnd}

// Uncertain reports whether the record has gap g.
func (c *Call) Uncertain(g Gap) bool {
	for _, x := range c.Gaps {
		if x == g {
			return true
		}
	}
	return false
}

// CallerKind says who a caller is to the dealership.
type CallerKind string

// The kinds of caller.
const (
	// KindClient: the number is on a client of the base (not a lead).
	KindClient CallerKind = "client"
	// KindLead: a potential client: the number is on a lead, or it called
	// before without being on a client.
	KindLead CallerKind = "lead"
	// KindNew: the number never called before and is on no client.
	KindNew CallerKind = "new"
	// KindWithheld: the caller withheld their number.
	KindWithheld CallerKind = "withheld"
	// KindInternal: a call from an internal extension, or to a number
	// that is an employee's direct line rather than an advertised one.
	KindInternal CallerKind = "internal"
)

// CallerKinds lists the kinds of caller.
var CallerKinds = []CallerKind{KindClient, KindLead, KindNew, KindWithheld, KindInternal}

// CallLog receives every finished call. Record is called by call tracking,
// one call at a time (from the tracker's goroutine, or from its saver's
// when it keeps its state: Tracker.KeepState), and must not block on a
// database: implementations queue.
type CallLog interface {
	Record(Call)
}

func seconds(from, to time.Time) float64 {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return 0
	}
	// Millisecond precision: Asterisk's timestamps carry no more.
	return float64(to.Sub(from).Milliseconds()) / 1000
}
