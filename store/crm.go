package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nyaruka/phonenumbers"

	"github.com/screenpop/screenpop/screenpop"
)

// A dealership whose client base lives in its CRM can have the pop look
// callers up there, in place, rather than import it: an admin writes one
// SQL query against the CRM's PostgreSQL database that finds a caller's
// clients by their number, naming its columns as the card's fields.

var _ screenpop.Directory = (*CRM)(nil)

// ErrBadCRMQuery is wrapped by the errors that say the CRM query cannot
// serve the card (it does not run, or its columns do not fit), as opposed
// to the CRM not answering.
var ErrBadCRMQuery = errors.New("fix crm.query")

// crmKind is what a column of the CRM query holds.
type crmKind int

const (
	crmText     crmKind = iota // any type, read as text
	crmInt                     // an integer (or a number rounded)
	crmFloat                   // a number
	crmTime                    // a date or a timestamp
	crmTextList                // a text array, or text separated by , or ;
)

// crmColumns are the columns the query may return, and what each holds.
// client_id groups the rows (one per car, or one per client with no car
// columns); the client's columns are read from their first row.
var crmColumns = map[string]crmKind{
	"client_id": crmText,
	// The name: separate, or one full name to split.
	"last_name": crmText, "first_name": crmText, "patronymic": crmText, "full_name": crmText,
	// The client's other numbers, besides the one called from.
	"phones":            crmTextList,
	"manager":           crmText,
	"manager_extension": crmText, // for asterisk's SCREENPOP_MANAGER
	"conflict_level":    crmInt,  // 0-3
	"csi":               crmFloat,
	// The segment and the lost-client alert come from these.
	"visits": crmInt, "visits_last_year": crmInt,
	"last_visit_at": crmTime, "last_visit_kind": crmText, "last_visit_amount": crmFloat, "last_visit_with": crmText,
	"last_contact_at": crmTime, "last_contact_channel": crmText, "last_contact_with": crmText, "last_contact_summary": crmText,
	"open_complaints": crmInt,
	// The car of the row.
	"make": crmText, "model": crmText, "year": crmInt, "plate": crmText, "vin": crmText,
	"warranty_end": crmTime, "insurance_end": crmTime, "next_service_due": crmTime,
}

// CRMColumns lists the columns a CRM query may return, in a sensible
// order for documentation and error messages.
var CRMColumns = []string{
	"client_id", "last_name", "first_name", "patronymic", "full_name", "phones", "manager", "manager_extension",
	"conflict_level", "csi", "visits", "visits_last_year", "last_visit_at", "last_visit_kind", "last_visit_amount",
	"last_visit_with", "last_contact_at", "last_contact_channel", "last_contact_with", "last_contact_summary",
	"open_complaints", "make", "model", "year", "plate", "vin", "warranty_end", "insurance_end", "next_service_due",
}

// CRMConfig says how to reach a CRM and look callers up in it.
type CRMConfig struct {
	DSN string
	// Query finds the clients with a number: $1 is it in E.164
	// (+79161234567); $2, if the query uses it, its national digits
	// (9161234567), for a CRM that keeps numbers as typed.
	Query string
	// Timeout bounds a lookup; the query is cancelled when it passes.
	Timeout time.Duration
	// Region is the country of the national numbers in the phones column.
	Region string
}

// CRM is a client directory in another PostgreSQL database. It never
// writes there: its connections are read-only.
type CRM struct {
	pool     *pgxpool.Pool
	query    string
	params   int
	timeout  time.Duration
	region   string
	password string
}

var crmParam = regexp.MustCompile(`\$([0-9]+)`)

// OpenCRM readies lookups in the CRM. It does not connect (Check does):
// a CRM that is down when the daemon starts is looked up once it is back.
// No error it returns contains the DSN's password.
func OpenCRM(cfg CRMConfig) (*CRM, error) {
	params := 0
	for _, m := range crmParam.FindAllStringSubmatch(cfg.Query, -1) {
		n, _ := strconv.Atoi(m[1])
		params = max(params, n)
	}
	if params < 1 || params > 2 {
		return nil, fmt.Errorf("the CRM query must take the caller's number as $1 (and may take its national digits as $2), found $%d: %w", params, ErrBadCRMQuery)
	}
	if cfg.Timeout <= 0 {
		return nil, errors.New("the CRM timeout must be positive")
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, errors.New("connect to the CRM: the DSN cannot be parsed (details withheld as they may contain the password)")
	}
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if pcfg.ConnConfig.RuntimeParams["application_name"] == "" {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "screenpop"
	}
	// The CRM is someone else's database: nothing screenpop runs there may
	// change it, and the server gives up on a lookup when screenpop has.
	// SET rather than startup parameters, which connection poolers refuse.
	setup := fmt.Sprintf("SET default_transaction_read_only = on; SET statement_timeout = %d", max(cfg.Timeout.Milliseconds(), 1))
	pcfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, setup)
		return err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the CRM: %w", redact(err, pcfg.ConnConfig.Password))
	}
	return &CRM{pool: pool, query: cfg.Query, params: params, timeout: cfg.Timeout, region: cfg.Region,
		password: pcfg.ConnConfig.Password}, nil
}

