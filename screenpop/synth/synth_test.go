package synth

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

var now = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

func collect(seed uint64, n int, now time.Time) []screenpop.ClientHistory {
	var cs []screenpop.ClientHistory
	for c := range Clients(seed, n, now) {
		cs = append(cs, c)
	}
	return cs
}

func TestClientsAreTheSameForTheSameSeed(t *testing.T) {
	a := collect(7, 500, now)
	if diff := cmp.Diff(a, collect(7, 500, now)); diff != "" {
		t.Errorf("two runs with seed 7 differ (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(a[:100], collect(7, 100, now)); diff != "" {
		t.Errorf("the first 100 of 500 clients differ from 100 clients (-of 500 +of 100):\n%s", diff)
	}
	if cmp.Equal(a, collect(8, 500, now)) {
		t.Error("seeds 7 and 8 give the same clients")
	}
	later := collect(7, 500, now.AddDate(0, 3, 0))
	for i := range a {
		if a[i].FullName() != later[i].FullName() || !slices.Equal(a[i].Phones, later[i].Phones) {
			t.Fatalf("client %d is %s %v today and %s %v three months on; want the same person",
				i, a[i].FullName(), a[i].Phones, later[i].FullName(), later[i].Phones)
		}
	}
}

func TestPhonesAreThoseOfTheFirstClients(t *testing.T) {
	var want []string
	for _, c := range collect(3, 50, now) {
		for _, p := range c.Phones {
			if !slices.Contains(want, p) {
				want = append(want, p)
			}
		}
	}
	if diff := cmp.Diff(want, Phones(3, 50)); diff != "" {
		t.Errorf("Phones(3, 50) (-phones of the first 50 clients +got):\n%s", diff)
	}
}

func TestNamesAgreeInGender(t *testing.T) {
	female := map[string]bool{}
	for _, n := range femaleNames {
		female[n] = true
	}
	male := map[string]bool{}
	for _, n := range maleNames {
		male[n.name] = true
	}
	masculine := map[string]bool{}
	feminineForm := map[string]bool{}
	for _, s := range surnames {
		masculine[s] = true
		feminineForm[feminine(s)] = true
	}
	for i, c := range collect(1, 3000, now) {
		switch {
		case female[c.FirstName]:
			if !feminineForm[c.LastName] || !(strings.HasSuffix(c.Patronymic, "вна") || strings.HasSuffix(c.Patronymic, "чна")) {
				t.Errorf("client %d, a woman, is named %q", i, c.FullName())
			}
		case male[c.FirstName]:
			if !masculine[c.LastName] || !strings.HasSuffix(c.Patronymic, "ич") {
				t.Errorf("client %d, a man, is named %q", i, c.FullName())
			}
		default:
			t.Errorf("client %d has first name %q, not in the lists", i, c.FirstName)
		}
	}
	for _, tt := range []struct{ male, female string }{
		{"Петров", "Петрова"}, {"Соловьёв", "Соловьёва"}, {"Ильин", "Ильина"},
		{"Вишневский", "Вишневская"}, {"Троицкий", "Троицкая"}, {"Толстой", "Толстая"},
		{"Черных", "Черных"}, {"Шевченко", "Шевченко"},
	} {
		if got := feminine(tt.male); got != tt.female {
			t.Errorf("feminine(%q) = %q, want %q", tt.male, got, tt.female)
		}
	}
}

var (
	plateFormat = regexp.MustCompile(`^[АВЕКМНОРСТУХ]\d{3}[АВЕКМНОРСТУХ]{2}\d{2,3}$`)
	vinFormat   = regexp.MustCompile(`^[A-HJ-NPR-Z0-9]{17}$`)
)

func TestCarsHaveRealPlatesAndVINs(t *testing.T) {
	cars := 0
	for _, c := range collect(1, 3000, now) {
		for _, car := range c.Cars {
			cars++
			if !plateFormat.MatchString(car.Plate) || strings.HasPrefix(car.Plate[len("А"):], "000") {
				t.Errorf("plate %q is not a Russian plate (А123ВС77)", car.Plate)
			}
			if !vinFormat.MatchString(car.VIN) {
				t.Errorf("VIN %q is not 17 characters without I, O and Q", car.VIN)
				continue
			}
			if got, want := car.VIN[9], vinYear(car.Year); got != want {
				t.Errorf("VIN %q of a %d car codes its year as %c, want %c", car.VIN, car.Year, got, want)
			}
			if got, want := car.VIN[8], checkDigit(car.VIN); got != want {
				t.Errorf("VIN %q has check digit %c, want %c", car.VIN, got, want)
			}
			if car.Year < 2005 || car.Year > now.Year() {
				t.Errorf("car %s %s is from %d", car.Make, car.Model, car.Year)
			}
		}
	}
	if cars < 3000 {
		t.Errorf("3000 clients have %d cars, want more than one each on average", cars)
	}
}

func checkDigit(vin string) byte {
	sum := 0
	for i := range len(vin) {
		sum += vinValue(vin[i]) * vinWeights[i]
	}
	if sum%11 == 10 {
		return 'X'
	}
	return byte('0' + sum%11)
}

func TestPhonesAreRussianNumbersSomeSharedByAFamily(t *testing.T) {
	owners := map[string][]screenpop.ClientHistory{}
	mobiles := 0
	for i, c := range collect(1, 3000, now) {
		if len(c.Phones) == 0 || len(c.Phones) > 3 {
			t.Errorf("client %d has %d phones, want 1 to 3", i, len(c.Phones))
		}
		for _, p := range c.Phones {
			if n := screenpop.ParseNumber(p, "RU"); n.E164 != p {
				t.Errorf("phone %q normalises to %q, want itself: not E.164", p, n.E164)
			}
			if !strings.HasPrefix(p, "+79") && !strings.HasPrefix(p, "+7495") && !strings.HasPrefix(p, "+7499") {
				t.Errorf("phone %q is neither a Russian mobile nor a Moscow number", p)
			}
			if strings.HasPrefix(p, "+79") {
				mobiles++
			}
			owners[p] = append(owners[p], c)
		}
		if len(slices.Compact(slices.Sorted(slices.Values(c.Phones)))) != len(c.Phones) {
			t.Errorf("client %d has a phone twice: %v", i, c.Phones)
		}
	}
	shared := 0
	for p, cs := range owners {
		if len(cs) < 2 {
			continue
		}
		shared++
		for _, c := range cs[1:] {
			if masculineOf(c.LastName) != masculineOf(cs[0].LastName) {
				t.Errorf("%s is shared by %s and %s, who are not family", p, cs[0].FullName(), c.FullName())
			}
		}
	}
	if shared < 60 || shared > 600 {
		t.Errorf("%d numbers are shared among 3000 clients, want a family's now and then (60-600)", shared)
	}
	if total := len(owners); mobiles*10 < total*8 {
		t.Errorf("%d of %d numbers are mobiles, want most", mobiles, total)
	}
}

func masculineOf(lastName string) string {
	for _, s := range surnames {
		if feminine(s) == lastName {
			return s
		}
	}
	return lastName
}

// record works out what a store's lookup would return for c, as of now.
func record(c screenpop.ClientHistory, now time.Time) screenpop.ClientRecord {
	rec := screenpop.ClientRecord{Client: c.Client, Visits: len(c.Visits)}
	for i, v := range c.Visits {
		if rec.LastVisit == nil || !v.Date.Before(rec.LastVisit.Date) {
			rec.LastVisit = &c.Visits[i]
		}
		if now.Sub(v.Date) <= 365*24*time.Hour {
			rec.VisitsLastYear++
		}
	}
	for i, ct := range c.Contacts {
		if rec.LastContact == nil || !ct.At.Before(rec.LastContact.At) {
			rec.LastContact = &c.Contacts[i]
		}
	}
	for _, cp := range c.Complaints {
		if cp.ClosedAt == nil {
			rec.OpenComplaints++
		}
	}
	return rec
}

func TestEveryAlertAndSegmentShowsUpInSensibleShares(t *testing.T) {
	const n = 3000
	segments := map[screenpop.Segment]int{}
	alerts := map[string]int{}
	for _, c := range collect(1, n, now) {
		card := screenpop.DefaultCardRules.NewClientCard(record(c, now), now)
		segments[card.Segment]++
		seen := map[string]bool{}
		for _, a := range card.Alerts {
			if !seen[a.Kind] {
				seen[a.Kind] = true
				alerts[a.Kind]++
			}
		}
	}
	t.Logf("of %d clients: segments %v, clients with each alert %v", n, segments, alerts)
	// Shares in percent of clients: enough for the demo to show each,
	// few enough that an alert still means something.
	for _, tt := range []struct {
		what     string
		got      int
		min, max int
	}{
		{"potential", segments[screenpop.SegmentPotential], 2, 10},
		{"real", segments[screenpop.SegmentReal], 25, 70},
		{"regular", segments[screenpop.SegmentRegular], 10, 45},
		{"lost", segments[screenpop.SegmentLost], 8, 25},
		{screenpop.AlertOpenComplaint, alerts[screenpop.AlertOpenComplaint], 1, 8},
		{screenpop.AlertWarrantyEnding, alerts[screenpop.AlertWarrantyEnding], 2, 12},
		{screenpop.AlertInsuranceEnding, alerts[screenpop.AlertInsuranceEnding], 3, 15},
		{screenpop.AlertServiceDue, alerts[screenpop.AlertServiceDue], 8, 35},
		{screenpop.AlertLostClient, alerts[screenpop.AlertLostClient], 8, 25},
		{screenpop.AlertConflict, alerts[screenpop.AlertConflict], 1, 8},
		{screenpop.AlertLowSatisfaction, alerts[screenpop.AlertLowSatisfaction], 4, 20},
	} {
		if pct := tt.got * 100 / n; pct < tt.min || pct >= tt.max {
			t.Errorf("%s: %d of %d clients (%d%%), want %d-%d%%", tt.what, tt.got, n, pct, tt.min, tt.max)
		}
	}
}

func TestHistoriesAreConsistent(t *testing.T) {
	kinds := []string{screenpop.VisitService, screenpop.VisitRepair, screenpop.VisitWarranty, screenpop.VisitBody, screenpop.VisitSale}
	extensions := map[string]string{}
	for _, m := range Managers() {
		extensions[m.Name] = m.Extension
	}
	if len(extensions) != 10 {
		t.Fatalf("Managers() has %d distinct managers, want 10", len(extensions))
	}
	leads := 0
	for i, c := range collect(1, 3000, now) {
		if c.Phones == nil || c.Cars == nil || c.Visits == nil || c.Contacts == nil || c.Complaints == nil {
			t.Fatalf("client %d has a nil list, want empty ones: %+v", i, c)
		}
		if c.Lead {
			leads++
			if len(c.Visits) > 0 || len(c.Cars) > 0 {
				t.Errorf("lead %d has %d visits and %d cars, want none", i, len(c.Visits), len(c.Cars))
			}
		}
		if m := c.Manager; m != nil && extensions[m.Name] != m.Extension {
			t.Errorf("client %d's manager %+v is not one of Managers()", i, *m)
		}
		if c.ConflictLevel < 0 || c.ConflictLevel > 3 || (c.CSI != nil && (*c.CSI < 1 || *c.CSI > 10)) {
			t.Errorf("client %d has conflict level %d and CSI %v", i, c.ConflictLevel, c.CSI)
		}
		for j, v := range c.Visits {
			if !slices.Contains(kinds, v.Kind) || v.Amount < 0 || v.Employee == "" || v.Date.After(now) || v.Date.Location() != time.UTC {
				t.Errorf("client %d has visit %+v", i, v)
			}
			if j > 0 && v.Date.Before(c.Visits[j-1].Date) {
				t.Errorf("client %d's visits are out of order at %d", i, j)
			}
		}
		for j, ct := range c.Contacts {
			if ct.Summary == "" || ct.Channel == "" || ct.At.After(now) {
				t.Errorf("client %d has contact %+v", i, ct)
			}
			if j > 0 && ct.At.Before(c.Contacts[j-1].At) {
				t.Errorf("client %d's contacts are out of order at %d", i, j)
			}
		}
		for _, cp := range c.Complaints {
			if cp.OpenedAt.After(now) || (cp.ClosedAt != nil && cp.ClosedAt.Before(cp.OpenedAt)) {
				t.Errorf("client %d has complaint %+v", i, cp)
			}
		}
		for _, car := range c.Cars {
			for _, d := range []*time.Time{car.WarrantyEnd, car.InsuranceEnd, car.NextServiceDue} {
				if d != nil && !d.Equal(day(*d)) {
					t.Errorf("client %d's car %s has date %v, want a midnight UTC", i, car.Plate, d)
				}
			}
		}
	}
	if leads < 90 || leads > 240 {
		t.Errorf("%d of 3000 clients are leads, want about 5%%", leads)
	}
}
