package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// How an import decides which client a row is, and what it changes: the
// rules of merging, on both stores alike.

// merger works out a batch: which client each row is, and what it changes.
type merger struct {
	clients []*mergeClient // the loaded ones, then the added ones
	byPhone map[string][]*mergeClient
	byExt   map[string]*mergeClient
}

func newMerger(base []*mergeClient) *merger {
	m := &merger{byPhone: map[string][]*mergeClient{}, byExt: map[string]*mergeClient{}}
	for _, c := range base {
		m.add(c)
	}
	return m
}

func (m *merger) add(c *mergeClient) {
	m.clients = append(m.clients, c)
	for _, p := range c.phones {
		m.byPhone[p] = append(m.byPhone[p], c)
	}
	if c.externalID != "" {
		m.byExt[c.externalID] = c
	}
}

// merge finds the row's client and merges the row into it, or adds the row
// as a new client; reason says why it cannot.
//
// The client is the one with the row's external ID, else the one with one
// of its numbers and a name that agrees with the row's. A number on a
// client with another name (a family's home number) is shared: the row is
// another client. A row that points at two clients is ambiguous and
// refused: which one it is, is for a person to say.
func (m *merger) merge(r screenpop.ImportRow, notes []string) (c *mergeClient, outcome, reason string, _ []string) {
	var byExt *mergeClient
	if r.ExternalID != "" {
		byExt = m.byExt[r.ExternalID]
	}
	var matched []*mergeClient
	via := map[*mergeClient]string{} // the number by which each matched
	var shared []*mergeClient
	for _, p := range r.Phones {
		for _, c := range m.byPhone[p] {
			switch {
			case c == byExt || slices.Contains(matched, c) || slices.Contains(shared, c):
			case agrees(r, c):
				matched = append(matched, c)
				via[c] = p
			default:
				shared = append(shared, c)
			}
		}
	}
	switch {
	case byExt != nil && len(matched) > 0:
		return nil, "", fmt.Sprintf("ambiguous: client number %s is %s, but %s is %s's; merge them or correct the row",
			r.ExternalID, describe(byExt), screenpop.MaskNumber(via[matched[0]]), describe(matched[0])), notes
	case len(matched) > 1:
		return nil, "", fmt.Sprintf("ambiguous: %s is %s's and %s is %s's; merge them or correct the row",
			screenpop.MaskNumber(via[matched[0]]), describe(matched[0]), screenpop.MaskNumber(via[matched[1]]), describe(matched[1])), notes
	case byExt != nil:
		c = byExt
	case len(matched) == 1:
		c = matched[0]
	}
	if c == nil {
		c = newClient(r)
		m.add(c)
		for _, s := range shared {
			notes = append(notes, fmt.Sprintf("shares a number with %s, another client", describe(s)))
		}
		return c, screenpop.RowAdded, "", notes
	}
	if m.fill(c, r) {
		return c, screenpop.RowMerged, "", notes
	}
	return c, screenpop.RowUnchanged, "", notes
}

// describe names a client for a report: their name, or what they are.
func describe(c *mergeClient) string {
	name := c.fullName()
	switch {
	case c.lead && name == "":
		return "a lead"
	case name == "":
		return "a client with no name"
	}
	return name
}

func newClient(r screenpop.ImportRow) *mergeClient {
	c := &mergeClient{
		lastName: r.LastName, firstName: r.FirstName, patronymic: r.Patronymic,
		externalID: r.ExternalID, email: r.Email, manager: r.Manager,
		csi:       r.CSI,
		phones:    slices.Clone(r.Phones),
		lastVisit: r.LastVisit, visits: r.Visits,
	}
	if r.ConflictLevel != nil {
		c.conflictLevel = *r.ConflictLevel
	}
	if r.Lead != nil {
		c.lead = *r.Lead
	}
	if r.Car != nil {
		c.cars = []*mergeCar{{car: *r.Car}}
	}
	return c
}

// fill merges the row into c: numbers and cars c lacks are added, fields c
// leaves empty are filled. A lead (a number screenpop made a client of)
// takes the row's name and becomes a client, unless the row says it is a
// lead too. It says whether c gained anything.
func (m *merger) fill(c *mergeClient, r screenpop.ImportRow) bool {
	gained := false
	changed := func() { c.changed, gained = true, true }
	set := func(field *string, v string) {
		if v != "" && *field != v {
			*field = v
			changed()
		}
	}
	fillName := func(field *string, v string) {
		if *field == "" || isInitialOf(*field, v) {
			set(field, v)
		}
	}
	if c.lead {
		set(&c.lastName, r.LastName)
		set(&c.firstName, r.FirstName)
		set(&c.patronymic, r.Patronymic)
		if r.Lead == nil || !*r.Lead {
			c.lead = false
			changed()
		}
	} else {
		fillName(&c.lastName, r.LastName)
		fillName(&c.firstName, r.FirstName)
		fillName(&c.patronymic, r.Patronymic)
	}
	if c.externalID == "" && r.ExternalID != "" {
		set(&c.externalID, r.ExternalID)
		m.byExt[r.ExternalID] = c
	}
	if c.email == "" {
		set(&c.email, r.Email)
	}
	if c.manager == "" {
		set(&c.manager, r.Manager)
	}
	if c.conflictLevel == 0 && r.ConflictLevel != nil && *r.ConflictLevel != 0 {
		c.conflictLevel = *r.ConflictLevel
		changed()
	}
	if c.csi == nil && r.CSI != nil {
		v := *r.CSI
		c.csi = &v
		changed()
	}
	// A later export knows a later visit, and more of them.
	if r.LastVisit != nil && (c.lastVisit == nil || r.LastVisit.After(*c.lastVisit)) {
		d := *r.LastVisit
		c.lastVisit = &d
		changed()
	}
	if r.Visits != nil && (c.visits == nil || *r.Visits > *c.visits) {
		n := *r.Visits
		c.visits = &n
		changed()
	}
	for _, p := range r.Phones {
		if !slices.Contains(c.phones, p) {
			c.phones = append(c.phones, p)
			m.byPhone[p] = append(m.byPhone[p], c)
			if c.existed {
				c.newPhones = append(c.newPhones, p)
			}
			gained = true
		}
	}
	if r.Car != nil {
		if i := matchCar(c.cars, *r.Car); i < 0 {
			c.cars = append(c.cars, &mergeCar{car: *r.Car})
			gained = true
		} else if fillCar(&c.cars[i].car, *r.Car) {
			c.cars[i].changed = true
			gained = true
		}
	}
	if gained {
		c.touched = true
	}
	return gained
}

