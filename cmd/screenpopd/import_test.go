package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/charmap"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// importStores are the stores the import runs on, as the flags that
// choose them: the embedded one, and a fresh PostgreSQL schema.
var importStores = []struct {
	name string
	args func(t *testing.T) []string
}{
	{"SQLite", func(t *testing.T) []string { return []string{"--store-data-dir", t.TempDir()} }},
	{"PostgreSQL", func(t *testing.T) []string {
		return []string{"--store-dsn", freshSchema(t), "--store-data-dir", t.TempDir()}
	}},
}

// seedable is what the tests use to put a client base in place first.
type seedable interface {
	screenpop.Directory
	ImportClients(ctx context.Context, clients []screenpop.ClientHistory) ([]int64, error)
	EnsureLead(ctx context.Context, e164 string) (screenpop.ClientRecord, bool, error)
}

// openTestStore opens the store the flags choose, as the commands do.
func openTestStore(t *testing.T, storeArgs []string) seedable {
	t.Helper()
	cfg, err := load(t, storeArgs...)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSeeded(t.Context(), storeConfig(cfg))
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// runImport runs screenpopd import clients as a user would, returning
// what it printed.
func runImport(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"import", "clients"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// seedDealership is the base the Windows-1251 export meets: Петров with
// his mobile and his Kia (its plate typed in Latin letters), Волков, and
// two leads: Сидоров's number, and one nobody named.
func seedDealership(t *testing.T, s seedable) {
	t.Helper()
	_, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{
		{Client: screenpop.Client{LastName: "Петров", FirstName: "Иван", Phones: []string{"+79161234567"},
			Cars: []screenpop.Car{{Make: "Kia", Model: "Rio", Plate: "A123BC77"}}}},
		{Client: screenpop.Client{LastName: "Волков", FirstName: "Денис", Phones: []string{"+79160001122"}}},
	})
	if err != nil {
		t.Fatalf("seed the base: %v", err)
	}
	for _, n := range []string{"+79265550011", "+79030003344"} {
		if _, ok, err := s.EnsureLead(t.Context(), n); err != nil || !ok {
			t.Fatalf("seed a lead: %v %v", ok, err)
		}
	}
}

// popNames is what the pop shows of a number: each client's name, lead
// or not, numbers, cars (make model year plate VIN warranty insurance
// service) and manager.
func popNames(t *testing.T, s screenpop.Directory, e164 string) []string {
	t.Helper()
	recs, err := s.LookupPhone(t.Context(), e164)
	if err != nil {
		t.Fatalf("LookupPhone(%s): %v", e164, err)
	}
	var out []string
	for _, r := range recs {
		line := r.FullName()
		if r.Lead {
			line += " (lead)"
		}
		line += " " + strings.Join(r.Phones, ",")
		for _, c := range r.Cars {
			line += fmt.Sprintf(" [%s %s %d %s %s %s %s %s]", c.Make, c.Model, c.Year, c.Plate, c.VIN,
				showDate(c.WarrantyEnd), showDate(c.InsuranceEnd), showDate(c.NextServiceDue))
		}
		if r.Manager != nil {
			line += " manager " + r.Manager.Name
		}
		out = append(out, line)
	}
	return out
}

func showDate(d *time.Time) string {
	if d == nil {
		return "-"
	}
	return d.Format(time.DateOnly)
}

const file1251 = "testdata/import/clients-1251.csv"

const columns1251 = "columns: № клиента → external_id, Фамилия → last_name, Имя → first_name, Отчество → patronymic, " +
	"Телефон → phones, Доп. телефон → phones, E-mail → email, Марка → make, Модель → model, Год выпуска → year, " +
	"Госномер → plate, VIN → vin, Окончание гарантии → warranty_end, Окончание ОСАГО → insurance_end, " +
	"Следующее ТО → next_service_due, Менеджер → manager, Комментарий → (left out)\n"

const rejected1251 = `line 6: rejected: no valid phone number in "12-34"
line 7: rejected: no name
line 8: rejected: Окончание гарантии: "31.02.2026" is not a date (DD.MM.YYYY or YYYY-MM-DD)
line 9: rejected: ambiguous: ***1122 is Волков Денис's and ***3344 is a lead's; merge them or correct the row
`

func TestImportClientsFromAWindows1251Export(t *testing.T) {
	for _, st := range importStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			storeArgs := st.args(t)
			s := openTestStore(t, storeArgs)
			seedDealership(t, s)
			rejects := filepath.Join(t.TempDir(), "rejects.csv")

			out, err := runImport(t, append(storeArgs, "--rejects", rejects, file1251)...)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			want := file1251 + ": windows-1251, ';'-separated\n" + columns1251 +
				`rows read:       8
clients added:   1
clients updated: 2
phones added:    2
cars added:      2
rows merged:     3
rows unchanged:  0
rows rejected:   4
line 3: note: shares a number with Петров Иван Сергеевич, another client
` + rejected1251 + "4 rejected rows written, with the reason, to " + rejects + "\n"
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("what the import printed (-want +got):\n%s", diff)
			}

			// What the pop shows now.
			petrov := "Петров Иван Сергеевич +79161234567,+74951112233" +
				" [Kia Rio 2019 A123BC77 Z94CB41AAKR123456 2026-05-14 2026-03-01 -]" +
				" [Lada Vesta 2021 М456КР750  - - 2025-12-01] manager Соколова Анна Викторовна"
			for number, want := range map[string][]string{
				// The same number twice in the file, and already Петров's.
				"+79161234567": {petrov},
				// His home number, which his wife shares.
				"+74951112233": {petrov, "Петрова Анна Игоревна +74951112233"},
				// The lead is a client now.
				"+79265550011": {"Сидоров Пётр Петрович +79265550011 [Skoda Octavia 2018 Е001КХ99  - - -]"},
				// Rejected rows changed nothing.
				"+79031112233": nil,
				"+79037654321": nil,
				"+79160001122": {"Волков Денис +79160001122"},
				"+79030003344": {" (lead) +79030003344"},
			} {
				if diff := cmp.Diff(want, popNames(t, s, number)); diff != "" {
					t.Errorf("the pop of %s (-want +got):\n%s", number, diff)
				}
			}

			b, err := os.ReadFile(rejects)
			if err != nil {
				t.Fatal(err)
			}
			got, err := charmap.Windows1251.NewDecoder().Bytes(b)
			if err != nil {
				t.Fatal(err)
			}
			wantRejects := "№ клиента;Фамилия;Имя;Отчество;Телефон;Доп. телефон;E-mail;Марка;Модель;Год выпуска;Госномер;VIN;" +
				"Окончание гарантии;Окончание ОСАГО;Следующее ТО;Менеджер;Комментарий;reason\r\n" +
				"1004;Кузнецов;Олег;;12-34;;;;;;;;;;;;нет телефона;\"no valid phone number in \"\"12-34\"\"\"\r\n" +
				"1005;;;;89031112233;;;;;;;;;;;;нет имени;no name\r\n" +
				"1006;Смирнова;Елена;;89037654321;;;Toyota;Camry;2020;О777ОО77;;31.02.2026;;;;плохая дата;" +
				"\"Окончание гарантии: \"\"31.02.2026\"\" is not a date (DD.MM.YYYY or YYYY-MM-DD)\"\r\n" +
				"1007;Волков;Денис;;+7 916 000 11 22, 8 903 000 33 44;;;;;;;;;;;;два клиента;" +
				"\"ambiguous: ***1122 is Волков Денис's and ***3344 is a lead's; merge them or correct the row\"\r\n"
			if diff := cmp.Diff(wantRejects, string(got)); diff != "" {
				t.Errorf("the rejects file, in Windows-1251 (-want +got):\n%s", diff)
			}

			// The same file again: nothing changes.
			before := map[string][]string{}
			for _, n := range []string{"+79161234567", "+74951112233", "+79265550011", "+79160001122"} {
				before[n] = popNames(t, s, n)
			}
			out, err = runImport(t, append(storeArgs, file1251)...)
			if err != nil {
				t.Fatalf("import again: %v\n%s", err, out)
			}
			want = file1251 + ": windows-1251, ';'-separated\n" + columns1251 +
				`rows read:       8
clients added:   0
clients updated: 0
phones added:    0
cars added:      0
rows merged:     0
rows unchanged:  4
rows rejected:   4
` + rejected1251
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("what the second import printed (-want +got):\n%s", diff)
			}
			for n, was := range before {
				if diff := cmp.Diff(was, popNames(t, s, n)); diff != "" {
					t.Errorf("the second import changed the pop of %s (-before +after):\n%s", n, diff)
				}
			}
		})
	}
}

