package store

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	xunicode "golang.org/x/text/encoding/unicode"
)

// Reading a client base as dealerships export it: from Excel or their CRM,
// as CSV in UTF-8 or Windows-1251, with ';' (Russian Excel), ',' or tabs,
// Russian or English headers, several numbers to a cell, dates as
// DD.MM.YYYY.

// ImportFields are the fields an export's columns can be mapped to. phones
// may be mapped to several columns; full_name is split into last name,
// first name and patronymic for rows that have no separate ones.
var ImportFields = []string{
	"external_id", "last_name", "first_name", "patronymic", "full_name", "phones", "email",
	"make", "model", "year", "plate", "vin", "warranty_end", "insurance_end", "next_service_due",
	"manager", "conflict_level", "csi", "lead",
	"manager_extension",
}

// headerFields are the headers exports commonly have, as normalHeader
// gives them, and the field each is.
var headerFields = func() map[string]string {
	m := map[string]string{}
	for field, headers := range map[string][]string{
		"external_id": {"id", "код", "код клиента", "номер клиента", "id клиента", "№ клиента", "client id", "customer id",
			"crm id", "external id", "внешний id", "идентификатор клиента"},
		"last_name":  {"фамилия", "last name", "lastname", "surname", "family name"},
		"first_name": {"имя", "first name", "firstname", "given name"},
		"patronymic": {"отчество", "patronymic", "middle name", "middlename"},
		"full_name": {"фио", "ф и о", "фамилия имя отчество", "клиент", "покупатель", "контрагент", "наименование клиента",
			"full name", "fullname", "name", "client", "client name", "customer", "customer name"},
		"email": {"email", "e mail", "почта", "эл почта", "электронная почта", "адрес электронной почты", "email address", "e mail address"},
		"make":  {"марка", "марка автомобиля", "марка авто", "марка а м", "make", "brand", "car make"},
		"model": {"модель", "модель автомобиля", "модель авто", "модель а м", "model", "car model"},
		"year":  {"год", "год выпуска", "год выпуска автомобиля", "year", "model year", "car year"},
		"plate": {"госномер", "гос номер", "гос знак", "госзнак", "гос рег знак", "регистрационный знак", "рег знак", "рег номер",
			"номер автомобиля", "номер а м", "plate", "license plate", "licence plate", "number plate", "registration", "registration number"},
		"vin": {"vin", "вин", "vin код", "vin номер", "вин код", "vin code", "vin number"},
		"warranty_end": {"окончание гарантии", "гарантия до", "дата окончания гарантии", "конец гарантии",
			"warranty end", "warranty until", "warranty expires", "warranty end date"},
		"insurance_end": {"окончание страховки", "страховка до", "дата окончания страховки", "окончание полиса", "полис до",
			"окончание осаго", "осаго до", "окончание каско", "каско до", "insurance end", "insurance until", "insurance expires", "insurance end date"},
		"next_service_due": {"следующее то", "дата следующего то", "следующий сервис", "дата следующего сервиса", "то до",
			"next service", "next service date", "next service due", "service due"},
		"manager": {"менеджер", "ответственный", "ответственный менеджер", "персональный менеджер", "manager", "account manager"},
		"manager_extension": {"добавочный менеджера", "внутренний номер менеджера", "внутренний менеджера",
			"manager extension", "manager ext", "manager s extension"},
		"conflict_level": {"конфликтность", "уровень конфликтности", "конфликт", "conflict", "conflict level"},
		"csi":            {"csi", "оценка", "удовлетворенность", "индекс удовлетворенности", "satisfaction"},
		"lead":           {"лид", "lead", "потенциальный", "потенциальный клиент", "is lead"},
	} {
		for _, h := range headers {
			m[h] = field
		}
	}
	return m
}()

// normalHeader is a header as compared: lower case, ё as е, words of
// letters and digits separated by one space ("E-mail" is "e mail").
func normalHeader(h string) string {
	h = strings.ReplaceAll(strings.ToLower(h), "ё", "е")
	return strings.Join(strings.FieldsFunc(h, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '№'
	}), " ")
}

// phoneHeader says whether a header names a column of phone numbers:
// "Телефон", "Моб. тел.", "Phone 2", "Мобильный"...
func phoneHeader(h string) bool {
	for _, w := range strings.Fields(normalHeader(h)) {
		switch {
		case strings.HasPrefix(w, "телефон"), w == "тел", strings.HasPrefix(w, "моб"), w == "сотовый",
			strings.HasPrefix(w, "phone"), w == "tel", w == "mobile", w == "cell":
			return true
		}
	}
	return false
}

