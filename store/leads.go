package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/screenpop/screenpop/screenpop"
)

// Both stores make leads of unknown callers for the pop.
var (
	_ screenpop.Leads = (*Postgres)(nil)
	_ screenpop.Leads = (*SQLite)(nil)
)

// A lead is a client made from an unknown caller's number, with no name
// until an operator types one. The leads table holds one row per number:
// the first transaction to insert it wins, and every other, in this
// process or another, rolls its client back and reads the winner.

// leadRecord is the lead with the ID as the pop shows it: as a lookup of
// its number finds it, or, if the number is no longer the lead's, bare.
// It reads on the writer, which has just made the lead: the read back
// needs nothing of the readers' view of commits.
func (s *sqlStore) leadRecord(ctx context.Context, id int64, e164 string) (screenpop.ClientRecord, error) {
	recs, err := s.lookupPhone(ctx, s.conn, e164)
	if err != nil {
		return screenpop.ClientRecord{}, err
	}
	for _, r := range recs {
		if r.ID == id {
			return r, nil
		}
	}
	return screenpop.ClientRecord{
		Client:            screenpop.Client{ID: id, Phones: []string{}, Cars: []screenpop.Car{}, Lead: true},
		OpenComplaintList: []screenpop.Complaint{},
	}, nil
}

// EnsureLead returns the lead of the E.164 number, making one if there is
// none: however many calls and daemons ask at once, one number makes one
// lead. ok is false, and nothing is made, when the number is a client's.
func (s *sqlStore) EnsureLead(ctx context.Context, e164 string) (screenpop.ClientRecord, bool, error) {
	if !e164Format.MatchString(e164) {
		return screenpop.ClientRecord{}, false, fmt.Errorf("make a lead: %q is not in E.164", e164)
	}
	id, ok, err := s.ensureLead(ctx, e164)
	if err != nil || !ok {
		return screenpop.ClientRecord{}, false, err
	}
	rec, err := s.leadRecord(ctx, id, e164)
	if err != nil {
		return screenpop.ClientRecord{}, false, fmt.Errorf("make a lead: read it back: %w", err)
	}
	return rec, true, nil
}

func (s *sqlStore) ensureLead(ctx context.Context, e164 string) (int64, bool, error) {
	// On SQLite the transaction takes the write lock at BEGIN, so no
	// other process adds the number between the reads and the inserts; ON
	// CONFLICT is the guarantee all the same.
	tx, err := s.conn.begin(ctx, false)
	if err != nil {
		return 0, false, fmt.Errorf("make a lead: %w", err)
	}
	defer tx.rollback(ctx)
	// One statement, so one snapshot: a lead made meanwhile shows both its
	// row and its phone, or neither.
	var (
		id    *int64
		known bool
	)
	if err := tx.queryRow(ctx, leadOf, e164).Scan(&id, &known); err != nil {
		return 0, false, fmt.Errorf("make a lead: %w", err)
	}
	switch {
	case id != nil:
		return *id, true, nil
	case known:
		return 0, false, nil
	}
	var lead int64
	if err := tx.queryRow(ctx, `INSERT INTO clients (last_name, first_name, patronymic, lead)
		VALUES ('', '', '', true) RETURNING client_id`).Scan(&lead); err != nil {
		return 0, false, fmt.Errorf("make a lead: add the client: %w", err)
	}
	// A transaction inserting the same number waits here for this one to
	// end, then inserts nothing.
	err = tx.queryRow(ctx, `INSERT INTO leads (e164, client_id) VALUES ($1, $2)
		ON CONFLICT (e164) DO NOTHING RETURNING client_id`, e164, lead).Scan(&lead)
	if errors.Is(err, sql.ErrNoRows) {
		tx.rollback(ctx)
		// Another made it first; outside the transaction its row is seen.
		if err := s.conn.queryRow(ctx, `SELECT client_id FROM leads WHERE e164 = $1`, e164).Scan(&lead); err != nil {
			return 0, false, fmt.Errorf("make a lead: read the one made at the same time: %w", err)
		}
		return lead, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("make a lead: %w", err)
	}
	if _, err := tx.exec(ctx, `INSERT INTO client_phones (client_id, e164, seq) VALUES ($1, $2, 1)`, lead, e164); err != nil {
		return 0, false, fmt.Errorf("make a lead: add the phone: %w", err)
	}
	if err := tx.commit(ctx); err != nil {
		return 0, false, fmt.Errorf("make a lead: commit: %w", err)
	}
	return lead, true, nil
}

// leadOf is the number's lead, if it has one, and whether any client
// has the number.
const leadOf = `SELECT (SELECT client_id FROM leads WHERE e164 = $1),
	EXISTS (SELECT 1 FROM client_phones WHERE e164 = $1)`

// UpdateLead gives a lead the name an operator typed, and adds the car
// they called about (or updates the lead's car with its plate). The client
// stays a lead until they visit. A client that is not a lead gives an
// error wrapping screenpop.ErrNotLead; no such client, ErrUnknownClient.
func (s *sqlStore) UpdateLead(ctx context.Context, id int64, u screenpop.LeadUpdate) (screenpop.Client, error) {
	tx, err := s.conn.begin(ctx, false)
	if err != nil {
		return screenpop.Client{}, fmt.Errorf("update lead %d: %w", id, err)
	}
	defer tx.rollback(ctx)
	var lead bool
	err = tx.queryRow(ctx, `SELECT lead FROM clients WHERE client_id = $1`+s.dialect.forUpdate, id).Scan(&lead)
	if errors.Is(err, sql.ErrNoRows) {
		return screenpop.Client{}, fmt.Errorf("update lead %d: %w", id, screenpop.ErrUnknownClient)
	}
	if err != nil {
		return screenpop.Client{}, fmt.Errorf("update lead %d: %w", id, err)
	}
	if !lead {
		return screenpop.Client{}, fmt.Errorf("update lead %d: %w", id, screenpop.ErrNotLead)
	}
	if _, err := tx.exec(ctx, `UPDATE clients SET last_name = $2, first_name = $3, patronymic = $4 WHERE client_id = $1`,
		id, u.LastName, u.FirstName, u.Patronymic); err != nil {
		return screenpop.Client{}, fmt.Errorf("update lead %d: %w", id, err)
	}
	if car := u.Car; car != nil {
		n, err := tx.exec(ctx, `UPDATE cars SET make = $3, model = $4 WHERE client_id = $1 AND plate = $2 AND plate <> ''`,
			id, car.Plate, car.Make, car.Model)
		if err == nil && n == 0 {
			_, err = tx.exec(ctx, `INSERT INTO cars (client_id, make, model, plate, vin)
				SELECT $1, $2, $3, $4, '' WHERE NOT EXISTS (
					SELECT 1 FROM cars WHERE client_id = $1 AND make = $2 AND model = $3 AND plate = $4)`,
				id, car.Make, car.Model, car.Plate)
		}
		if err != nil {
			return screenpop.Client{}, fmt.Errorf("update lead %d: add the car: %w", id, err)
		}
	}
	if err := tx.commit(ctx); err != nil {
		return screenpop.Client{}, fmt.Errorf("update lead %d: commit: %w", id, err)
	}
	c, err := s.Client(ctx, id)
	if err != nil {
		return screenpop.Client{}, fmt.Errorf("update lead %d: %w", id, err)
	}
	return c.Client, nil
}
