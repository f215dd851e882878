package screenpop

import "time"

// NoticeKind says what a Notice reports.
type NoticeKind uint8

// What the tracker tells observers, in the order a call lives it.
const (
	// NoticeStarted: an inbound call appeared and its caller is known
	// (before any phone rings): the moment to start a client lookup.
	NoticeStarted NoticeKind = iota + 1
	// NoticeStasis: the call's channel is waiting in our Stasis app and
	// must be continued.
	NoticeStasis
	// NoticeRinging: an operator's phone started ringing for the call.
	NoticeRinging
	// NoticeAnswered: an operator took the call.
	NoticeAnswered
	// NoticeOfferEnded: an operator's phone stopped ringing without being
	// answered there (Outcome says why).
	NoticeOfferEnded
	// NoticeEnded: the call is over; Call is its record.
	NoticeEnded
	// NoticeCalloutFailed: Asterisk rang an operator's phone for an
	// originate (click-to-dial) and it did not answer: DialStatus or
	// Cause says why. ChannelID is the phone's channel.
	NoticeCalloutFailed
	// NoticeTransferred: Operator transferred the call blind to extension
	// To; whoever answers there takes it over (NoticeAnswered with From).
	NoticeTransferred
)

func (k NoticeKind) String() string {
	switch k {
	case NoticeStarted:
		return "started"
	case NoticeStasis:
		return "stasis"
	case NoticeRinging:
		return "ringing"
	case NoticeAnswered:
		return "answered"
	case NoticeOfferEnded:
		return "offer_ended"
	case NoticeEnded:
		return "ended"
	case NoticeCalloutFailed:
		return "dial_failed"
	case NoticeTransferred:
		return "transferred"
	}
	return "unknown"
}

// Notice is something that happened to a call, for the parts of the daemon
// that act on calls as they happen (the operator hub, the Stasis handler).
type Notice struct {
	Kind   NoticeKind
	At     time.Time
	CallID string
	// PBX is the box the call is on (OnBox sets it): "" with one box.
	PBX    string
	Caller Number
	// CallerName is the caller ID name the carrier sent, if any.
	CallerName string
	DID        string
	// Operator is the operator rung, who answered, or whose ringing ended.
	Operator string
	Outcome  Outcome
	// From is, on NoticeAnswered, the operator the caller was talking to
	// before: the call was transferred from them to Operator. To is where
	// a blind transfer sends the caller (NoticeTransferred).
	From, To string
	// ChannelID is the channel waiting in Stasis (NoticeStasis), or the
	// operator's phone an originate rang (NoticeCalloutFailed).
	ChannelID string
	// DialStatus (BUSY, NOANSWER, CHANUNAVAIL...), or the Q.850 Cause of
	// the phone's hangup, says why an originate failed (NoticeCalloutFailed).
	DialStatus string
	Cause      int
	CauseText  string
	// Call is the finished record (NoticeEnded).
	Call *Call
}

// Key names the notice's call across boxes: CallKey(PBX, CallID).
func (n Notice) Key() string { return CallKey(n.PBX, n.CallID) }

// Observer hears notices. Notice is called on the tracker's goroutine for
// every call, so it must return at once: hand work to a goroutine or a
// buffered channel.
type Observer interface {
	Notice(Notice)
}

// Observers fans notices out to several observers.
type Observers []Observer

// Notice passes n to each observer in turn.
func (os Observers) Notice(n Notice) {
	for _, o := range os {
		o.Notice(n)
	}
}
