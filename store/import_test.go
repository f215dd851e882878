package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// importBase is what the import suite asks of a store.
type importBase interface {
	clientBase
	screenpop.Leads
	MergeClients(ctx context.Context, rows []screenpop.ImportRow, opts MergeOptions) (MergeReport, error)
}

func openImportBase(tb testing.TB, b backend) importBase {
	tb.Helper()
	s := openMigrated(tb, b)
	ib, ok := s.(importBase)
	if !ok {
		tb.Fatalf("%T cannot import clients", s)
	}
	return ib
}

func intp(v int) *int    { return &v }
func boolp(v bool) *bool { return &v }

// mergeOK merges rows, failing the test on an error.
func mergeOK(t *testing.T, s importBase, opts MergeOptions, rows ...screenpop.ImportRow) MergeReport {
	t.Helper()
	rep, err := s.MergeClients(t.Context(), rows, opts)
	if err != nil {
		t.Fatalf("MergeClients: %v", err)
	}
	if len(rep.Results) != len(rows) {
		t.Fatalf("MergeClients gave %d results for %d rows", len(rep.Results), len(rows))
	}
	return rep
}

// counts is a report's numbers without the rows.
func counts(r MergeReport) MergeReport { r.Results = nil; return r }

// outcomes are the rows' outcomes by line, with the reason of rejects.
func outcomes(r MergeReport) map[int]string {
	m := map[int]string{}
	for _, res := range r.Results {
		m[res.Line] = res.Outcome
		if res.Reason != "" {
			m[res.Line] += ": " + res.Reason
		}
	}
	return m
}

// popOf is what the pop shows of the clients with the number: their
// names, numbers, cars (make|model|year|plate|VIN|warranty|insurance|
// service) and managers.
type popClient struct {
	Name    string
	Phones  []string
	Cars    []string
	Manager string
	Lead    bool
}

func popOf(t *testing.T, s importBase, e164 string) []popClient {
	t.Helper()
	recs, err := s.LookupPhone(t.Context(), e164)
	if err != nil {
		t.Fatalf("LookupPhone(%s): %v", e164, err)
	}
	var out []popClient
	for _, r := range recs {
		p := popClient{Name: r.FullName(), Phones: r.Phones, Lead: r.Lead}
		for _, c := range r.Cars {
			desc := fmt.Sprintf("%s|%s|%d|%s|%s", c.Make, c.Model, c.Year, c.Plate, c.VIN)
			for _, d := range []*time.Time{c.WarrantyEnd, c.InsuranceEnd, c.NextServiceDue} {
				if d != nil {
					desc += "|" + d.Format(time.DateOnly)
				} else {
					desc += "|-"
				}
			}
			p.Cars = append(p.Cars, desc)
		}
		if r.Manager != nil {
			p.Manager = r.Manager.Name
		}
		out = append(out, p)
	}
	return out
}

