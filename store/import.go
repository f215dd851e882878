package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// Merging a client base export into the client base. A row is one client
// as the dealership's export has them: a name, one or more numbers, maybe a
// car. A row whose number is already a client's is merged into that client
// (its new numbers and cars added, the client's empty fields filled), so
// importing the same export twice, or two exports that overlap, never makes
// one client twice.

// MergeReport is what an import did.
type MergeReport struct {
	Rows int
	// ClientsAdded counts new clients; ClientsUpdated clients already in
	// the base that gained something (a lead named is one).
	ClientsAdded   int
	ClientsUpdated int
	// PhonesAdded and CarsAdded count what was added to the base, on new
	// clients and old.
	PhonesAdded int
	CarsAdded   int
	// Merged, Unchanged and Rejected count rows.
	Merged    int
	Unchanged int
	Rejected  int
	// Results has one entry per row, in order.
	Results []screenpop.RowResult
}

// MergeOptions tune MergeClients.
type MergeOptions struct {
	// DryRun works the import out in a transaction that is then rolled
	// back: the report says what would happen, the base stays as it was.
	DryRun bool
	// BatchSize is how many rows go in one transaction; 0 is
	// DefaultMergeBatch.
	BatchSize int
}

// DefaultMergeBatch is the rows MergeClients merges per transaction: large
// enough that a 50,000-row export takes a few round trips per 5,000 rows,
// small enough that a failure loses little and locks little.
const DefaultMergeBatch = 5000

// mergeClient is a client as an import sees it: one already in the base,
// or one the import adds.
type mergeClient struct {
	id      int64 // 0 for a client this batch adds, until it is written
	existed bool
	lead    bool

	lastName, firstName, patronymic string
	externalID, email, manager      string
	conflictLevel                   int
	csi                             *float64
	lastVisit                       *time.Time // a date
	visits                          *int
	// managerID is the stored client's manager; nil for a manager the
	// import names, found by name when written.
	managerID *int64

	phones []string
	maxSeq int // the highest seq of the phones already stored
	cars   []*mergeCar

	// What the import changes on a client that existed.
	changed   bool     // the clients row
	newPhones []string // phones to add, in order
	touched   bool     // anything at all
}

type mergeCar struct {
	id      int64 // 0: a car to add
	car     screenpop.Car
	changed bool
}

func (c *mergeClient) fullName() string {
	return strings.Join(strings.Fields(c.lastName+" "+c.firstName+" "+c.patronymic), " ")
}

// mergeClients merges rows batch by batch, each batch in a transaction of
// its own (begin starts one holding the import lock). A dry run takes one
// transaction for all and rolls it back. On an error, the report holds the
// batches committed before it.
func mergeClients(ctx context.Context, rows []screenpop.ImportRow, opts MergeOptions, begin func(context.Context) (mergeTx, error)) (MergeReport, error) {
	rep := MergeReport{Rows: len(rows), Results: make([]screenpop.RowResult, 0, len(rows))}
	size := opts.BatchSize
	if size <= 0 {
		size = DefaultMergeBatch
	}
	// Clients this import added, and those already there that it changed:
	// a client added by one batch and merged into by a later one is added,
	// not updated.
	added, updated := map[int64]bool{}, map[int64]bool{}
	var tx mergeTx
	if opts.DryRun {
		var err error
		if tx, err = begin(ctx); err != nil {
			return rep, fmt.Errorf("import clients: %w", err)
		}
		defer tx.rollback()
	}
	for start := 0; start < len(rows); start += size {
		batch := rows[start:min(start+size, len(rows))]
		if !opts.DryRun {
			var err error
			if tx, err = begin(ctx); err != nil {
				return rep, fmt.Errorf("import clients: %w", err)
			}
		}
		b, err := mergeBatch(ctx, tx, batch, added)
		if err == nil && !opts.DryRun {
			err = tx.commit(ctx)
		}
		if err != nil {
			if !opts.DryRun {
				tx.rollback()
			}
			rep.ClientsUpdated = len(updated)
			return rep, fmt.Errorf("import clients: rows of lines %d-%d: %w", batch[0].Line, batch[len(batch)-1].Line, err)
		}
		// Counted once the batch is committed: the report of an import
		// that fails says what it did.
		for _, id := range b.added {
			added[id] = true
		}
		for _, id := range b.updated {
			updated[id] = true
		}
		rep.ClientsAdded += b.ClientsAdded
		rep.PhonesAdded += b.PhonesAdded
		rep.CarsAdded += b.CarsAdded
		rep.Merged += b.Merged
		rep.Unchanged += b.Unchanged
		rep.Rejected += b.Rejected
		rep.Results = append(rep.Results, b.Results...)
	}
	rep.ClientsUpdated = len(updated)
	return rep, nil
}

// batchReport is what a batch did, and the clients it added and updated
// (ClientsUpdated is the driver's to count, across batches).
type batchReport struct {
	MergeReport
	added, updated []int64
}