func TestImportClientsDryRunChangesNothing(t *testing.T) {
	storeArgs := importStores[0].args(t)
	s := openTestStore(t, storeArgs)
	seedDealership(t, s)
	out, err := runImport(t, append(storeArgs, "--dry-run", file1251)...)
	if err != nil {
		t.Fatalf("import --dry-run: %v\n%s", err, out)
	}
	want := "dry run: nothing is written; this is what the import would do\n" +
		file1251 + ": windows-1251, ';'-separated\n" + columns1251 +
		`rows read:                  8
clients added (would be):   1
clients updated (would be): 2
phones added (would be):    2
cars added (would be):      2
rows merged:                3
rows unchanged:             0
rows rejected:              4
line 3: note: shares a number with Петров Иван Сергеевич, another client
` + rejected1251
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("what the dry run printed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Петров Иван +79161234567 [Kia Rio 0 A123BC77  - - -]"}, popNames(t, s, "+79161234567")); diff != "" {
		t.Errorf("the dry run changed Петров (-want +got):\n%s", diff)
	}
	if got := popNames(t, s, "+79265550011"); len(got) != 1 || !strings.Contains(got[0], "(lead)") {
		t.Errorf("the dry run changed the lead: %v", got)
	}
}

func TestImportClientsFromAUTF8FileWithAMappingFile(t *testing.T) {
	for _, st := range importStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			storeArgs := st.args(t)
			out, err := runImport(t, append(storeArgs, "--mapping", "testdata/import/mapping.yaml", "testdata/import/clients-bom.csv")...)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			want := `testdata/import/clients-bom.csv: utf-8 with BOM, ','-separated
columns: Client No → external_id, Contact → full_name, Cell → phones, Landline → phones, Vehicle make → make, Vehicle model → model, Reg. No. → plate, Service due → next_service_due, Owner manager → manager
rows read:       3
clients added:   2
clients updated: 0
phones added:    3
cars added:      1
rows merged:     0
rows unchanged:  1
rows rejected:   0
`
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("what the import printed (-want +got):\n%s", diff)
			}
			s := openTestStore(t, storeArgs)
			if diff := cmp.Diff([]string{"Ёлкин Артём Павлович +79167654321,+74957654321 [Haval Jolion 0 Т321ТТ197  - - 2026-02-01] manager Орлова Мария"},
				popNames(t, s, "+74957654321")); diff != "" {
				t.Errorf("the pop (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"Фёдорова Ольга +79037654321"}, popNames(t, s, "+79037654321")); diff != "" {
				t.Errorf("the pop (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImportClientsSaysWhatIsWrongWithTheFile(t *testing.T) {
	dir := t.TempDir()
	noPhones := filepath.Join(dir, "no-phones.csv")
	os.WriteFile(noPhones, []byte("Фамилия;Имя;Город\nИванов;Иван;Москва\n"), 0o600)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a file without phone numbers lists its columns and how to map them", []string{noPhones},
			"no column of phone numbers; the file's columns are Фамилия, Имя, Город: map them with --map phones=Телефон"},
		{"a mapping of a field that does not exist lists the fields", []string{"--map", "surname=Фамилия", file1251},
			`unknown field "surname": the fields are external_id, last_name, first_name`},
		{"a mapping that is not field=Header says so", []string{"--map", "Фамилия", file1251}, `--map "Фамилия": want field=Header`},
		{"a delimiter of two characters is refused", []string{"--delimiter", ";;", file1251}, `--delimiter ";;": want one character`},
		{"a missing file is named", []string{filepath.Join(dir, "nope.csv")}, "nope.csv: no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runImport(t, append([]string{"--store-data-dir", t.TempDir()}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("import: %v, want an error containing %q\n%s", err, tt.want, out)
			}
		})
	}
}

