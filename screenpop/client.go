package screenpop

import (
	"context"
	"strings"
	"time"
)

// Client is a customer of the dealership as the client base holds it.
type Client struct {
	ID         int64  `json:"client_id"`
	LastName   string `json:"last_name"`
	FirstName  string `json:"first_name"`
	Patronymic string `json:"patronymic"`
	// Phones are E.164 numbers; one number may belong to several clients
	// (a family, a company's drivers).
	Phones []string `json:"phones"`
	Cars   []Car    `json:"cars"`
	// ConflictLevel: 0 none, 1 low, 2 medium, 3 high.
	ConflictLevel int `json:"conflict_level"`
	// CSI is the last satisfaction score, 1-10; nil when never surveyed.
	CSI     *float64  `json:"csi"`
	Manager *Employee `json:"manager"`
	// Lead: created from an unknown caller's number, not yet a customer.
	Lead bool `json:"lead"`
}

// Greeting is how an operator greets the client: first name and
// patronymic, the polite Russian form ("Иван Петрович").
func (c Client) Greeting() string {
	return strings.TrimSpace(c.FirstName + " " + c.Patronymic)
}

// FullName is last, first and patronymic name.
func (c Client) FullName() string {
	return strings.Join(strings.Fields(c.LastName+" "+c.FirstName+" "+c.Patronymic), " ")
}

// Car is a client's car.
type Car struct {
	Make  string `json:"make"`
	Model string `json:"model"`
	Year  int    `json:"year,omitempty"`
	Plate string `json:"plate"`
	VIN   string `json:"vin"`
	// WarrantyEnd, InsuranceEnd and NextServiceDue are dates, nil if unknown.
	WarrantyEnd    *time.Time `json:"warranty_end"`
	InsuranceEnd   *time.Time `json:"insurance_end"`
	NextServiceDue *time.Time `json:"next_service_due"`
}

// Employee is someone at the dealership: an operator, a service adviser,
// a client's manager.
type Employee struct {
	ID        int64  `json:"employee_id"`
	Name      string `json:"name"`
	Extension string `json:"extension,omitempty"`
}

// Visit kinds.
const (
	VisitService  = "service"
	VisitRepair   = "repair"
	VisitWarranty = "warranty"
	VisitBody     = "body"
	VisitSale     = "sale"
)

// Visit is a visit or an order: a service, a repair, a sale.
type Visit struct {
	Date     time.Time `json:"date"`
	Kind     string    `json:"kind"`
	Amount   float64   `json:"amount"` // roubles
	Employee string    `json:"employee"`
}

// Contact is a conversation with the client: a call, a visit, a message.
type Contact struct {
	At       time.Time `json:"at"`
	Channel  string    `json:"channel"` // phone, visit, email, messenger
	Employee string    `json:"employee"`
	Summary  string    `json:"summary"`
}

// ClientRecord is everything the pop shows about one client, as the
// directory returns it in one round trip.
type ClientRecord struct {
	Client
	LastVisit   *Visit   `json:"last_visit"`
	LastContact *Contact `json:"last_contact"`
	// Visits counts visits in all, and within the last year (as of the
	// lookup).
	Visits         int `json:"visits"`
	VisitsLastYear int `json:"visits_last_year"`
	// OpenComplaints counts complaints nobody has closed yet;
	// OpenComplaintList is them, oldest first, for an operator to close.
	OpenComplaints    int         `json:"open_complaints"`
	OpenComplaintList []Complaint `json:"open_complaint_list"`
}

// Directory finds the clients who have a phone number.
type Directory interface {
	// LookupPhone returns every client with the E.164 number, with what
	// the pop shows; none (and no error) for an unknown number.
	LookupPhone(ctx context.Context, e164 string) ([]ClientRecord, error)
}

// Complaint is a client's complaint; open until ClosedAt is set.
type Complaint struct {
	// ID is the store's; a lookup gives it with each open complaint.
	ID       int64      `json:"complaint_id,omitempty"`
	OpenedAt time.Time  `json:"opened_at"`
	ClosedAt *time.Time `json:"closed_at"`
	Summary  string     `json:"summary"`
}

// ClientHistory is a client with their history, as imported or seeded
// into the client base.
type ClientHistory struct {
	Client
	Visits     []Visit
	Contacts   []Contact
	Complaints []Complaint
}

// Operator is someone who answers calls: their extension is their phone,
// and their page shows the calls that ring it.
type Operator struct {
	ID        int64  `json:"operator_id"`
	Name      string `json:"name"`
	Extension string `json:"extension"`
}

// ClientCall is one call with a client, as their call history lists it.
type ClientCall struct {
	CallID string `json:"call_id"`
	PBX    string `json:"pbx,omitempty"` // the call's box: "" with one

	Direction  Direction `json:"direction"`
	Number     string    `json:"number"` // the client's number, E.164
	DID        string    `json:"did"`
	Status     Status    `json:"status"`
	AnsweredBy *string   `json:"answered_by"`
	StartedAt  time.Time `json:"started_at"`
	TalkSecs   float64   `json:"talk_seconds"`
}
