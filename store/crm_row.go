package store

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/screenpop/screenpop/screenpop"
)

// Reading the CRM query's rows into the card: each column by what it
// holds, whatever type the CRM keeps it in.

// crmRow is one row of the query's answer by column, NULLs left out.
type crmRow map[string]any

// crmDecode reads a row of text values by their types.
func crmDecode(types *pgtype.Map, fields []pgconn.FieldDescription, names []string, vals [][]byte) (crmRow, error) {
	row := crmRow{}
	for i, buf := range vals {
		if buf == nil {
			continue
		}
		oid := fields[i].DataTypeOID
		t, ok := types.TypeForOID(oid)
		if !ok {
			row[names[i]] = string(buf)
			continue
		}
		v, err := t.Codec.DecodeValue(types, oid, pgtype.TextFormatCode, buf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
		row[names[i]] = v
	}
	return row, nil
}

func (r crmRow) text(col string) (string, error) {
	switch v := r[col].(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case []byte:
		return strings.TrimSpace(string(v)), nil
	case time.Time:
		return v.Format(time.DateOnly), nil
	case pgtype.Numeric:
		f, err := v.Float64Value()
		if err != nil || !f.Valid {
			return "", fmt.Errorf("%s: %v is not a number", col, v)
		}
		return strconv.FormatFloat(f.Float64, 'f', -1, 64), nil
	case [16]byte: // a uuid
		return fmt.Sprintf("%x-%x-%x-%x-%x", v[0:4], v[4:6], v[6:8], v[8:10], v[10:16]), nil
	default:
		return strings.TrimSpace(fmt.Sprint(v)), nil
	}
}

func (r crmRow) float(col string) (*float64, error) {
	var f float64
	switch v := r[col].(type) {
	case nil:
		return nil, nil
	case int16:
		f = float64(v)
	case int32:
		f = float64(v)
	case int64:
		f = float64(v)
	case float32:
		f = float64(v)
	case float64:
		f = v
	case pgtype.Numeric:
		n, err := v.Float64Value()
		if err != nil || !n.Valid {
			return nil, fmt.Errorf("%s: %v is not a number", col, v)
		}
		f = n.Float64
	default:
		return nil, fmt.Errorf("%s: %v (%T) is not a number", col, v, v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s: %v is not a number", col, f)
	}
	return &f, nil
}

func (r crmRow) int(col string) (int, error) {
	f, err := r.float(col)
	if err != nil || f == nil {
		return 0, err
	}
	if math.Abs(*f) > math.MaxInt32 {
		return 0, fmt.Errorf("%s: %v is out of range", col, *f)
	}
	return int(math.Round(*f)), nil
}

func (r crmRow) time(col string) (*time.Time, error) {
	switch v := r[col].(type) {
	case nil:
		return nil, nil
	case time.Time:
		return &v, nil
	case pgtype.InfinityModifier:
		return nil, nil // infinity: no date to show
	default:
		return nil, fmt.Errorf("%s: %v (%T) is not a date", col, v, v)
	}
}

// dateOf is a date as the card keeps one: midnight UTC of that day.
func dateOf(t *time.Time, err error) (*time.Time, error) {
	if t == nil || err != nil {
		return nil, err
	}
	return datePtr(t), nil
}

func (r crmRow) list(col string) ([]string, error) {
	switch v := r[col].(type) {
	case nil:
		return nil, nil
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out, nil
	default:
		s, err := r.text(col)
		return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }), err
	}
}

// client reads the client's columns into rec.
func (r crmRow) client(rec *screenpop.ClientRecord, region string) error {
	var errs []error
	text := func(col string) string {
		s, err := r.text(col)
		errs = append(errs, err)
		return tidy(s)
	}
	num := func(col string) int {
		n, err := r.int(col)
		errs = append(errs, err)
		return n
	}
	when := func(col string) *time.Time {
		t, err := r.time(col)
		errs = append(errs, err)
		if t != nil {
			u := msUTC(*t)
			return &u
		}
		return nil
	}
	rec.LastName, rec.FirstName, rec.Patronymic = text("last_name"), text("first_name"), text("patronymic")
	if rec.LastName == "" && rec.FirstName == "" && rec.Patronymic == "" {
		rec.LastName, rec.FirstName, rec.Patronymic = screenpop.SplitFullName(text("full_name"))
	}
	phones, err := r.list("phones")
	errs = append(errs, err)
	for _, p := range phones {
		if n := screenpop.ParseNumber(p, region); n.E164 != "" && !slices.Contains(rec.Phones, n.E164) {
			rec.Phones = append(rec.Phones, n.E164)
		}
	}
	if name := text("manager"); name != "" {
		rec.Manager = &screenpop.Employee{Name: name, Extension: text("manager_extension")}
	}
	rec.ConflictLevel = min(max(num("conflict_level"), 0), 3)
	rec.CSI, err = r.float("csi")
	errs = append(errs, err)
	if at := when("last_visit_at"); at != nil {
		amount, err := r.float("last_visit_amount")
		errs = append(errs, err)
		rec.LastVisit = &screenpop.Visit{Date: *at, Kind: text("last_visit_kind"), Employee: text("last_visit_with")}
		if amount != nil {
			rec.LastVisit.Amount = *amount
		}
	}
	if at := when("last_contact_at"); at != nil {
		rec.LastContact = &screenpop.Contact{At: *at, Channel: text("last_contact_channel"),
			Employee: text("last_contact_with"), Summary: text("last_contact_summary")}
	}
	rec.Visits, rec.VisitsLastYear = num("visits"), num("visits_last_year")
	// A last visit says there was one, even if the CRM does not count.
	if rec.LastVisit != nil {
		rec.Visits = max(rec.Visits, 1)
		if _, given := r["visits_last_year"]; !given && time.Since(rec.LastVisit.Date) < yearDays {
			rec.VisitsLastYear = 1
		}
	}
	rec.OpenComplaints = num("open_complaints")
	return errors.Join(errs...)
}

// car reads the row's car, nil if it has none.
func (r crmRow) car() (*screenpop.Car, error) {
	var errs []error
	text := func(col string) string {
		s, err := r.text(col)
		errs = append(errs, err)
		return s
	}
	day := func(col string) *time.Time {
		t, err := dateOf(r.time(col))
		errs = append(errs, err)
		return t
	}
	year, err := r.int("year")
	errs = append(errs, err)
	car := normaliseCar(screenpop.Car{
		Make: text("make"), Model: text("model"), Year: year, Plate: text("plate"), VIN: text("vin"),
		WarrantyEnd: day("warranty_end"), InsuranceEnd: day("insurance_end"), NextServiceDue: day("next_service_due"),
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if car.Make == "" && car.Model == "" && car.Plate == "" && car.VIN == "" {
		return nil, nil
	}
	return &car, nil
}