// TestImportClientsFromA1CReportInKOI8R imports a 1C client report saved
// with its title rows, in KOI8-R, with the last visit and the visit count:
// the clients pop as the customers they are.
func TestImportClientsFromA1CReportInKOI8R(t *testing.T) {
	last := time.Now().AddDate(0, -2, 0).Format("02.01.2006")
	text := "Список клиентов;;;\r\nСформирован: " + time.Now().Format("02.01.2006") + ";;;\r\n;;;\r\n" +
		"Контрагент;Телефон;Дата последнего визита;Количество визитов\r\n" +
		"Петров Иван Сергеевич;8 916 555-44-33;" + last + ";6\r\n"
	data, err := charmap.KOI8R.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "1c.csv")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	storeArgs := []string{"--store-data-dir", t.TempDir()}
	out, err := runImport(t, append(storeArgs, file)...)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	for _, want := range []string{
		file + ": koi8-r, ';'-separated\n",
		"skipped above the header: Список клиентов | Сформирован: ",
		"columns: Контрагент → full_name, Телефон → phones, Дата последнего визита → last_visit, Количество визитов → visits\n",
		"clients added:   1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the import printed\n%s\nwant it to say %q", out, want)
		}
	}
	s := openTestStore(t, storeArgs)
	recs, err := s.LookupPhone(t.Context(), "+79165554433")
	if err != nil || len(recs) != 1 {
		t.Fatalf("LookupPhone: %v, %d clients", err, len(recs))
	}
	card := screenpop.DefaultCardRules.NewClientCard(recs[0], time.Now())
	if card.Segment != screenpop.SegmentReal || recs[0].Visits != 6 || recs[0].LastVisit.Date.Format("02.01.2006") != last {
		t.Errorf("the pop: segment %s, %d visits, last %v; want real, 6, %s", card.Segment, recs[0].Visits, recs[0].LastVisit, last)
	}
}
