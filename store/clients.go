package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// ErrExists is wrapped by the error a write returns when what it would add
// is already there: an operator's extension, an employee's extension held
// by someone else.
var ErrExists = errors.New("already exists")

// Both stores are the client directory the pop looks callers up in.
var (
	_ screenpop.Directory = (*Postgres)(nil)
	_ screenpop.Directory = (*SQLite)(nil)
)

// yearDays is how far back a visit counts as "within the last year" for
// ClientRecord.VisitsLastYear: 365 days, whatever the calendar.
const yearDays = 365 * 24 * time.Hour

// e164Format is what both schemas accept as a stored number: numbers are
// normalised by the caller (screenpop.ParseNumber); the store only refuses
// what plainly is not E.164.
var e164Format = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

var visitKinds = []string{
	screenpop.VisitService, screenpop.VisitRepair, screenpop.VisitWarranty, screenpop.VisitBody, screenpop.VisitSale,
}

// normaliseHistory returns c as both stores keep it, so that Client returns
// what ImportClients was given whichever store holds it (as normalise does
// for calls):
//
//   - times in UTC to the millisecond; dates (a car's warranty_end, ...) at
//     midnight UTC of the date they had in their own zone;
//   - amounts to the kopeck;
//   - lists empty rather than nil; a client's phones each once, in order;
//   - an employee's empty extension as none.
//
// IDs are the store's to give: the client's and manager's are ignored.
// The caller's slices are copied, never changed.
func normaliseHistory(c screenpop.ClientHistory) screenpop.ClientHistory {
	c.ID = 0
	phones := make([]string, 0, len(c.Phones))
	for _, p := range c.Phones {
		if !slices.Contains(phones, p) {
			phones = append(phones, p)
		}
	}
	c.Phones = phones
	cars := make([]screenpop.Car, len(c.Cars))
	for i, car := range c.Cars {
		car.WarrantyEnd = datePtr(car.WarrantyEnd)
		car.InsuranceEnd = datePtr(car.InsuranceEnd)
		car.NextServiceDue = datePtr(car.NextServiceDue)
		cars[i] = car
	}
	c.Cars = cars
	if c.Manager != nil {
		m := *c.Manager
		m.ID = 0
		c.Manager = &m
	}
	if c.CSI != nil {
		v := *c.CSI
		c.CSI = &v
	}
	visits := make([]screenpop.Visit, len(c.Visits))
	for i, v := range c.Visits {
		v.Date = msUTC(v.Date)
		v.Amount = kopecks(v.Amount)
		visits[i] = v
	}
	c.Visits = visits
	contacts := make([]screenpop.Contact, len(c.Contacts))
	for i, ct := range c.Contacts {
		ct.At = msUTC(ct.At)
		contacts[i] = ct
	}
	c.Contacts = contacts
	complaints := make([]screenpop.Complaint, len(c.Complaints))
	for i, cp := range c.Complaints {
		cp.OpenedAt = msUTC(cp.OpenedAt)
		cp.ClosedAt = msUTCPtr(cp.ClosedAt)
		complaints[i] = cp
	}
	c.Complaints = complaints
	return c
}

// checkClient reports what in a (normalised) client the schema would
// refuse, in words an import's author can act on, before any of the batch
// is written.
func checkClient(c screenpop.ClientHistory) error {
	var errs []error
	for _, p := range c.Phones {
		if !e164Format.MatchString(p) {
			errs = append(errs, fmt.Errorf("phone %q is not in E.164 (+79161234567)", p))
		}
	}
	if c.ConflictLevel < 0 || c.ConflictLevel > 3 {
		errs = append(errs, fmt.Errorf("conflict level %d is not 0-3", c.ConflictLevel))
	}
	if c.CSI != nil && (*c.CSI < 1 || *c.CSI > 10 || math.IsNaN(*c.CSI)) {
		errs = append(errs, fmt.Errorf("CSI %v is not 1-10", *c.CSI))
	}
	if c.Manager != nil && c.Manager.Name == "" {
		errs = append(errs, errors.New("the manager has no name"))
	}
	for _, car := range c.Cars {
		if car.Year < 0 || car.Year > math.MaxInt16 {
			errs = append(errs, fmt.Errorf("car %s has year %d", car.Plate, car.Year))
		}
	}
	for _, v := range c.Visits {
		if !slices.Contains(visitKinds, v.Kind) {
			errs = append(errs, fmt.Errorf("visit of %s has kind %q, not one of %v", v.Date.Format(time.DateOnly), v.Kind, visitKinds))
		}
		if math.IsNaN(v.Amount) || math.IsInf(v.Amount, 0) || math.Abs(v.Amount) >= 1e12 {
			errs = append(errs, fmt.Errorf("visit of %s has amount %v", v.Date.Format(time.DateOnly), v.Amount))
		}
	}
	return errors.Join(errs...)
}

// importBatch is a batch of clients ready to write: normalised, checked,
// and with the distinct managers it names.
type importBatch struct {
	clients  []screenpop.ClientHistory
	managers []screenpop.Employee // each (name, extension) once
}

