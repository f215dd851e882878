package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/screenpop/screenpop/screenpop"
)

// A record the database refuses is set aside in rejected_calls (the
// dead-letter table), so that the records after it are written; a database
// that cannot be reached keeps every record in the spool instead.

// Rejected is a call record the database refused, as rejected_calls keeps
// it.
type Rejected struct {
	ID     int64  `json:"id"`
	CallID string `json:"call_id"`
	// PBX is the call's box: "" with one box.
	PBX string `json:"pbx,omitempty"`
	// Record is the call as the daemon had it (screenpop.Call in JSON).
	Record json.RawMessage `json:"record"`
	// Reason is the database's error.
	Reason     string    `json:"reason"`
	RejectedAt time.Time `json:"rejected_at"`
}

// Refused reports whether err says the database refused the data it was
// given (a value it cannot hold, a broken constraint): saving the same
// record again would fail again. Any other error (no connection, a
// timeout, a database shutting down) may pass, and the record must wait.
func Refused(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code[:2] {
		case "22", // data exception: 22021 a NUL or a byte that is not UTF-8, 22003 out of range
			"23", // integrity constraint violation
			"54": // program limit exceeded: a value too big
			return true
		}
		return false
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_RANGE:
			return true
		}
	}
	return false
}

// Bounds of the text fields of a call record, in characters. A caller's
// name comes from the caller's own equipment (SIP display name, CNAM):
// nothing bounds it upstream.
const (
	maxCallerName = 200
	maxText       = 500
)

// cleanCall returns c with its text fit for either store: invalid UTF-8
// replaced by U+FFFD, NUL bytes (which PostgreSQL's text refuses) dropped,
// and each field cut to its bound. The caller's offers are copied, never
// changed.
func cleanCall(c screenpop.Call) screenpop.Call {
	c.ID = cleanText(c.ID, maxText)
	c.Caller = cleanText(c.Caller, maxText)
	if c.CallerE164 != nil {
		e := cleanText(*c.CallerE164, maxText)
		c.CallerE164 = &e
	}
	c.CallerName = cleanText(c.CallerName, maxCallerName)
	c.DID = cleanText(c.DID, maxText)
	if c.AnsweredBy != nil {
		a := cleanText(*c.AnsweredBy, maxText)
		c.AnsweredBy = &a
	}
	c.OfferedTo = cleanList(c.OfferedTo)
	c.TalkedTo = cleanList(c.TalkedTo)
	c.HangupCauseText = cleanText(c.HangupCauseText, maxText)
	c.CloseReason = cleanText(c.CloseReason, maxText)
	offers := make([]screenpop.Offer, len(c.Offers))
	for i, o := range c.Offers {
		o.Operator = cleanText(o.Operator, maxText)
		o.Channel = cleanText(o.Channel, maxText)
		o.DialStatus = cleanText(o.DialStatus, maxText)
		offers[i] = o
	}
	c.Offers = offers
	return c
}

func cleanList(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = cleanText(s, maxText)
	}
	return out
}

// cleanText drops NUL bytes, replaces invalid UTF-8 and cuts s to max
// characters.
func cleanText(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\x00", "")
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	return s
}

// rejectedRecord is what rejected_calls keeps of a call: JSON, which
// escapes what the database refused (a NUL is \u0000 in it).
func rejectedRecord(c screenpop.Call, reason error) (record, why string) {
	b, err := json.Marshal(c)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"pbx": c.PBX, "call_id": c.ID, "marshal_error": err.Error()})
	}
	return string(b), cleanText(reason.Error(), 2000)
}

// Refused is the package's Refused, for the spool's Writer, which knows
// the database only by its methods.
func (s *sqlStore) Refused(err error) bool { return Refused(err) }

// RejectCall sets c aside in rejected_calls, with the reason the database
// refused it. The same record rejected again (a batch delivered again
// after a crash) is kept once.
func (s *sqlStore) RejectCall(ctx context.Context, c screenpop.Call, reason error) error {
	record, why := rejectedRecord(c, reason)
	_, err := s.conn.exec(ctx, `INSERT INTO rejected_calls (call_id, record, reason, pbx)
		SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM rejected_calls WHERE pbx = $4 AND call_id = $1 AND record = $2)`,
		cleanText(c.ID, maxText), record, why, cleanText(c.PBX, maxText))
	if err != nil {
		return fmt.Errorf("set aside call %s: %w", screenpop.CallKey(c.PBX, c.ID), err)
	}
	return nil
}

// RejectedCalls lists the records set aside, oldest first.
func (s *sqlStore) RejectedCalls(ctx context.Context) ([]Rejected, error) {
	rs, err := s.conn.query(ctx, `SELECT id, pbx, call_id, record, reason, rejected_at FROM rejected_calls ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list rejected calls: %w", err)
	}
	list, err := collect(rs, func(r row) (Rejected, error) {
		var (
			rej    Rejected
			record string
		)
		err := r.Scan(&rej.ID, &rej.PBX, &rej.CallID, &record, &rej.Reason, &rej.RejectedAt)
		rej.Record, rej.RejectedAt = json.RawMessage(record), rej.RejectedAt.UTC()
		return rej, err
	})
	if err != nil {
		return nil, fmt.Errorf("list rejected calls: %w", err)
	}
	return list, nil
}
