package clientcsv

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/charmap"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/screenpop/screenpop/screenpop"
)

func cp1251(t *testing.T, s string) []byte {
	t.Helper()
	b, err := charmap.Windows1251.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode Windows-1251: %v", err)
	}
	return b
}

// russianExcel is an export as Russian Excel saves "CSV (разделители -
// точки с запятой)": Windows-1251, ';', CRLF, a quoted cell with ';' in
// it, an empty row at the end.
const russianExcel = "Код клиента;ФИО;Телефон;Моб. телефон;E-mail;Марка;Модель;Год выпуска;Госномер;VIN;Окончание гарантии;Окончание ОСАГО;Следующее ТО;Менеджер;Конфликтность;CSI;Комментарий\r\n" +
	"C-1;Петров Иван Сергеевич;8 (916) 123-45-67;+7 903 765 43 21, 8-495-111-22-33;petrov@mail.ru;Kia;Rio;2019 г.;а 123 вс 77;z94cb41aakr123456;14.05.2026;2026-03-01;01.12.2025 0:00:00;Соколова Анна;низкий;8,5;\"звонить после 18; не в выходные\"\r\n" +
	";ООО \"Ромашка\";84951234567;;;;;;;;;;;;;;\r\n" +
	";Сидоров;12-34;;;;;;;;;;;;;;\r\n" +
	";Кузнецов Олег;89031112233;;почта@;;;20x9;;;31.02.2026;;;;;11;\r\n" +
	";;;;;;;;;;;;;;;;\r\n"