func newImportBatch(clients []screenpop.ClientHistory) (importBatch, error) {
	b := importBatch{clients: make([]screenpop.ClientHistory, len(clients))}
	for i, c := range clients {
		c = normaliseHistory(c)
		if err := checkClient(c); err != nil {
			return importBatch{}, fmt.Errorf("client %d of the batch (%s): %w", i, c.FullName(), err)
		}
		b.clients[i] = c
		if c.Manager != nil && !slices.Contains(b.managers, *c.Manager) {
			b.managers = append(b.managers, *c.Manager)
		}
	}
	// Imports running at once add their new managers in one order, so
	// neither waits for a row the other inserted while holding one it
	// wants (a deadlock on PostgreSQL).
	slices.SortFunc(b.managers, func(x, y screenpop.Employee) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Extension, y.Extension))
	})
	return b, nil
}

// managerKey is how an import knows a manager: by name and extension.
type managerKey struct{ name, extension string }

func keyOf(e *screenpop.Employee) managerKey { return managerKey{e.Name, e.Extension} }

// nullable gives nil (NULL) for the zero value, v otherwise.
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// date is midnight UTC of t's date in t's own zone: a warranty that ends on
// the 14th in Moscow ends on the 14th.
func date(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func datePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	d := date(*t)
	return &d
}

func kopecks(x float64) float64 { return math.Round(x*100) / 100 }

// carJSON is a car as both stores aggregate a client's cars into JSON for
// the lookup: dates as 2006-01-02.
type carJSON struct {
	Make           string  `json:"make"`
	Model          string  `json:"model"`
	Year           *int    `json:"year"`
	Plate          string  `json:"plate"`
	VIN            string  `json:"vin"`
	WarrantyEnd    *string `json:"warranty_end"`
	InsuranceEnd   *string `json:"insurance_end"`
	NextServiceDue *string `json:"next_service_due"`
}

// decodeCars reads the JSON array of a client's cars.
func decodeCars(data []byte) ([]screenpop.Car, error) {
	var rows []carJSON
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("decode cars: %w", err)
	}
	cars := make([]screenpop.Car, len(rows))
	var errs []error
	for i, r := range rows {
		c := screenpop.Car{Make: r.Make, Model: r.Model, Plate: r.Plate, VIN: r.VIN}
		if r.Year != nil {
			c.Year = *r.Year
		}
		c.WarrantyEnd, c.InsuranceEnd, c.NextServiceDue = parseDate(r.WarrantyEnd, &errs), parseDate(r.InsuranceEnd, &errs), parseDate(r.NextServiceDue, &errs)
		cars[i] = c
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("decode cars: %w", err)
	}
	return cars, nil
}

// parseDate parses a stored date (2006-01-02), nil for NULL, adding any
// error to errs.
func parseDate(s *string, errs *[]error) *time.Time {
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.DateOnly, *s)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("parse stored date: %w", err))
		return nil
	}
	return &t
}

// LookupPhone returns every client with the E.164 number, with all the pop
// shows, in one round trip; none, and no error, for a number no client has.
// It runs on the readers, so a report or a batch of calls being written
// does not hold a pop up.
func (s *sqlStore) LookupPhone(ctx context.Context, e164 string) ([]screenpop.ClientRecord, error) {
	return s.lookupPhone(ctx, s.reads(), e164)
}