// CSVOptions say how to read an export.
type CSVOptions struct {
	// Encoding is "auto" (or ""), "utf-8" or "windows-1251". Auto takes a
	// file with a UTF-8 or UTF-16 byte order mark, or valid UTF-8, as
	// Unicode, and anything else as Windows-1251.
	Encoding string
	// Delimiter separates fields; 0 finds it in the header: ';', ',', a
	// tab or '|'.
	Delimiter rune
	// Columns maps fields to the headers of their columns, overriding what
	// the headers would say: {"last_name": {"Фамилия"}}.
	Columns map[string][]string
	// Region is the country of national number forms ("RU").
	Region string
}

// CSVFile is an export as read: its format, which column went where, its
// rows, and the rows refused while reading.
type CSVFile struct {
	Encoding  string // "utf-8", "utf-16" or "windows-1251"
	BOM       bool
	Delimiter rune
	Header    []string
	// Fields gives, for each column of Header, the field it was read as;
	// "" for a column left out.
	Fields   []string
	Rows     []ImportRow
	Rejected []RowResult
	// Records are the file's rows as they were, by line, for a file of
	// rejects to be corrected and imported again.
	Records map[int][]string
}

// ReadClientCSV reads a client base export. An error means the file
// cannot be read as an export at all (an unknown column in Columns, no
// column of phone numbers or names); a row that cannot be used is in
// Rejected with the reason.
func ReadClientCSV(data []byte, opts CSVOptions) (*CSVFile, error) {
	f := &CSVFile{Records: map[int][]string{}}
	text, err := decodeExport(data, opts.Encoding, f)
	if err != nil {
		return nil, err
	}
	if f.Delimiter = opts.Delimiter; f.Delimiter == 0 {
		if f.Delimiter, err = findDelimiter(text); err != nil {
			return nil, err
		}
	}
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = f.Delimiter
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	if f.Header, err = r.Read(); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty")
		}
		return nil, fmt.Errorf("read the header: %w", err)
	}
	for i, h := range f.Header {
		f.Header[i] = strings.TrimSpace(h)
	}
	if f.Fields, err = mapColumns(f.Header, opts.Columns); err != nil {
		return nil, err
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A broken quote swallows the rest of the file: the error
			// says where it starts.
			return nil, fmt.Errorf("read the file: %w", err)
		}
		line, _ := r.FieldPos(0)
		if blank(rec) {
			continue
		}
		f.Records[line] = rec
		row, why := readRow(f, rec, opts.Region)
		row.Line = line
		if why != "" {
			f.Rejected = append(f.Rejected, RowResult{Line: line, Outcome: RowRejected, Reason: why, Notes: row.Notes})
			continue
		}
		f.Rows = append(f.Rows, row)
	}
	return f, nil
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// decodeExport gives the file as text, noting its encoding in f.
func decodeExport(data []byte, enc string, f *CSVFile) (string, error) {
	bomUTF8 := []byte("\xef\xbb\xbf")
	switch strings.ToLower(strings.ReplaceAll(enc, "_", "-")) {
	case "", "auto":
		switch {
		case bytes.HasPrefix(data, bomUTF8):
			f.Encoding, f.BOM = "utf-8", true
			data = data[len(bomUTF8):]
		case bytes.HasPrefix(data, []byte("\xff\xfe")), bytes.HasPrefix(data, []byte("\xfe\xff")):
			// Excel's "Unicode text".
			f.Encoding, f.BOM = "utf-16", true
			s, err := xunicode.UTF16(xunicode.LittleEndian, xunicode.ExpectBOM).NewDecoder().Bytes(data)
			if err != nil {
				return "", fmt.Errorf("decode UTF-16: %w", err)
			}
			return string(s), nil
		case utf8.Valid(data):
			f.Encoding = "utf-8"
		default:
			f.Encoding = "windows-1251"
		}
	case "utf-8", "utf8":
		f.Encoding = "utf-8"
		if bytes.HasPrefix(data, bomUTF8) {
			f.BOM = true
			data = data[len(bomUTF8):]
		}
		if !utf8.Valid(data) {
			return "", errors.New("the file is not valid UTF-8: try --encoding windows-1251")
		}
	case "windows-1251", "cp1251", "1251":
		f.Encoding = "windows-1251"
	default:
		return "", fmt.Errorf("unknown encoding %q: want utf-8, windows-1251 or auto", enc)
	}
	if f.Encoding == "windows-1251" {
		s, err := charmap.Windows1251.NewDecoder().Bytes(data)
		if err != nil {
			return "", fmt.Errorf("decode Windows-1251: %w", err)
		}
		return string(s), nil
	}
	return string(data), nil
}

