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
		if err := (*sqliteTime)(&cps[i].OpenedAt).Scan(r.OpenedAt); err != nil {
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
func (s *sqlStore) SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error) {
	n.At = msUTC(n.At)
	tx, err := s.conn.begin(ctx, false)
	if err != nil {
		return n, fmt.Errorf("save note of call %s: %w", screenpop.CallKey(n.PBX, n.CallID), err)
	}
	defer tx.rollback(ctx)
	if n.ClientID != 0 {
		var exists bool
		if err := tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM clients WHERE client_id = $1)`, n.ClientID).Scan(&exists); err != nil {
			return n, fmt.Errorf("save note of call %s: %w", screenpop.CallKey(n.PBX, n.CallID), err)
		}
		if !exists {
			return n, fmt.Errorf("save note of call %s: client %d: %w", screenpop.CallKey(n.PBX, n.CallID), n.ClientID, screenpop.ErrUnknownClient)
		}
	}
	// The upsert locks the call's note: two operators noting one call at
	// once take turns, and the second sees what the first made.
	var contactID, complaintID *int64
	if err := tx.queryRow(ctx, `INSERT INTO call_notes (call_id, client_id, purpose, note, operator, operator_name, noted_at, pbx)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (pbx, call_id) DO UPDATE SET client_id = excluded.client_id, purpose = excluded.purpose, note = excluded.note,
			operator = excluded.operator, operator_name = excluded.operator_name, noted_at = excluded.noted_at
		RETURNING contact_id, complaint_id`,
		n.CallID, nullable(n.ClientID), n.Purpose, n.Text, n.Operator.Extension, n.Operator.Name, n.At, n.PBX,
	).Scan(&contactID, &complaintID); err != nil {
		return n, fmt.Errorf("save note of call %s: %w", screenpop.CallKey(n.PBX, n.CallID), err)
	}
	switch {
	case n.ClientID == 0 && contactID != nil:
		_, err = tx.exec(ctx, `DELETE FROM contacts WHERE contact_id = $1`, *contactID)
		contactID = nil
	case n.ClientID != 0 && contactID != nil:
		_, err = tx.exec(ctx, `UPDATE contacts SET client_id = $2, at = $3, employee = $4, summary = $5 WHERE contact_id = $1`,
			*contactID, n.ClientID, n.At, n.Operator.Name, n.Summary)
	case n.ClientID != 0:
		contactID = new(int64)
		err = tx.queryRow(ctx, `INSERT INTO contacts (client_id, at, channel, employee, summary)
			VALUES ($1, $2, 'phone', $3, $4) RETURNING contact_id`, n.ClientID, n.At, n.Operator.Name, n.Summary).Scan(contactID)
	}
	if err != nil {
		return n, fmt.Errorf("save note of call %s: write the contact: %w", screenpop.CallKey(n.PBX, n.CallID), err)
	}
	if n.OpensComplaint {
		if complaintID != nil {
			_, err = tx.exec(ctx, `UPDATE complaints SET summary = $2 WHERE complaint_id = $1 AND closed_at IS NULL`, *complaintID, n.Summary)
		} else {
			complaintID = new(int64)
			err = tx.queryRow(ctx, `INSERT INTO complaints (client_id, opened_at, summary, call_id, pbx)
				VALUES ($1, $2, $3, $4, $5) RETURNING complaint_id`, n.ClientID, n.At, n.Summary, n.CallID, n.PBX).Scan(complaintID)
		}
		if err != nil {
			return n, fmt.Errorf("save note of call %s: open the complaint: %w", screenpop.CallKey(n.PBX, n.CallID), err)
		}
	}
	if _, err := tx.exec(ctx, `UPDATE call_notes SET contact_id = $2, complaint_id = $3 WHERE call_id = $1 AND pbx = $4`,
		n.CallID, contactID, complaintID, n.PBX); err != nil {
		return n, fmt.Errorf("save note of call %s: %w", screenpop.CallKey(n.PBX, n.CallID), err)
	}
	if err := tx.commit(ctx); err != nil {
		return n, fmt.Errorf("save note of call %s: commit: %w", screenpop.CallKey(n.PBX, n.CallID), err)
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
func (s *sqlStore) CloseComplaint(ctx context.Context, id int64, reason string, by screenpop.Operator, at time.Time) (int64, error) {
	var clientID int64
	err := s.conn.queryRow(ctx, `UPDATE complaints SET closed_at = $2, closed_by = $3, close_reason = $4
		WHERE complaint_id = $1 AND closed_at IS NULL RETURNING client_id`, id, msUTC(at), by.Name, reason).Scan(&clientID)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.conn.queryRow(ctx, `SELECT client_id FROM complaints WHERE complaint_id = $1`, id).Scan(&clientID)
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