func TestRead(t *testing.T) {
	t.Run("a Russian Excel export in Windows-1251 is read with its columns found by their headers", func(t *testing.T) {
		f, err := Read(cp1251(t, russianExcel), Options{Region: "RU"})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if f.Encoding != "windows-1251" || f.Delimiter != ';' || f.BOM {
			t.Errorf("read as %s, delimiter %q, BOM %v; want windows-1251, ';', no BOM", f.Encoding, f.Delimiter, f.BOM)
		}
		wantFields := []string{"external_id", "full_name", "phones", "phones", "email", "make", "model", "year", "plate", "vin",
			"warranty_end", "insurance_end", "next_service_due", "manager", "conflict_level", "csi", ""}
		if diff := cmp.Diff(wantFields, f.Fields); diff != "" {
			t.Errorf("fields of the columns (-want +got):\n%s", diff)
		}
		d := func(y int, m time.Month, dd int) *time.Time {
			v := time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
			return &v
		}
		want := []screenpop.ImportRow{
			{Line: 2, ExternalID: "C-1", LastName: "Петров", FirstName: "Иван", Patronymic: "Сергеевич",
				Phones: []string{"+79161234567", "+79037654321", "+74951112233"}, Email: "petrov@mail.ru",
				Car: &screenpop.Car{Make: "Kia", Model: "Rio", Year: 2019, Plate: "а 123 вс 77", VIN: "z94cb41aakr123456",
					WarrantyEnd: d(2026, 5, 14), InsuranceEnd: d(2026, 3, 1), NextServiceDue: d(2025, 12, 1)},
				Manager: "Соколова Анна", ConflictLevel: intp(1), CSI: csi(8.5)},
			{Line: 3, LastName: `ООО "Ромашка"`, Phones: []string{"+74951234567"}},
		}
		if diff := cmp.Diff(want, f.Rows); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		wantRejected := []screenpop.RowResult{
			{Line: 4, Outcome: screenpop.RowRejected, Reason: `no valid phone number in "12-34"`},
			{Line: 5, Outcome: screenpop.RowRejected,
				Reason: `Год выпуска: "20x9" is not a year; Окончание гарантии: "31.02.2026" is not a date (DD.MM.YYYY or YYYY-MM-DD); CSI: "11" is not a satisfaction score (1-10)`,
				Notes:  []string{`E-mail: left out "почта@": not an e-mail address`}},
		}
		if diff := cmp.Diff(wantRejected, f.Rejected); diff != "" {
			t.Errorf("rejected rows (-want +got):\n%s", diff)
		}
	})

	t.Run("a UTF-8 file with a byte order mark and a mapping reads as mapped", func(t *testing.T) {
		data := "\xef\xbb\xbfClient No,Surname,Given,Mobile,Work phone,Car,Reg\n" +
			"17,Smith,John,+44 7700 900123,,\"Ford Focus\",AB12CDE\n"
		f, err := Read([]byte(data), Options{Region: "GB", Columns: map[string][]string{
			"external_id": {"client no"}, "last_name": {"Surname"}, "first_name": {"Given"}, "model": {"Car"}, "plate": {"Reg"},
		}})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if f.Encoding != "utf-8" || !f.BOM || f.Delimiter != ',' {
			t.Errorf("read as %s, BOM %v, delimiter %q", f.Encoding, f.BOM, f.Delimiter)
		}
		want := []screenpop.ImportRow{{Line: 2, ExternalID: "17", LastName: "Smith", FirstName: "John", Phones: []string{"+447700900123"},
			Car: &screenpop.Car{Model: "Ford Focus", Plate: "AB12CDE"}}}
		if diff := cmp.Diff(want, f.Rows); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
	})

	t.Run("Excel's Unicode text (UTF-16, tabs) is read", func(t *testing.T) {
		data, err := xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM).NewEncoder().Bytes([]byte("Фамилия\tИмя\tТелефон\r\nЁлкин\tЁжик\t+79161234567\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Read(data, Options{Region: "RU"})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if f.Encoding != "utf-16" || f.Delimiter != '\t' || len(f.Rows) != 1 || f.Rows[0].LastName != "Ёлкин" {
			t.Errorf("read as %s, delimiter %q, rows %+v", f.Encoding, f.Delimiter, f.Rows)
		}
	})

	for _, tt := range []struct {
		name, data string
		opts       Options
		want       string
	}{
		{"a file without a column of phone numbers says so and lists its columns", "Фамилия;Имя\nИванов;Иван\n", Options{},
			"no column of phone numbers; the file's columns are Фамилия, Имя"},
		{"a file without names says so", "Телефон;Город\n89161234567;Москва\n", Options{}, "no column of names"},
		{"a mapping to a column the file lacks names it", "Фамилия;Телефон\nИванов;89161234567\n",
			Options{Columns: map[string][]string{"phones": {"Мобильный"}}}, `phones: the file has no column "Мобильный"`},
		{"a mapping to an unknown field lists the fields", "Фамилия;Телефон\nИванов;89161234567\n",
			Options{Columns: map[string][]string{"surname": {"Фамилия"}}}, `unknown field "surname": the fields are external_id, last_name`},
		{"a header with no delimiter asks for one", "Телефон\n89161234567\n", Options{}, "give --delimiter"},
		{"Windows-1251 read as UTF-8 says to choose the encoding", "\xd4\xe0\xec\xe8\xeb\xe8\xff;Tel\n", Options{Encoding: "utf-8"}, "name its encoding (windows-1251, cp866, koi8-r)"},
		{"an unknown encoding is named", "a;b\n", Options{Encoding: "koi8-u"}, `unknown encoding "koi8-u": want auto, utf-8, windows-1251, cp866, koi8-r`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read([]byte(tt.data), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}

	t.Run("the rejects file holds the rows as they were, with the reason, in the file's encoding, and imports again", func(t *testing.T) {
		f, err := Read(cp1251(t, russianExcel), Options{Region: "RU"})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteRejects(&buf, f, f.Rejected); err != nil {
			t.Fatal(err)
		}
		back, err := Read(buf.Bytes(), Options{Region: "RU"})
		if err != nil {
			t.Fatalf("read the rejects file back: %v", err)
		}
		if back.Encoding != "windows-1251" || back.Delimiter != ';' {
			t.Errorf("rejects file is %s with %q, want the input's windows-1251 with ';'", back.Encoding, back.Delimiter)
		}
		if got := back.Header[len(back.Header)-1]; got != "reason" || back.Fields[len(back.Fields)-1] != "" {
			t.Errorf("last column %q read as %q, want reason, left out", got, back.Fields[len(back.Fields)-1])
		}
		if len(back.Rejected) != 2 || back.Records[2][1] != "Сидоров" || back.Records[2][17] != `no valid phone number in "12-34"` {
			t.Errorf("rejects file read back as %v", back.Records)
		}
	})
}

func TestSplitPhones(t *testing.T) {
	for _, tt := range []struct {
		cell          string
		want, ignored []string
	}{
		{"89161234567", []string{"+79161234567"}, nil},
		{"+7 (916) 123-45-67", []string{"+79161234567"}, nil},
		{"9161234567", []string{"+79161234567"}, nil},
		{"8 916 123 45 67 8 495 111 22 33", []string{"+79161234567", "+74951112233"}, nil},
		{"89161234567 84951112233", []string{"+79161234567", "+74951112233"}, nil},
		{"89161234567; +7 495 111-22-33 / 0049 30 1234567", []string{"+79161234567", "+74951112233", "+49301234567"}, nil},
		{"89161234567, доб. 123", []string{"+79161234567"}, []string{"доб. 123"}},
		{"7,91612E+10", nil, []string{"7", "91612E+10"}},
	} {
		t.Run(tt.cell, func(t *testing.T) {
			got, ignored := splitPhones(tt.cell, "RU")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("phones (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ignored, ignored); diff != "" {
				t.Errorf("ignored (-want +got):\n%s", diff)
			}
		})
	}
}

func intp(v int) *int        { return &v }
func csi(v float64) *float64 { return &v }
