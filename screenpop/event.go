package screenpop

import "time"

// EventKind says what happened to a channel. Only what call tracking needs
// is modelled; the ari package drops the rest before it gets here.
type EventKind uint8

// The kinds of event the tracker understands.
const (
	EventUnknown EventKind = iota
	// EventChannelCreated: a channel appeared.
	EventChannelCreated
	// EventChannelUpdated: a channel's state, caller ID or dialplan location
	// changed; Channel holds the new snapshot.
	EventChannelUpdated
	// EventHangupRequest: someone asked for the channel to hang up.
	EventHangupRequest
	// EventChannelDestroyed: the channel is gone; Cause says why.
	EventChannelDestroyed
	// EventDial: Channel (empty ID when Asterisk originated the call) dials
	// Peer; DialStatus is "" when the dial begins, then RINGING, ANSWER,
	// BUSY, NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL...
	EventDial
	// EventBridgeEntered and EventBridgeLeft: Channel joined or left BridgeID.
	EventBridgeEntered
	EventBridgeLeft
	// EventStasisStart and EventStasisEnd: Channel entered or left our
	// Stasis application, with Args from the dialplan.
	EventStasisStart
	EventStasisEnd
	// EventResync: the ARI connection was (re)established and Channels is
	// every channel Asterisk has right now. Calls whose legs are missing
	// ended while we were not listening.
	EventResync
	// EventVariable: a channel variable call tracking reads was set on
	// Channel: Variable and Value (DIALSTATUS, QUEUESTATUS).
	EventVariable
	// EventTransfer: an operator transferred a call, blind or attended;
	// Transfer says who to whom.
	EventTransfer
	// EventTick: no event came for a while; At is the reader's clock
	// (Asterisk's time of the last event plus the wall time since). It
	// moves the tracker's clock, so that a log of events and ticks is all
	// a tracker needs: two trackers reading one log agree.
	EventTick
)

var eventKindNames = [...]string{
	EventUnknown:          "unknown",
	EventChannelCreated:   "channel_created",
	EventChannelUpdated:   "channel_updated",
	EventHangupRequest:    "hangup_request",
	EventChannelDestroyed: "channel_destroyed",
	EventDial:             "dial",
	EventBridgeEntered:    "bridge_entered",
	EventBridgeLeft:       "bridge_left",
	EventStasisStart:      "stasis_start",
	EventStasisEnd:        "stasis_end",
	EventResync:           "resync",
	EventVariable:         "variable",
	EventTransfer:         "transfer",
	EventTick:             "tick",
}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return "unknown"
}

// Channel is a snapshot of one Asterisk channel (a leg of a call).
type Channel struct {
	ID    string
	Name  string // PJSIP/101-0000002a, Local/101@phones-0000003d;1
	State string // Down, Ring, Ringing, Up, Busy...
	// Context and Exten are where the channel is in the dialplan.
	Context string
	Exten   string
	// CallerNumber and CallerName are the caller ID as Asterisk has it.
	CallerNumber string
	CallerName   string
	// LinkedID is CHANNEL(linkedid) when the admin put it in ari.conf
	// channelvars, else "".
	LinkedID string
	// DID is the dialled-number variable (FROM_DID by default) when it is
	// in channelvars and set, else "".
	DID string
	// Presentation is the caller ID presentation, in CALLERID(pres)'s
	// words (allowed_not_screened, prohib_not_screened...), when Asterisk
	// told it: by a ChannelCallerId event, or the CALLERID(pres) channel
	// variable in ari.conf channelvars. "" when not told.
	Presentation string
	CreatedAt    time.Time
}

// Prohibited reports whether the caller asked for their number to be
// withheld (presentation prohib_*): the number must not be shown.
func (ch Channel) Prohibited() bool { return PresentationProhibited(ch.Presentation) }

// PresentationProhibited reports whether a CALLERID(pres) value withholds
// the number: prohib, prohib_not_screened, prohib_passed_screen,
// prohib_failed_screen; "unavailable" is no number at all.
func PresentationProhibited(pres string) bool {
	return len(pres) >= 6 && pres[:6] == "prohib"
}

// Event is one thing that happened on the PBX, already stripped of ARI.
type Event struct {
	Kind EventKind
	// Type is the ARI event type it came from, for diagnostics.
	Type string
	At   time.Time
	// Channel is the channel the event is about; for EventDial, the caller.
	Channel Channel
	// Peer is the dialled channel of an EventDial.
	Peer       Channel
	DialStatus string
	// DialString is an EventDial's destination as Dial or Queue was given
	// it ("103", "PJSIP/103"), when Asterisk says: on a dial's begin and
	// on the CANCEL a pickup causes, not on most ends.
	DialString string
	// Cause and CauseText are the Q.850 cause of a hangup.
	Cause     int
	CauseText string
	// Soft marks a hangup request made inside Asterisk (ARI, AMI,
	// SoftHangup) rather than by the channel's far end.
	Soft bool
	// Variable and Value are the channel variable of an EventVariable.
	Variable string
	Value    string
	// Transfer is the transfer of an EventTransfer.
	Transfer *Transfer
	BridgeID string
	Args     []string
	// Channels is the full channel list of an EventResync, and Waiting
	// the IDs of the channels waiting in our Stasis app.
	Channels []Channel
	Waiting  []string
	// Bridges are the members (channel IDs) of each bridge Asterisk has at
	// an EventResync, by bridge ID: who is talking to whom, when the Dial
	// that answered was not seen.
	Bridges map[string][]string
	// Heard marks an EventTick made by the events' reader from a pong:
	// Asterisk had sent everything before At (its clock) and all of it
	// was read, and is queued ahead of the tick. Call tracking's own ticks
	// say nothing of that.
	Heard bool `json:",omitempty"`
}

// Transfer is an operator's transfer of a call, as Asterisk reports it
// (BridgeBlindTransfer, BridgeAttendedTransfer).
type Transfer struct {
	// Attended is true for an attended transfer (the operator consulted
	// the target first), false for a blind one.
	Attended bool
	// Transferer is the operator's channel talking to the client (the
	// first leg of an attended transfer).
	Transferer Channel
	// Consult is the operator's second channel, talking to the target
	// (attended only).
	Consult Channel
	// Transferee is the client's channel being transferred, when known.
	Transferee Channel
	// Target is the channel the client is transferred to (attended), when
	// Asterisk names it.
	Target Channel
	// Exten and Context are where a blind transfer sends the client.
	Exten, Context string
	// Result is Asterisk's word on the transfer: Success, Fail, Invalid,
	// Not Permitted.
	Result string
}
