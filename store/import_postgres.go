package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// importLockKey, with a hash of the schema name, serialises imports: each
// batch reads the clients its rows name and then writes, and a second
// import in between would make the same client twice.
const importLockKey = 0x5c9e4b0a

// MergeClients merges a client base export into the client base, batch by
// batch, each batch in one transaction: a row whose number or CRM number is
// already a client's is merged into that client, others become clients.
// Rejected rows are in the report with the reason; an error means a batch
// could not be written, and the report holds the batches before it.
func (p *Postgres) MergeClients(ctx context.Context, rows []ImportRow, opts MergeOptions) (MergeReport, error) {
	return mergeClients(ctx, rows, opts, func(ctx context.Context) (mergeTx, error) {
		tx, err := p.pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, int32(importLockKey)); err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("take the import lock: %w", err)
		}
		return pgMergeTx{tx}, nil
	})
}

type pgMergeTx struct{ tx pgx.Tx }

func (t pgMergeTx) commit(ctx context.Context) error { return t.tx.Commit(ctx) }
func (t pgMergeTx) rollback()                        { t.tx.Rollback(context.Background()) }

func (t pgMergeTx) load(ctx context.Context, phones, externalIDs []string) ([]*mergeClient, error) {
	rows, err := t.tx.Query(ctx, `SELECT c.client_id, c.last_name, c.first_name, c.patronymic,
		coalesce(c.external_id, ''), coalesce(c.email, ''), c.conflict_level, c.csi, coalesce(e.name, ''), c.manager_id, c.lead,
		c.last_visit_on, c.visit_count
		FROM clients c LEFT JOIN employees e ON e.employee_id = c.manager_id
		WHERE c.client_id IN (
			SELECT p.client_id FROM unnest($1::text[]) AS w(e164) JOIN client_phones p USING (e164)
			UNION
			SELECT x.client_id FROM unnest($2::text[]) AS w(external_id) JOIN clients x USING (external_id))
		ORDER BY c.client_id`, phones, externalIDs)
	if err != nil {
		return nil, fmt.Errorf("read the clients the rows name: %w", err)
	}
	clients, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*mergeClient, error) {
		c := &mergeClient{existed: true}
		var level int16
		err := row.Scan(&c.id, &c.lastName, &c.firstName, &c.patronymic, &c.externalID, &c.email, &level, &c.csi, &c.manager, &c.managerID, &c.lead,
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
	var b pgx.Batch
	// Joins with the lists, not = ANY: a few thousand IDs each read their
	// rows through the index.
	b.Queue(`SELECT p.client_id, p.e164, p.seq FROM unnest($1::bigint[]) AS w(client_id) JOIN client_phones p USING (client_id)
		ORDER BY p.client_id, p.seq`, ids).
		Query(func(rows pgx.Rows) error {
			var (
				id   int64
				e164 string
				seq  int16
			)
			_, err := pgx.ForEachRow(rows, []any{&id, &e164, &seq}, func() error {
				c := byID[id]
				c.phones = append(c.phones, e164)
				c.maxSeq = max(c.maxSeq, int(seq))
				return nil
			})
			return err
		})
	b.Queue(`SELECT r.car_id, r.client_id, r.make, r.model, coalesce(r.year, 0), r.plate, r.vin, r.warranty_end, r.insurance_end, r.next_service_due
		FROM unnest($1::bigint[]) AS w(client_id) JOIN cars r USING (client_id) ORDER BY r.car_id`, ids).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				car := &mergeCar{}
				var id int64
				if err := rows.Scan(&car.id, &id, &car.car.Make, &car.car.Model, &car.car.Year, &car.car.Plate, &car.car.VIN,
					&car.car.WarrantyEnd, &car.car.InsuranceEnd, &car.car.NextServiceDue); err != nil {
					return err
				}
				byID[id].cars = append(byID[id].cars, car)
			}
			return rows.Err()
		})
	if err := t.tx.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("read the phones and cars of the clients the rows name: %w", err)
	}
	return clients, nil
}

