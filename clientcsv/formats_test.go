package clientcsv

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/charmap"

	"github.com/screenpop/screenpop/screenpop"
)

// Russian exports as dealerships' systems write them, to read in every
// encoding they come in.
var russianExports = []struct{ name, text string }{
	{"a DMS export with cars", "Код клиента;ФИО;Телефон;Марка;Модель;Госномер;Последний визит;Количество визитов\r\n" +
		"1045;Петров Иван Сергеевич;8 (916) 123-45-67;Kia;Rio;А123ВС77;14.02.2025;7\r\n" +
		"1046;Смирнова Ольга Викторовна;+7 903 111-22-33;Лада;Веста;Е777КХ99;;\r\n" +
		"1047;Щукин Фёдор Юрьевич;89031112233;Шкода;Октавия;М001ММ77;03.11.2023;2\r\n"},
	{"a short one: a header and one row", "ФИО;Телефон\r\nИванов Иван;89161234567\r\n"},
	{"a company and an odd letter", "Клиент;Тел.\r\nООО «Ромашка»;84951234567\r\nЁжиков Эдуард;89031112233\r\n"},
	{"a tab-separated report", "Фамилия\tИмя\tОтчество\tМобильный\tМенеджер\r\n" +
		"Кузнецова\tАнастасия\tПавловна\t+79261234567\tСоколов Андрей\r\n" +
		"Жуков\tГеоргий\tЭммануилович\t89267654321\tСоколов Андрей\r\n"},
}

// dequote leaves out the quotation marks DOS's and Unix's encodings lack.
var dequote = strings.NewReplacer("«", `"`, "»", `"`)

func TestReadTellsRussianEncodingsApart(t *testing.T) {
	for _, ex := range russianExports {
		want, err := Read([]byte(ex.text), Options{Region: "RU"})
		if err != nil {
			t.Fatalf("%s in UTF-8: %v", ex.name, err)
		}
		if want.Encoding != "utf-8" || len(want.Rows) == 0 {
			t.Fatalf("%s in UTF-8 read as %s with %d rows", ex.name, want.Encoding, len(want.Rows))
		}
		for _, enc := range []struct {
			name string
			cm   *charmap.Charmap
		}{{"windows-1251", charmap.Windows1251}, {"cp866", charmap.CodePage866}, {"koi8-r", charmap.KOI8R}} {
			t.Run(ex.name+" in "+enc.name, func(t *testing.T) {
				data, err := enc.cm.NewEncoder().Bytes([]byte(dequote.Replace(ex.text)))
				if err != nil {
					t.Fatal(err)
				}
				f, err := Read(data, Options{Region: "RU"})
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				if f.Encoding != enc.name {
					t.Errorf("read as %s, want %s", f.Encoding, enc.name)
				}
				utf, _ := Read([]byte(dequote.Replace(ex.text)), Options{Region: "RU"})
				if diff := cmp.Diff(utf.Header, f.Header); diff != "" {
					t.Errorf("header (-UTF-8 +%s):\n%s", enc.name, diff)
				}
				if diff := cmp.Diff(utf.Rows, f.Rows); diff != "" {
					t.Errorf("rows (-UTF-8 +%s):\n%s", enc.name, diff)
				}
			})
		}
	}
	t.Run("a file in no Cyrillic encoding is refused, not guessed", func(t *testing.T) {
		data, err := charmap.Windows1252.NewEncoder().Bytes([]byte("Nachname;Vorname;Telefon\r\nMüller;Jürgen;+49 30 1234567\r\nGrößer;Änne;+49 30 7654321\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Read(data, Options{Region: "DE"})
		if err == nil || !strings.Contains(err.Error(), "cannot tell the file's encoding") || !strings.Contains(err.Error(), "give --encoding") {
			t.Errorf("error %v, want it to say it cannot tell the encoding", err)
		}
		// Told which, it reads the file so.
		f, err := Read(data, Options{Region: "DE", Encoding: "windows-1251",
			Columns: map[string][]string{"last_name": {"Nachname"}, "phones": {"Telefon"}}})
		if err != nil || f.Encoding != "windows-1251" || len(f.Rows) != 2 {
			t.Errorf("with --encoding windows-1251: %v, %+v", err, f)
		}
	})
}

// oneCExport is a client list as 1C saves a report to CSV: a title, the
// report's parameters and a blank row above the header.
const oneCExport = "Список клиентов;;;;\r\n" +
	"Сформирован: 01.03.2025 12:00;;;;\r\n" +
	";;;;\r\n" +
	"Контрагент;Телефон;Дата последнего визита;Количество визитов;Марка\r\n" +
	"Петров Иван Сергеевич;89161234567;14.02.2025;7;Kia\r\n" +
	"Сидоров Пётр;89167654321;;;\r\n"

func TestReadSkipsTitleRows(t *testing.T) {
	day := func(y int, m time.Month, d int) *time.Time {
		v := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return &v
	}
	want := []screenpop.ImportRow{
		{Line: 5, LastName: "Петров", FirstName: "Иван", Patronymic: "Сергеевич", Phones: []string{"+79161234567"},
			Car: &screenpop.Car{Make: "Kia"}, LastVisit: day(2025, 2, 14), Visits: intp(7)},
		{Line: 6, LastName: "Сидоров", FirstName: "Пётр", Phones: []string{"+79167654321"}},
	}
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"found on its own", Options{Region: "RU"}},
		{"given as --skip-rows 3", Options{Region: "RU", SkipRows: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Read(cp1251(t, oneCExport), tc.opts)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff([]string{"Список клиентов", "Сформирован: 01.03.2025 12:00"}, f.Titles); diff != "" {
				t.Errorf("titles (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"full_name", "phones", "last_visit", "visits", "make"}, f.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, f.Rows); diff != "" {
				t.Errorf("rows, by their lines in the file (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("too few rows to skip say so", func(t *testing.T) {
		_, err := Read([]byte("ФИО;Телефон\r\n"), Options{SkipRows: 4})
		if err == nil || !strings.Contains(err.Error(), "fewer than 5 rows") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("a header further down than the title rows looked at says to skip rows", func(t *testing.T) {
		_, err := Read([]byte(strings.Repeat("Отчёт\r\n", 20)+"ФИО;Телефон\r\nИванов;89161234567\r\n"), Options{})
		if err == nil || !strings.Contains(err.Error(), "no header among the first 16 rows") || !strings.Contains(err.Error(), "--skip-rows") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("a bad visit count or date is the row's reject", func(t *testing.T) {
		f, err := Read([]byte("ФИО;Телефон;Последний визит;Визитов\r\nИванов;89161234567;вчера;много\r\n"), Options{Region: "RU"})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Rejected) != 1 || f.Rejected[0].Reason != `Последний визит: "вчера" is not a date (DD.MM.YYYY or YYYY-MM-DD); Визитов: "много" is not a number of visits` {
			t.Errorf("rejected %+v", f.Rejected)
		}
	})
}
