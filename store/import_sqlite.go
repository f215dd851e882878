package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// MergeClients merges a client base export into the client base, batch by
// batch, each batch in one transaction: a row whose number or CRM number is
// already a client's is merged into that client, others become clients.
// Rejected rows are in the report with the reason; an error means a batch
// could not be written, and the report holds the batches before it.
func (s *SQLite) MergeClients(ctx context.Context, rows []ImportRow, opts MergeOptions) (MergeReport, error) {
	// Transactions are immediate: each holds the write lock from its
	// start, so imports cannot interleave.
	return mergeClients(ctx, rows, opts, func(ctx context.Context) (mergeTx, error) {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		return sqliteMergeTx{tx}, nil
	})
}

type sqliteMergeTx struct{ tx *sql.Tx }

func (t sqliteMergeTx) commit(context.Context) error { return t.tx.Commit() }
func (t sqliteMergeTx) rollback()                    { t.tx.Rollback() }

// jsonList passes a list to SQLite, which reads it with json_each.
func jsonList[T any](v []T) string {
	if v == nil {
		return "[]"
	}
	b, _ := json.Marshal(v) // strings and integers always marshal
	return string(b)
}

func (t sqliteMergeTx) load(ctx context.Context, phones, externalIDs []string) ([]*mergeClient, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT c.client_id, c.last_name, c.first_name, c.patronymic,
		coalesce(c.external_id, ''), coalesce(c.email, ''), c.conflict_level, c.csi, coalesce(e.name, ''), c.manager_id, c.lead,
		c.last_visit_on, c.visit_count
		FROM clients c LEFT JOIN employees e ON e.employee_id = c.manager_id
		WHERE c.client_id IN (SELECT client_id FROM client_phones WHERE e164 IN (SELECT value FROM json_each(?1)))
		   OR c.external_id IN (SELECT value FROM json_each(?2))
		ORDER BY c.client_id`, jsonList(phones), jsonList(externalIDs))
	if err != nil {
		return nil, fmt.Errorf("read the clients the rows name: %w", err)
	}
	defer rows.Close()
	var clients []*mergeClient
	byID := map[int64]*mergeClient{}
	for rows.Next() {
		c := &mergeClient{existed: true}
		var csi sql.NullFloat64
		var lastVisit *string
		var visits sql.NullInt64
		if err := rows.Scan(&c.id, &c.lastName, &c.firstName, &c.patronymic, &c.externalID, &c.email,
			&c.conflictLevel, &csi, &c.manager, &c.managerID, &c.lead, &lastVisit, &visits); err != nil {
			return nil, fmt.Errorf("read the clients the rows name: %w", err)
		}
		c.csi = floatPtr(csi)
		var errs []error
		if c.lastVisit = parseDate(lastVisit, &errs); len(errs) > 0 {
			return nil, fmt.Errorf("read the clients the rows name: %w", errs[0])
		}
		if visits.Valid {
			n := int(visits.Int64)
			c.visits = &n
		}
		clients = append(clients, c)
		byID[c.id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the clients the rows name: %w", err)
	}
	if len(clients) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(clients))
	for i, c := range clients {
		ids[i] = c.id
	}
	err = errors.Join(
		sqliteRows(ctx, t.tx, `SELECT client_id, e164, seq FROM client_phones
			WHERE client_id IN (SELECT value FROM json_each(?)) ORDER BY client_id, seq`, jsonList(ids),
			func(scan func(...any) error) error {
				var (
					id   int64
					e164 string
					seq  int
				)
				if err := scan(&id, &e164, &seq); err != nil {
					return err
				}
				c := byID[id]
				c.phones = append(c.phones, e164)
				c.maxSeq = max(c.maxSeq, seq)
				return nil
			}),
		sqliteRows(ctx, t.tx, `SELECT car_id, client_id, make, model, coalesce(year, 0), plate, vin, warranty_end, insurance_end, next_service_due
			FROM cars WHERE client_id IN (SELECT value FROM json_each(?)) ORDER BY car_id`, jsonList(ids),
			func(scan func(...any) error) error {
				car := &mergeCar{}
				var id int64
				var warranty, insurance, service *string
				if err := scan(&car.id, &id, &car.car.Make, &car.car.Model, &car.car.Year, &car.car.Plate, &car.car.VIN,
					&warranty, &insurance, &service); err != nil {
					return err
				}
				var errs []error
				car.car.WarrantyEnd, car.car.InsuranceEnd, car.car.NextServiceDue = parseDate(warranty, &errs), parseDate(insurance, &errs), parseDate(service, &errs)
				byID[id].cars = append(byID[id].cars, car)
				return errors.Join(errs...)
			}),
	)
	if err != nil {
		return nil, fmt.Errorf("read the phones and cars of the clients the rows name: %w", err)
	}
	return clients, nil
}

func (t sqliteMergeTx) apply(ctx context.Context, clients []*mergeClient) error {
	managers, err := t.managers(ctx, clients)
	if err != nil {
		return err
	}
	stmts := map[string]*sql.Stmt{}
	for name, q := range map[string]string{
		"add client": `INSERT INTO clients (last_name, first_name, patronymic, conflict_level, csi, manager_id, lead, external_id, email,
			last_visit_on, visit_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		"update client": `UPDATE clients SET last_name = ?2, first_name = ?3, patronymic = ?4, conflict_level = ?5,
			csi = ?6, manager_id = ?7, lead = ?8, external_id = ?9, email = ?10, last_visit_on = ?11, visit_count = ?12
			WHERE client_id = ?1`,
		"add phone": `INSERT INTO client_phones (client_id, e164, seq) VALUES (?, ?, ?)`,
		"add car": `INSERT INTO cars (client_id, make, model, year, plate, vin, warranty_end, insurance_end, next_service_due)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		"update car": `UPDATE cars SET make = ?2, model = ?3, year = ?4, plate = ?5, vin = ?6,
			warranty_end = ?7, insurance_end = ?8, next_service_due = ?9 WHERE car_id = ?1`,
	} {
		st, err := t.tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %s: %w", name, err)
		}
		defer st.Close()
		stmts[name] = st
	}
	exec := func(name string, args ...any) (sql.Result, error) {
		res, err := stmts[name].ExecContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return res, nil
	}
	for _, c := range clients {
		manager := managers[c.manager]
		if c.managerID != nil {
			manager = *c.managerID
		}
		phones := c.newPhones
		first := c.maxSeq + 1
		switch {
		case !c.existed:
			res, err := exec("add client", c.lastName, c.firstName, c.patronymic, c.conflictLevel, c.csi, manager, c.lead,
				nullable(c.externalID), nullable(c.email), formatDatePtr(c.lastVisit), c.visits)
			if err != nil {
				return err
			}
			if c.id, err = res.LastInsertId(); err != nil {
				return fmt.Errorf("add client: %w", err)
			}
			phones, first = c.phones, 1
		case c.changed:
			if _, err := exec("update client", c.id, c.lastName, c.firstName, c.patronymic, c.conflictLevel, c.csi, manager, c.lead,
				nullable(c.externalID), nullable(c.email), formatDatePtr(c.lastVisit), c.visits); err != nil {
				return err
			}
		}
		for i, p := range phones {
			if _, err := exec("add phone", c.id, p, first+i); err != nil {
				return err
			}
		}
		for _, car := range c.cars {
			args := []any{car.car.Make, car.car.Model, nullable(car.car.Year), car.car.Plate, car.car.VIN,
				formatDatePtr(car.car.WarrantyEnd), formatDatePtr(car.car.InsuranceEnd), formatDatePtr(car.car.NextServiceDue)}
			switch {
			case car.id == 0:
				if _, err := exec("add car", append([]any{c.id}, args...)...); err != nil {
					return err
				}
			case car.changed:
				if _, err := exec("update car", append([]any{car.id}, args...)...); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// managers finds (adding when need be) the employees the clients name as
// their managers, by name: an employee with an extension first. The
// transaction holds the write lock, so nobody adds them in between.
func (t sqliteMergeTx) managers(ctx context.Context, clients []*mergeClient) (map[string]any, error) {
	ids := map[string]any{"": nil}
	for _, c := range clients {
		if _, done := ids[c.manager]; done || c.managerID != nil {
			continue
		}
		var id int64
		err := t.tx.QueryRowContext(ctx, `SELECT employee_id FROM employees WHERE name = ?
			ORDER BY extension IS NULL, employee_id LIMIT 1`, c.manager).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			var res sql.Result
			if res, err = t.tx.ExecContext(ctx, `INSERT INTO employees (name) VALUES (?)`, c.manager); err == nil {
				id, err = res.LastInsertId()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("find or add manager %s: %w", c.manager, err)
		}
		ids[c.manager] = id
	}
	return ids, nil
}
