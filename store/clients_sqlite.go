package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// sqliteLookupPhone is the whole pop in one statement, as on PostgreSQL:
// correlated subqueries, each on one index, with a client's phones, cars,
// last visit, last contact and open complaints as JSON. ?2 is the start of
// the last year.
const sqliteLookupPhone = `SELECT c.client_id, c.last_name, c.first_name, c.patronymic, c.conflict_level, c.csi, c.lead,
	e.employee_id, e.name, e.extension,
	(SELECT json_group_array(e164 ORDER BY seq) FROM client_phones WHERE client_id = c.client_id),
	(SELECT json_group_array(json_object(
		'make', make, 'model', model, 'year', year, 'plate', plate, 'vin', vin,
		'warranty_end', warranty_end, 'insurance_end', insurance_end, 'next_service_due', next_service_due
	) ORDER BY car_id) FROM cars WHERE client_id = c.client_id),
	(SELECT json_object('date', date, 'kind', kind, 'amount', amount, 'employee', employee)
		FROM visits WHERE client_id = c.client_id ORDER BY date DESC LIMIT 1),
	(SELECT json_object('at', at, 'channel', channel, 'employee', employee, 'summary', summary)
		FROM contacts WHERE client_id = c.client_id ORDER BY at DESC LIMIT 1),
	(SELECT count(*) FROM visits WHERE client_id = c.client_id),
	(SELECT count(*) FROM visits WHERE client_id = c.client_id AND date >= ?2),
	(SELECT json_group_array(json_object('complaint_id', complaint_id, 'opened_at', opened_at, 'summary', summary)
		ORDER BY opened_at, complaint_id) FROM complaints WHERE client_id = c.client_id AND closed_at IS NULL),
	c.last_visit_on, c.visit_count
FROM client_phones p
JOIN clients c ON c.client_id = p.client_id
LEFT JOIN employees e ON e.employee_id = c.manager_id
WHERE p.e164 = ?1
ORDER BY c.client_id`

// LookupPhone returns every client with the E.164 number, with all the pop
// shows, in one statement; none, and no error, for a number no client has.
func (s *SQLite) LookupPhone(ctx context.Context, e164 string) ([]screenpop.ClientRecord, error) {
	rows, err := s.db.QueryContext(ctx, sqliteLookupPhone, e164, formatTime(time.Now().Add(-yearDays)))
	if err != nil {
		return nil, fmt.Errorf("look up phone: %w", err)
	}
	defer rows.Close()
	recs := []screenpop.ClientRecord{}
	for rows.Next() {
		var (
			r                       screenpop.ClientRecord
			csi                     sql.NullFloat64
			managerID               sql.NullInt64
			managerName, managerExt sql.NullString
			phones, cars            string
			complaints              string
			lastVisit, lastContact  sql.NullString
			importedVisit           *string
			importedVisits          sql.NullInt64
		)
		if err := rows.Scan(&r.ID, &r.LastName, &r.FirstName, &r.Patronymic, &r.ConflictLevel, &csi, &r.Lead,
			&managerID, &managerName, &managerExt, &phones, &cars, &lastVisit, &lastContact,
			&r.Visits, &r.VisitsLastYear, &complaints, &importedVisit, &importedVisits); err != nil {
			return nil, fmt.Errorf("look up phone: %w", err)
		}
		r.CSI = floatPtr(csi)
		r.Manager = sqliteEmployee(managerID, managerName, managerExt)
		if err := json.Unmarshal([]byte(phones), &r.Phones); err != nil {
			return nil, fmt.Errorf("look up phone: decode phones: %w", err)
		}
		if r.Cars, err = decodeCars([]byte(cars)); err != nil {
			return nil, fmt.Errorf("look up phone: %w", err)
		}
		if r.OpenComplaintList, err = decodeComplaints([]byte(complaints)); err != nil {
			return nil, fmt.Errorf("look up phone: %w", err)
		}
		r.OpenComplaints = len(r.OpenComplaintList)
		if lastVisit.Valid {
			var v struct {
				Date     string  `json:"date"`
				Kind     string  `json:"kind"`
				Amount   float64 `json:"amount"`
				Employee string  `json:"employee"`
			}
			r.LastVisit = &screenpop.Visit{}
			if err := errors.Join(json.Unmarshal([]byte(lastVisit.String), &v), parseTime(v.Date, &r.LastVisit.Date)); err != nil {
				return nil, fmt.Errorf("look up phone: decode last visit: %w", err)
			}
			r.LastVisit.Kind, r.LastVisit.Amount, r.LastVisit.Employee = v.Kind, v.Amount, v.Employee
		}
		if lastContact.Valid {
			var ct struct {
				At       string `json:"at"`
				Channel  string `json:"channel"`
				Employee string `json:"employee"`
				Summary  string `json:"summary"`
			}
			r.LastContact = &screenpop.Contact{}
			if err := errors.Join(json.Unmarshal([]byte(lastContact.String), &ct), parseTime(ct.At, &r.LastContact.At)); err != nil {
				return nil, fmt.Errorf("look up phone: decode last contact: %w", err)
			}
			r.LastContact.Channel, r.LastContact.Employee, r.LastContact.Summary = ct.Channel, ct.Employee, ct.Summary
		}
		var errs []error
		visited := parseDate(importedVisit, &errs)
		if len(errs) > 0 {
			return nil, fmt.Errorf("look up phone: %w", errs[0])
		}
		var visits *int
		if importedVisits.Valid {
			n := int(importedVisits.Int64)
			visits = &n
		}
		addImportedVisits(&r, visited, visits, time.Now())
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up phone: %w", err)
	}
	return recs, nil
}