func (s *sqlStore) lookupPhone(ctx context.Context, q querier, e164 string) ([]screenpop.ClientRecord, error) {
	rows, err := q.query(ctx, s.dialect.lookupPhone, e164, time.Now().Add(-yearDays))
	if err != nil {
		return nil, fmt.Errorf("look up phone: %w", err)
	}
	recs, err := collect(rows, func(row row) (screenpop.ClientRecord, error) {
		var (
			r                                          screenpop.ClientRecord
			csi                                        *float64
			managerID                                  *int64
			managerName, managerExt                    *string
			cars, complaints                           []byte
			visitDate, contactAt                       *time.Time
			visitKind, visitEmployee                   *string
			visitAmount                                *float64
			contactChannel, contactEmployee, contactIs *string
			importedVisit                              *time.Time
			importedVisits                             *int
		)
		err := row.Scan(&r.ID, &r.LastName, &r.FirstName, &r.Patronymic, &r.ConflictLevel, &csi, &r.Lead,
			&managerID, &managerName, &managerExt,
			&r.Phones, &cars,
			&visitDate, &visitKind, &visitAmount, &visitEmployee,
			&contactAt, &contactChannel, &contactEmployee, &contactIs,
			&r.Visits, &r.VisitsLastYear, &complaints, &importedVisit, &importedVisits)
		if err != nil {
			return r, err
		}
		r.CSI = csi
		r.Manager = employee(managerID, managerName, managerExt)
		if r.Cars, err = decodeCars(cars); err != nil {
			return r, err
		}
		if r.OpenComplaintList, err = decodeComplaints(complaints); err != nil {
			return r, err
		}
		r.OpenComplaints = len(r.OpenComplaintList)
		if visitDate != nil {
			r.LastVisit = &screenpop.Visit{Date: visitDate.UTC(), Kind: *visitKind, Amount: *visitAmount, Employee: *visitEmployee}
		}
		if contactAt != nil {
			r.LastContact = &screenpop.Contact{At: contactAt.UTC(), Channel: *contactChannel, Employee: *contactEmployee, Summary: *contactIs}
		}
		addImportedVisits(&r, importedVisit, importedVisits, time.Now())
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up phone: %w", err)
	}
	if recs == nil {
		recs = []screenpop.ClientRecord{}
	}
	return recs, nil
}

// employee is a manager as a LEFT JOIN reads it: nil when there is none.
func employee(id *int64, name, extension *string) *screenpop.Employee {
	if id == nil {
		return nil
	}
	e := &screenpop.Employee{ID: *id, Name: *name}
	if extension != nil {
		e.Extension = *extension
	}
	return e
}

// Client reads back a client with their whole history: visits, contacts
// and complaints oldest first. The six reads go in one round trip on
// PostgreSQL; a client is written in one transaction and its history only
// ever grows, so they need no snapshot of their own.
func (s *sqlStore) Client(ctx context.Context, id int64) (screenpop.ClientHistory, error) {
	var b stmtBatch
	c := screenpop.ClientHistory{Client: screenpop.Client{ID: id}}
	var (
		csi                     *float64
		managerID               *int64
		managerName, managerExt *string
		found                   bool
	)
	b.queryRow(func(r row) error {
		err := r.Scan(&c.LastName, &c.FirstName, &c.Patronymic, &c.ConflictLevel, &csi, &c.Lead,
			&managerID, &managerName, &managerExt)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	}, `SELECT c.last_name, c.first_name, c.patronymic, c.conflict_level, c.csi, c.lead,
		e.employee_id, e.name, e.extension
		FROM clients c LEFT JOIN employees e ON e.employee_id = c.manager_id WHERE c.client_id = $1`, id)
	b.query(func(rs rows) (err error) {
		c.Phones, err = collect(rs, scanOne[string])
		return err
	}, `SELECT e164 FROM client_phones WHERE client_id = $1 ORDER BY seq`, id)
	b.query(func(rs rows) (err error) {
		c.Cars, err = collect(rs, func(r row) (car screenpop.Car, err error) {
			err = r.Scan(&car.Make, &car.Model, &car.Year, &car.Plate, &car.VIN, &car.WarrantyEnd, &car.InsuranceEnd, &car.NextServiceDue)
			return car, err
		})
		return err
	}, `SELECT make, model, coalesce(year, 0), plate, vin, warranty_end, insurance_end, next_service_due
		FROM cars WHERE client_id = $1 ORDER BY car_id`, id)
	b.query(func(rs rows) (err error) {
		c.Visits, err = collect(rs, func(r row) (v screenpop.Visit, err error) {
			err = r.Scan(&v.Date, &v.Kind, &v.Amount, &v.Employee)
			v.Date = v.Date.UTC()
			return v, err
		})
		return err
	}, `SELECT date, kind, amount, employee FROM visits WHERE client_id = $1 ORDER BY date, visit_id`, id)
	b.query(func(rs rows) (err error) {
		c.Contacts, err = collect(rs, func(r row) (ct screenpop.Contact, err error) {
			err = r.Scan(&ct.At, &ct.Channel, &ct.Employee, &ct.Summary)
			ct.At = ct.At.UTC()
			return ct, err
		})
		return err
	}, `SELECT at, channel, employee, summary FROM contacts WHERE client_id = $1 ORDER BY at, contact_id`, id)
	b.query(func(rs rows) (err error) {
		c.Complaints, err = collect(rs, func(r row) (cp screenpop.Complaint, err error) {
			err = r.Scan(&cp.OpenedAt, &cp.ClosedAt, &cp.Summary)
			cp.OpenedAt = cp.OpenedAt.UTC()
			cp.ClosedAt = msUTCPtr(cp.ClosedAt)
			return cp, err
		})
		return err
	}, `SELECT opened_at, closed_at, summary FROM complaints WHERE client_id = $1 ORDER BY opened_at, complaint_id`, id)
	if err := s.conn.send(ctx, &b); err != nil {
		return screenpop.ClientHistory{}, fmt.Errorf("read client %d: %w", id, err)
	}
	if !found {
		return screenpop.ClientHistory{}, fmt.Errorf("read client %d: %w", id, ErrNotFound)
	}
	c.CSI = csi
	c.Manager = employee(managerID, managerName, managerExt)
	return nonNilHistory(c), nil
}

// nonNilHistory makes a client's missing lists empty ones, as
// normaliseHistory does on the way in.
func nonNilHistory(c screenpop.ClientHistory) screenpop.ClientHistory {
	c.Phones = nonNil(c.Phones)
	if c.Cars == nil {
		c.Cars = []screenpop.Car{}
	}
	if c.Visits == nil {
		c.Visits = []screenpop.Visit{}
	}
	if c.Contacts == nil {
		c.Contacts = []screenpop.Contact{}
	}
	if c.Complaints == nil {
		c.Complaints = []screenpop.Complaint{}
	}
	return c
}
