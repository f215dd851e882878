package screenpop

import (
	"slices"
	"time"
)

// Segment is where a client stands with the dealership.
type Segment string

// The segments.
const (
	// SegmentPotential: never bought or serviced anything.
	SegmentPotential Segment = "potential"
	// SegmentReal: a customer.
	SegmentReal Segment = "real"
	// SegmentRegular: more visits in the last year than CardRules.RegularVisits.
	SegmentRegular Segment = "regular"
	// SegmentLost: no visit for CardRules.LostAfter.
	SegmentLost Segment = "lost"
)

// Alert kinds: what needs the operator's attention.
const (
	AlertOpenComplaint   = "open_complaint"
	AlertWarrantyEnding  = "warranty_ending"
	AlertInsuranceEnding = "insurance_ending"
	AlertServiceDue      = "service_due"
	AlertLostClient      = "lost_client"
	AlertConflict        = "conflict"
	AlertLowSatisfaction = "low_satisfaction"
)

// Alert is one thing that needs attention on a call with the client.
type Alert struct {
	Kind string `json:"kind"`
	// Car is the plate of the car it is about, if any.
	Car string `json:"car,omitempty"`
	// Date is when the warranty or insurance ends or the service is due.
	Date *time.Time `json:"date,omitempty"`
	// Level is the conflict level or the satisfaction score.
	Level float64 `json:"level,omitempty"`
}

// CardRules are the dealership's thresholds for segments and alerts.
type CardRules struct {
	// RegularVisits: a client with more visits than this in the last year
	// is regular.
	RegularVisits int
	// LostAfter: a client with no visit for this long is lost.
	LostAfter time.Duration
	// Horizon: warranties and insurances ending, and services due, within
	// this long raise an alert.
	Horizon time.Duration
	// ConflictLevel at or above which the client is flagged.
	ConflictLevel int
	// LowCSI: a satisfaction score below this is flagged.
	LowCSI float64
}

// DefaultCardRules are sensible rules for a dealership.
var DefaultCardRules = CardRules{
	RegularVisits: 2,
	LostAfter:     365 * 24 * time.Hour,
	Horizon:       30 * 24 * time.Hour,
	ConflictLevel: 2,
	LowCSI:        7,
}

// Card is what an operator sees about the caller of one call.
type Card struct {
	// Lookup is where the lookup stands: pending (looking up), found,
	// unknown (no client has the number), withheld (no lookup), failed
	// (the directory did not answer; the pop goes out without it).
	Lookup  string       `json:"lookup"`
	Caller  string       `json:"caller"`
	E164    string       `json:"caller_e164,omitempty"`
	Clients []ClientCard `json:"clients"`
}

// Card lookup states.
const (
	LookupPending  = "pending"
	LookupFound    = "found"
	LookupUnknown  = "unknown"
	LookupWithheld = "withheld"
	LookupFailed   = "failed"
)

// ClientCard is one client on a card.
type ClientCard struct {
	ClientRecord
	Greeting string  `json:"greeting"`
	FullName string  `json:"full_name"`
	Segment  Segment `json:"segment"`
	Alerts   []Alert `json:"alerts"`
}

// NewClientCard works out the client's segment and alerts as of now.
func (r CardRules) NewClientCard(rec ClientRecord, now time.Time) ClientCard {
	c := ClientCard{ClientRecord: rec, Greeting: rec.Greeting(), FullName: rec.FullName(), Alerts: []Alert{}}
	if c.Cars == nil {
		c.Cars = []Car{}
	}
	if c.OpenComplaintList == nil {
		c.OpenComplaintList = []Complaint{}
	}
	switch {
	case rec.Visits == 0 && rec.LastVisit == nil:
		c.Segment = SegmentPotential
	case rec.LastVisit == nil:
		// Visits counted by a client base export with no date: a
		// customer, not known to be lost.
		c.Segment = SegmentReal
	case now.Sub(rec.LastVisit.Date) > r.LostAfter:
		c.Segment = SegmentLost
	case rec.VisitsLastYear > r.RegularVisits:
		c.Segment = SegmentRegular
	default:
		c.Segment = SegmentReal
	}
	if rec.OpenComplaints > 0 {
		c.Alerts = append(c.Alerts, Alert{Kind: AlertOpenComplaint, Level: float64(rec.OpenComplaints)})
	}
	if rec.ConflictLevel >= r.ConflictLevel && r.ConflictLevel > 0 {
		c.Alerts = append(c.Alerts, Alert{Kind: AlertConflict, Level: float64(rec.ConflictLevel)})
	}
	if rec.CSI != nil && *rec.CSI < r.LowCSI {
		c.Alerts = append(c.Alerts, Alert{Kind: AlertLowSatisfaction, Level: *rec.CSI})
	}
	horizon := now.Add(r.Horizon)
	for _, car := range rec.Cars {
		if d := car.WarrantyEnd; d != nil && !d.Before(StartOfDay(now)) && !d.After(horizon) {
			c.Alerts = append(c.Alerts, Alert{Kind: AlertWarrantyEnding, Car: car.Plate, Date: d})
		}
		if d := car.InsuranceEnd; d != nil && !d.Before(StartOfDay(now)) && !d.After(horizon) {
			c.Alerts = append(c.Alerts, Alert{Kind: AlertInsuranceEnding, Car: car.Plate, Date: d})
		}
		// Overdue services are due too.
		if d := car.NextServiceDue; d != nil && !d.After(horizon) {
			c.Alerts = append(c.Alerts, Alert{Kind: AlertServiceDue, Car: car.Plate, Date: d})
		}
	}
	if c.Segment == SegmentLost {
		c.Alerts = append(c.Alerts, Alert{Kind: AlertLostClient})
	}
	return c
}

// NewCard builds the card for a caller from the directory's answer.
func (r CardRules) NewCard(n Number, recs []ClientRecord, now time.Time) Card {
	card := Card{Caller: n.Raw, E164: n.E164, Clients: []ClientCard{}}
	switch {
	case n.Withheld || n.E164 == "":
		card.Lookup = LookupWithheld
		if !n.Withheld {
			card.Lookup = LookupUnknown
		}
		return card
	case len(recs) == 0:
		card.Lookup = LookupUnknown
		return card
	}
	card.Lookup = LookupFound
	for _, rec := range recs {
		card.Clients = append(card.Clients, r.NewClientCard(rec, now))
	}
	// The client the dealership knows best first: the operator picks.
	slices.SortStableFunc(card.Clients, func(a, b ClientCard) int { return b.Visits - a.Visits })
	return card
}

// NewLeadCard is the card of an unknown caller whose number has just been
// made a lead: the lookup still says unknown (nobody knew the number), and
// the card carries the lead for the operator to fill in.
func (r CardRules) NewLeadCard(n Number, lead ClientRecord, now time.Time) Card {
	card := r.NewCard(n, nil, now)
	card.Clients = []ClientCard{r.NewClientCard(lead, now)}
	return card
}
