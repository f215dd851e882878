package synth

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// Clients yields n made-up clients with their history as of now. The same
// seed gives the same people, phones and cars, whatever now and n are
// (now moves their dates; n only stops the sequence sooner or later), so
// the first k clients are always those Phones(seed, k) ring.
//
// Each client has names in the right gender forms, one to three phones in
// E.164 (mostly Russian mobiles; some numbers are shared by a family, who
// share a surname), none to three cars, visits, contacts and complaints.
// About one in twenty is a lead with no visits. Enough of them have a
// warranty or an insurance ending within a month, a service due, an open
// complaint, a conflict or a low CSI score for every alert of
// screenpop.DefaultCardRules to show up among a few hundred clients.
//
// Lists are empty, never nil; times are in UTC to the minute, dates at
// midnight UTC: as a store reads them back.
func Clients(seed uint64, n int, now time.Time) iter.Seq[screenpop.ClientHistory] {
	return func(yield func(screenpop.ClientHistory) bool) {
		g := newGenerator(seed, now)
		for i := range n {
			if !yield(g.next(i)) {
				return
			}
		}
	}
}

// Phones returns the phone numbers of the first k clients of Clients(seed,
// ...), each once, in the order the clients come: numbers the demo can ring
// to pop a known client. Some belong to more than one client.
func Phones(seed uint64, k int) []string {
	g := newGenerator(seed, time.Time{})
	var phones []string
	seen := map[string]bool{}
	for i := range k {
		for _, p := range g.identity(g.rand(i), i).phones {
			if !seen[p] {
				seen[p] = true
				phones = append(phones, p)
			}
		}
	}
	return phones
}

// Managers are the dealership's managers, with their extensions (201-210);
// every client's manager, if they have one, is one of them.
func Managers() []screenpop.Employee {
	es := make([]screenpop.Employee, len(managers))
	for i, m := range managers {
		es[i] = screenpop.Employee{Name: m.name, Extension: m.extension}
	}
	return es
}

// generator makes clients one after the other: a client may belong to the
// family of the one before, so it remembers that one's identity.
type generator struct {
	seed  uint64
	now   time.Time // UTC, to the minute
	today time.Time // midnight UTC
	prev  identity
}

func newGenerator(seed uint64, now time.Time) *generator {
	now = now.UTC().Truncate(time.Minute)
	return &generator{seed: seed, now: now, today: day(now)}
}

// rand gives client i a random source of its own, so that a client does
// not depend on how many values those before it drew.
func (g *generator) rand(i int) *rand.Rand {
	return rand.New(rand.NewPCG(g.seed, uint64(i)))
}

func (g *generator) next(i int) screenpop.ClientHistory {
	r := g.rand(i)
	id := g.identity(r, i)
	return g.history(r, id)
}

// identity is who a client is: names and phones. It comes first from the
// client's random source, before anything that depends on the date, so
// Phones needs no date.
type identity struct {
	male                            bool
	surname                         string // masculine form
	lastName, firstName, patronymic string
	phones                          []string
	familyNext                      bool   // the next client is family
	familyPhone                     string // the number the family shares
}

func (g *generator) identity(r *rand.Rand, i int) identity {
	var id identity
	inFamily := i > 0 && g.prev.familyNext
	id.male = r.IntN(100) < 58 // more men than women buy cars
	if inFamily {
		id.surname = g.prev.surname
		if g.prev.male == id.male && r.IntN(2) == 0 {
			id.male = !id.male // most often a spouse
		}
	} else {
		id.surname = surnames[r.IntN(len(surnames))]
	}
	father := maleNames[r.IntN(len(maleNames))]
	if id.male {
		id.lastName = id.surname
		id.firstName = maleNames[r.IntN(len(maleNames))].name
		id.patronymic = father.son
	} else {
		id.lastName = feminine(id.surname)
		id.firstName = femaleNames[r.IntN(len(femaleNames))]
		id.patronymic = father.daughter
	}

	own := mobile(g.seed, uint64(i))
	switch {
	case inFamily:
		id.familyPhone = g.prev.familyPhone
		if r.IntN(10) < 3 {
			id.phones = []string{id.familyPhone} // only the family's number
		} else {
			id.phones = []string{own, id.familyPhone}
		}
		id.familyNext = r.IntN(10) < 2 // a third member: a grown-up child
	default:
		id.phones = []string{own}
		if r.IntN(100) < 15 {
			id.phones = append(id.phones, mobile(g.seed, secondMobile+uint64(i)))
		}
		if id.familyNext = r.IntN(100) < 8; id.familyNext {
			if r.IntN(2) == 0 {
				id.familyPhone = own // the family calls from one mobile
			} else {
				id.familyPhone = landline(g.seed, uint64(i))
				id.phones = append(id.phones, id.familyPhone)
			}
		}
	}
	g.prev = id
	return id
}

// secondMobile separates the indexes of clients' second mobiles from those
// of their first, so no two clients get the same number by chance.
const secondMobile = 1 << 29

// mobile is a Russian mobile number (+7 9XX XXX-XX-XX), a different one
// for every index below 10⁹.
func mobile(seed, index uint64) string {
	return fmt.Sprintf("+79%09d", permute(index, 1_000_000_000, seed))
}

// landline is a Moscow home number (+7 495 or +7 499), a different one for
// every index below 2·10⁷.
func landline(seed, index uint64) string {
	v := permute(index%20_000_000, 20_000_000, seed^0x9e3779b97f4a7c15)
	code := "495"
	if v >= 10_000_000 {
		code, v = "499", v-10_000_000
	}
	return fmt.Sprintf("+7%s%07d", code, v)
}

// permute is a bijection of [0, domain) keyed by key: numbers look random
// and never repeat. It walks a bijection of the smallest power of two that
// holds domain until it lands inside (cycle walking).
func permute(x, domain, key uint64) uint64 {
	bits := 1
	for uint64(1)<<bits < domain {
		bits++
	}
	mask := uint64(1)<<bits - 1
	half := uint(bits / 2)
	for {
		// Each round is a bijection of bits-wide numbers: add the key,
		// xor with a right shift, multiply by an odd number.
		for _, m := range [...]uint64{0x2545f4914f6cdd1d, 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9} {
			x = (x + key) & mask
			x ^= x >> half
			x = (x * m) & mask
		}
		x ^= x >> half
		if x < domain {
			return x
		}
	}
}

// day is midnight UTC of t's date in UTC.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func sortByTime[T any](s []T, at func(T) time.Time) {
	slices.SortStableFunc(s, func(a, b T) int { return at(a).Compare(at(b)) })
}
