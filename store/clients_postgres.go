package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// pgLookupPhone is the whole pop in one statement: every client with the
// number, and for each, through LATERAL subqueries that each read one
// index, their phones, cars (as JSON), manager, last visit, last contact,
// the counts, and their open complaints (as JSON, times as SQLite stores
// them, so both stores decode them alike). $2 is the start of the last
// year.
const pgLookupPhone = `SELECT c.client_id, c.last_name, c.first_name, c.patronymic, c.conflict_level, c.csi, c.lead,
	e.employee_id, e.name, e.extension,
	ph.phones, cr.cars,
	lv.date, lv.kind, lv.amount, lv.employee,
	lc.at, lc.channel, lc.employee, lc.summary,
	vs.visits, vs.visits_last_year, cp.open_complaints, c.last_visit_on, c.visit_count
FROM client_phones p
JOIN clients c ON c.client_id = p.client_id
LEFT JOIN employees e ON e.employee_id = c.manager_id
CROSS JOIN LATERAL (
	SELECT array_agg(e164 ORDER BY seq) AS phones FROM client_phones WHERE client_id = c.client_id
) ph
CROSS JOIN LATERAL (
	SELECT coalesce(json_agg(json_build_object(
		'make', make, 'model', model, 'year', year, 'plate', plate, 'vin', vin,
		'warranty_end', warranty_end, 'insurance_end', insurance_end, 'next_service_due', next_service_due
	) ORDER BY car_id), '[]') AS cars
	FROM cars WHERE client_id = c.client_id
) cr
LEFT JOIN LATERAL (
	SELECT date, kind, amount, employee FROM visits WHERE client_id = c.client_id ORDER BY date DESC LIMIT 1
) lv ON true
LEFT JOIN LATERAL (
	SELECT at, channel, employee, summary FROM contacts WHERE client_id = c.client_id ORDER BY at DESC LIMIT 1
) lc ON true
CROSS JOIN LATERAL (
	SELECT count(*) AS visits, count(*) FILTER (WHERE date >= $2) AS visits_last_year
	FROM visits WHERE client_id = c.client_id
) vs
CROSS JOIN LATERAL (
	SELECT coalesce(json_agg(json_build_object(
		'complaint_id', complaint_id, 'opened_at', to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'summary', summary
	) ORDER BY opened_at, complaint_id), '[]') AS open_complaints
	FROM complaints WHERE client_id = c.client_id AND closed_at IS NULL
) cp
WHERE p.e164 = $1
ORDER BY c.client_id`