func floatPtr(f sql.NullFloat64) *float64 {
	if !f.Valid {
		return nil
	}
	return &f.Float64
}

func sqliteEmployee(id sql.NullInt64, name, extension sql.NullString) *screenpop.Employee {
	if !id.Valid {
		return nil
	}
	return &screenpop.Employee{ID: id.Int64, Name: name.String, Extension: extension.String}
}

// ImportClients adds clients with their history in one transaction, and
// returns their IDs in the order given. Managers are matched to employees
// by name and extension, and added when new; a manager whose extension
// belongs to another employee fails the batch with an error wrapping
// ErrExists.
func (s *SQLite) ImportClients(ctx context.Context, clients []screenpop.ClientHistory) ([]int64, error) {
	if len(clients) == 0 {
		return []int64{}, nil
	}
	b, err := newImportBatch(clients)
	if err != nil {
		return nil, fmt.Errorf("import clients: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("import clients: %w", err)
	}
	defer tx.Rollback()

	managers := map[managerKey]int64{}
	for _, m := range b.managers {
		id, err := sqliteEmployeeID(ctx, tx, m)
		if err != nil {
			return nil, fmt.Errorf("import clients: %w", err)
		}
		managers[keyOf(&m)] = id
	}

	stmts := map[string]*sql.Stmt{}
	for table, q := range map[string]string{
		"clients": `INSERT INTO clients (last_name, first_name, patronymic, conflict_level, csi, manager_id, lead)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
		"client_phones": `INSERT INTO client_phones (client_id, e164, seq) VALUES (?, ?, ?)`,
		"cars": `INSERT INTO cars (client_id, make, model, year, plate, vin, warranty_end, insurance_end, next_service_due)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		"visits":     `INSERT INTO visits (client_id, date, kind, amount, employee) VALUES (?, ?, ?, ?, ?)`,
		"contacts":   `INSERT INTO contacts (client_id, at, channel, employee, summary) VALUES (?, ?, ?, ?, ?)`,
		"complaints": `INSERT INTO complaints (client_id, opened_at, closed_at, summary) VALUES (?, ?, ?, ?)`,
	} {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("import clients: prepare %s: %w", table, err)
		}
		defer st.Close()
		stmts[table] = st
	}

	ids := make([]int64, len(b.clients))
	for i, c := range b.clients {
		var manager any
		if c.Manager != nil {
			manager = managers[keyOf(c.Manager)]
		}
		res, err := stmts["clients"].ExecContext(ctx, c.LastName, c.FirstName, c.Patronymic, c.ConflictLevel, c.CSI, manager, c.Lead)
		if err != nil {
			return nil, fmt.Errorf("import clients: write client %s: %w", c.FullName(), err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("import clients: write client %s: %w", c.FullName(), err)
		}
		ids[i] = id
		var errs []error
		exec := func(table string, args ...any) {
			if _, err := stmts[table].ExecContext(ctx, args...); err != nil {
				errs = append(errs, fmt.Errorf("write %s: %w", table, err))
			}
		}
		for seq, e164 := range c.Phones {
			exec("client_phones", id, e164, seq+1)
		}
		for _, car := range c.Cars {
			exec("cars", id, car.Make, car.Model, nullable(car.Year), car.Plate, car.VIN,
				formatDatePtr(car.WarrantyEnd), formatDatePtr(car.InsuranceEnd), formatDatePtr(car.NextServiceDue))
		}
		for _, v := range c.Visits {
			exec("visits", id, formatTime(v.Date), v.Kind, v.Amount, v.Employee)
		}
		for _, ct := range c.Contacts {
			exec("contacts", id, formatTime(ct.At), ct.Channel, ct.Employee, ct.Summary)
		}
		for _, cp := range c.Complaints {
			exec("complaints", id, formatTime(cp.OpenedAt), formatTimePtr(cp.ClosedAt), cp.Summary)
		}
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("import clients: client %s: %w", c.FullName(), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("import clients: commit: %w", err)
	}
	return ids, nil
}

// sqliteEmployeeID finds the employee with e's name and extension, adding
// them if there is none. The transaction holds the write lock, so nobody
// adds them in between.
func sqliteEmployeeID(ctx context.Context, tx *sql.Tx, e screenpop.Employee) (int64, error) {
	ext := nullable(e.Extension)
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT employee_id FROM employees WHERE name = ? AND extension IS ?`, e.Name, ext).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("find employee %s: %w", e.Name, err)
	}
	if ext != nil {
		var holder string
		err := tx.QueryRowContext(ctx, `SELECT name FROM employees WHERE extension = ?`, ext).Scan(&holder)
		if err == nil {
			return 0, fmt.Errorf("add employee %s: extension %s is %s's: %w", e.Name, e.Extension, holder, ErrExists)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("add employee %s: %w", e.Name, err)
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO employees (name, extension) VALUES (?, ?)`, e.Name, ext)
	if err != nil {
		return 0, fmt.Errorf("add employee %s: %w", e.Name, err)
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, fmt.Errorf("add employee %s: %w", e.Name, err)
	}
	return id, nil
}

// Client reads back a client with their whole history: visits, contacts
// and complaints oldest first.
func (s *SQLite) Client(ctx context.Context, id int64) (screenpop.ClientHistory, error) {
	// One connection, so a transaction costs nothing and gives the reads
	// one snapshot.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return screenpop.ClientHistory{}, fmt.Errorf("read client %d: %w", id, err)
	}
	defer tx.Rollback()
	c, err := sqliteClient(ctx, tx, id)
	if err != nil {
		return screenpop.ClientHistory{}, fmt.Errorf("read client %d: %w", id, err)
	}
	return nonNilHistory(c), nil
}

