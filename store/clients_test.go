package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/synth"
)

// clientBase is what the suite asks of a store's client base, beyond the
// call log.
type clientBase interface {
	callStore
	screenpop.Directory
	ImportClients(ctx context.Context, clients []screenpop.ClientHistory) ([]int64, error)
	Client(ctx context.Context, id int64) (screenpop.ClientHistory, error)
}

func openClientBase(tb testing.TB, b backend) clientBase {
	tb.Helper()
	s := openMigrated(tb, b)
	cb, ok := s.(clientBase)
	if !ok {
		tb.Fatalf("%T has no client base", s)
	}
	return cb
}

// queryStrings runs a query that gives one text column, written for each
// store, and returns its values.
func queryStrings(tb testing.TB, s callStore, postgres, sqlite string) []string {
	tb.Helper()
	var out []string
	switch s := s.(type) {
	case *Postgres:
		rows, err := s.pool.Query(context.Background(), postgres)
		if err != nil {
			tb.Fatalf("%s: %v", postgres, err)
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				tb.Fatalf("%s: %v", postgres, err)
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			tb.Fatalf("%s: %v", postgres, err)
		}
	case *SQLite:
		rows, err := s.db.QueryContext(context.Background(), sqlite)
		if err != nil {
			tb.Fatalf("%s: %v", sqlite, err)
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				tb.Fatalf("%s: %v", sqlite, err)
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			tb.Fatalf("%s: %v", sqlite, err)
		}
	default:
		tb.Fatalf("queryStrings: unknown store %T", s)
	}
	return out
}

// ignoreEmployeeIDs: the store gives managers their IDs; tests check them
// apart.
var ignoreEmployeeIDs = cmpopts.IgnoreFields(screenpop.Employee{}, "ID")

// ignoreComplaintIDs: the store gives complaints their IDs too.
var ignoreComplaintIDs = cmpopts.IgnoreFields(screenpop.Complaint{}, "ID")

func csi(v float64) *float64 { return &v }

func day(y int, m time.Month, d int) *time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return &t
}

// petrovs are a couple sharing their home number, as a client base has
// them; times are relative to base, which is now to the minute, because
// VisitsLastYear counts from the time of the lookup.
func petrovs(base time.Time) (ivan, anna screenpop.ClientHistory) {
	ago := func(days int) time.Time { return base.Add(-time.Duration(days) * 24 * time.Hour) }
	closed := ago(90)
	ivan = screenpop.ClientHistory{
		Client: screenpop.Client{
			LastName: "Петров", FirstName: "Иван", Patronymic: "Петрович",
			Phones: []string{"+79161234567", "+74951234567"},
			Cars: []screenpop.Car{
				{
					Make: "Lada", Model: "Vesta", Year: 2021, Plate: "А123ВС77", VIN: "XTAGFK330MY123456",
					WarrantyEnd: day(2024, 5, 1), InsuranceEnd: day(2026, 3, 14), NextServiceDue: day(2025, 12, 1),
				},
				{Make: "Kia", Model: "Rio", Year: 2017, Plate: "М456КР750", VIN: "Z94C241BBHR654321"},
			},
			ConflictLevel: 1, CSI: csi(9),
			Manager: &screenpop.Employee{Name: "Соколова Анна Викторовна", Extension: "201"},
		},
		// Out of date order: the latest is whichever is latest, not
		// whichever came last.
		Visits: []screenpop.Visit{
			{Date: ago(10), Kind: screenpop.VisitService, Amount: 21_450.75, Employee: "Тимофеев Алексей Петрович"},
			{Date: ago(400), Kind: screenpop.VisitSale, Amount: 1_450_000, Employee: "Соколова Анна Викторовна"},
			{Date: ago(364), Kind: screenpop.VisitRepair, Amount: 7_300, Employee: "Ершов Николай Геннадьевич"},
			{Date: ago(366), Kind: screenpop.VisitService, Amount: 18_990.5, Employee: "Тимофеев Алексей Петрович"},
		},
		Contacts: []screenpop.Contact{
			{At: ago(3), Channel: "phone", Employee: "Комарова Ирина Вадимовна", Summary: "Записался на ТО"},
			{At: ago(30), Channel: "messenger", Employee: "Соколова Анна Викторовна", Summary: "Уточнял стоимость КАСКО"},
		},
		Complaints: []screenpop.Complaint{
			{OpenedAt: ago(100), ClosedAt: &closed, Summary: "Долгое ожидание на ТО"},
			{OpenedAt: ago(5), Summary: "Царапина на двери после мойки"},
			{OpenedAt: ago(2), Summary: "Не перезвонили, как обещали"},
		},
	}
	anna = screenpop.ClientHistory{
		Client: screenpop.Client{
			LastName: "Петрова", FirstName: "Анна", Patronymic: "Сергеевна",
			Phones: []string{"+79031112233", "+74951234567"},
		},
		Visits: []screenpop.Visit{
			{Date: ago(700), Kind: screenpop.VisitBody, Amount: 64_000, Employee: "Ершов Николай Геннадьевич"},
		},
	}
	return ivan, anna
}

