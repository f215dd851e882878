package screenpop

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Outcomes of an operator's action that are theirs to put right, not the
// daemon's failures: the operators' API answers them 404 or 409.
var (
	ErrUnknownClient    = errors.New("no such client")
	ErrUnknownComplaint = errors.New("no such complaint")
	ErrNotLead          = errors.New("the client is not a lead")
	ErrComplaintClosed  = errors.New("the complaint is already closed")
)

// Note is what an operator writes about a call: why the client called, and
// a note. With a client, it becomes the client's last contact, and a
// complaint purpose opens a complaint on them.
type Note struct {
	CallID string `json:"call_id"`
	// PBX is the box of the call (Call.PBX): "" with one box.
	PBX string `json:"pbx,omitempty"`
	// ClientID is the client the call was with; 0 for none (a withheld
	// caller).
	ClientID int64     `json:"client_id,omitempty"`
	Purpose  string    `json:"purpose"`
	Text     string    `json:"note"`
	Operator Operator  `json:"operator"` // who wrote it
	At       time.Time `json:"noted_at"`
	// Summary is the contact's summary in the client's history: the
	// purpose's label and the note.
	Summary string `json:"summary"`
	// OpensComplaint: the purpose is the complaint purpose.
	OpensComplaint bool `json:"-"`
	// ComplaintID is the complaint the note opened, if any.
	ComplaintID int64 `json:"complaint_id,omitempty"`
}

// Limits on what an operator types.
const (
	maxNote      = 2000 // characters
	maxName      = 100
	maxCarField  = 60
	maxResolving = 1000
)

// Purposes are the call purposes operators choose from (calls.purposes),
// and the one among them that opens a complaint (calls.complaint_purpose;
// empty for none).
type Purposes struct {
	List      []string `json:"purposes"`
	Complaint string   `json:"complaint_purpose"`
}

// purposeLabels name the default purposes as the client's history says
// them; the dealership works in Russian. Other purposes are their own label.
var purposeLabels = map[string]string{
	"service_booking": "Запись на сервис",
	"sales":           "Покупка автомобиля",
	"parts":           "Запчасти",
	"complaint":       "Жалоба",
	"other":           "Другое",
}

// PurposeLabel is how the client's history names a purpose.
func PurposeLabel(purpose string) string {
	if l, ok := purposeLabels[purpose]; ok {
		return l
	}
	return purpose
}

// NewNote checks what an operator sent about a call and makes the note:
// the purpose must be one of ps, the note not too long, and a complaint
// must be about a client. The error says what to correct.
func (ps Purposes) NewNote(callID string, clientID int64, purpose, text string, op Operator, at time.Time) (Note, error) {
	text = strings.TrimSpace(text)
	var errs []error
	if callID == "" || len(callID) > 200 {
		errs = append(errs, errors.New("the call ID is empty or too long"))
	}
	if !slices.Contains(ps.List, purpose) {
		errs = append(errs, fmt.Errorf("purpose %q is not one of %s", purpose, strings.Join(ps.List, ", ")))
	}
	if n := utf8.RuneCountInString(text); n > maxNote {
		errs = append(errs, fmt.Errorf("the note has %d characters; at most %d fit", n, maxNote))
	}
	if clientID < 0 {
		errs = append(errs, fmt.Errorf("client %d is not a client ID", clientID))
	}
	complaint := ps.Complaint != "" && purpose == ps.Complaint
	if complaint && clientID == 0 {
		errs = append(errs, errors.New("a complaint needs the client it is about"))
	}
	if err := errors.Join(errs...); err != nil {
		return Note{}, err
	}
	summary := PurposeLabel(purpose)
	if text != "" {
		summary += ": " + text
	}
	return Note{
		CallID: callID, ClientID: clientID, Purpose: purpose, Text: text, Operator: op, At: at,
		Summary: summary, OpensComplaint: complaint,
	}, nil
}

// LeadUpdate is what an operator learnt of a lead on a call: their name,
// and the car they called about.
type LeadUpdate struct {
	LastName   string `json:"last_name"`
	FirstName  string `json:"first_name"`
	Patronymic string `json:"patronymic"`
	// Car, if any, is added to the lead's cars; a car with the same plate
	// is updated instead.
	Car *Car `json:"car,omitempty"`
}

// Check tidies what the operator typed (spaces around, the plate in
// capitals) and says what is wrong with it, if anything.
func (u LeadUpdate) Check() (LeadUpdate, error) {
	u.LastName, u.FirstName, u.Patronymic = strings.TrimSpace(u.LastName), strings.TrimSpace(u.FirstName), strings.TrimSpace(u.Patronymic)
	var errs []error
	for _, f := range []struct{ name, v string }{{"last name", u.LastName}, {"first name", u.FirstName}, {"patronymic", u.Patronymic}} {
		if utf8.RuneCountInString(f.v) > maxName {
			errs = append(errs, fmt.Errorf("the %s is longer than %d characters", f.name, maxName))
		}
	}
	if u.Car != nil {
		car := Car{Make: strings.TrimSpace(u.Car.Make), Model: strings.TrimSpace(u.Car.Model),
			Plate: strings.ToUpper(strings.Join(strings.Fields(u.Car.Plate), ""))}
		for _, f := range []struct{ name, v string }{{"make", car.Make}, {"model", car.Model}, {"plate", car.Plate}} {
			if utf8.RuneCountInString(f.v) > maxCarField {
				errs = append(errs, fmt.Errorf("the car's %s is longer than %d characters", f.name, maxCarField))
			}
		}
		u.Car = &car
		if car.Make == "" && car.Model == "" && car.Plate == "" {
			u.Car = nil
		}
	}
	if u.LastName == "" && u.FirstName == "" && u.Patronymic == "" && u.Car == nil {
		errs = append(errs, errors.New("type the client's name or their car"))
	}
	return u, errors.Join(errs...)
}

// CheckResolution tidies how a complaint was resolved and says what is
// wrong with it, if anything: closing a complaint takes a reason.
func CheckResolution(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch n := utf8.RuneCountInString(reason); {
	case n == 0:
		return "", errors.New("say how the complaint was resolved")
	case n > maxResolving:
		return "", fmt.Errorf("the reason has %d characters; at most %d fit", n, maxResolving)
	}
	return reason, nil
}
