package clientcsv

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

	"github.com/wlynxg/chardet"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/screenpop/screenpop/screenpop"
)

// Reading a client base as dealerships export it: from Excel, 1C or their
// CRM, as CSV in UTF-8 or a Russian legacy encoding (Windows-1251, DOS's
// CP866, KOI8-R), with ';' (Russian Excel), ',' or tabs, title rows above
// the header (1C's reports), Russian or English headers, several numbers
// to a cell, dates as DD.MM.YYYY.

// Fields are the fields an export's columns can be mapped to. phones
// may be mapped to several columns; full_name is split into last name,
// first name and patronymic for rows that have no separate ones.
var Fields = []string{
	"external_id", "last_name", "first_name", "patronymic", "full_name", "phones", "email",
	"make", "model", "year", "plate", "vin", "warranty_end", "insurance_end", "next_service_due",
	"manager", "conflict_level", "csi", "lead", "last_visit", "visits",
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
		"last_visit": {"последний визит", "дата последнего визита", "последнее посещение", "дата последнего посещения",
			"последний заезд", "дата последнего заезда", "последнее обращение", "дата последнего обращения",
			"last visit", "last visit date", "last service", "last service date"},
		"visits": {"визиты", "визитов", "количество визитов", "кол во визитов", "число визитов", "всего визитов",
			"посещений", "количество посещений", "кол во посещений", "заездов", "количество заездов", "кол во заездов",
			"visits", "visit count", "number of visits", "total visits"},
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

// Options say how to read an export.
type Options struct {
	// Encoding is "auto" (or ""), or one of Encodings. Auto takes a
	// file with a UTF-8 or UTF-16 byte order mark, or valid UTF-8, as
	// Unicode, and tells the legacy encodings apart by their letters'
	// statistics (github.com/wlynxg/chardet, a port of Mozilla's
	// detector); a file it cannot place is refused, never guessed.
	Encoding string
	// SkipRows is how many rows above the header to skip (title rows);
	// 0 finds the header among the first maxTitleRows+1 rows: the first
	// whose columns hold phone numbers and names.
	SkipRows int
	// Delimiter separates fields; 0 finds it in the header: ';', ',', a
	// tab or '|'.
	Delimiter rune
	// Columns maps fields to the headers of their columns, overriding what
	// the headers would say: {"last_name": {"Фамилия"}}.
	Columns map[string][]string
	// Region is the country of national number forms ("RU").
	Region string
}

// File is an export as read: its format, which column went where, its
// rows, and the rows refused while reading.
type File struct {
	Encoding  string // "utf-8", "utf-16" or one of Encodings
	BOM       bool
	Delimiter rune
	// Titles are the rows above the header that were skipped, as text.
	Titles []string
	Header []string
	// Fields gives, for each column of Header, the field it was read as;
	// "" for a column left out.
	Fields   []string
	Rows     []screenpop.ImportRow
	Rejected []screenpop.RowResult
	// Records are the file's rows as they were, by line, for a file of
	// rejects to be corrected and imported again.
	Records map[int][]string
}

// Read reads a client base export. An error means the file
// cannot be read as an export at all (an unknown column in Columns, no
// column of phone numbers or names); a row that cannot be used is in
// Rejected with the reason.
func Read(data []byte, opts Options) (*File, error) {
	f := &File{Records: map[int][]string{}}
	text, err := decodeExport(data, opts.Encoding, f)
	if err != nil {
		return nil, err
	}
	text, skipped, err := locateHeader(text, opts, f)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = f.Delimiter
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	if _, err := r.Read(); err != nil { // the header, read by locateHeader
		return nil, fmt.Errorf("read the header: %w", err)
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
		line += skipped
		if blank(rec) {
			continue
		}
		f.Records[line] = rec
		row, why := readRow(f, rec, opts.Region)
		row.Line = line
		if why != "" {
			f.Rejected = append(f.Rejected, screenpop.RowResult{Line: line, Outcome: screenpop.RowRejected, Reason: why, Notes: row.Notes})
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
func decodeExport(data []byte, enc string, f *File) (string, error) {
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
			enc, err := detectEncoding(data)
			if err != nil {
				return "", err
			}
			f.Encoding = enc
		}
	case "utf-8", "utf8":
		f.Encoding = "utf-8"
		if bytes.HasPrefix(data, bomUTF8) {
			f.BOM = true
			data = data[len(bomUTF8):]
		}
		if !utf8.Valid(data) {
			return "", errors.New("the file is not valid UTF-8: try --encoding auto, or name its encoding (windows-1251, cp866, koi8-r)")
		}
	default:
		name, ok := encodingNames[strings.ToLower(strings.ReplaceAll(enc, "_", "-"))]
		if !ok {
			return "", fmt.Errorf("unknown encoding %q: want auto, utf-8, %s", enc, strings.Join(Encodings, ", "))
		}
		f.Encoding = name
	}
	if cm := legacyEncodings[f.Encoding]; cm != nil {
		s, err := cm.NewDecoder().Bytes(data)
		if err != nil {
			return "", fmt.Errorf("decode %s: %w", f.Encoding, err)
		}
		return string(s), nil
	}
	return string(data), nil
}

// Encodings are the legacy encodings an export may be in: Windows'
// (Excel, 1C), DOS's (old DMS exports) and Unix's Cyrillic, and two rarer
// ones the detector also knows.
var Encodings = []string{"windows-1251", "cp866", "koi8-r", "iso-8859-5", "x-mac-cyrillic"}

var legacyEncodings = map[string]*charmap.Charmap{
	"windows-1251": charmap.Windows1251, "cp866": charmap.CodePage866, "koi8-r": charmap.KOI8R,
	"iso-8859-5": charmap.ISO8859_5, "x-mac-cyrillic": charmap.MacintoshCyrillic,
}

// encodingNames are the names --encoding takes for each.
var encodingNames = map[string]string{
	"windows-1251": "windows-1251", "cp1251": "windows-1251", "1251": "windows-1251",
	"cp866": "cp866", "ibm866": "cp866", "866": "cp866", "dos": "cp866",
	"koi8-r": "koi8-r", "koi8r": "koi8-r",
	"iso-8859-5": "iso-8859-5", "x-mac-cyrillic": "x-mac-cyrillic", "maccyrillic": "x-mac-cyrillic",
}

// detectEncoding tells which legacy encoding a file that is not UTF-8 is
// in, by the statistics of its letters, or says it cannot.
func detectEncoding(data []byte) (string, error) {
	// The first quarter megabyte says as much as the whole file.
	res := chardet.Detect(data[:min(len(data), 256<<10)])
	name, ok := encodingNames[strings.ToLower(res.Encoding)]
	if !ok || res.Confidence < minEncodingConfidence {
		seen := res.Encoding
		if seen == "" {
			seen = "nothing known"
		}
		return "", fmt.Errorf("cannot tell the file's encoding: it is not UTF-8, and looks most like %s (confidence %.0f%%), not Cyrillic; give --encoding (utf-8, %s)",
			seen, res.Confidence*100, strings.Join(Encodings, ", "))
	}
	return name, nil
}

// minEncodingConfidence is how sure the detector must be: measured on
// short Russian exports (a header and a row) it says 0.75 or more for the
// right encoding.
const minEncodingConfidence = 0.5

// maxTitleRows is how many rows above the header Read looks past
// on its own: a 1C report's title, its parameters and blank rows.
const maxTitleRows = 15

// locateHeader finds the header: after opts.SkipRows rows, or the first of
// the first rows whose columns map (a column of phones and one of names).
// It sets f's delimiter, titles, header and fields, and returns the text
// from the header on and how many lines were skipped before it.
func locateHeader(text string, opts Options, f *File) (string, int, error) {
	if strings.TrimSpace(text) == "" {
		return "", 0, errors.New("the file is empty")
	}
	try := func(rest string) (rune, []string, []string, error) {
		line, _, _ := strings.Cut(rest, "\n")
		delim := opts.Delimiter
		if delim == 0 {
			var err error
			if delim, err = findDelimiter(line); err != nil {
				return 0, nil, nil, err
			}
		}
		r := csv.NewReader(strings.NewReader(rest))
		r.Comma, r.FieldsPerRecord, r.LazyQuotes = delim, -1, true
		header, err := r.Read()
		if err != nil {
			return 0, nil, nil, fmt.Errorf("read the header: %w", err)
		}
		for i, h := range header {
			header[i] = strings.TrimSpace(h)
		}
		fields, err := mapColumns(header, opts.Columns)
		return delim, header, fields, err
	}
	rest, skipped := text, 0
	var titles []string
	skipLine := func() bool {
		line, after, ok := strings.Cut(rest, "\n")
		if !ok {
			return false
		}
		if t := strings.TrimSpace(strings.Trim(strings.TrimSpace(line), ";,\t|")); t != "" {
			titles = append(titles, t)
		}
		rest, skipped = after, skipped+1
		return true
	}
	for range opts.SkipRows {
		if !skipLine() {
			return "", 0, fmt.Errorf("the file has fewer than %d rows to skip", opts.SkipRows+1)
		}
	}
	var firstErr error
	for n := 0; ; n++ {
		delim, header, fields, err := try(rest)
		if err == nil {
			f.Delimiter, f.Header, f.Fields, f.Titles = delim, header, fields, titles
			return rest, skipped, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if opts.SkipRows > 0 || n == maxTitleRows || !skipLine() {
			break
		}
	}
	if opts.SkipRows > 0 {
		return "", 0, fmt.Errorf("row %d, after the %d skipped: %w", opts.SkipRows+1, opts.SkipRows, firstErr)
	}
	return "", 0, fmt.Errorf("no header among the first %d rows (a row naming a column of phone numbers and one of names); the first row: %w; if the header is further down, give --skip-rows",
		maxTitleRows+1, firstErr)
}

// findDelimiter is the separator the header line uses most, outside quotes.
func findDelimiter(header string) (rune, error) {
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
		if !slices.Contains(Fields, field) {
			errs = append(errs, fmt.Errorf("unknown field %q: the fields are %s", field, strings.Join(Fields, ", ")))
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
func WriteRejects(w io.Writer, f *File, rejected []screenpop.RowResult) error {
	var enc encoding.Encoding = encoding.Nop
	switch f.Encoding {
	case "windows-1251", "cp866", "koi8-r", "iso-8859-5", "x-mac-cyrillic":
		enc = legacyEncodings[f.Encoding]
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