// findDelimiter is the separator the header line uses most, outside quotes.
func findDelimiter(text string) (rune, error) {
	header, _, _ := strings.Cut(text, "\n")
	counts := map[rune]int{}
	quoted := false
	for _, r := range header {
		switch {
		case r == '"':
			quoted = !quoted
		case !quoted:
			counts[r]++
		}
	}
	best := rune(0)
	for _, d := range []rune{';', '\t', ',', '|'} { // a tie goes to the first
		if counts[d] > counts[best] {
			best = d
		}
	}
	if best == 0 {
		return 0, errors.New("cannot tell the fields apart: the header has no ';', ',', tab or '|'; give --delimiter")
	}
	return best, nil
}

// mapColumns gives each header's field: what cols says, else what the
// header says. It fails if cols names a field or header that is not there,
// or if no column holds phone numbers or names.
func mapColumns(header []string, cols map[string][]string) ([]string, error) {
	fields := make([]string, len(header))
	var errs []error
	explicit := map[string]bool{}
	for field, hs := range cols {
		if !slices.Contains(ImportFields, field) {
			errs = append(errs, fmt.Errorf("unknown field %q: the fields are %s", field, strings.Join(ImportFields, ", ")))
			continue
		}
		explicit[field] = true
		for _, h := range hs {
			i := findHeader(header, h)
			if i < 0 {
				errs = append(errs, fmt.Errorf("%s: the file has no column %q (its columns: %s)", field, h, strings.Join(header, ", ")))
				continue
			}
			if fields[i] != "" && fields[i] != field {
				errs = append(errs, fmt.Errorf("column %q is mapped to both %s and %s", h, fields[i], field))
			}
			fields[i] = field
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, h := range header {
		if fields[i] != "" {
			continue
		}
		field := headerFields[normalHeader(h)]
		if field == "" && phoneHeader(h) {
			field = "phones"
		}
		if !explicit[field] {
			fields[i] = field
		}
	}
	has := func(fs ...string) bool {
		return slices.ContainsFunc(fields, func(f string) bool { return slices.Contains(fs, f) })
	}
	if !has("phones") {
		errs = append(errs, errors.New("no column of phone numbers"))
	}
	if !has("last_name", "first_name", "patronymic", "full_name") {
		errs = append(errs, errors.New("no column of names"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w; the file's columns are %s: map them with --map phones=Телефон,full_name=Клиент or a mapping file",
			errors.Join(errs...), strings.Join(header, ", "))
	}
	return fields, nil
}

// findHeader finds a header as written, else as normalHeader sees it.
func findHeader(header []string, h string) int {
	if i := slices.IndexFunc(header, func(x string) bool { return strings.EqualFold(x, strings.TrimSpace(h)) }); i >= 0 {
		return i
	}
	return slices.IndexFunc(header, func(x string) bool { return normalHeader(x) == normalHeader(h) })
}

// WriteRejects writes the rejected rows as they were in the file, with
// the reason in a last column, in the file's encoding and delimiter: fixed
// in Excel, it imports again.
func WriteRejects(w io.Writer, f *CSVFile, rejected []RowResult) error {
	var enc encoding.Encoding = encoding.Nop
	switch f.Encoding {
	case "windows-1251":
		enc = charmap.Windows1251
	case "utf-16":
		enc = xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM)
	}
	var buf bytes.Buffer
	if f.BOM && f.Encoding == "utf-8" {
		buf.WriteString("\xef\xbb\xbf")
	}
	cw := csv.NewWriter(&buf)
	cw.Comma = f.Delimiter
	cw.UseCRLF = true
	cw.Write(append(slices.Clone(f.Header), "reason"))
	for _, r := range rejected {
		rec := f.Records[r.Line]
		cw.Write(append(slices.Clone(rec), r.Reason))
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	// Characters Windows-1251 lacks become '?' rather than failing the
	// file.
	out, err := encoding.ReplaceUnsupported(enc.NewEncoder()).Bytes(buf.Bytes())
	if err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	return nil
}