// LookupPhone returns every client with the E.164 number, with all the pop
// shows, in one round trip; none, and no error, for a number no client has.
func (p *Postgres) LookupPhone(ctx context.Context, e164 string) ([]screenpop.ClientRecord, error) {
	rows, err := p.pool.Query(ctx, pgLookupPhone, e164, time.Now().Add(-yearDays))
	if err != nil {
		return nil, fmt.Errorf("look up phone: %w", err)
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (screenpop.ClientRecord, error) {
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

// ImportClients adds clients with their history in one transaction, and
// returns their IDs in the order given. Managers are matched to employees
// by name and extension, and added when new; a manager whose extension
// belongs to another employee fails the batch with an error wrapping
// ErrExists.
//
// Each table is written with COPY: a batch takes the same few round trips
// (two per table, a few per manager it names) whatever its size. Call it with batches of a few thousand
// clients to load a large base.
func (p *Postgres) ImportClients(ctx context.Context, clients []screenpop.ClientHistory) ([]int64, error) {
	if len(clients) == 0 {
		return []int64{}, nil
	}
	b, err := newImportBatch(clients)
	if err != nil {
		return nil, fmt.Errorf("import clients: %w", err)
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("import clients: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	managers := map[managerKey]int64{}
	for _, m := range b.managers {
		id, err := pgEmployee(ctx, tx, m)
		if err != nil {
			return nil, fmt.Errorf("import clients: %w", err)
		}
		managers[keyOf(&m)] = id
	}
	// COPY cannot return the IDs it gives, so the batch takes its IDs
	// from the sequence first and writes them.
	rows, err := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('clients', 'client_id')) FROM generate_series(1, $1)`, len(b.clients))
	if err != nil {
		return nil, fmt.Errorf("import clients: reserve IDs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("import clients: reserve IDs: %w", err)
	}

	var clientRows, phones, cars, visits, contacts, complaints [][]any
	for i, c := range b.clients {
		id := ids[i]
		var manager any
		if c.Manager != nil {
			manager = managers[keyOf(c.Manager)]
		}
		clientRows = append(clientRows, []any{id, c.LastName, c.FirstName, c.Patronymic, int16(c.ConflictLevel), c.CSI, manager, c.Lead})
		for seq, e164 := range c.Phones {
			phones = append(phones, []any{id, e164, int16(seq + 1)})
		}
		for _, car := range c.Cars {
			var year any
			if car.Year != 0 {
				year = int16(car.Year)
			}
			cars = append(cars, []any{id, car.Make, car.Model, year, car.Plate, car.VIN, car.WarrantyEnd, car.InsuranceEnd, car.NextServiceDue})
		}
		for _, v := range c.Visits {
			visits = append(visits, []any{id, v.Date, v.Kind, v.Amount, v.Employee})
		}
		for _, ct := range c.Contacts {
			contacts = append(contacts, []any{id, ct.At, ct.Channel, ct.Employee, ct.Summary})
		}
		for _, cp := range c.Complaints {
			complaints = append(complaints, []any{id, cp.OpenedAt, cp.ClosedAt, cp.Summary})
		}
	}
	for _, t := range []struct {
		table   string
		columns []string
		rows    [][]any
	}{
		{"clients", []string{"client_id", "last_name", "first_name", "patronymic", "conflict_level", "csi", "manager_id", "lead"}, clientRows},
		{"client_phones", []string{"client_id", "e164", "seq"}, phones},
		{"cars", []string{"client_id", "make", "model", "year", "plate", "vin", "warranty_end", "insurance_end", "next_service_due"}, cars},
		{"visits", []string{"client_id", "date", "kind", "amount", "employee"}, visits},
		{"contacts", []string{"client_id", "at", "channel", "employee", "summary"}, contacts},
		{"complaints", []string{"client_id", "opened_at", "closed_at", "summary"}, complaints},
	} {
		if len(t.rows) == 0 {
			continue
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.table}, t.columns, pgx.CopyFromRows(t.rows)); err != nil {
			return nil, fmt.Errorf("import clients: write %s: %w", t.table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("import clients: commit: %w", err)
	}
	return ids, nil
}

// pgEmployee finds the employee with e's name and extension, adding them if
// there is none.
func pgEmployee(ctx context.Context, tx pgx.Tx, e screenpop.Employee) (int64, error) {
	const find = `SELECT employee_id FROM employees WHERE name = $1 AND extension IS NOT DISTINCT FROM $2`
	ext := nullable(e.Extension)
	var id int64
	err := tx.QueryRow(ctx, find, e.Name, ext).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("find employee %s: %w", e.Name, err)
	}
	// Another import may add the same employee at the same time: DO NOTHING
	// waits for it, and the second find sees its row.
	err = tx.QueryRow(ctx, `INSERT INTO employees (name, extension) VALUES ($1, $2)
		ON CONFLICT DO NOTHING RETURNING employee_id`, e.Name, ext).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = tx.QueryRow(ctx, find, e.Name, ext).Scan(&id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		var holder string
		if err := tx.QueryRow(ctx, `SELECT name FROM employees WHERE extension = $1`, ext).Scan(&holder); err != nil {
			return 0, fmt.Errorf("add employee %s: %w", e.Name, err)
		}
		return 0, fmt.Errorf("add employee %s: extension %s is %s's: %w", e.Name, e.Extension, holder, ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("add employee %s: %w", e.Name, err)
	}
	return id, nil
}

// Client reads back a client with their whole history: visits, contacts
// and complaints oldest first. The six reads go in one round trip; a client
// is written in one transaction and its history only ever grows, so they
// need no snapshot of their own.
func (p *Postgres) Client(ctx context.Context, id int64) (screenpop.ClientHistory, error) {
	var b pgx.Batch
	c := screenpop.ClientHistory{Client: screenpop.Client{ID: id}}
	var (
		csi                     *float64
		managerID               *int64
		managerName, managerExt *string
		found                   bool
	)
	b.Queue(`SELECT c.last_name, c.first_name, c.patronymic, c.conflict_level, c.csi, c.lead,
		e.employee_id, e.name, e.extension
		FROM clients c LEFT JOIN employees e ON e.employee_id = c.manager_id WHERE c.client_id = $1`, id).
		QueryRow(func(row pgx.Row) error {
			err := row.Scan(&c.LastName, &c.FirstName, &c.Patronymic, &c.ConflictLevel, &csi, &c.Lead,
				&managerID, &managerName, &managerExt)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			found = err == nil
			return err
		})
	b.Queue(`SELECT e164 FROM client_phones WHERE client_id = $1 ORDER BY seq`, id).
		Query(func(rows pgx.Rows) (err error) {
			c.Phones, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
	b.Queue(`SELECT make, model, coalesce(year, 0), plate, vin, warranty_end, insurance_end, next_service_due
		FROM cars WHERE client_id = $1 ORDER BY car_id`, id).
		Query(func(rows pgx.Rows) (err error) {
			c.Cars, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (car screenpop.Car, err error) {
				err = row.Scan(&car.Make, &car.Model, &car.Year, &car.Plate, &car.VIN, &car.WarrantyEnd, &car.InsuranceEnd, &car.NextServiceDue)
				return car, err
			})
			return err
		})
	b.Queue(`SELECT date, kind, amount, employee FROM visits WHERE client_id = $1 ORDER BY date, visit_id`, id).
		Query(func(rows pgx.Rows) (err error) {
			c.Visits, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (v screenpop.Visit, err error) {
				err = row.Scan(&v.Date, &v.Kind, &v.Amount, &v.Employee)
				v.Date = v.Date.UTC()
				return v, err
			})
			return err
		})
	b.Queue(`SELECT at, channel, employee, summary FROM contacts WHERE client_id = $1 ORDER BY at, contact_id`, id).
		Query(func(rows pgx.Rows) (err error) {
			c.Contacts, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ct screenpop.Contact, err error) {
				err = row.Scan(&ct.At, &ct.Channel, &ct.Employee, &ct.Summary)
				ct.At = ct.At.UTC()
				return ct, err
			})
			return err
		})
	b.Queue(`SELECT opened_at, closed_at, summary FROM complaints WHERE client_id = $1 ORDER BY opened_at, complaint_id`, id).
		Query(func(rows pgx.Rows) (err error) {
			c.Complaints, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (cp screenpop.Complaint, err error) {
				err = row.Scan(&cp.OpenedAt, &cp.ClosedAt, &cp.Summary)
				cp.OpenedAt = cp.OpenedAt.UTC()
				cp.ClosedAt = msUTCPtr(cp.ClosedAt)
				return cp, err
			})
			return err
		})
	if err := p.pool.SendBatch(ctx, &b).Close(); err != nil {
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
