package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/screenpop/screenpop/screenpop"
)

// Writing the client base: a batch of clients from a bulk load
// (ImportClients), or a dealership's export merged into it (MergeClients).
// New rows go in by copyRows, which is COPY on PostgreSQL: a batch takes
// the same few round trips whatever its size.

// importLockKey, with a hash of the schema name, serialises imports on
// PostgreSQL: each batch reads the clients its rows name and then writes,
// and a second import in between would make the same client twice.
// SQLite's immediate transactions serialise them already.
const importLockKey = 0x5c9e4b0a

// reserveIDs gives n new client IDs. COPY cannot return the IDs it gives,
// so a batch takes them first and writes them.
func reserveIDs(ctx context.Context, tx tx, d dialect, n int) ([]int64, error) {
	rs, err := tx.query(ctx, d.reserveClientIDs, n)
	if err != nil {
		return nil, fmt.Errorf("reserve client IDs: %w", err)
	}
	ids, err := collect(rs, scanOne[int64])
	if err != nil {
		return nil, fmt.Errorf("reserve client IDs: %w", err)
	}
	return ids, nil
}

// ImportClients adds clients with their history in one transaction, and
// returns their IDs in the order given. Managers are matched to employees
// by name and extension, and added when new; a manager whose extension
// belongs to another employee fails the batch with an error wrapping
// ErrExists. Call it with batches of a few thousand clients to load a
// large base.
func (s *sqlStore) ImportClients(ctx context.Context, clients []screenpop.ClientHistory) ([]int64, error) {
	if len(clients) == 0 {
		return []int64{}, nil
	}
	b, err := newImportBatch(clients)
	if err != nil {
		return nil, fmt.Errorf("import clients: %w", err)
	}
	var ids []int64
	err = s.inTx(ctx, func(tx tx) error {
		managers := map[managerKey]int64{}
		for _, m := range b.managers {
			id, err := findEmployee(ctx, tx, m)
			if err != nil {
				return err
			}
			managers[keyOf(&m)] = id
		}
		if ids, err = reserveIDs(ctx, tx, s.dialect, len(b.clients)); err != nil {
			return err
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
				cars = append(cars, []any{id, car.Make, car.Model, carYear(car.Year), car.Plate, car.VIN,
					asDate(car.WarrantyEnd), asDate(car.InsuranceEnd), asDate(car.NextServiceDue)})
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
		return copyTables(ctx, tx, []table{
			{"clients", []string{"client_id", "last_name", "first_name", "patronymic", "conflict_level", "csi", "manager_id", "lead"}, clientRows},
			{"client_phones", []string{"client_id", "e164", "seq"}, phones},
			{"cars", []string{"client_id", "make", "model", "year", "plate", "vin", "warranty_end", "insurance_end", "next_service_due"}, cars},
			{"visits", []string{"client_id", "date", "kind", "amount", "employee"}, visits},
			{"contacts", []string{"client_id", "at", "channel", "employee", "summary"}, contacts},
			{"complaints", []string{"client_id", "opened_at", "closed_at", "summary"}, complaints},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("import clients: %w", err)
	}
	return ids, nil
}

// carYear is a car's year as stored: NULL for none.
func carYear(year int) any {
	if year == 0 {
		return nil
	}
	return int16(year)
}

// table is rows to add to a table.
type table struct {
	name    string
	columns []string
	rows    [][]any
}

func copyTables(ctx context.Context, tx tx, tables []table) error {
	for _, t := range tables {
		if len(t.rows) == 0 {
			continue
		}
		if err := tx.copyRows(ctx, t.name, t.columns, t.rows); err != nil {
			return fmt.Errorf("write %s: %w", t.name, err)
		}
	}
	return nil
}

// findEmployee finds the employee with e's name and extension, adding them
// if there is none.
func findEmployee(ctx context.Context, tx tx, e screenpop.Employee) (int64, error) {
	const find = `SELECT employee_id FROM employees WHERE name = $1 AND extension IS NOT DISTINCT FROM $2`
	ext := nullable(e.Extension)
	var id int64
	err := tx.queryRow(ctx, find, e.Name, ext).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("find employee %s: %w", e.Name, err)
	}
	// Another import may add the same employee at the same time
	// (PostgreSQL): DO NOTHING waits for it, and the second find sees its
	// row.
	err = tx.queryRow(ctx, `INSERT INTO employees (name, extension) VALUES ($1, $2)
		ON CONFLICT DO NOTHING RETURNING employee_id`, e.Name, ext).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.queryRow(ctx, find, e.Name, ext).Scan(&id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		var holder string
		if err := tx.queryRow(ctx, `SELECT name FROM employees WHERE extension = $1`, ext).Scan(&holder); err != nil {
			return 0, fmt.Errorf("add employee %s: %w", e.Name, err)
		}
		return 0, fmt.Errorf("add employee %s: extension %s is %s's: %w", e.Name, e.Extension, holder, ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("add employee %s: %w", e.Name, err)
	}
	return id, nil
}

// MergeClients merges a client base export into the client base, batch by
// batch, each batch in one transaction: a row whose number or CRM number is
// already a client's is merged into that client, others become clients.
// Rejected rows are in the report with the reason; an error means a batch
// could not be written, and the report holds the batches before it.
func (s *sqlStore) MergeClients(ctx context.Context, rows []screenpop.ImportRow, opts MergeOptions) (MergeReport, error) {
	return mergeClients(ctx, rows, opts, func(ctx context.Context) (mergeTx, error) {
		tx, err := s.conn.begin(ctx, false)
		if err != nil {
			return mergeTx{}, err
		}
		if s.dialect.importLock != "" {
			if _, err := tx.exec(ctx, s.dialect.importLock, int32(importLockKey)); err != nil {
				tx.rollback(ctx)
				return mergeTx{}, fmt.Errorf("take the import lock: %w", err)
			}
		}
		return mergeTx{tx: tx, d: s.dialect}, nil
	})
}

// mergeTx is an import's transaction.
type mergeTx struct {
	tx tx
	d  dialect
}

// load reads the clients with any of the phones or external IDs, with all
// their phones and cars.
func (t mergeTx) load(ctx context.Context, phones, externalIDs []string) ([]*mergeClient, error) {
	if phones == nil {
		phones = []string{}
	}
	if externalIDs == nil {
		externalIDs = []string{}
	}
	rs, err := t.tx.query(ctx, `SELECT c.client_id, c.last_name, c.first_name, c.patronymic,
		coalesce(c.external_id, ''), coalesce(c.email, ''), c.conflict_level, c.csi, coalesce(e.name, ''), c.manager_id, c.lead,
		c.last_visit_on, c.visit_count
		FROM clients c LEFT JOIN employees e ON e.employee_id = c.manager_id
		WHERE c.client_id IN (
			SELECT p.client_id FROM `+t.d.listTable("$1", "e164", "text")+` JOIN client_phones p USING (e164)
			UNION
			SELECT x.client_id FROM `+t.d.listTable("$2", "external_id", "text")+` JOIN clients x USING (external_id))
		ORDER BY c.client_id`, phones, externalIDs)
	if err != nil {
		return nil, fmt.Errorf("read the clients the rows name: %w", err)
	}
	clients, err := collect(rs, func(r row) (*mergeClient, error) {
		c := &mergeClient{existed: true}
		var level int16
		err := r.Scan(&c.id, &c.lastName, &c.firstName, &c.patronymic, &c.externalID, &c.email, &level, &c.csi, &c.manager, &c.managerID, &c.lead,
			&c.lastVisit, &c.visits)
		c.conflictLevel = int(level)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the clients the rows name: %w", err)
	}
	if len(clients) == 0 {
		return nil, nil
	}
	byID := make(map[int64]*mergeClient, len(clients))
	ids := make([]int64, len(clients))
	for i, c := range clients {
		byID[c.id], ids[i] = c, c.id
	}
	var b stmtBatch
	// Joins with the lists: a few thousand IDs each read their rows
	// through the index.
	b.query(func(rs rows) error {
		for rs.Next() {
			var (
				id   int64
				e164 string
				seq  int16
			)
			if err := rs.Scan(&id, &e164, &seq); err != nil {
				return err
			}
			c := byID[id]
			c.phones = append(c.phones, e164)
			c.maxSeq = max(c.maxSeq, int(seq))
		}
		return rs.Err()
	}, `SELECT p.client_id, p.e164, p.seq FROM `+t.d.listTable("$1", "client_id", "bigint")+` JOIN client_phones p USING (client_id)
		ORDER BY p.client_id, p.seq`, ids)
	b.query(func(rs rows) error {
		for rs.Next() {
			car := &mergeCar{}
			var id int64
			if err := rs.Scan(&car.id, &id, &car.car.Make, &car.car.Model, &car.car.Year, &car.car.Plate, &car.car.VIN,
				&car.car.WarrantyEnd, &car.car.InsuranceEnd, &car.car.NextServiceDue); err != nil {
				return err
			}
			byID[id].cars = append(byID[id].cars, car)
		}
		return rs.Err()
	}, `SELECT r.car_id, r.client_id, r.make, r.model, coalesce(r.year, 0), r.plate, r.vin, r.warranty_end, r.insurance_end, r.next_service_due
		FROM `+t.d.listTable("$1", "client_id", "bigint")+` JOIN cars r USING (client_id) ORDER BY r.car_id`, ids)
	if err := t.tx.send(ctx, &b); err != nil {
		return nil, fmt.Errorf("read the phones and cars of the clients the rows name: %w", err)
	}
	return clients, nil
}

// apply writes what the batch changed in a few round trips whatever its
// size, giving new clients their IDs: new clients, phones and cars by
// copyRows, changed clients and cars in one batch of updates.
func (t mergeTx) apply(ctx context.Context, clients []*mergeClient) error {
	managers, err := t.managers(ctx, clients)
	if err != nil {
		return err
	}
	var added []*mergeClient
	for _, c := range clients {
		if !c.existed {
			added = append(added, c)
		}
	}
	if len(added) > 0 {
		ids, err := reserveIDs(ctx, t.tx, t.d, len(added))
		if err != nil {
			return err
		}
		for i, c := range added {
			c.id = ids[i]
		}
	}
	var newClients, phones, cars [][]any
	var updates stmtBatch
	for _, c := range clients {
		manager := managers[c.manager]
		if c.managerID != nil {
			manager = *c.managerID
		}
		if !c.existed {
			newClients = append(newClients, []any{c.id, c.lastName, c.firstName, c.patronymic, int16(c.conflictLevel), c.csi,
				manager, c.lead, nullable(c.externalID), nullable(c.email), asDate(c.lastVisit), c.visits})
			for i, p := range c.phones {
				phones = append(phones, []any{c.id, p, int16(i + 1)})
			}
		} else {
			if c.changed {
				updates.exec(`UPDATE clients SET last_name = $2, first_name = $3, patronymic = $4, conflict_level = $5,
					csi = $6, manager_id = $7, lead = $8, external_id = $9, email = $10,
					last_visit_on = $11, visit_count = $12 WHERE client_id = $1`,
					c.id, c.lastName, c.firstName, c.patronymic, int16(c.conflictLevel), c.csi, manager, c.lead,
					nullable(c.externalID), nullable(c.email), asDate(c.lastVisit), c.visits)
			}
			for i, p := range c.newPhones {
				phones = append(phones, []any{c.id, p, int16(c.maxSeq + i + 1)})
			}
		}
		for _, car := range c.cars {
			year := carYear(car.car.Year)
			switch {
			case car.id == 0:
				cars = append(cars, []any{c.id, car.car.Make, car.car.Model, year, car.car.Plate, car.car.VIN,
					asDate(car.car.WarrantyEnd), asDate(car.car.InsuranceEnd), asDate(car.car.NextServiceDue)})
			case car.changed:
				updates.exec(`UPDATE cars SET make = $2, model = $3, year = $4, plate = $5, vin = $6,
					warranty_end = $7, insurance_end = $8, next_service_due = $9 WHERE car_id = $1`,
					car.id, car.car.Make, car.car.Model, year, car.car.Plate, car.car.VIN,
					asDate(car.car.WarrantyEnd), asDate(car.car.InsuranceEnd), asDate(car.car.NextServiceDue))
			}
		}
	}
	err = copyTables(ctx, t.tx, []table{
		{"clients", []string{"client_id", "last_name", "first_name", "patronymic", "conflict_level", "csi", "manager_id", "lead", "external_id", "email",
			"last_visit_on", "visit_count"}, newClients},
		{"client_phones", []string{"client_id", "e164", "seq"}, phones},
		{"cars", []string{"client_id", "make", "model", "year", "plate", "vin", "warranty_end", "insurance_end", "next_service_due"}, cars},
	})
	if err != nil {
		return err
	}
	if err := t.tx.send(ctx, &updates); err != nil {
		return fmt.Errorf("update clients: %w", err)
	}
	return nil
}

// managers finds (adding when need be) the employees the clients name as
// their managers, by name: an employee with an extension first, as an
// export knows managers by name only. The map gives nil for no manager.
func (t mergeTx) managers(ctx context.Context, clients []*mergeClient) (map[string]any, error) {
	var names []string
	for _, c := range clients {
		if c.manager != "" && c.managerID == nil && !slices.Contains(names, c.manager) {
			names = append(names, c.manager)
		}
	}
	// In one order, so imports adding managers cannot deadlock.
	slices.Sort(names)
	ids := map[string]any{"": nil}
	for _, name := range names {
		const find = `SELECT employee_id FROM employees WHERE name = $1 ORDER BY extension IS NULL, employee_id LIMIT 1`
		var id int64
		err := t.tx.queryRow(ctx, find, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			err = t.tx.queryRow(ctx, `INSERT INTO employees (name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING employee_id`, name).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				err = t.tx.queryRow(ctx, find, name).Scan(&id)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("find or add manager %s: %w", name, err)
		}
		ids[name] = id
	}
	return ids, nil
}

func (t mergeTx) commit(ctx context.Context) error { return t.tx.commit(ctx) }
func (t mergeTx) rollback()                        { t.tx.rollback(context.Background()) }