// mergeBatch merges one batch in tx; added are the clients earlier batches
// added.
func mergeBatch(ctx context.Context, tx mergeTx, rows []screenpop.ImportRow, added map[int64]bool) (batchReport, error) {
	var rep batchReport
	rows = slices.Clone(rows)
	var phones, extIDs []string
	checked := make([]string, len(rows)) // why each row is refused, "" if it is not
	for i := range rows {
		rows[i] = normaliseRow(rows[i])
		if checked[i] = checkRow(rows[i]); checked[i] != "" {
			continue
		}
		phones = append(phones, rows[i].Phones...)
		if rows[i].ExternalID != "" {
			extIDs = append(extIDs, rows[i].ExternalID)
		}
	}
	base, err := tx.load(ctx, phones, extIDs)
	if err != nil {
		return rep, err
	}
	m := newMerger(base)
	type outcome struct {
		client *mergeClient
		res    screenpop.RowResult
	}
	outs := make([]outcome, len(rows))
	for i, r := range rows {
		res := screenpop.RowResult{Line: r.Line, Notes: r.Notes}
		var c *mergeClient
		if res.Reason = checked[i]; res.Reason == "" {
			c, res.Outcome, res.Reason, res.Notes = m.merge(r, res.Notes)
		}
		if res.Reason != "" {
			res.Outcome = screenpop.RowRejected
			c = nil
		}
		outs[i] = outcome{c, res}
	}
	var write []*mergeClient
	for _, c := range m.clients {
		if !c.existed || c.touched {
			write = append(write, c)
		}
	}
	if err := tx.apply(ctx, write); err != nil {
		return rep, err
	}
	rep.Results = make([]screenpop.RowResult, len(rows))
	for i, o := range outs {
		if o.client != nil {
			o.res.ClientID = o.client.id
		}
		rep.Results[i] = o.res
		switch o.res.Outcome {
		case screenpop.RowMerged:
			rep.Merged++
		case screenpop.RowUnchanged:
			rep.Unchanged++
		case screenpop.RowRejected:
			rep.Rejected++
		}
	}
	for _, c := range write {
		switch {
		case !c.existed:
			rep.added = append(rep.added, c.id)
			rep.ClientsAdded++
			rep.PhonesAdded += len(c.phones)
			rep.CarsAdded += len(c.cars)
		default:
			if !added[c.id] {
				rep.updated = append(rep.updated, c.id)
			}
			rep.PhonesAdded += len(c.newPhones)
			for _, car := range c.cars {
				if car.id == 0 {
					rep.CarsAdded++
				}
			}
		}
	}
	return rep, nil
}

// normaliseRow tidies a row as the store keeps it: spaces collapsed, each
// phone once, plates and VINs in capitals without spaces, dates as dates.
func normaliseRow(r screenpop.ImportRow) screenpop.ImportRow {
	r.ExternalID = strings.TrimSpace(r.ExternalID)
	r.LastName, r.FirstName, r.Patronymic = tidy(r.LastName), tidy(r.FirstName), tidy(r.Patronymic)
	r.Email, r.Manager = strings.TrimSpace(r.Email), tidy(r.Manager)
	r.ManagerExtension = strings.TrimSpace(r.ManagerExtension)
	var phones []string
	for _, p := range r.Phones {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(phones, p) {
			phones = append(phones, p)
		}
	}
	r.Phones = phones
	r.LastVisit = datePtr(r.LastVisit)
	if r.Car != nil {
		car := normaliseCar(*r.Car)
		r.Car = &car
		if car.Make == "" && car.Model == "" && car.Plate == "" && car.VIN == "" {
			r.Car = nil
		}
	}
	return r
}

func normaliseCar(car screenpop.Car) screenpop.Car {
	car.Make, car.Model = tidy(car.Make), tidy(car.Model)
	car.Plate = strings.ToUpper(strings.Join(strings.Fields(car.Plate), ""))
	car.VIN = strings.ToUpper(strings.Join(strings.Fields(car.VIN), ""))
	car.WarrantyEnd, car.InsuranceEnd, car.NextServiceDue = datePtr(car.WarrantyEnd), datePtr(car.InsuranceEnd), datePtr(car.NextServiceDue)
	return car
}

// tidy trims s and collapses its inner spaces.
func tidy(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkRow says why the store refuses a (normalised) row, "" if it does
// not, in words an export's author can act on.
func checkRow(r screenpop.ImportRow) string {
	var why []string
	if len(r.Phones) == 0 {
		why = append(why, "no valid phone number")
	}
	for _, p := range r.Phones {
		if !e164Format.MatchString(p) {
			why = append(why, fmt.Sprintf("phone %q is not in E.164 (+79161234567)", p))
		}
	}
	if r.LastName == "" && r.FirstName == "" && r.Patronymic == "" {
		why = append(why, "no name")
	}
	if r.ConflictLevel != nil && (*r.ConflictLevel < 0 || *r.ConflictLevel > 3) {
		why = append(why, fmt.Sprintf("conflict level %d is not 0-3", *r.ConflictLevel))
	}
	if r.Visits != nil && *r.Visits < 0 {
		why = append(why, fmt.Sprintf("visit count %d is negative", *r.Visits))
	}
	if r.LastVisit != nil && r.LastVisit.After(time.Now().AddDate(0, 0, 1)) {
		why = append(why, fmt.Sprintf("last visit %s is in the future", r.LastVisit.Format(time.DateOnly)))
	}
	if r.CSI != nil && (math.IsNaN(*r.CSI) || *r.CSI < 1 || *r.CSI > 10) {
		why = append(why, fmt.Sprintf("CSI %v is not 1-10", *r.CSI))
	}
	if r.Car != nil && (r.Car.Year < 0 || r.Car.Year > math.MaxInt16) {
		why = append(why, fmt.Sprintf("car year %d", r.Car.Year))
	}
	return strings.Join(why, "; ")
}
