package screenpop

import (
	"slices"
	"strings"
	"time"
	"unicode"
)

// Importing a dealership's client base: the rows its export is read into
// (the clientcsv package reads a CSV export, the store merges the rows into
// the client base) and what became of each.

// ImportRow is one row of a client base export, read and checked: names
// trimmed, numbers in E.164 (+79161234567), dates parsed.
type ImportRow struct {
	// Line is where the row starts in the file, for the report.
	Line int
	// ExternalID is the client's number in the dealership's CRM, if the
	// export has one: a later import finds the client by it.
	ExternalID string
	LastName   string
	FirstName  string
	Patronymic string
	Phones     []string
	Email      string
	// Car is the row's car; nil when the row names none.
	Car *Car
	// Manager is the name of the client's manager at the dealership;
	// ManagerExtension the extension of their desk phone, if the export
	// has it (see SetEmployeeExtension).
	Manager          string
	ManagerExtension string
	// ConflictLevel (0-3), CSI (1-10) and Lead are nil when the export
	// does not say.
	ConflictLevel *int
	CSI           *float64
	Lead          *bool
	// LastVisit is the date of the client's last visit and Visits how many
	// they made, when the export says (a DMS's "last visit" and "visits"
	// columns); nil when it does not.
	LastVisit *time.Time
	Visits    *int
	// Notes say what of the row was left out while reading it (a cell
	// that is not a phone number...); the report repeats them.
	Notes []string
}

// Row outcomes.
const (
	RowAdded     = "added"     // a new client
	RowMerged    = "merged"    // merged into a client, who gained something
	RowUnchanged = "unchanged" // the client already had all of it
	RowRejected  = "rejected"  // Reason says why
)

// RowResult is what became of one row.
type RowResult struct {
	Line    int
	Outcome string
	// ClientID is the client the row was added as or merged into; 0 when
	// rejected.
	ClientID int64
	Reason   string
	Notes    []string
}

// orgWords mark a company's name, which is kept whole as the last name.
var orgWords = []string{"ооо", "оао", "зао", "пао", "ао", "ип", "ltd", "llc", "гк", "фгуп", "муп"}

// SplitFullName splits "Фамилия Имя Отчество" (the order of Russian
// exports): two words are the last and first name, more than three keep
// the rest as the patronymic ("Алиев Рашид Керим оглы"), initials are
// split ("Иванов И.И."). A company's name stays whole.
func SplitFullName(s string) (last, first, patronymic string) {
	words := strings.Fields(s)
	for _, w := range words {
		if slices.Contains(orgWords, strings.ToLower(strings.Trim(w, `."«»`))) || strings.ContainsAny(w, `"«»`) {
			return strings.Join(words, " "), "", ""
		}
	}
	if len(words) == 2 {
		// "И.И." is two initials.
		if r := []rune(words[1]); len(r) >= 3 && r[1] == '.' && unicode.IsLetter(r[0]) && unicode.IsLetter(r[2]) {
			return words[0], string(r[:2]), string(r[2:])
		}
	}
	switch len(words) {
	case 0:
		return "", "", ""
	case 1:
		return words[0], "", ""
	case 2:
		return words[0], words[1], ""
	}
	return words[0], words[1], strings.Join(words[2:], " ")
}