func sqliteClient(ctx context.Context, tx *sql.Tx, id int64) (screenpop.ClientHistory, error) {
	c := screenpop.ClientHistory{Client: screenpop.Client{ID: id}}
	var (
		csi                     sql.NullFloat64
		managerID               sql.NullInt64
		managerName, managerExt sql.NullString
	)
	err := tx.QueryRowContext(ctx, `SELECT c.last_name, c.first_name, c.patronymic, c.conflict_level, c.csi, c.lead,
		e.employee_id, e.name, e.extension
		FROM clients c LEFT JOIN employees e ON e.employee_id = c.manager_id WHERE c.client_id = ?`, id).
		Scan(&c.LastName, &c.FirstName, &c.Patronymic, &c.ConflictLevel, &csi, &c.Lead, &managerID, &managerName, &managerExt)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, err
	}
	c.CSI = floatPtr(csi)
	c.Manager = sqliteEmployee(managerID, managerName, managerExt)

	err = errors.Join(
		sqliteRows(ctx, tx, `SELECT e164 FROM client_phones WHERE client_id = ? ORDER BY seq`, id,
			func(scan func(...any) error) error {
				var p string
				err := scan(&p)
				c.Phones = append(c.Phones, p)
				return err
			}),
		sqliteRows(ctx, tx, `SELECT make, model, coalesce(year, 0), plate, vin, warranty_end, insurance_end, next_service_due
			FROM cars WHERE client_id = ? ORDER BY car_id`, id,
			func(scan func(...any) error) error {
				var car screenpop.Car
				var warranty, insurance, service *string
				if err := scan(&car.Make, &car.Model, &car.Year, &car.Plate, &car.VIN, &warranty, &insurance, &service); err != nil {
					return err
				}
				var errs []error
				car.WarrantyEnd, car.InsuranceEnd, car.NextServiceDue = parseDate(warranty, &errs), parseDate(insurance, &errs), parseDate(service, &errs)
				c.Cars = append(c.Cars, car)
				return errors.Join(errs...)
			}),
		sqliteRows(ctx, tx, `SELECT date, kind, amount, employee FROM visits WHERE client_id = ? ORDER BY date, visit_id`, id,
			func(scan func(...any) error) error {
				var v screenpop.Visit
				var at string
				if err := scan(&at, &v.Kind, &v.Amount, &v.Employee); err != nil {
					return err
				}
				c.Visits = append(c.Visits, v)
				return parseTime(at, &c.Visits[len(c.Visits)-1].Date)
			}),
		sqliteRows(ctx, tx, `SELECT at, channel, employee, summary FROM contacts WHERE client_id = ? ORDER BY at, contact_id`, id,
			func(scan func(...any) error) error {
				var ct screenpop.Contact
				var at string
				if err := scan(&at, &ct.Channel, &ct.Employee, &ct.Summary); err != nil {
					return err
				}
				c.Contacts = append(c.Contacts, ct)
				return parseTime(at, &c.Contacts[len(c.Contacts)-1].At)
			}),
		sqliteRows(ctx, tx, `SELECT opened_at, closed_at, summary FROM complaints WHERE client_id = ? ORDER BY opened_at, complaint_id`, id,
			func(scan func(...any) error) error {
				var cp screenpop.Complaint
				var opened string
				var closed sql.NullString
				if err := scan(&opened, &closed, &cp.Summary); err != nil {
					return err
				}
				err := errors.Join(parseTime(opened, &cp.OpenedAt), parseTimePtr(closed, &cp.ClosedAt))
				c.Complaints = append(c.Complaints, cp)
				return err
			}),
	)
	return c, err
}

// sqliteRows runs a query with one argument (a client's ID, the numbers
// an import names), calling each for every row.
func sqliteRows(ctx context.Context, tx *sql.Tx, query string, arg any, each func(scan func(...any) error) error) error {
	rows, err := tx.QueryContext(ctx, query, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func formatDatePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Format(time.DateOnly)
}
