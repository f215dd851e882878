package clientcsv

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/screenpop/screenpop/screenpop"
)

// Reading the cells of an export's row: numbers in any form, several to a
// cell; dates as Excel writes them; a full name to split; yes and no in
// Russian or English.

// readRow reads one record; why says why it cannot be imported.
func readRow(f *File, rec []string, region string) (row screenpop.ImportRow, why string) {
	var (
		problems  []string
		car       screenpop.Car
		fullName  string
		rawPhones []string
	)
	for i, v := range rec {
		v = strings.TrimSpace(v)
		if i >= len(f.Fields) {
			if v != "" {
				problems = append(problems, fmt.Sprintf("has %d fields, the header %d", len(rec), len(f.Header)))
				break
			}
			continue
		}
		field := f.Fields[i]
		if v == "" || field == "" {
			continue
		}
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("%s: ", f.Header[i])+fmt.Sprintf(format, args...))
		}
		// The first column with a value wins, but for phones, which add up.
		first := func(dst *string) {
			if *dst == "" {
				*dst = v
			}
		}
		switch field {
		case "external_id":
			first(&row.ExternalID)
		case "last_name":
			first(&row.LastName)
		case "first_name":
			first(&row.FirstName)
		case "patronymic":
			first(&row.Patronymic)
		case "full_name":
			first(&fullName)
		case "phones":
			rawPhones = append(rawPhones, v)
			phones, ignored := splitPhones(v, region)
			for _, p := range phones {
				if !slices.Contains(row.Phones, p) {
					row.Phones = append(row.Phones, p)
				}
			}
			for _, x := range ignored {
				row.Notes = append(row.Notes, fmt.Sprintf("%s: left out %q: not a phone number", f.Header[i], x))
			}
		case "email":
			if emailAddress(v) {
				first(&row.Email)
			} else {
				row.Notes = append(row.Notes, fmt.Sprintf("%s: left out %q: not an e-mail address", f.Header[i], v))
			}
		case "make":
			first(&car.Make)
		case "model":
			first(&car.Model)
		case "plate":
			first(&car.Plate)
		case "vin":
			first(&car.VIN)
		case "year":
			y, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(v, "."), "г")))
			if err != nil || y < 1900 || y > time.Now().Year()+1 {
				bad("%q is not a year", v)
			} else if car.Year == 0 {
				car.Year = y
			}
		case "warranty_end", "insurance_end", "next_service_due":
			d, err := parseExportDate(v)
			if err != nil {
				bad("%q is not a date (DD.MM.YYYY or YYYY-MM-DD)", v)
				break
			}
			dst := map[string]**time.Time{"warranty_end": &car.WarrantyEnd, "insurance_end": &car.InsuranceEnd, "next_service_due": &car.NextServiceDue}[field]
			if *dst == nil {
				*dst = &d
			}
		case "last_visit":
			d, err := parseExportDate(v)
			if err != nil {
				bad("%q is not a date (DD.MM.YYYY or YYYY-MM-DD)", v)
			} else if row.LastVisit == nil {
				row.LastVisit = &d
			}
		case "visits":
			n, err := strconv.Atoi(strings.ReplaceAll(v, " ", ""))
			if err != nil || n < 0 {
				bad("%q is not a number of visits", v)
			} else if row.Visits == nil {
				row.Visits = &n
			}
		case "manager":
			first(&row.Manager)
		case "manager_extension":
			first(&row.ManagerExtension)
		case "conflict_level":
			if l, ok := conflictLevel(v); !ok {
				bad("%q is not a conflict level (0-3, or нет, низкий, средний, высокий)", v)
			} else if row.ConflictLevel == nil {
				row.ConflictLevel = &l
			}
		case "csi":
			x, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", "."), 64)
			if err != nil || x < 1 || x > 10 {
				bad("%q is not a satisfaction score (1-10)", v)
			} else if row.CSI == nil {
				row.CSI = &x
			}
		case "lead":
			if l, ok := yes(v); !ok {
				bad("%q is not yes or no", v)
			} else if row.Lead == nil {
				row.Lead = &l
			}
		}
	}
	if row.LastName == "" && row.FirstName == "" && row.Patronymic == "" && fullName != "" {
		row.LastName, row.FirstName, row.Patronymic = screenpop.SplitFullName(fullName)
	}
	if car != (screenpop.Car{}) {
		if car.Make == "" && car.Model == "" && car.Plate == "" && car.VIN == "" {
			row.Notes = append(row.Notes, "left out the car's year and dates: the row names no car (make, model, plate or VIN)")
		} else {
			row.Car = &car
		}
	}
	switch {
	case len(row.Phones) == 0 && len(rawPhones) > 0:
		problems = append([]string{fmt.Sprintf("no valid phone number in %q", strings.Join(rawPhones, ", "))}, problems...)
		row.Notes = nil // they say the same
	case len(row.Phones) == 0:
		problems = append([]string{"no phone number"}, problems...)
	}
	if row.LastName == "" && row.FirstName == "" && row.Patronymic == "" {
		problems = append(problems, "no name")
	}
	return row, strings.Join(problems, "; ")
}

