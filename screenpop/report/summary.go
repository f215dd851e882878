package report

// The reports answer an analyst's question: which advertising brings
// calls, and how many of them do we lose. They count inbound calls only
// (an operator's call out is nobody's advertising), by the source their
// number had when they started (calls.source, "" when it had none), by
// local day and hour of day.
//
// Each store aggregates in SQL, by local hour: the daemon's zone is not
// the database's, and a zone can be half an hour off UTC or change its
// offset mid-range, so Go computes the instants each local hour starts
// (a grid) and the SQL puts every call in its hour by those instants. Go
// then folds the hours into days, hours of day and sources. The 90th
// percentile of the wait cannot be folded from counts, so the hours come
// with the answered calls' waits, for Go to sort by day.

// Counts is how the inbound calls of a slice of the report (a day, a
// source, an hour of day) ended.
type Counts struct {
	Total     int `json:"total"`
	Answered  int `json:"answered"`
	Missed    int `json:"missed"`
	Abandoned int `json:"abandoned"`
	Busy      int `json:"busy"`
	Failed    int `json:"failed"`
	// Lost are the calls nobody answered (missed, abandoned, busy or
	// failed); LostRate their share of Total, 0 with no calls.
	Lost     int     `json:"lost"`
	LostRate float64 `json:"lost_rate"`
	// NewCallers are the calls of numbers that had never called and were
	// on no client (caller kind new): people the advertising reached.
	NewCallers int `json:"new_callers"`
}

// Wait is how long answered callers waited for an operator (a call's
// wait_seconds: from its start to the answer).
type Wait struct {
	// Answered is how many calls it is measured over.
	Answered   int     `json:"answered"`
	AvgSeconds float64 `json:"avg_seconds"`
	// P90Seconds: nine callers in ten waited this long or less.
	P90Seconds float64 `json:"p90_seconds"`
}

// Shares are the outcomes' shares of all the calls, 0 to 1.
type Shares struct {
	Answered  float64 `json:"answered"`
	Missed    float64 `json:"missed"`
	Abandoned float64 `json:"abandoned"`
	Busy      float64 `json:"busy"`
	Failed    float64 `json:"failed"`
}

// Day is one local day of the report. A day without answered calls has
// a Wait of zeros with Answered 0: nobody waited, which the page and the
// CSV show as empty, not as 0 s.
type Day struct {
	Date string `json:"date"` // 2006-01-02
	Counts
	Wait         Wait         `json:"wait"`
	ServiceLevel ServiceLevel `json:"service_level"`
}

// Hour is one hour of the day (0 to 23, local) over all the report's days.
type Hour struct {
	Hour int `json:"hour"`
	Counts
}

// SourceSummary is one source's calls.
type SourceSummary struct {
	// Source is the advertising source; "" for calls to numbers that had
	// none.
	Source string `json:"source"`
	Counts
	Wait         Wait         `json:"wait"`
	ServiceLevel ServiceLevel `json:"service_level"`
	Callers      Callers      `json:"callers"`
	Callbacks    Callbacks    `json:"callbacks"`
	// Purposes are what the operators noted the source's calls were
	// about, most first.
	Purposes []PurposeCount `json:"purposes"`
	// Days has one entry per day of the report, in Summary.Days' order.
	Days []Counts `json:"days"`
}

// OperatorSummary is how an operator took the inbound calls that dialled
// their phone.
type OperatorSummary struct {
	Operator string `json:"operator"` // the extension
	Name     string `json:"name"`     // "" if no operator has the extension now
	// Offered is how often their phone rang; Answered how often they
	// answered; NoAnswer how often it rang out unanswered. A call that
	// rang them twice (a queue trying them again) counts twice, as a
	// queue's statistics count it.
	Offered  int `json:"offered"`
	Answered int `json:"answered"`
	NoAnswer int `json:"no_answer"`
	// Calls counts the calls that rang their phone, each once however
	// often it rang; CallsAnswered those they answered; TakenByColleague
	// those a colleague answered while every ring of theirs was still
	// ringing (a ring-all queue: nobody missed anything); MissedCalls the
	// rest: it rang out on them, or the caller gave up while it rang.
	Calls            int `json:"calls"`
	CallsAnswered    int `json:"calls_answered"`
	TakenByColleague int `json:"taken_by_colleague"`
	MissedCalls      int `json:"missed_calls"`
	// AnswerRate is CallsAnswered / (CallsAnswered + MissedCalls): of the
	// calls they could have taken, the share they took. 0 with none.
	AnswerRate float64 `json:"answer_rate"`
	// RingAvgSeconds is how long their phone rang before they answered;
	// TalkAvgSeconds how long they talked (their own leg: a transfer ends
	// it). Both over the calls they answered.
	RingAvgSeconds float64 `json:"ring_avg_seconds"`
	TalkAvgSeconds float64 `json:"talk_avg_seconds"`
}

// Summary is the reports' view of the inbound calls of a range of days.
type Summary struct {
	// From and To are the first and last day (To included), 2006-01-02,
	// in the daemon's zone; UTCOffset is that zone's offset at From's
	// start (+03:00).
	From      string `json:"from"`
	To        string `json:"to"`
	UTCOffset string `json:"utc_offset"`
	Totals    Counts `json:"totals"`
	Shares    Shares `json:"shares"`
	Wait      Wait   `json:"wait"`
	// Days has every day of the range, calls or not; Hours the 24 hours
	// of the day.
	Days  []Day  `json:"days"`
	Hours []Hour `json:"hours"`
	// Sources are the sources that had calls, most calls first.
	Sources []SourceSummary `json:"sources"`
	// Operators are those whose phones the calls dialled, most offered
	// first.
	Operators []OperatorSummary `json:"operators"`

	ServiceLevel ServiceLevel `json:"service_level"`
	// Callers are the distinct numbers that called; Callbacks how the
	// missed ones were called back; Purposes what the calls were about.
	Callers   Callers        `json:"callers"`
	Callbacks Callbacks      `json:"callbacks"`
	Purposes  []PurposeCount `json:"purposes"`
	// Previous is the same figures over the days of the same number just
	// before From (a week against the week before).
	Previous Period `json:"previous"`
}

// MaxDays bounds a summary's range: a year and a day (a leap year,
// plus the day a range of "the last year" may start on).
const MaxDays = 367

// Period is s's headline figures, as the next range's Previous.
func (s Summary) Period() Period {
	return Period{From: s.From, To: s.To, Totals: s.Totals, Wait: s.Wait, ServiceLevel: s.ServiceLevel,
		Callers: s.Callers, Callbacks: s.Callbacks, Purposes: s.Purposes}
}