// dump is every row of the client base's tables, to see that a second
// import changed nothing.
func dump(t *testing.T, s importBase) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT concat_ws('|', client_id, last_name, first_name, patronymic, coalesce(external_id, ''), coalesce(email, ''),
			conflict_level, coalesce(CAST(csi AS TEXT), ''), coalesce(CAST(manager_id AS TEXT), ''), CAST(lead AS TEXT)) FROM clients ORDER BY client_id`,
		`SELECT concat_ws('|', client_id, e164, seq) FROM client_phones ORDER BY client_id, seq`,
		`SELECT concat_ws('|', car_id, client_id, make, model, coalesce(CAST(year AS TEXT), ''), plate, vin,
			coalesce(CAST(warranty_end AS TEXT), ''), coalesce(CAST(insurance_end AS TEXT), ''), coalesce(CAST(next_service_due AS TEXT), '')) FROM cars ORDER BY car_id`,
		`SELECT concat_ws('|', employee_id, name, coalesce(extension, '')) FROM employees ORDER BY employee_id`,
	} {
		out = append(out, queryStrings(t, s, q, q)...)
	}
	return out
}

// The rows of a small export: the Ivanovs (a man and his wife sharing the
// home number), Ivanov again with his work number and a second car, and
// Sidorov.
func ivanovRows() []screenpop.ImportRow {
	return []screenpop.ImportRow{
		{Line: 2, ExternalID: "C-1001", LastName: "Иванов", FirstName: "Иван", Patronymic: "Иванович",
			Phones: []string{"+79161234567", "+74951112233"}, Email: "ivanov@example.ru",
			Car:     &screenpop.Car{Make: "Kia", Model: "Rio", Year: 2019, Plate: "а123вс77", VIN: "Z94CB41AAKR123456", WarrantyEnd: day(2026, 5, 14)},
			Manager: "Соколова Анна Викторовна", CSI: csi(9)},
		{Line: 3, LastName: "Иванова", FirstName: "Мария", Patronymic: "Петровна", Phones: []string{"+74951112233", "+79037654321"}},
		{Line: 4, LastName: "Иванов", FirstName: "И.", Phones: []string{"+79161234567", "+74997778899"},
			Car: &screenpop.Car{Make: "Lada", Model: "Vesta", Plate: "М456КР750", InsuranceEnd: day(2026, 3, 1)}},
		{Line: 5, LastName: "Сидоров", FirstName: "Пётр", Phones: []string{"+79265550011"}, ConflictLevel: intp(2)},
	}
}

func TestMergeClients(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testMergeClients(t, b)
		})
	}
}

func testMergeClients(t *testing.T, b backend) {
	t.Run("rows become clients the pop finds; a row with a number of an earlier row merges into it", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		rep := mergeOK(t, s, MergeOptions{}, ivanovRows()...)
		want := MergeReport{Rows: 4, ClientsAdded: 3, PhonesAdded: 6, CarsAdded: 2, Merged: 1}
		if diff := cmp.Diff(want, counts(rep)); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[int]string{2: screenpop.RowAdded, 3: screenpop.RowAdded, 4: screenpop.RowMerged, 5: screenpop.RowAdded}, outcomes(rep)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		ivan := popClient{
			Name:   "Иванов Иван Иванович",
			Phones: []string{"+79161234567", "+74951112233", "+74997778899"},
			Cars: []string{
				"Kia|Rio|2019|А123ВС77|Z94CB41AAKR123456|2026-05-14|-|-",
				"Lada|Vesta|0|М456КР750||-|2026-03-01|-",
			},
			Manager: "Соколова Анна Викторовна",
		}
		maria := popClient{Name: "Иванова Мария Петровна", Phones: []string{"+74951112233", "+79037654321"}}
		if diff := cmp.Diff([]popClient{ivan}, popOf(t, s, "+74997778899")); diff != "" {
			t.Errorf("the pop of Ivanov's work number (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]popClient{ivan, maria}, popOf(t, s, "+74951112233")); diff != "" {
			t.Errorf("the pop of the Ivanovs' home number (-want +got):\n%s", diff)
		}
		if rep.Results[0].ClientID == 0 || rep.Results[2].ClientID != rep.Results[0].ClientID {
			t.Errorf("rows 2 and 4 went to clients %d and %d, want one client", rep.Results[0].ClientID, rep.Results[2].ClientID)
		}
	})

	t.Run("importing the same rows again changes nothing", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		mergeOK(t, s, MergeOptions{}, ivanovRows()...)
		before := dump(t, s)
		rep := mergeOK(t, s, MergeOptions{}, ivanovRows()...)
		if diff := cmp.Diff(MergeReport{Rows: 4, Unchanged: 4}, counts(rep)); diff != "" {
			t.Errorf("second report (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(before, dump(t, s)); diff != "" {
			t.Errorf("the second import changed the base (-before +after):\n%s", diff)
		}
	})

	t.Run("a row whose number a client has fills what the client lacks and adds new numbers and cars, duplicating nothing", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		ids, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{{Client: screenpop.Client{
			LastName: "Иванов", FirstName: "Иван", Phones: []string{"+79161234567"},
			Cars:          []screenpop.Car{{Make: "Kia", Model: "Rio", Plate: "A123BC77"}},
			ConflictLevel: 1,
		}}})
		if err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		rows := ivanovRows()[:1]
		rows[0].ConflictLevel = intp(3)
		rep := mergeOK(t, s, MergeOptions{}, rows...)
		if diff := cmp.Diff(MergeReport{Rows: 1, ClientsUpdated: 1, PhonesAdded: 1, Merged: 1}, counts(rep)); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		got, err := s.Client(t.Context(), ids[0])
		if err != nil {
			t.Fatalf("Client: %v", err)
		}
		want := screenpop.Client{
			ID: ids[0], LastName: "Иванов", FirstName: "Иван", Patronymic: "Иванович",
			Phones: []string{"+79161234567", "+74951112233"},
			// The plate typed in Latin letters is the same car: it gains
			// its VIN, year and warranty, keeping its plate as it was.
			Cars:          []screenpop.Car{{Make: "Kia", Model: "Rio", Year: 2019, Plate: "A123BC77", VIN: "Z94CB41AAKR123456", WarrantyEnd: day(2026, 5, 14)}},
			ConflictLevel: 1, // set already: kept
			CSI:           csi(9),
			Manager:       &screenpop.Employee{Name: "Соколова Анна Викторовна"},
		}
		if diff := cmp.Diff(want, got.Client, sameTime, ignoreEmployeeIDs); diff != "" {
			t.Errorf("the client (-want +got):\n%s", diff)
		}
		if rep.Results[0].ClientID != ids[0] {
			t.Errorf("merged into client %d, want %d", rep.Results[0].ClientID, ids[0])
		}
	})

	t.Run("a manager the export names is the employee of that name, with their extension", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		if _, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{{Client: screenpop.Client{
			LastName: "Старый", Phones: []string{"+79000000001"},
			Manager: &screenpop.Employee{Name: "Соколова Анна Викторовна", Extension: "201"},
		}}}); err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		mergeOK(t, s, MergeOptions{}, ivanovRows()[0])
		recs, err := s.LookupPhone(t.Context(), "+79161234567")
		if err != nil || len(recs) != 1 || recs[0].Manager == nil || recs[0].Manager.Extension != "201" {
			t.Errorf("the pop's manager: %+v, %v; want Соколова at 201", recs, err)
		}
		if n := len(queryStrings(t, s, "SELECT name FROM employees", "SELECT name FROM employees")); n != 1 {
			t.Errorf("%d employees, want the one", n)
		}
	})

	t.Run("a lead's number makes the lead a client with the row's name and car", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		lead, ok, err := s.EnsureLead(t.Context(), "+79265550011")
		if err != nil || !ok {
			t.Fatalf("EnsureLead: %v, %v", ok, err)
		}
		row := ivanovRows()[3]
		row.Car = &screenpop.Car{Make: "Škoda", Model: "Octavia", Plate: "Е001КХ99"}
		rep := mergeOK(t, s, MergeOptions{}, row)
		if diff := cmp.Diff(MergeReport{Rows: 1, ClientsUpdated: 1, CarsAdded: 1, Merged: 1}, counts(rep)); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		want := []popClient{{Name: "Сидоров Пётр", Phones: []string{"+79265550011"}, Cars: []string{"Škoda|Octavia|0|Е001КХ99||-|-|-"}}}
		if diff := cmp.Diff(want, popOf(t, s, "+79265550011")); diff != "" {
			t.Errorf("the pop (-want +got):\n%s", diff)
		}
		if rep.Results[0].ClientID != lead.ID {
			t.Errorf("merged into client %d, want the lead %d", rep.Results[0].ClientID, lead.ID)
		}
	})

	t.Run("a row naming two clients by two numbers is rejected as ambiguous and changes neither", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		mergeOK(t, s, MergeOptions{}, ivanovRows()[0])
		if _, ok, err := s.EnsureLead(t.Context(), "+79265550011"); err != nil || !ok {
			t.Fatalf("EnsureLead: %v, %v", ok, err)
		}
		before := dump(t, s)
		rep := mergeOK(t, s, MergeOptions{}, screenpop.ImportRow{Line: 7, LastName: "Иванов", FirstName: "Иван", Phones: []string{"+79161234567", "+79265550011"}})
		if diff := cmp.Diff(MergeReport{Rows: 1, Rejected: 1}, counts(rep)); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		want := "ambiguous: ***4567 is Иванов Иван Иванович's and ***0011 is a lead's; merge them or correct the row"
		if r := rep.Results[0]; r.Outcome != screenpop.RowRejected || r.Reason != want {
			t.Errorf("result %+v, want rejected: %s", r, want)
		}
		if diff := cmp.Diff(before, dump(t, s)); diff != "" {
			t.Errorf("the rejected row changed the base (-before +after):\n%s", diff)
		}
	})

	t.Run("a number on a client of another name is shared: the row is another client", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		mergeOK(t, s, MergeOptions{}, ivanovRows()[0])
		rep := mergeOK(t, s, MergeOptions{}, screenpop.ImportRow{Line: 3, LastName: "Иванов", FirstName: "Сергей", Phones: []string{"+74951112233"}})
		if r := rep.Results[0]; r.Outcome != screenpop.RowAdded || len(r.Notes) != 1 || r.Notes[0] != "shares a number with Иванов Иван Иванович, another client" {
			t.Errorf("result %+v, want added, sharing the number", r)
		}
		var names []string
		for _, c := range popOf(t, s, "+74951112233") {
			names = append(names, c.Name)
		}
		if diff := cmp.Diff([]string{"Иванов Иван Иванович", "Иванов Сергей"}, names); diff != "" {
			t.Errorf("the pop of the shared number (-want +got):\n%s", diff)
		}
	})

	t.Run("a CRM number finds the client whatever their numbers; pointing at another client's number is ambiguous", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		first := mergeOK(t, s, MergeOptions{}, ivanovRows()[0])
		if _, ok, err := s.EnsureLead(t.Context(), "+79031112233"); err != nil || !ok {
			t.Fatalf("EnsureLead: %v, %v", ok, err)
		}
		moved := screenpop.ImportRow{Line: 9, ExternalID: "C-1001", LastName: "Иванов", FirstName: "Иван", Phones: []string{"+79990001122"}}
		clash := screenpop.ImportRow{Line: 10, ExternalID: "C-1001", LastName: "Иванов", Phones: []string{"+79031112233"}}
		rep := mergeOK(t, s, MergeOptions{}, moved, clash)
		want := map[int]string{
			9:  screenpop.RowMerged,
			10: "rejected: ambiguous: client number C-1001 is Иванов Иван Иванович, but ***2233 is a lead's; merge them or correct the row",
		}
		if diff := cmp.Diff(want, outcomes(rep)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if rep.Results[0].ClientID != first.Results[0].ClientID {
			t.Errorf("the CRM number went to client %d, want %d", rep.Results[0].ClientID, first.Results[0].ClientID)
		}
		if got := popOf(t, s, "+79990001122"); len(got) != 1 || got[0].Name != "Иванов Иван Иванович" {
			t.Errorf("the pop of the new number: %+v", got)
		}
	})

	t.Run("rows the store refuses are rejected with the reason and the others imported", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		rep := mergeOK(t, s, MergeOptions{},
			screenpop.ImportRow{Line: 2, LastName: "Без", FirstName: "Номера"},
			screenpop.ImportRow{Line: 3, Phones: []string{"+79161234567"}},
			screenpop.ImportRow{Line: 4, LastName: "Плохой", Phones: []string{"89161234567"}, ConflictLevel: intp(7)},
			ivanovRows()[3])
		want := map[int]string{
			2: "rejected: no valid phone number",
			3: "rejected: no name",
			4: `rejected: phone "89161234567" is not in E.164 (+79161234567); conflict level 7 is not 0-3`,
			5: screenpop.RowAdded,
		}
		if diff := cmp.Diff(want, outcomes(rep)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
	})

	t.Run("a dry run reports what an import would do and changes nothing", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		mergeOK(t, s, MergeOptions{}, ivanovRows()[3])
		before := dump(t, s)
		dry := mergeOK(t, s, MergeOptions{DryRun: true, BatchSize: 2}, ivanovRows()...)
		if diff := cmp.Diff(before, dump(t, s)); diff != "" {
			t.Errorf("the dry run changed the base (-before +after):\n%s", diff)
		}
		real := mergeOK(t, s, MergeOptions{BatchSize: 2}, ivanovRows()...)
		if diff := cmp.Diff(counts(real), counts(dry)); diff != "" {
			t.Errorf("the dry run's report differs from the import's (-import +dry run):\n%s", diff)
		}
		if diff := cmp.Diff(outcomes(real), outcomes(dry)); diff != "" {
			t.Errorf("the dry run's outcomes differ from the import's (-import +dry run):\n%s", diff)
		}
	})

	t.Run("two imports of the same rows at once make each client once", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		var wg sync.WaitGroup
		reps := make([]MergeReport, 2)
		errs := make([]error, 2)
		for i := range reps {
			wg.Go(func() { reps[i], errs[i] = s.MergeClients(t.Context(), ivanovRows(), MergeOptions{}) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("MergeClients: %v", err)
			}
		}
		if n := reps[0].ClientsAdded + reps[1].ClientsAdded; n != 3 {
			t.Errorf("the imports added %d and %d clients, want 3 in all", reps[0].ClientsAdded, reps[1].ClientsAdded)
		}
		if n := countRows(t, s, "clients", ""); n != 3 {
			t.Errorf("%d clients, want 3", n)
		}
	})

	t.Run("batches see the clients earlier batches added, and count them as added", func(t *testing.T) {
		t.Parallel()
		s := openImportBase(t, b)
		rep := mergeOK(t, s, MergeOptions{BatchSize: 1}, ivanovRows()...)
		if diff := cmp.Diff(MergeReport{Rows: 4, ClientsAdded: 3, PhonesAdded: 6, CarsAdded: 2, Merged: 1}, counts(rep)); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
	})
}

func TestMergeNameRules(t *testing.T) {
	tests := []struct {
		name   string
		row    screenpop.ImportRow
		client mergeClient
		want   bool
	}{
		{"the same name in other case and ё agrees", screenpop.ImportRow{LastName: "ФЁДОРОВ", FirstName: "пётр"}, mergeClient{lastName: "Федоров", firstName: "Петр"}, true},
		{"initials agree with the names they start", screenpop.ImportRow{LastName: "Федоров", FirstName: "П.", Patronymic: "С"}, mergeClient{lastName: "Федоров", firstName: "Пётр", patronymic: "Сергеевич"}, true},
		{"a missing patronymic agrees", screenpop.ImportRow{LastName: "Федоров", FirstName: "Пётр"}, mergeClient{lastName: "Федоров", firstName: "Пётр", patronymic: "Сергеевич"}, true},
		{"another first name does not", screenpop.ImportRow{LastName: "Федорова", FirstName: "Анна"}, mergeClient{lastName: "Федоров", firstName: "Пётр"}, false},
		{"another CRM number does not", screenpop.ImportRow{ExternalID: "2", LastName: "Федоров"}, mergeClient{externalID: "1", lastName: "Федоров"}, false},
		{"a lead agrees with any name", screenpop.ImportRow{LastName: "Федоров"}, mergeClient{lead: true, firstName: "Ваня"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := agrees(tt.row, &tt.client); got != tt.want {
				t.Errorf("agrees = %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkMergeClients50k imports a 50,000-row export into an empty
// base (first), then the same export again, which changes nothing
// (again).
func BenchmarkMergeClients50k(b *testing.B) {
	for _, be := range backends {
		for _, again := range []bool{false, true} {
			name := be.name + "/first"
			if again {
				name = be.name + "/again"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					s := openImportBase(b, be)
					rows := manyRows(50_000)
					if again {
						if _, err := s.MergeClients(context.Background(), rows, MergeOptions{}); err != nil {
							b.Fatal(err)
						}
					}
					b.StartTimer()
					rep, err := s.MergeClients(context.Background(), rows, MergeOptions{})
					if err != nil {
						b.Fatal(err)
					}
					if again && (rep.ClientsAdded != 0 || rep.Merged != 0) {
						b.Fatalf("the second run changed the base: %+v", counts(rep))
					}
				}
			})
		}
	}
}

// manyRows is an export of n clients with a car each; every tenth row
// repeats an earlier client's number with a second car.
func manyRows(n int) []screenpop.ImportRow {
	rows := make([]screenpop.ImportRow, n)
	for i := range rows {
		num := i
		if i%10 == 9 {
			num = i - 5
		}
		rows[i] = screenpop.ImportRow{
			Line: i + 2, ExternalID: fmt.Sprintf("C-%d", i), LastName: "Клиент", FirstName: fmt.Sprintf("Номер%d", num),
			Phones:  []string{fmt.Sprintf("+7916%07d", num)},
			Car:     &screenpop.Car{Make: "Lada", Model: "Granta", Year: 2020, Plate: fmt.Sprintf("Х%03dХХ77", i%1000), VIN: fmt.Sprintf("XTA%014d", i)},
			Manager: fmt.Sprintf("Менеджер %d", i%20),
		}
		if i%10 == 9 {
			rows[i].ExternalID = ""
		}
	}
	return rows
}

// TestMergeClientsOfALargeExportReportsEveryRow imports an export of
// thousands of rows twice: the report counts each row once, and the second
// import changes nothing. How fast it goes is BenchmarkMergeClients50k's
// business, not a test's.
func TestMergeClientsOfALargeExportReportsEveryRow(t *testing.T) {
	const n = 5_000
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openImportBase(t, b)
			rows := manyRows(n)
			rep, err := s.MergeClients(t.Context(), rows, MergeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := MergeReport{Rows: n, ClientsAdded: n * 9 / 10, PhonesAdded: n * 9 / 10, CarsAdded: n, Merged: n / 10}
			if diff := cmp.Diff(want, counts(rep)); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			rep, err = s.MergeClients(t.Context(), rows, MergeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(MergeReport{Rows: n, Unchanged: n}, counts(rep)); diff != "" {
				t.Errorf("second report (-want +got):\n%s", diff)
			}
		})
	}
}