// agrees says whether the row may be client c by name and CRM number: a
// lead (a number nobody has named for sure) agrees with any row; otherwise
// no part of the names may differ, an initial agreeing with a name it
// starts ("И." and "Иван"), an empty part with anything.
func agrees(r screenpop.ImportRow, c *mergeClient) bool {
	if r.ExternalID != "" && c.externalID != "" && r.ExternalID != c.externalID {
		return false
	}
	if c.lead {
		return true
	}
	return namePartsAgree(r.LastName, c.lastName) && namePartsAgree(r.FirstName, c.firstName) &&
		namePartsAgree(r.Patronymic, c.patronymic)
}

func namePartsAgree(a, b string) bool {
	a, b = fold(a), fold(b)
	return a == "" || b == "" || a == b || isInitialOf(a, b) || isInitialOf(b, a)
}

// isInitialOf says whether short is an initial ("И." or "И") of the longer
// name full.
func isInitialOf(short, full string) bool {
	short, full = fold(short), fold(full)
	r := []rune(strings.TrimSuffix(short, "."))
	return len(r) == 1 && len([]rune(full)) > 1 && !strings.HasSuffix(full, ".") && []rune(full)[0] == r[0]
}

// fold is a name or a make as compared: lower case, ё as е.
func fold(s string) string {
	return strings.ReplaceAll(strings.ToLower(tidy(s)), "ё", "е")
}

// matchCar finds the row's car among a client's: by VIN; else by plate
// (among cars with no VIN, when the row has one: a plate moves to the
// owner's next car); with neither, by make and model. -1 if none.
func matchCar(cars []*mergeCar, car screenpop.Car) int {
	switch {
	case car.VIN != "":
		for i, c := range cars {
			if vinKey(c.car.VIN) == vinKey(car.VIN) {
				return i
			}
		}
		for i, c := range cars {
			if c.car.VIN == "" && car.Plate != "" && plateKey(c.car.Plate) == plateKey(car.Plate) {
				return i
			}
		}
	case car.Plate != "":
		for i, c := range cars {
			if plateKey(c.car.Plate) == plateKey(car.Plate) {
				return i
			}
		}
	default:
		for i, c := range cars {
			if fold(c.car.Make) == fold(car.Make) && fold(c.car.Model) == fold(car.Model) {
				return i
			}
		}
	}
	return -1
}

// fillCar fills what car leaves empty from the row's; it says whether
// anything was.
func fillCar(car *screenpop.Car, from screenpop.Car) bool {
	changed := false
	str := func(f *string, v string) {
		if *f == "" && v != "" {
			*f, changed = v, true
		}
	}
	day := func(f **time.Time, v *time.Time) {
		if *f == nil && v != nil {
			d := *v
			*f, changed = &d, true
		}
	}
	str(&car.Make, from.Make)
	str(&car.Model, from.Model)
	str(&car.Plate, from.Plate)
	str(&car.VIN, from.VIN)
	if car.Year == 0 && from.Year != 0 {
		car.Year, changed = from.Year, true
	}
	day(&car.WarrantyEnd, from.WarrantyEnd)
	day(&car.InsuranceEnd, from.InsuranceEnd)
	day(&car.NextServiceDue, from.NextServiceDue)
	return changed
}

// Russian plates use the twelve Cyrillic letters that look Latin; exports
// type them either way. VINs are Latin.
var (
	latinToCyrillic = strings.NewReplacer("A", "А", "B", "В", "E", "Е", "K", "К", "M", "М", "H", "Н",
		"O", "О", "P", "Р", "C", "С", "T", "Т", "Y", "У", "X", "Х")
	cyrillicToLatin = strings.NewReplacer("А", "A", "В", "B", "Е", "E", "К", "K", "М", "M", "Н", "H",
		"О", "O", "Р", "P", "С", "C", "Т", "T", "У", "Y", "Х", "X")
)

func plateKey(p string) string {
	return latinToCyrillic.Replace(strings.ToUpper(strings.Join(strings.FieldsFunc(p, func(r rune) bool {
		return r == ' ' || r == '-'
	}), "")))
}

func vinKey(v string) string {
	return cyrillicToLatin.Replace(strings.ToUpper(strings.Join(strings.Fields(v), "")))
}