// Close closes the connections to the CRM.
func (c *CRM) Close() { c.pool.Close() }

// paramOIDs are the types of the query's parameters: both text, so that a
// query may use $2 alone, and compares them with text columns as written
// (a column of another type wants a cast: $2::bigint).
func (c *CRM) paramOIDs() []uint32 { return []uint32{pgtype.TextOID, pgtype.TextOID}[:c.params] }

// Check connects to the CRM and prepares the query, checking its
// parameters and columns; it returns the columns. An error wrapping
// ErrBadCRMQuery names what to fix in the query; any other, why the CRM
// could not be reached.
func (c *CRM) Check(ctx context.Context) ([]string, error) {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the CRM: %w", redact(err, c.password))
	}
	defer conn.Release()
	sd, err := conn.Conn().PgConn().Prepare(ctx, "", c.query, c.paramOIDs())
	if err != nil {
		pgErr, isPg := errors.AsType[*pgconn.PgError](err)
		switch {
		case isPg && pgErr.Code == "57014": // query_canceled: a slow server hit statement_timeout while preparing
			return nil, fmt.Errorf("prepare the CRM query: no answer within %s: %w", c.timeout, context.DeadlineExceeded)
		case isPg:
			return nil, fmt.Errorf("the CRM query does not run: %s (%s): %w", pgErr.Message, pgErr.Code, ErrBadCRMQuery)
		}
		return nil, fmt.Errorf("prepare the CRM query: %w", redact(err, c.password))
	}
	return crmFields(sd.Fields)
}

// crmFields checks the query's columns, giving each one's name; every
// problem is reported at once.
func crmFields(fields []pgconn.FieldDescription) ([]string, error) {
	var unknown, badType, dup []string
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
		kind, ok := crmColumns[f.Name]
		switch {
		case !ok:
			unknown = append(unknown, f.Name)
		case slices.Contains(names[:i], f.Name):
			dup = append(dup, f.Name)
		case !crmTypeFits(kind, f.DataTypeOID):
			badType = append(badType, fmt.Sprintf("%s is %s, want %s", f.Name, crmTypeName(f.DataTypeOID), crmKindName(kind)))
		}
	}
	var why []string
	if len(unknown) > 0 {
		why = append(why, fmt.Sprintf("unknown columns %s (rename them with AS; the card's columns are %s)",
			strings.Join(unknown, ", "), strings.Join(CRMColumns, ", ")))
	}
	if len(dup) > 0 {
		why = append(why, "columns given twice: "+strings.Join(dup, ", "))
	}
	why = append(why, badType...)
	if !slices.Contains(names, "client_id") {
		why = append(why, "no client_id column (the CRM's client number: it groups a client's rows)")
	}
	if !slices.ContainsFunc(names, func(n string) bool {
		return n == "last_name" || n == "first_name" || n == "patronymic" || n == "full_name"
	}) {
		why = append(why, "no name column (last_name, first_name, patronymic or full_name)")
	}
	if len(why) > 0 {
		return nil, fmt.Errorf("the CRM query's columns do not fit: %s: %w", strings.Join(why, "; "), ErrBadCRMQuery)
	}
	return names, nil
}

var (
	crmNumberOIDs = []uint32{pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.NumericOID, pgtype.Float4OID, pgtype.Float8OID}
	crmTimeOIDs   = []uint32{pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID}
	crmListOIDs   = []uint32{pgtype.TextArrayOID, pgtype.VarcharArrayOID, pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID}
)

func crmTypeFits(kind crmKind, oid uint32) bool {
	switch kind {
	case crmInt, crmFloat:
		return slices.Contains(crmNumberOIDs, oid)
	case crmTime:
		return slices.Contains(crmTimeOIDs, oid)
	case crmTextList:
		return slices.Contains(crmListOIDs, oid)
	}
	return true
}

func crmKindName(kind crmKind) string {
	return [...]string{"text", "an integer", "a number", "a date or timestamp", "a text array or text"}[kind]
}