// apply writes a batch in a few round trips whatever its size: new
// clients, phones and cars by COPY, changed clients and cars in one batch
// of updates.
func (t pgMergeTx) apply(ctx context.Context, clients []*mergeClient) error {
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
		rows, err := t.tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('clients', 'client_id')) FROM generate_series(1, $1)`, len(added))
		if err != nil {
			return fmt.Errorf("reserve client IDs: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("reserve client IDs: %w", err)
		}
		for i, c := range added {
			c.id = ids[i]
		}
	}
	var newClients, phones, cars [][]any
	var updates pgx.Batch
	for _, c := range clients {
		manager := managers[c.manager]
		if c.managerID != nil {
			manager = *c.managerID
		}
		if !c.existed {
			newClients = append(newClients, []any{c.id, c.lastName, c.firstName, c.patronymic, int16(c.conflictLevel), c.csi,
				manager, c.lead, nullable(c.externalID), nullable(c.email), c.lastVisit, c.visits})
			for i, p := range c.phones {
				phones = append(phones, []any{c.id, p, int16(i + 1)})
			}
		} else {
			if c.changed {
				updates.Queue(`UPDATE clients SET last_name = $2, first_name = $3, patronymic = $4, conflict_level = $5,
					csi = $6, manager_id = $7, lead = $8, external_id = $9, email = $10,
					last_visit_on = $11, visit_count = $12 WHERE client_id = $1`,
					c.id, c.lastName, c.firstName, c.patronymic, int16(c.conflictLevel), c.csi, manager, c.lead,
					nullable(c.externalID), nullable(c.email), c.lastVisit, c.visits)
			}
			for i, p := range c.newPhones {
				phones = append(phones, []any{c.id, p, int16(c.maxSeq + i + 1)})
			}
		}
		for _, car := range c.cars {
			var year any
			if car.car.Year != 0 {
				year = int16(car.car.Year)
			}
			switch {
			case car.id == 0:
				cars = append(cars, []any{c.id, car.car.Make, car.car.Model, year, car.car.Plate, car.car.VIN,
					car.car.WarrantyEnd, car.car.InsuranceEnd, car.car.NextServiceDue})
			case car.changed:
				updates.Queue(`UPDATE cars SET make = $2, model = $3, year = $4, plate = $5, vin = $6,
					warranty_end = $7, insurance_end = $8, next_service_due = $9 WHERE car_id = $1`,
					car.id, car.car.Make, car.car.Model, year, car.car.Plate, car.car.VIN,
					car.car.WarrantyEnd, car.car.InsuranceEnd, car.car.NextServiceDue)
			}
		}
	}
	for _, w := range []struct {
		table   string
		columns []string
		rows    [][]any
	}{
		{"clients", []string{"client_id", "last_name", "first_name", "patronymic", "conflict_level", "csi", "manager_id", "lead", "external_id", "email",
			"last_visit_on", "visit_count"}, newClients},
		{"client_phones", []string{"client_id", "e164", "seq"}, phones},
		{"cars", []string{"client_id", "make", "model", "year", "plate", "vin", "warranty_end", "insurance_end", "next_service_due"}, cars},
	} {
		if len(w.rows) == 0 {
			continue
		}
		if _, err := t.tx.CopyFrom(ctx, pgx.Identifier{w.table}, w.columns, pgx.CopyFromRows(w.rows)); err != nil {
			return fmt.Errorf("write %s: %w", w.table, err)
		}
	}
	if updates.Len() > 0 {
		if err := t.tx.SendBatch(ctx, &updates).Close(); err != nil {
			return fmt.Errorf("update clients: %w", err)
		}
	}
	return nil
}

// managers finds (adding when need be) the employees the clients name as
// their managers, by name: an employee with an extension first, as an
// export knows managers by name only. The map gives nil for no manager.
func (t pgMergeTx) managers(ctx context.Context, clients []*mergeClient) (map[string]any, error) {
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
		err := t.tx.QueryRow(ctx, find, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = t.tx.QueryRow(ctx, `INSERT INTO employees (name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING employee_id`, name).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				err = t.tx.QueryRow(ctx, find, name).Scan(&id)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("find or add manager %s: %w", name, err)
		}
		ids[name] = id
	}
	return ids, nil
}
