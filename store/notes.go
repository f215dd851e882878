package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// What operators write about calls: a note with each call, which becomes
// the client's last contact, complaints opened by a note and closed by an
// operator.

// decodeComplaints reads the JSON array of a client's open complaints, as
// both stores' lookups give it: times as SQLite stores them.
func decodeComplaints(data []byte) ([]screenpop.Complaint, error) {
	var rows []struct {
		ID       int64  `json:"complaint_id"`
		OpenedAt string `json:"opened_at"`
		Summary  string `json:"summary"`
	}
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("decode complaints: %w", err)
	}
	cps := make([]screenpop.Complaint, len(rows))
	for i, r := range rows {
		cps[i] = screenpop.Complaint{ID: r.ID, Summary: r.Summary}
		if err := parseTime(r.OpenedAt, &cps[i].OpenedAt); err != nil {
			return nil, fmt.Errorf("decode complaints: %w", err)
		}
	}
	return cps, nil
}

// SaveNote stores the note with its call, replacing the call's earlier
// note. With a client it is their contact (at the note's time, by the
// operator, with the note's summary), the last one until another; a
// complaint purpose opens a complaint on them, once per call. Writing the
// note again updates that contact and complaint rather than adding more.
// The returned note has the complaint's ID, if it opened one. A client
// that does not exist gives an error wrapping screenpop.ErrUnknownClient.
func (p *Postgres) SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error) {
	n.At = msUTC(n.At)
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return n, fmt.Errorf("save note of call %s: %w", n.CallID, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if n.ClientID != 0 {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM clients WHERE client_id = $1)`, n.ClientID).Scan(&exists); err != nil {
			return n, fmt.Errorf("save note of call %s: %w", n.CallID, err)
		}
		if !exists {
			return n, fmt.Errorf("save note of call %s: client %d: %w", n.CallID, n.ClientID, screenpop.ErrUnknownClient)
		}
	}
	// The upsert locks the call's note: two operators noting one call at
	// once take turns, and the second sees what the first made.
	var contactID, complaintID *int64
	if err := tx.QueryRow(ctx, `INSERT INTO call_notes (call_id, client_id, purpose, note, operator, operator_name, noted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (call_id) DO UPDATE SET client_id = excluded.client_id, purpose = excluded.purpose, note = excluded.note,
			operator = excluded.operator, operator_name = excluded.operator_name, noted_at = excluded.noted_at
		RETURNING contact_id, complaint_id`,
		n.CallID, nullable(n.ClientID), n.Purpose, n.Text, n.Operator.Extension, n.Operator.Name, n.At,
	).Scan(&contactID, &complaintID); err != nil {
		return n, fmt.Errorf("save note of call %s: %w", n.CallID, err)
	}
	switch {
	case n.ClientID == 0 && contactID != nil:
		_, err = tx.Exec(ctx, `DELETE FROM contacts WHERE contact_id = $1`, *contactID)
		contactID = nil
	case n.ClientID != 0 && contactID != nil:
		_, err = tx.Exec(ctx, `UPDATE contacts SET client_id = $2, at = $3, employee = $4, summary = $5 WHERE contact_id = $1`,
			*contactID, n.ClientID, n.At, n.Operator.Name, n.Summary)
	case n.ClientID != 0:
		contactID = new(int64)
		err = tx.QueryRow(ctx, `INSERT INTO contacts (client_id, at, channel, employee, summary)
			VALUES ($1, $2, 'phone', $3, $4) RETURNING contact_id`, n.ClientID, n.At, n.Operator.Name, n.Summary).Scan(contactID)
	}
	if err != nil {
		return n, fmt.Errorf("save note of call %s: write the contact: %w", n.CallID, err)
	}
	if n.OpensComplaint {
		if complaintID != nil {
			_, err = tx.Exec(ctx, `UPDATE complaints SET summary = $2 WHERE complaint_id = $1 AND closed_at IS NULL`, *complaintID, n.Summary)
		} else {
			complaintID = new(int64)
			err = tx.QueryRow(ctx, `INSERT INTO complaints (client_id, opened_at, summary, call_id)
				VALUES ($1, $2, $3, $4) RETURNING complaint_id`, n.ClientID, n.At, n.Summary, n.CallID).Scan(complaintID)
		}
		if err != nil {
			return n, fmt.Errorf("save note of call %s: open the complaint: %w", n.CallID, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE call_notes SET contact_id = $2, complaint_id = $3 WHERE call_id = $1`,
		n.CallID, contactID, complaintID); err != nil {
		return n, fmt.Errorf("save note of call %s: %w", n.CallID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return n, fmt.Errorf("save note of call %s: commit: %w", n.CallID, err)
	}
	if n.OpensComplaint && complaintID != nil {
		n.ComplaintID = *complaintID
	}
	return n, nil
}

// CloseComplaint closes an open complaint, saying who closed it and why,
// and returns the client it was about. A complaint already closed gives an
// error wrapping screenpop.ErrComplaintClosed; no such complaint,
// screenpop.ErrUnknownComplaint.
func (p *Postgres) CloseComplaint(ctx context.Context, id int64, reason string, by screenpop.Operator, at time.Time) (int64, error) {
	var clientID int64
	err := p.pool.QueryRow(ctx, `UPDATE complaints SET closed_at = $2, closed_by = $3, close_reason = $4
		WHERE complaint_id = $1 AND closed_at IS NULL RETURNING client_id`, id, msUTC(at), by.Name, reason).Scan(&clientID)
	if errors.Is(err, pgx.ErrNoRows) {
		err = p.pool.QueryRow(ctx, `SELECT client_id FROM complaints WHERE complaint_id = $1`, id).Scan(&clientID)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("close complaint %d: %w", id, screenpop.ErrUnknownComplaint)
		}
		if err == nil {
			return clientID, fmt.Errorf("close complaint %d: %w", id, screenpop.ErrComplaintClosed)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("close complaint %d: %w", id, err)
	}
	return clientID, nil
}

// SaveNote stores the note with its call, replacing the call's earlier
// note. With a client it is their contact (at the note's time, by the
// operator, with the note's summary), the last one until another; a
// complaint purpose opens a complaint on them, once per call. Writing the
// note again updates that contact and complaint rather than adding more.
// The returned note has the complaint's ID, if it opened one. A client
// that does not exist gives an error wrapping screenpop.ErrUnknownClient.
func (s *SQLite) SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error) {
	n.At = msUTC(n.At)
	at := formatTime(n.At)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return n, fmt.Errorf("save note of call %s: %w", n.CallID, err)
	}
	defer tx.Rollback()
	if n.ClientID != 0 {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM clients WHERE client_id = ?)`, n.ClientID).Scan(&exists); err != nil {
			return n, fmt.Errorf("save note of call %s: %w", n.CallID, err)
		}
		if !exists {
			return n, fmt.Errorf("save note of call %s: client %d: %w", n.CallID, n.ClientID, screenpop.ErrUnknownClient)
		}
	}
	var contact, complaint sql.NullInt64
	if err := tx.QueryRowContext(ctx, `INSERT INTO call_notes (call_id, client_id, purpose, note, operator, operator_name, noted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (call_id) DO UPDATE SET client_id = excluded.client_id, purpose = excluded.purpose, note = excluded.note,
			operator = excluded.operator, operator_name = excluded.operator_name, noted_at = excluded.noted_at
		RETURNING contact_id, complaint_id`,
		n.CallID, nullable(n.ClientID), n.Purpose, n.Text, n.Operator.Extension, n.Operator.Name, at,
	).Scan(&contact, &complaint); err != nil {
		return n, fmt.Errorf("save note of call %s: %w", n.CallID, err)
	}
	switch {
	case n.ClientID == 0 && contact.Valid:
		_, err = tx.ExecContext(ctx, `DELETE FROM contacts WHERE contact_id = ?`, contact.Int64)
		contact = sql.NullInt64{}
	case n.ClientID != 0 && contact.Valid:
		_, err = tx.ExecContext(ctx, `UPDATE contacts SET client_id = ?, at = ?, employee = ?, summary = ? WHERE contact_id = ?`,
			n.ClientID, at, n.Operator.Name, n.Summary, contact.Int64)
	case n.ClientID != 0:
		err = tx.QueryRowContext(ctx, `INSERT INTO contacts (client_id, at, channel, employee, summary)
			VALUES (?, ?, 'phone', ?, ?) RETURNING contact_id`, n.ClientID, at, n.Operator.Name, n.Summary).Scan(&contact)
	}
	if err != nil {
		return n, fmt.Errorf("save note of call %s: write the contact: %w", n.CallID, err)
	}
	if n.OpensComplaint {
		if complaint.Valid {
			_, err = tx.ExecContext(ctx, `UPDATE complaints SET summary = ? WHERE complaint_id = ? AND closed_at IS NULL`, n.Summary, complaint.Int64)
		} else {
			err = tx.QueryRowContext(ctx, `INSERT INTO complaints (client_id, opened_at, summary, call_id)
				VALUES (?, ?, ?, ?) RETURNING complaint_id`, n.ClientID, at, n.Summary, n.CallID).Scan(&complaint)
		}
		if err != nil {
			return n, fmt.Errorf("save note of call %s: open the complaint: %w", n.CallID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE call_notes SET contact_id = ?, complaint_id = ? WHERE call_id = ?`,
		contact, complaint, n.CallID); err != nil {
		return n, fmt.Errorf("save note of call %s: %w", n.CallID, err)
	}
	if err := tx.Commit(); err != nil {
		return n, fmt.Errorf("save note of call %s: commit: %w", n.CallID, err)
	}
	if n.OpensComplaint && complaint.Valid {
		n.ComplaintID = complaint.Int64
	}
	return n, nil
}

// CloseComplaint closes an open complaint, saying who closed it and why,
// and returns the client it was about. A complaint already closed gives an
// error wrapping screenpop.ErrComplaintClosed; no such complaint,
// screenpop.ErrUnknownComplaint.
func (s *SQLite) CloseComplaint(ctx context.Context, id int64, reason string, by screenpop.Operator, at time.Time) (int64, error) {
	var clientID int64
	err := s.db.QueryRowContext(ctx, `UPDATE complaints SET closed_at = ?, closed_by = ?, close_reason = ?
		WHERE complaint_id = ? AND closed_at IS NULL RETURNING client_id`, formatTime(at), by.Name, reason, id).Scan(&clientID)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.db.QueryRowContext(ctx, `SELECT client_id FROM complaints WHERE complaint_id = ?`, id).Scan(&clientID)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("close complaint %d: %w", id, screenpop.ErrUnknownComplaint)
		}
		if err == nil {
			return clientID, fmt.Errorf("close complaint %d: %w", id, screenpop.ErrComplaintClosed)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("close complaint %d: %w", id, err)
	}
	return clientID, nil
}