func crmTypeName(oid uint32) string {
	if t, ok := pgtype.NewMap().TypeForOID(oid); ok {
		return t.Name
	}
	return fmt.Sprintf("of type OID %d", oid)
}

// LookupPhone runs the query for the E.164 number and returns its clients
// as the pop shows them, in the order the query gives them; none, and no
// error, when the CRM has no client with the number. It gives up after
// the timeout, cancelling the query.
//
// The clients have no ID (0): they are the CRM's, not screenpop's, so a
// note on their call stays with the call.
func (c *CRM) LookupPhone(ctx context.Context, e164 string) ([]screenpop.ClientRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	args := []string{e164}
	if c.params == 2 {
		args = append(args, nationalDigits(e164))
	}
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return nil, c.lookupError(ctx, err)
	}
	defer conn.Release()
	params := make([][]byte, len(args))
	for i, a := range args {
		params[i] = []byte(a)
	}
	// One round trip; the answer in text, which every type has.
	rr := conn.Conn().PgConn().ExecParams(ctx, c.query, params, c.paramOIDs(), nil, nil)
	if rr.FieldDescriptions() == nil {
		// It failed (or timed out) before saying what it returns.
		if _, err := rr.Close(); err != nil {
			return nil, c.lookupError(ctx, err)
		}
	}
	names, err := crmFields(rr.FieldDescriptions())
	if err != nil {
		rr.Close()
		return nil, fmt.Errorf("look up in the CRM: %w", err)
	}
	types := conn.Conn().TypeMap()
	var (
		order   []string
		clients = map[string]*screenpop.ClientRecord{}
		failed  error
	)
	for failed == nil && rr.NextRow() {
		row, err := crmDecode(types, rr.FieldDescriptions(), names, rr.Values())
		if err != nil {
			failed = fmt.Errorf("look up in the CRM: %w", err)
			break
		}
		id, err := row.text("client_id")
		if err != nil {
			failed = fmt.Errorf("look up in the CRM: %w", err)
			break
		}
		rec, seen := clients[id]
		if !seen {
			rec = &screenpop.ClientRecord{Client: screenpop.Client{Phones: []string{e164}, Cars: []screenpop.Car{}},
				OpenComplaintList: []screenpop.Complaint{}}
			if err := row.client(rec, c.region); err != nil {
				failed = fmt.Errorf("look up in the CRM: client %s: %w", id, err)
				break
			}
			clients[id] = rec
			order = append(order, id)
		}
		car, err := row.car()
		if err != nil {
			failed = fmt.Errorf("look up in the CRM: client %s: %w", id, err)
			break
		}
		// A query joining more than cars (a client's phones...) repeats
		// them.
		if car != nil && !slices.ContainsFunc(rec.Cars, func(x screenpop.Car) bool { return sameCar(x, *car) }) {
			rec.Cars = append(rec.Cars, *car)
		}
	}
	if _, err := rr.Close(); err != nil {
		return nil, c.lookupError(ctx, err)
	}
	if failed != nil {
		return nil, failed
	}
	recs := make([]screenpop.ClientRecord, len(order))
	for i, id := range order {
		recs[i] = *clients[id]
	}
	return recs, nil
}

func sameCar(a, b screenpop.Car) bool {
	sameDay := func(x, y *time.Time) bool { return x == nil && y == nil || x != nil && y != nil && x.Equal(*y) }
	return a.Make == b.Make && a.Model == b.Model && a.Year == b.Year && a.Plate == b.Plate && a.VIN == b.VIN &&
		sameDay(a.WarrantyEnd, b.WarrantyEnd) && sameDay(a.InsuranceEnd, b.InsuranceEnd) && sameDay(a.NextServiceDue, b.NextServiceDue)
}

// lookupError says why a lookup failed: the timeout, or what the CRM said.
func (c *CRM) lookupError(ctx context.Context, err error) error {
	pgErr, isPg := errors.AsType[*pgconn.PgError](err)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), isPg && pgErr.Code == "57014": // query_canceled: statement_timeout
		return fmt.Errorf("look up in the CRM: no answer within %s: %w", c.timeout, context.DeadlineExceeded)
	case isPg && pgErr.Code[:2] == "42": // syntax error or access rule violation: the query's fault
		return fmt.Errorf("look up in the CRM: %s (%s): %w", pgErr.Message, pgErr.Code, ErrBadCRMQuery)
	}
	return fmt.Errorf("look up in the CRM: %w", redact(err, c.password))
}

// nationalDigits is the number without its country code: 9161234567 for
// +79161234567.
func nationalDigits(e164 string) string {
	pn, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return strings.TrimPrefix(e164, "+")
	}
	return phonenumbers.GetNationalSignificantNumber(pn)
}
