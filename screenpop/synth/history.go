package synth

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

const dayLen = 24 * time.Hour

// Where a client stands decides how recent and how frequent their visits
// are; the card's segment follows from those.
const (
	leadShare    = 5  // percent: no visits, no cars
	lostShare    = 15 // percent: no visit for over a year
	regularShare = 18 // percent: three visits or more in the last year
)

// history is the rest of a client after their identity: status, cars,
// visits, contacts and complaints, as of g.now.
func (g *generator) history(r *rand.Rand, id identity) screenpop.ClientHistory {
	h := screenpop.ClientHistory{
		Client: screenpop.Client{
			LastName: id.lastName, FirstName: id.firstName, Patronymic: id.patronymic,
			Phones: id.phones, Cars: []screenpop.Car{},
		},
		Visits: []screenpop.Visit{}, Contacts: []screenpop.Contact{}, Complaints: []screenpop.Complaint{},
	}
	if r.IntN(100) < 88 {
		m := pick(r, managers)
		h.Manager = &screenpop.Employee{Name: m.name, Extension: m.extension}
	}
	status := r.IntN(100)
	if status < leadShare {
		h.Lead = true
		g.leadContacts(r, &h)
		return h
	}
	lost := status < leadShare+lostShare
	regular := !lost && status < leadShare+lostShare+regularShare

	// lastActive is the client's last visit.
	var lastActive time.Time
	switch {
	case lost:
		lastActive = g.at(r, g.today.Add(-time.Duration(380+r.IntN(900))*dayLen))
	case regular:
		lastActive = g.at(r, g.today.Add(-time.Duration(1+r.IntN(60))*dayLen))
	default:
		lastActive = g.at(r, g.today.Add(-time.Duration(1+r.IntN(250))*dayLen))
	}
	// The dealership's records go back six years.
	since := g.today.AddDate(-6, 0, 0)

	ncars := 1
	switch n := r.IntN(100); {
	case n < 3:
		ncars = 0 // sold their car; comes back for the next
	case n < 73:
	case n < 95:
		ncars = 2
	default:
		ncars = 3
	}
	for range ncars {
		car, visits := g.car(r, lost, since, lastActive)
		h.Cars = append(h.Cars, car)
		h.Visits = append(h.Visits, visits...)
	}
	if regular {
		for n := g.visitsSince(h.Visits, g.now.Add(-330*dayLen)); n < 3; n++ {
			v := g.visit(r, g.at(r, g.today.Add(-time.Duration(1+r.IntN(330))*dayLen)), pick(r, []string{
				screenpop.VisitRepair, screenpop.VisitService, screenpop.VisitBody, screenpop.VisitRepair,
			}), 1_000_000)
			h.Visits = append(h.Visits, v)
		}
	}
	// Whatever the cars brought, the last visit is when the client was
	// last seen.
	if len(h.Visits) == 0 || latest(h.Visits).Before(lastActive.Add(-14*dayLen)) {
		h.Visits = append(h.Visits, g.visit(r, lastActive, pick(r, []string{screenpop.VisitService, screenpop.VisitRepair}), 1_000_000))
	}
	sortByTime(h.Visits, func(v screenpop.Visit) time.Time { return v.Date })

	g.contacts(r, &h, lastActive)
	openComplaint := g.complaints(r, &h, lastActive, lost)

	switch n := r.IntN(100); {
	case openComplaint && n < 60:
		h.ConflictLevel = 1 + r.IntN(3)
	case n < 5:
		h.ConflictLevel = 1
	case n < 7:
		h.ConflictLevel = 2
	case n < 8:
		h.ConflictLevel = 3
	}
	switch n := r.IntN(100); {
	case n < 12:
		// never surveyed
	case openComplaint && n < 70, n < 20:
		h.CSI = csi(2 + r.IntN(5)) // 2-6: flagged
	case n < 30:
		h.CSI = csi(7)
	default:
		h.CSI = csi(8 + r.IntN(3))
	}
	return h
}

func csi(score int) *float64 { f := float64(score); return &f }