// splitPhones reads a cell of phone numbers in any national or
// international form, separated by ',', ';', '/', new lines or spaces;
// ignored are the parts that are not phone numbers.
func splitPhones(cell, region string) (phones, ignored []string) {
	for _, part := range strings.FieldsFunc(cell, func(r rune) bool { return r == ',' || r == ';' || r == '/' || r == '\n' || r == '\r' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if n := screenpop.ParseNumber(part, region); n.E164 != "" {
			phones = append(phones, n.E164)
			continue
		}
		// Spaces separate numbers too, but also the groups of one
		// ("8 916 123 45 67"): take the fewest words that make a number in
		// use (not merely one of a possible length, as "8 916 123" is).
		words := strings.Fields(part)
		for i := 0; i < len(words); {
			j := i + 1
			for ; j <= len(words); j++ {
				if e164 := validNumber(strings.Join(words[i:j], " "), region); e164 != "" {
					phones = append(phones, e164)
					break
				}
			}
			if j > len(words) {
				ignored = append(ignored, strings.Join(words[i:], " "))
				break
			}
			i = j
		}
	}
	return phones, ignored
}

// validNumber is the number's E.164 form if it is one in use somewhere.
func validNumber(s, region string) string {
	n := screenpop.ParseNumber(s, region)
	if n.E164 == "" {
		return ""
	}
	if pn, err := phonenumbers.Parse(n.E164, ""); err != nil || !phonenumbers.IsValidNumber(pn) {
		return ""
	}
	return n.E164
}

// emailAddress says whether v looks like an e-mail address: something, an
// @, and a domain with a dot.
func emailAddress(v string) bool {
	local, domain, ok := strings.Cut(v, "@")
	return ok && local != "" && !strings.ContainsAny(v, " ,;<>") && strings.Contains(strings.Trim(domain, "."), ".") &&
		!strings.Contains(domain, "@")
}

// parseExportDate reads DD.MM.YYYY, YYYY-MM-DD, DD/MM/YYYY or DD.MM.YY,
// with any time of day after it (Excel adds "0:00:00").
func parseExportDate(s string) (time.Time, error) {
	s, _, _ = strings.Cut(strings.TrimSpace(s), " ")
	s, _, _ = strings.Cut(s, "T")
	for _, layout := range []string{"02.01.2006", "2006-01-02", "02/01/2006", "2.1.2006", "02.01.06"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", s)
}

func conflictLevel(v string) (int, bool) {
	switch strings.ToLower(v) {
	case "0", "нет", "none", "no":
		return 0, true
	case "1", "низкий", "low":
		return 1, true
	case "2", "средний", "medium":
		return 2, true
	case "3", "высокий", "high":
		return 3, true
	}
	return 0, false
}

func yes(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "да", "yes", "y", "true", "1", "+", "x", "х", "лид", "lead":
		return true, true
	case "нет", "no", "n", "false", "0", "-", "клиент", "client":
		return false, true
	}
	return false, false
}