func TestClientBase(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testClientBase(t, b)
		})
	}
}

func testClientBase(t *testing.T, b backend) {
	t.Run("a caller's number finds the client with everything the pop shows", func(t *testing.T) {
		t.Parallel()
		s := openClientBase(t, b)
		base := time.Now().UTC().Truncate(time.Minute)
		ivan, anna := petrovs(base)
		ids, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{ivan, anna})
		if err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		got, err := s.LookupPhone(t.Context(), "+79161234567")
		if err != nil {
			t.Fatalf("LookupPhone: %v", err)
		}
		want := screenpop.ClientRecord{
			Client:         ivan.Client,
			LastVisit:      &ivan.Visits[0],
			LastContact:    &ivan.Contacts[0],
			Visits:         4,
			VisitsLastYear: 2, // 10 and 364 days ago; not 366 nor 400
			OpenComplaints: 2,
			// Oldest first, the closed one left out.
			OpenComplaintList: []screenpop.Complaint{ivan.Complaints[1], ivan.Complaints[2]},
		}
		want.ID = ids[0]
		if diff := cmp.Diff([]screenpop.ClientRecord{want}, got, sameTime, ignoreEmployeeIDs, ignoreComplaintIDs); diff != "" {
			t.Errorf("LookupPhone(+79161234567) (-want +got):\n%s", diff)
		}
		if len(got) == 1 && len(got[0].OpenComplaintList) == 2 {
			if a, b := got[0].OpenComplaintList[0].ID, got[0].OpenComplaintList[1].ID; a == 0 || b == 0 || a == b {
				t.Errorf("open complaints have IDs %d and %d, want two of the store's", a, b)
			}
		}
		if len(got) == 1 && (got[0].Manager == nil || got[0].Manager.ID == 0) {
			t.Errorf("the manager has no employee ID: %+v", got[0].Manager)
		}
	})

	t.Run("a number two clients share finds both, and each one's own number finds only them", func(t *testing.T) {
		t.Parallel()
		s := openClientBase(t, b)
		ivan, anna := petrovs(time.Now().UTC().Truncate(time.Minute))
		ids, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{ivan, anna})
		if err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		for _, tt := range []struct {
			e164 string
			want []string
		}{
			{"+74951234567", []string{"Петров Иван Петрович", "Петрова Анна Сергеевна"}},
			{"+79161234567", []string{"Петров Иван Петрович"}},
			{"+79031112233", []string{"Петрова Анна Сергеевна"}},
		} {
			recs, err := s.LookupPhone(t.Context(), tt.e164)
			if err != nil {
				t.Fatalf("LookupPhone(%s): %v", tt.e164, err)
			}
			var names []string
			for _, r := range recs {
				names = append(names, r.FullName())
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("LookupPhone(%s) found (-want +got):\n%s", tt.e164, diff)
			}
		}
		recs, _ := s.LookupPhone(t.Context(), "+74951234567")
		if len(recs) == 2 && (recs[0].ID != ids[0] || recs[1].ID != ids[1]) {
			t.Errorf("shared number: got clients %d and %d, want %v", recs[0].ID, recs[1].ID, ids)
		}
	})

	t.Run("a client without cars, visits, contacts or a manager comes back with empty lists", func(t *testing.T) {
		t.Parallel()
		s := openClientBase(t, b)
		lead := screenpop.ClientHistory{Client: screenpop.Client{Phones: []string{"+79265550000"}, Lead: true}}
		ids, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{lead})
		if err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		got, err := s.LookupPhone(t.Context(), "+79265550000")
		if err != nil {
			t.Fatalf("LookupPhone: %v", err)
		}
		want := []screenpop.ClientRecord{{Client: screenpop.Client{
			ID: ids[0], Phones: []string{"+79265550000"}, Cars: []screenpop.Car{}, Lead: true,
		}, OpenComplaintList: []screenpop.Complaint{}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("LookupPhone (-want +got):\n%s", diff)
		}
		if len(got) == 1 && got[0].Cars == nil {
			t.Error("Cars is nil, want an empty list: the page shows [] not null")
		}
	})

	t.Run("a number no client has finds none, and that is no error", func(t *testing.T) {
		t.Parallel()
		s := openClientBase(t, b)
		ivan, _ := petrovs(time.Now().UTC())
		if _, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{ivan}); err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		for _, e164 := range []string{"+79169999999", "89161234567", ""} {
			got, err := s.LookupPhone(t.Context(), e164)
			if err != nil || got == nil || len(got) != 0 {
				t.Errorf("LookupPhone(%q) = %v, %v; want an empty list and no error", e164, got, err)
			}
		}
	})

	t.Run("imported clients read back exactly as imported and look up as their history says", func(t *testing.T) {
		t.Parallel()
		s := openClientBase(t, b)
		now := time.Now()
		var clients []screenpop.ClientHistory
		for c := range synth.Clients(42, 400, now) {
			clients = append(clients, c)
		}
		var ids []int64
		for batch := range slices.Chunk(clients, 150) {
			got, err := s.ImportClients(t.Context(), batch)
			if err != nil {
				t.Fatalf("ImportClients: %v", err)
			}
			if len(got) != len(batch) {
				t.Fatalf("ImportClients returned %d IDs for %d clients", len(got), len(batch))
			}
			ids = append(ids, got...)
		}
		managerIDs := map[string]int64{}
		for i, want := range clients {
			want.ID = ids[i]
			got, err := s.Client(t.Context(), ids[i])
			if err != nil {
				t.Fatalf("Client(%d): %v", ids[i], err)
			}
			if diff := cmp.Diff(want, got, sameTime, ignoreEmployeeIDs); diff != "" {
				t.Fatalf("Client(%d) differs from what was imported (-imported +read):\n%s", ids[i], diff)
			}
			if m := got.Manager; m != nil {
				if id, seen := managerIDs[m.Name]; (seen && id != m.ID) || m.ID == 0 {
					t.Errorf("manager %s has ID %d, and %d elsewhere", m.Name, m.ID, id)
				}
				managerIDs[m.Name] = m.ID
			}
		}
		if n := countRows(t, s, "employees", ""); n != len(managerIDs) {
			t.Errorf("employees has %d rows for %d managers, want one each", n, len(managerIDs))
		}
		// Every client's first number finds them, with what their history
		// says: the latest visit and contact, and the counts.
		for i, c := range clients {
			recs, err := s.LookupPhone(t.Context(), c.Phones[0])
			if err != nil {
				t.Fatalf("LookupPhone(%s): %v", c.Phones[0], err)
			}
			want := expectedRecord(c, ids[i], now)
			var got *screenpop.ClientRecord
			for j := range recs {
				if recs[j].ID == ids[i] {
					got = &recs[j]
				}
			}
			if got == nil {
				t.Fatalf("LookupPhone(%s) did not find client %d (%s)", c.Phones[0], ids[i], c.FullName())
			}
			if diff := cmp.Diff(want, *got, sameTime, ignoreEmployeeIDs, ignoreComplaintIDs); diff != "" {
				t.Fatalf("LookupPhone(%s), client %d (-from the history +got):\n%s", c.Phones[0], ids[i], diff)
			}
		}
	})

	t.Run("dates keep their calendar day, times come back in UTC to the millisecond, amounts to the kopeck", func(t *testing.T) {
		t.Parallel()
		s := openClientBase(t, b)
		moscow := time.FixedZone("MSK", 3*3600)
		warranty := time.Date(2026, 3, 14, 1, 30, 0, 0, moscow) // 13 March in UTC
		visited := time.Date(2025, 6, 1, 12, 0, 0, 123_456_789, moscow)
		c := screenpop.ClientHistory{
			Client: screenpop.Client{
				LastName: "Сидоров", Phones: []string{"+79161230000", "+79161230000"},
				Cars: []screenpop.Car{{Make: "Kia", Model: "Rio", WarrantyEnd: &warranty}},
			},
			Visits: []screenpop.Visit{{Date: visited, Kind: screenpop.VisitRepair, Amount: 1234.5678}},
		}
		ids, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{c})
		if err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		got, err := s.Client(t.Context(), ids[0])
		if err != nil {
			t.Fatalf("Client: %v", err)
		}
		want := screenpop.ClientHistory{
			Client: screenpop.Client{
				ID: ids[0], LastName: "Сидоров", Phones: []string{"+79161230000"},
				Cars: []screenpop.Car{{Make: "Kia", Model: "Rio", WarrantyEnd: day(2026, 3, 14)}},
			},
			Visits: []screenpop.Visit{{
				Date: time.Date(2025, 6, 1, 9, 0, 0, 123_000_000, time.UTC), Kind: screenpop.VisitRepair, Amount: 1234.57,
			}},
			Contacts: []screenpop.Contact{}, Complaints: []screenpop.Complaint{},
		}
		if diff := cmp.Diff(want, got, sameTime); diff != "" {
			t.Errorf("Client (-want +got):\n%s", diff)
		}
		if warranty.Location() != moscow || c.Phones[1] != "+79161230000" {
			t.Error("ImportClients changed the caller's client")
		}
	})

	t.Run("a batch with a client the schema refuses writes nothing and says which", func(t *testing.T) {
		t.Parallel()
		s := openClientBase(t, b)
		ivan, anna := petrovs(time.Now().UTC())
		anna.Phones = []string{"89031112233"} // national form: the caller must normalise
		_, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{ivan, anna})
		if err == nil || !strings.Contains(err.Error(), `"89031112233" is not in E.164`) {
			t.Errorf("ImportClients: got %v, want an error naming the number", err)
		}
		ivan.Visits[0].Kind = "test-drive"
		_, err = s.ImportClients(t.Context(), []screenpop.ClientHistory{ivan})
		if err == nil || !strings.Contains(err.Error(), `kind "test-drive"`) {
			t.Errorf("ImportClients: got %v, want an error naming the kind", err)
		}
		for _, table := range []string{"clients", "client_phones", "visits", "employees"} {
			if n := countRows(t, s, table, ""); n != 0 {
				t.Errorf("%s has %d rows after failed imports, want none", table, n)
			}
		}
	})

	t.Run("a manager is one employee by name and extension; an extension taken by another fails the batch", func(t *testing.T) {
		t.Parallel()
		s := openClientBase(t, b)
		ivan, anna := petrovs(time.Now().UTC())
		anna.Manager = &screenpop.Employee{Name: ivan.Manager.Name, Extension: ivan.Manager.Extension}
		ids, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{ivan})
		if err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		more, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{anna})
		if err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		a, _ := s.Client(t.Context(), ids[0])
		c, _ := s.Client(t.Context(), more[0])
		if a.Manager == nil || c.Manager == nil || a.Manager.ID != c.Manager.ID {
			t.Errorf("the same manager imported twice is %+v and %+v, want one employee", a.Manager, c.Manager)
		}
		impostor := anna
		impostor.Manager = &screenpop.Employee{Name: "Кравцов Дмитрий Олегович", Extension: "201"}
		_, err = s.ImportClients(t.Context(), []screenpop.ClientHistory{impostor})
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "Соколова Анна Викторовна") {
			t.Errorf("ImportClients with extension 201 under another name: got %v, want ErrExists naming its holder", err)
		}
		noExtension := anna
		noExtension.Manager = &screenpop.Employee{Name: "Кравцов Дмитрий Олегович"}
		if _, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{noExtension, noExtension}); err != nil {
			t.Fatalf("ImportClients with a manager without extension: %v", err)
		}
		if n := countRows(t, s, "employees", ""); n != 2 {
			t.Errorf("employees has %d rows, want 2", n)
		}
		if n := countRows(t, s, "clients", ""); n != 4 {
			t.Errorf("clients has %d rows, want 4", n)
		}
	})

	t.Run("imports at the same time naming the same new manager both succeed with one employee", func(t *testing.T) {
		t.Parallel()
		s := openClientBase(t, b)
		batches := [][]screenpop.ClientHistory{}
		for batch := range slices.Chunk(collectClients(7, 120), 30) {
			batches = append(batches, batch)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(batches))
		for i, batch := range batches {
			wg.Go(func() { _, errs[i] = s.ImportClients(t.Context(), batch) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		if n := countRows(t, s, "clients", ""); n != 120 {
			t.Errorf("clients has %d rows, want 120", n)
		}
		if n := countRows(t, s, "employees", ""); n != len(synth.Managers()) {
			t.Errorf("employees has %d rows, want one per manager (%d)", n, len(synth.Managers()))
		}
	})

	t.Run("a client that was never imported is not found", func(t *testing.T) {
		t.Parallel()
		s := openClientBase(t, b)
		_, err := s.Client(t.Context(), 12345)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Client(12345): got %v, want an error wrapping ErrNotFound", err)
		}
		if ids, err := s.ImportClients(t.Context(), nil); err != nil || len(ids) != 0 {
			t.Errorf("ImportClients(nil) = %v, %v; want no IDs and no error", ids, err)
		}
	})
}

// expectedRecord is what LookupPhone must say of c, worked out from its
// history in Go.
func expectedRecord(c screenpop.ClientHistory, id int64, now time.Time) screenpop.ClientRecord {
	rec := screenpop.ClientRecord{Client: c.Client, Visits: len(c.Visits)}
	rec.ID = id
	for i, v := range c.Visits {
		if rec.LastVisit == nil || v.Date.After(rec.LastVisit.Date) {
			rec.LastVisit = &c.Visits[i]
		}
		if !v.Date.Before(now.Add(-yearDays)) {
			rec.VisitsLastYear++
		}
	}
	for i, ct := range c.Contacts {
		if rec.LastContact == nil || ct.At.After(rec.LastContact.At) {
			rec.LastContact = &c.Contacts[i]
		}
	}
	rec.OpenComplaintList = []screenpop.Complaint{}
	for _, cp := range c.Complaints {
		if cp.ClosedAt == nil {
			rec.OpenComplaints++
			rec.OpenComplaintList = append(rec.OpenComplaintList, cp)
		}
	}
	slices.SortStableFunc(rec.OpenComplaintList, func(a, b screenpop.Complaint) int { return a.OpenedAt.Compare(b.OpenedAt) })
	return rec
}

func collectClients(seed uint64, n int) []screenpop.ClientHistory {
	var cs []screenpop.ClientHistory
	for c := range synth.Clients(seed, n, time.Now()) {
		cs = append(cs, c)
	}
	return cs
}