// car makes one of the client's cars, and the visits it brought: its sale
// if bought here, yearly services, now and then a repair or body work.
func (g *generator) car(r *rand.Rand, lost bool, since, lastActive time.Time) (screenpop.Car, []screenpop.Visit) {
	m := pickModel(r)
	last := g.now.Year()
	if m.lastYear != 0 && m.lastYear < last {
		last = m.lastYear
	}
	first := max(m.firstYear, g.now.Year()-12)
	if first > last {
		first = last
	}
	// When the client got the car: any day of a year it was sold in, not
	// after the client's last visit.
	bought := time.Date(first+r.IntN(last-first+1), time.January, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(365)) * dayLen)
	if bought.After(lastActive) {
		bought = day(lastActive).Add(-time.Duration(r.IntN(700)) * dayLen)
	}
	car := screenpop.Car{Make: m.make, Model: m.model, Year: bought.Year(), Plate: plate(r)}
	isNew := r.IntN(100) < 80
	if isNew {
		warranty := bought.AddDate(m.warrantyYears, 0, 0)
		// A share of cars are chosen to have their warranty end within the
		// month, so the demo shows the alert.
		if !lost && r.IntN(100) < 5 {
			warranty = g.today.Add(time.Duration(1+r.IntN(29)) * dayLen)
			bought = warranty.AddDate(-m.warrantyYears, 0, 0)
			car.Year = bought.Year()
		}
		car.WarrantyEnd = &warranty
	} else {
		car.Year = max(bought.Year()-1-r.IntN(6), 2005)
	}
	car.VIN = vin(r, m, car.Year)

	switch n := r.IntN(100); {
	case n < 12 || (lost && n < 50):
		// the dealership does not know
	default:
		// OSAGO and KASKO run a year; some lapsed a few weeks ago.
		end := g.today.Add(time.Duration(r.IntN(410)-45) * dayLen)
		car.InsuranceEnd = &end
	}

	var visits []screenpop.Visit
	if isNew && r.IntN(100) < 65 && !bought.Before(since) {
		price := m.price * (1 - 0.05*float64(g.now.Year()-bought.Year())) * (0.92 + 0.16*r.Float64())
		visits = append(visits, screenpop.Visit{
			Date: g.at(r, bought), Kind: screenpop.VisitSale, Amount: roubles(price), Employee: pick(r, managers).name,
		})
	}
	// Yearly services, give or take a couple of months, while the client
	// comes.
	lastService := bought
	for at := bought.Add(time.Duration(330+r.IntN(60)) * dayLen); !at.After(lastActive); at = at.Add(time.Duration(300+r.IntN(130)) * dayLen) {
		if r.IntN(100) < 10 {
			continue // serviced elsewhere that year
		}
		lastService = at
		if at.Before(since) {
			continue
		}
		kind := screenpop.VisitService
		if car.WarrantyEnd != nil && at.Before(*car.WarrantyEnd) && r.IntN(100) < 15 {
			kind = screenpop.VisitWarranty
		}
		visits = append(visits, g.visit(r, g.at(r, at), kind, m.price))
	}
	from := bought
	if from.Before(since) {
		from = since
	}
	for at := from; at.Before(lastActive); at = at.Add(365 * dayLen) {
		if r.IntN(100) < 18 {
			visits = append(visits, g.visit(r, g.at(r, at.Add(time.Duration(r.IntN(365))*dayLen)), screenpop.VisitRepair, m.price))
		}
		if r.IntN(100) < 7 {
			visits = append(visits, g.visit(r, g.at(r, at.Add(time.Duration(r.IntN(365))*dayLen)), screenpop.VisitBody, m.price))
		}
	}
	// Visits after the client stopped coming did not happen.
	kept := visits[:0]
	for _, v := range visits {
		if !v.Date.After(lastActive.Add(dayLen)) && v.Date.Before(g.now) {
			kept = append(kept, v)
		}
	}
	visits = kept

	// The next service is a year after the last; a client who still comes
	// had those since serviced elsewhere, or booked, so only a lost
	// client's are long overdue.
	switch due := day(lastService).AddDate(1, 0, 0); {
	case !lost:
		for due.Before(g.today.Add(-20 * dayLen)) {
			due = due.AddDate(1, 0, 0)
		}
		car.NextServiceDue = &due
	case r.IntN(2) == 0:
		car.NextServiceDue = &due
	}
	return car, visits
}

// visit is a visit of the kind, priced for a car that cost price new.
func (g *generator) visit(r *rand.Rand, at time.Time, kind string, price float64) screenpop.Visit {
	scale := math.Sqrt(price / 1_500_000)
	var amount float64
	switch kind {
	case screenpop.VisitService:
		amount = (9_000 + 22_000*r.Float64()) * scale
	case screenpop.VisitRepair:
		amount = (4_000 + 80_000*r.Float64()*r.Float64()) * scale
	case screenpop.VisitBody:
		amount = (18_000 + 200_000*r.Float64()*r.Float64()) * scale
	case screenpop.VisitWarranty:
		amount = 0 // the maker pays
	}
	return screenpop.Visit{Date: at, Kind: kind, Amount: roubles(amount), Employee: pick(r, serviceAdvisers)}
}

// roubles rounds an amount to ten roubles, as price lists do.
func roubles(x float64) float64 { return math.Round(x/10) * 10 }

// at is a moment during opening hours (9:00-20:00 Moscow time) on d's
// date, never after g.now.
func (g *generator) at(r *rand.Rand, d time.Time) time.Time {
	t := day(d).Add(6*time.Hour + time.Duration(r.IntN(11*60))*time.Minute)
	if t.After(g.now) {
		t = g.now.Add(-time.Duration(1+r.IntN(120)) * time.Minute)
	}
	return t
}

func latest(vs []screenpop.Visit) time.Time {
	var t time.Time
	for _, v := range vs {
		if v.Date.After(t) {
			t = v.Date
		}
	}
	return t
}

func (g *generator) visitsSince(vs []screenpop.Visit, since time.Time) int {
	n := 0
	for _, v := range vs {
		if v.Date.After(since) {
			n++
		}
	}
	return n
}

// Why clients get in touch, by what the contact led to.
var (
	bookings = map[string][]string{
		screenpop.VisitService:  {"Записался на ТО", "Записался на плановое ТО", "Перенёс ТО на другой день"},
		screenpop.VisitRepair:   {"Записался на диагностику", "Стучит подвеска, записался на осмотр", "Горит Check Engine, записался"},
		screenpop.VisitWarranty: {"Записался на гарантийный ремонт", "Согласовали гарантийную замену"},
		screenpop.VisitBody:     {"Записался на кузовной ремонт", "Согласовали смету кузовного ремонта"},
		screenpop.VisitSale:     {"Согласовали дату выдачи автомобиля", "Оформили договор купли-продажи"},
	}
	enquiries = []string{
		"Уточнял стоимость КАСКО", "Спрашивал о готовности автомобиля", "Напомнили о ТО",
		"Интересовался trade-in", "Уточнял стоимость зимней резины", "Спрашивал о сроке гарантии",
		"Просил перезвонить позже", "Уточнял счёт за ремонт", "Интересовался новой моделью",
		"Продлил ОСАГО", "Не дозвонились", "Отказался от опроса",
	}
	leadEnquiries = []string{
		"Интересовался Haval Jolion", "Запросил тест-драйв", "Спрашивал о наличии Lada Vesta",
		"Уточнял условия кредита", "Интересовался trade-in", "Спрашивал цену Chery Tiggo 7 Pro",
		"Просил прислать комплектации", "Записался на тест-драйв",
	}
	channels = []string{"phone", "phone", "phone", "messenger", "email", "visit"}
)

func (g *generator) leadContacts(r *rand.Rand, h *screenpop.ClientHistory) {
	for range 1 + r.IntN(2) {
		h.Contacts = append(h.Contacts, screenpop.Contact{
			At:      g.at(r, g.today.Add(-time.Duration(r.IntN(60))*dayLen)),
			Channel: pick(r, []string{"phone", "phone", "messenger"}), Employee: pick(r, managers).name,
			Summary: pick(r, leadEnquiries),
		})
	}
	sortByTime(h.Contacts, func(c screenpop.Contact) time.Time { return c.At })
}

// contacts are the calls before visits (bookings) and a few enquiries,
// newest within a month of the last visit.
func (g *generator) contacts(r *rand.Rand, h *screenpop.ClientHistory, lastActive time.Time) {
	for _, v := range h.Visits {
		if r.IntN(100) < 45 {
			h.Contacts = append(h.Contacts, screenpop.Contact{
				At:      v.Date.Add(-time.Duration(1+r.IntN(10*24*60)) * time.Minute),
				Channel: "phone", Employee: pick(r, serviceAdvisers), Summary: pick(r, bookings[v.Kind]),
			})
		}
	}
	for range r.IntN(3) {
		at := g.at(r, day(lastActive).Add(time.Duration(r.IntN(30)-r.IntN(700))*dayLen))
		h.Contacts = append(h.Contacts, screenpop.Contact{
			At: at, Channel: pick(r, channels), Employee: pick(r, managers).name, Summary: pick(r, enquiries),
		})
	}
	sortByTime(h.Contacts, func(c screenpop.Contact) time.Time { return c.At })
}

var complaintSummaries = []string{
	"Долгое ожидание на ТО", "Не устранена неисправность после ремонта",
	"Царапина на двери после мойки", "Навязали дополнительные работы",
	"Счёт больше согласованной сметы", "Не перезвонили, как обещали",
	"Автомобиль не готов в срок", "Грубость мастера-приёмщика",
}

// complaints gives a few clients complaints, some still open; it reports
// whether one is open.
func (g *generator) complaints(r *rand.Rand, h *screenpop.ClientHistory, lastActive time.Time, lost bool) bool {
	n := r.IntN(100)
	if n < 7 {
		opened := g.at(r, day(lastActive).Add(-time.Duration(r.IntN(500))*dayLen))
		closed := g.at(r, opened.Add(time.Duration(2+r.IntN(20))*dayLen))
		if closed.Before(opened) {
			closed = opened
		}
		h.Complaints = append(h.Complaints, screenpop.Complaint{OpenedAt: opened, ClosedAt: &closed, Summary: pick(r, complaintSummaries)})
	}
	if n < 3 || (lost && n < 10) {
		opened := g.at(r, day(lastActive).Add(time.Duration(r.IntN(14))*dayLen))
		h.Complaints = append(h.Complaints, screenpop.Complaint{OpenedAt: opened, Summary: pick(r, complaintSummaries)})
		return true
	}
	return false
}
