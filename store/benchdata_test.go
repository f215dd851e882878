package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/synth"
)

// The call log benchmarks (the analyst views, the call log API) read one
// made-up month of a busy dealership's calls: benchCallLog gives them a
// schema holding it.

// benchZone is the dealership's: Moscow, UTC+3 all year since 2014.
var benchZone = time.FixedZone("MSK", 3*60*60)

// The month the made-up call log covers, in the dealership's time: every
// call started in [benchMonthFrom, benchMonthTo).
var (
	benchMonthFrom = time.Date(2025, time.March, 1, 0, 0, 0, 0, benchZone)
	benchMonthTo   = benchMonthFrom.AddDate(0, 1, 0)
)

// benchCallLogVersion changes whenever the generator makes different
// calls, so that a schema filled by an older one is filled again.
const benchCallLogVersion = 1

// The made-up dealership: its operators, the clients in its base (whose
// numbers, and 30,000 others, call it) and its lines.
const (
	benchOperators = 20
	benchClientsN  = 20_000
	benchProspects = 30_000
)

// benchCalls is how many calls the month holds: SCREENPOP_BENCH_CALLS, or
// 100,000 (a dealership group's busy month).
func benchCalls(tb testing.TB) int {
	s := os.Getenv("SCREENPOP_BENCH_CALLS")
	if s == "" {
		return 100_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1000 {
		tb.Fatalf("SCREENPOP_BENCH_CALLS=%q: want a number of calls, 1000 or more", s)
	}
	return n
}

// benchCallLog returns a DSN for a schema of its own (screenpop_bench_calllog_N)
// holding a made-up month of n calls (benchCalls), March 2025: four in
// five inbound, to 30 lines of 14 sources (two lines have none, one is an
// internal line), ringing 20 operators (101-120) at once or one after the
// other; 15% of them missed or abandoned, 5% busy or failed; operators'
// callbacks to most missed callers, and calls out to others; a few
// callbacks closed by hand; and the 20,000 clients of the synthetic base
// (benchSeed) whose numbers call. Sessions on the DSN count days in Moscow
// time (timezone=Europe/Moscow). Open it with openBenchLog.
//
// Generating takes seconds; the schema is kept between runs, migrated to
// the current schema, and made again only when its marker table says it
// holds something else. Drop it to start over (after changing a
// migration that it already has, say).
func benchCallLog(tb testing.TB) string {
	tb.Helper()
	n := benchCalls(tb)
	ctx := context.Background()
	schema := fmt.Sprintf("screenpop_bench_calllog_%d", n)
	dsn := withTimeZone(withSearchPath(testPostgresDSN(), schema), "Europe/Moscow")
	conn := adminConn(tb)
	defer conn.Close(ctx)
	// Two benchmarks starting together must not both fill the schema.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", schema); err != nil {
		tb.Fatalf("lock %s: %v", schema, err)
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", schema)

	var calls, seed, version int64
	err := conn.QueryRow(ctx, "SELECT calls, seed, generator FROM "+schema+".bench_calllog").Scan(&calls, &seed, &version)
	if err == nil && calls == int64(n) && seed == benchSeed && version == benchCallLogVersion {
		// Later migrations apply to the kept schema too.
		p := openBenchLog(tb, dsn)
		defer p.Close()
		if err := p.Migrate(ctx); err != nil {
			tb.Fatalf("migrate %s: %v", schema, err)
		}
		tb.Logf("call log: %d calls of %s already in schema %s", n, benchMonthFrom.Format("January 2006"), schema)
		return dsn
	}

	// No marker: never filled, filled by another generator, or a run that
	// did not finish.
	tb.Logf("call log: generating %d calls of %s into schema %s (once; later runs reuse it)", n, benchMonthFrom.Format("January 2006"), schema)
	start := time.Now()
	for _, q := range []string{"DROP SCHEMA IF EXISTS " + schema + " CASCADE", "CREATE SCHEMA " + schema} {
		if _, err := conn.Exec(ctx, q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	p := openBenchLog(tb, dsn)
	defer p.Close()
	if err := p.Migrate(ctx); err != nil {
		tb.Fatalf("migrate %s: %v", schema, err)
	}
	g := newBenchLog(n)
	g.store(tb, p)
	for _, q := range []string{
		// The planner must know the tables' sizes, and index-only scans
		// need the visibility map.
		"VACUUM ANALYZE calls, offers, callback_closures, sources, operators, clients, client_phones",
		"CREATE TABLE bench_calllog (calls integer NOT NULL, seed bigint NOT NULL, generator integer NOT NULL, generated_at timestamptz NOT NULL DEFAULT now())",
	} {
		if _, err := p.pool.Exec(ctx, q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := p.pool.Exec(ctx, "INSERT INTO bench_calllog (calls, seed, generator) VALUES ($1, $2, $3)",
		n, benchSeed, benchCallLogVersion); err != nil {
		tb.Fatalf("mark %s: %v", schema, err)
	}
	tb.Logf("call log: %d calls, %d offers, %d closures in %v", len(g.calls), g.offers, len(g.closures),
		time.Since(start).Round(time.Millisecond))
	return dsn
}

func openBenchLog(tb testing.TB, dsn string) *Postgres {
	tb.Helper()
	p, err := OpenPostgres(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("OpenPostgres: %v", err)
	}
	return p
}

// withTimeZone sets the TimeZone of every session on the DSN.
func withTimeZone(dsn, zone string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("timezone", zone)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " timezone=" + zone
}

// benchLine is one of the dealership's lines (a DID) and its source.
type benchLine struct {
	did              string // as the trunk delivers it
	source, campaign string
	internal         bool
	weight           float64 // its share of the calls, relatively
}

// benchLines: 14 sources on 27 lines, an employee's direct line, and two
// lines nobody mapped (their calls have no source).
var benchLines = func() []benchLine {
	type src struct {
		source    string
		campaigns []string
	}
	srcs := []src{
		{"Яндекс.Директ", []string{"Сервис", "Продажи", "Запчасти"}},
		{"Авито", []string{"С пробегом", "Новые", "Запчасти"}},
		{"Сайт", []string{"Главная", "Сервис", "Trade-in", "Кредит"}},
		{"Auto.ru", []string{"С пробегом", "Новые", "Trade-in"}},
		{"2ГИС", []string{"Карточка", "Реклама"}},
		{"Google Ads", []string{"Бренд", "Сервис"}},
		{"VK Реклама", []string{"Лиды", "Ретаргетинг"}},
		{"Дром", []string{"С пробегом", "Новые"}},
		{"Наружная реклама", []string{"МКАД", "Ленинградка"}},
		{"Яндекс.Карты", []string{""}},
		{"Радио", []string{"Авторадио"}},
		{"Рассылка", []string{"Весенний сервис"}},
		{"Партнёры", []string{"Страховая"}},
		{"Визитки", []string{""}},
	}
	var lines []benchLine
	for _, s := range srcs {
		for _, c := range s.campaigns {
			lines = append(lines, benchLine{source: s.source, campaign: c})
		}
	}
	lines = append(lines, benchLine{source: "Прямой номер", internal: true}, benchLine{}, benchLine{})
	for i := range lines {
		lines[i].did = fmt.Sprintf("7495%07d", 1203040+i*7919)
		// A few lines take most calls, as advertising does.
		lines[i].weight = 1 / math.Pow(float64(i%11+1), 0.9)
	}
	return lines
}()

// benchOperatorNames are the operators 101-120.
var benchOperatorNames = []string{
	"Анна Смирнова", "Ольга Кузнецова", "Мария Попова", "Елена Васильева", "Татьяна Петрова",
	"Наталья Соколова", "Ирина Михайлова", "Светлана Новикова", "Екатерина Фёдорова", "Юлия Морозова",
	"Дмитрий Волков", "Алексей Алексеев", "Сергей Лебедев", "Андрей Семёнов", "Павел Егоров",
	"Кирилл Павлов", "Михаил Козлов", "Никита Степанов", "Игорь Николаев", "Роман Орлов",
}

// benchLog is a made-up month of calls, ready to be stored.
type benchLog struct {
	r         *rand.Rand
	n         int
	clients   []screenpop.ClientHistory
	phones    []string        // the base's numbers, in its order
	known     map[string]bool // numbers of the base's clients (not leads)
	leads     map[string]bool // numbers of the base's leads
	prospects []string        // numbers not in the base
	lines     []float64       // cumulative weights of benchLines
	days      []float64       // cumulative weights of the month's days
	channel   int

	calls    []benchCall
	offers   int
	closures []benchClosure
}

// benchCall is a call and what the store would have made of it.
type benchCall struct {
	screenpop.Call
	line *benchLine // nil for an outbound call
}

type benchClosure struct {
	number                 string
	lastMissedAt, closedAt time.Time
	by                     string
}

// benchHours weighs the hours of a day, local time: the dealership opens
// at 8, is busiest before lunch and after it, and hears little at night.
var benchHours = []float64{
	0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05,
	0.4, 0.9, 1.2, 1.3, 1.1, 0.9, 1.0, 1.1,
	1.1, 1.0, 0.8, 0.5, 0.3, 0.1, 0.03, 0.02,
}

var benchHoursCum = cumulative(benchHours)

func cumulative(w []float64) []float64 {
	c := make([]float64, len(w))
	sum := 0.0
	for i, x := range w {
		sum += x
		c[i] = sum
	}
	return c
}

// pick chooses an index by cumulative weights.
func (g *benchLog) pick(cum []float64) int {
	x := g.r.Float64() * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, x)
	return min(i, len(cum)-1)
}

func newBenchLog(n int) *benchLog {
	g := &benchLog{r: rand.New(rand.NewPCG(benchSeed, benchCallLogVersion)), n: n,
		known: map[string]bool{}, leads: map[string]bool{}}
	for c := range synth.Clients(benchSeed, benchClientsN, benchMonthTo) {
		g.clients = append(g.clients, c)
		for _, p := range c.Phones {
			if !g.known[p] && !g.leads[p] {
				g.phones = append(g.phones, p)
			}
			if c.Lead {
				g.leads[p] = true
			} else {
				g.known[p] = true
			}
		}
	}
	seen := map[string]bool{}
	for len(g.prospects) < benchProspects {
		p := fmt.Sprintf("+79%09d", g.r.IntN(1_000_000_000))
		if !g.known[p] && !g.leads[p] && !seen[p] {
			seen[p] = true
			g.prospects = append(g.prospects, p)
		}
	}
	w := make([]float64, len(benchLines))
	for i, l := range benchLines {
		w[i] = l.weight
	}
	g.lines = cumulative(w)
	var days []float64
	for d := benchMonthFrom; d.Before(benchMonthTo); d = d.AddDate(0, 0, 1) {
		switch d.Weekday() {
		case time.Saturday:
			days = append(days, 0.55)
		case time.Sunday:
			days = append(days, 0.3)
		default:
			days = append(days, 1)
		}
	}
	g.days = cumulative(days)
	g.generate()
	return g
}

// when is a moment of the month, busy days and hours more likely.
func (g *benchLog) when() time.Time {
	d := benchMonthFrom.AddDate(0, 0, g.pick(g.days))
	h := g.pick(benchHoursCum)
	return d.Add(time.Duration(h)*time.Hour + time.Duration(g.r.Int64N(int64(time.Hour)))).Truncate(time.Millisecond).UTC()
}

// number is a caller: a client's number three times in five, those early
// in the base more often (regulars), else someone not in it.
func (g *benchLog) number() string {
	skew := func(n int) int { return int(float64(n) * math.Pow(g.r.Float64(), 1.6)) }
	if g.r.IntN(5) < 3 {
		return g.phones[skew(len(g.phones))]
	}
	return g.prospects[skew(len(g.prospects))]
}

// asDialled writes an E.164 Russian number as a carrier or an operator
// might: +7..., 8... or 7...
func (g *benchLog) asDialled(e164 string) string {
	switch x := g.r.IntN(10); {
	case x < 6:
		return e164
	case x < 9:
		return "8" + e164[2:]
	default:
		return e164[1:]
	}
}

func (g *benchLog) secs(lo, hi float64) time.Duration {
	return time.Duration((lo + g.r.Float64()*(hi-lo)) * float64(time.Second)).Truncate(time.Millisecond)
}

// talk is a conversation's length: two and a half minutes typically, a
// long tail.
func (g *benchLog) talk() time.Duration {
	s := math.Exp(math.Log(150) + 0.8*g.r.NormFloat64())
	return time.Duration(min(max(s, 8), 2400) * float64(time.Second)).Truncate(time.Millisecond)
}

func (g *benchLog) operator() string { return strconv.Itoa(101 + g.r.IntN(benchOperators)) }

// operators picks k different operators.
func (g *benchLog) operators(k int) []string {
	var ops []string
	for len(ops) < k {
		if op := g.operator(); !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	return ops
}

func (g *benchLog) offer(op string, dialed time.Time) screenpop.Offer {
	g.channel++
	return screenpop.Offer{Operator: op, Channel: fmt.Sprintf("PJSIP/%s-%08x", op, g.channel), DialedAt: dialed}
}

func tptr(t time.Time) *time.Time { return &t }

// generate makes the month: inbound calls, then what the operators and
// the callers did about the missed ones, then other calls out, to n calls
// in all.
func (g *benchLog) generate() {
	inbound := g.n * 80 / 100
	for range inbound {
		g.calls = append(g.calls, g.inboundCall(g.when(), "", screenpop.Status("")))
	}
	for i := range inbound {
		c := g.calls[i]
		if c.CallerE164 == nil || (c.Status != screenpop.StatusMissed && c.Status != screenpop.StatusAbandoned) {
			continue
		}
		switch x := g.r.Float64(); {
		case x < 0.6: // an operator calls back, within hours
			if at := c.StartedAt.Add(g.secs(120, 4*3600)); at.Before(benchMonthTo) {
				g.calls = append(g.calls, g.outboundCall(at, *c.CallerE164))
			}
		case x < 0.68: // the caller tries again and gets through
			if at := c.StartedAt.Add(g.secs(600, 86400)); at.Before(benchMonthTo) {
				again := g.inboundCall(at, *c.CallerE164, screenpop.StatusAnswered)
				again.DID, again.line = c.DID, c.line
				g.calls = append(g.calls, again)
			}
		case x < 0.73: // closed by hand: the client wrote, or a wrong number
			g.closures = append(g.closures, benchClosure{number: *c.CallerE164, lastMissedAt: c.StartedAt,
				closedAt: c.StartedAt.Add(g.secs(1800, 3*3600)), by: g.operator()})
		}
	}
	for len(g.calls) < g.n {
		g.calls = append(g.calls, g.outboundCall(g.when(), g.number()))
	}
	slices.SortStableFunc(g.calls, func(a, b benchCall) int { return a.StartedAt.Compare(b.StartedAt) })
	// Asterisk's linkedid: the epoch second and a counter; the caller's
	// kind, as the store decides it, from the calls before.
	called := map[string]bool{}
	for i := range g.calls {
		c := &g.calls[i].Call
		c.ID = fmt.Sprintf("%d.%d", c.StartedAt.Unix(), 4000+i)
		line := g.calls[i].line
		switch {
		case c.Withheld:
			c.CallerKind = screenpop.KindWithheld
		case line != nil && line.internal:
			c.CallerKind = screenpop.KindInternal
		case g.known[*c.CallerE164]:
			c.CallerKind = screenpop.KindClient
		case g.leads[*c.CallerE164] || called[*c.CallerE164]:
			c.CallerKind = screenpop.KindLead
		default:
			c.CallerKind = screenpop.KindNew
		}
		if c.CallerE164 != nil {
			called[*c.CallerE164] = true
		}
		if line != nil {
			c.Source, c.Campaign = line.source, line.campaign
		}
		g.offers += len(c.Offers)
	}
}

// The inbound statuses' shares: a sixth of calls nobody answers.
func (g *benchLog) inboundStatus() screenpop.Status {
	switch x := g.r.Float64(); {
	case x < 0.80:
		return screenpop.StatusAnswered
	case x < 0.875:
		return screenpop.StatusMissed
	case x < 0.95:
		return screenpop.StatusAbandoned
	case x < 0.98:
		return screenpop.StatusBusy
	default:
		return screenpop.StatusFailed
	}
}

// inboundCall is a call starting at start from number (a random caller
// if empty) to a random line, ending with status (a random one if empty).
// Its phones ring all at once two times in five, else one after the
// other for 15 seconds each.
func (g *benchLog) inboundCall(start time.Time, number string, status screenpop.Status) benchCall {
	line := &benchLines[g.pick(g.lines)]
	c := screenpop.Call{Direction: screenpop.Inbound, DID: line.did, StartedAt: start}
	switch {
	case number != "":
	case g.r.IntN(100) < 3:
		c.Caller, c.Withheld = "anonymous", true
	default:
		number = g.number()
	}
	if number != "" {
		c.Caller, c.CallerE164 = g.asDialled(number), &number
	}
	if status == "" {
		status = g.inboundStatus()
	}
	dial := start.Add(g.secs(1, 8)) // the greeting
	ringAll := g.r.IntN(5) < 2
	ops := g.operators(1 + g.r.IntN(3))
	if ringAll {
		ops = g.operators(2 + g.r.IntN(3))
	}
	const ringing, timeout = 300 * time.Millisecond, 15 * time.Second
	switch status {
	case screenpop.StatusAnswered:
		// Ringing all, anyone may answer; one after the other, the last.
		t, who, delay := dial, len(ops)-1, g.secs(2, 20)
		if ringAll {
			who = g.r.IntN(len(ops))
		}
		ans := dial.Add(ringing + delay)
		if !ringAll {
			ans = ans.Add(time.Duration(who) * (ringing + timeout))
		}
		for i, op := range ops {
			o := g.offer(op, t)
			o.RingingAt = tptr(t.Add(ringing))
			switch {
			case i == who:
				o.AnsweredAt, o.Outcome, o.DialStatus = tptr(ans), screenpop.OutcomeAnswered, "ANSWER"
			case ringAll:
				o.EndedAt, o.Outcome, o.DialStatus = tptr(ans), screenpop.OutcomeAnsweredElsewhere, "CANCEL"
			default:
				o.EndedAt, o.Outcome, o.DialStatus = tptr(o.RingingAt.Add(timeout)), screenpop.OutcomeNoAnswer, "NOANSWER"
				t = *o.EndedAt
			}
			c.Offers = append(c.Offers, o)
		}
		end := ans.Add(g.talk())
		c.AnsweredBy, c.AnsweredAt, c.EndedAt, c.TalkedTo = &ops[who], tptr(ans), end, []string{ops[who]}
		for i := range c.Offers {
			if c.Offers[i].Outcome == screenpop.OutcomeAnswered {
				c.Offers[i].EndedAt = tptr(end)
				if g.r.IntN(20) == 0 { // transferred to a colleague
					xfer := ans.Add(end.Sub(ans) * 2 / 5).Truncate(time.Millisecond)
					c.Offers[i].EndedAt = &xfer
					c.TalkedTo = append(c.TalkedTo, g.operator())
				}
			}
		}
	case screenpop.StatusMissed, screenpop.StatusAbandoned:
		if status == screenpop.StatusAbandoned && g.r.IntN(5) == 0 {
			// Hung up in the queue before any phone rang.
			c.EndedAt = dial.Add(g.secs(5, 60))
			break
		}
		hangup := time.Time{}
		if status == screenpop.StatusAbandoned {
			hangup = dial.Add(ringing + g.secs(3, 40))
		}
		t := dial
		for i, op := range ops {
			if !hangup.IsZero() && !t.Add(ringing).Before(hangup) {
				// Gone before the next phone rang: the last one rang on.
				last := &c.Offers[len(c.Offers)-1]
				last.EndedAt, last.Outcome, last.DialStatus = tptr(hangup), screenpop.OutcomeCancelled, "CANCEL"
				break
			}
			o := g.offer(op, t)
			o.RingingAt = tptr(t.Add(ringing))
			end := o.RingingAt.Add(timeout)
			switch {
			case !hangup.IsZero() && (ringAll || i == len(ops)-1):
				end = hangup // the last phone rings until the caller gives up
			case ringAll:
				end = o.RingingAt.Add(2 * timeout)
			}
			o.EndedAt, o.Outcome, o.DialStatus = &end, screenpop.OutcomeNoAnswer, "NOANSWER"
			if !hangup.IsZero() && !end.Before(hangup) {
				o.EndedAt, o.Outcome, o.DialStatus = tptr(hangup), screenpop.OutcomeCancelled, "CANCEL"
			}
			c.Offers = append(c.Offers, o)
			if !ringAll {
				t = *o.EndedAt
			}
		}
		c.EndedAt = hangup
		if hangup.IsZero() { // rang out: voicemail, or the caller gives up
			c.EndedAt = c.Offers[len(c.Offers)-1].EndedAt.Add(g.secs(0.5, 5))
		}
	case screenpop.StatusBusy:
		for _, op := range ops[:min(2, len(ops))] {
			o := g.offer(op, dial)
			o.EndedAt, o.Outcome, o.DialStatus = tptr(dial.Add(500*time.Millisecond)), screenpop.OutcomeBusy, "BUSY"
			c.Offers = append(c.Offers, o)
		}
		c.EndedAt = dial.Add(time.Second)
	case screenpop.StatusFailed:
		o := g.offer(ops[0], dial)
		o.EndedAt, o.Outcome, o.DialStatus = tptr(dial.Add(200*time.Millisecond)), screenpop.OutcomeFailed, "CHANUNAVAIL"
		c.Offers = append(c.Offers, o)
		c.EndedAt = dial.Add(300 * time.Millisecond)
	}
	benchDerive(&c)
	if c.Status != status {
		panic(fmt.Sprintf("made-up call %+v came out %s, not %s", c, c.Status, status))
	}
	return benchCall{Call: c, line: line}
}

// benchDerive fills in what the tracker derives from a call's offers: who
// it was offered to, its status, its times.
func benchDerive(c *screenpop.Call) {
	var firstRing, lastRingEnd time.Time
	var rang, busy, cancelled bool
	c.OfferedTo = []string{}
	if c.TalkedTo == nil {
		c.TalkedTo = []string{}
	}
	if c.Offers == nil {
		c.Offers = []screenpop.Offer{}
	}
	for _, o := range c.Offers {
		busy = busy || o.Outcome == screenpop.OutcomeBusy
		if !o.Rang() {
			continue
		}
		rang = true
		if !slices.Contains(c.OfferedTo, o.Operator) {
			c.OfferedTo = append(c.OfferedTo, o.Operator)
		}
		if firstRing.IsZero() || o.RingingAt.Before(firstRing) {
			firstRing = *o.RingingAt
		}
		cancelled = cancelled || o.Outcome == screenpop.OutcomeCancelled
		if o.EndedAt != nil && o.EndedAt.After(lastRingEnd) {
			lastRingEnd = *o.EndedAt
		}
	}
	secs := func(from, to time.Time) float64 { return float64(to.Sub(from).Milliseconds()) / 1000 }
	c.HangupCause, c.HangupCauseText = 16, "Normal Clearing"
	switch {
	case c.AnsweredBy != nil:
		c.Status = screenpop.StatusAnswered
		c.RingSeconds, c.WaitSeconds, c.TalkSeconds = secs(firstRing, *c.AnsweredAt), secs(c.StartedAt, *c.AnsweredAt), secs(*c.AnsweredAt, c.EndedAt)
		return
	case rang && cancelled:
		c.Status = screenpop.StatusAbandoned
	case rang:
		c.Status = screenpop.StatusMissed
		c.HangupCause, c.HangupCauseText = 19, "No answer"
	case busy:
		c.Status = screenpop.StatusBusy
		c.HangupCause, c.HangupCauseText = 17, "User busy"
	case len(c.Offers) > 0:
		c.Status = screenpop.StatusFailed
		c.HangupCause, c.HangupCauseText = 34, "Circuit/channel congestion"
	default:
		c.Status = screenpop.StatusAbandoned
	}
	if rang {
		c.RingSeconds = secs(firstRing, lastRingEnd)
	}
	c.WaitSeconds = secs(c.StartedAt, c.EndedAt)
}

// outboundCall is a random operator calling number at start, as they
// dialled it (8 916 ...).
func (g *benchLog) outboundCall(start time.Time, number string) benchCall {
	op := g.operator()
	c := screenpop.Call{Direction: screenpop.Outbound, Caller: "8" + number[2:], CallerE164: &number,
		AnsweredBy: &op, StartedAt: start, OfferedTo: []string{}, TalkedTo: []string{}, Offers: []screenpop.Offer{},
		HangupCause: 16, HangupCauseText: "Normal Clearing"}
	ring := start.Add(g.secs(2, 6))
	secs := func(from, to time.Time) float64 { return float64(to.Sub(from).Milliseconds()) / 1000 }
	switch x := g.r.Float64(); {
	case x < 0.65:
		ans := ring.Add(g.secs(3, 20))
		c.Status, c.AnsweredAt, c.TalkedTo, c.EndedAt = screenpop.StatusAnswered, &ans, []string{op}, ans.Add(g.talk())
		c.RingSeconds, c.WaitSeconds, c.TalkSeconds = secs(ring, ans), secs(start, ans), secs(ans, c.EndedAt)
	case x < 0.9:
		c.Status, c.EndedAt = screenpop.StatusMissed, ring.Add(30*time.Second)
		c.RingSeconds, c.WaitSeconds = 30, secs(start, c.EndedAt)
		c.HangupCause, c.HangupCauseText = 19, "No answer"
	case x < 0.97:
		c.Status, c.EndedAt = screenpop.StatusBusy, start.Add(3*time.Second)
		c.WaitSeconds, c.HangupCause, c.HangupCauseText = 3, 17, "User busy"
	default:
		c.Status, c.EndedAt = screenpop.StatusFailed, start.Add(time.Second)
		c.WaitSeconds, c.HangupCause, c.HangupCauseText = 1, 34, "Circuit/channel congestion"
	}
	return benchCall{Call: c}
}

// store writes the month through the store's own methods where a
// dealership would (clients, operators, sources), and the calls, their
// offers and the closures with COPY, as the store would have logged them.
func (g *benchLog) store(tb testing.TB, p *Postgres) {
	tb.Helper()
	ctx := context.Background()
	for batch := range slices.Chunk(g.clients, 5000) {
		if _, err := p.ImportClients(ctx, batch); err != nil {
			tb.Fatalf("ImportClients: %v", err)
		}
	}
	for i, name := range benchOperatorNames[:benchOperators] {
		if _, _, err := p.AddOperator(ctx, name, strconv.Itoa(101+i)); err != nil {
			tb.Fatalf("AddOperator: %v", err)
		}
	}
	for _, l := range benchLines {
		if l.source == "" {
			continue
		}
		src := screenpop.Source{DID: "+" + l.did, Source: l.source, Campaign: l.campaign, Internal: l.internal,
			From: time.Date(2024, 1, 1, 0, 0, 0, 0, benchZone)}
		if _, err := p.AddSource(ctx, src); err != nil {
			tb.Fatalf("AddSource: %v", err)
		}
	}

	tx, err := p.pool.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, t := range g.tables() {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.table}, t.columns, pgx.CopyFromRows(t.rows)); err != nil {
			tb.Fatalf("copy %s: %v", t.table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
}

// benchTable is rows of a table of the call log as the store would have
// written them.
type benchTable struct {
	table   string
	columns []string
	rows    [][]any
}

// tables gives the month's calls, offers and closures as rows.
func (g *benchLog) tables() []benchTable {
	calls := make([][]any, len(g.calls))
	var offers [][]any
	for i, bc := range g.calls {
		c := bc.Call
		calls[i] = []any{c.ID, string(c.Direction), c.Caller, c.CallerE164, c.CallerName, c.Withheld, c.DID,
			string(c.Status), c.OfferedTo, c.AnsweredBy, c.TalkedTo, c.RingSeconds, c.WaitSeconds, c.TalkSeconds,
			c.HangupCause, c.HangupCauseText, c.StartedAt, c.AnsweredAt, c.EndedAt, c.CloseReason,
			c.EndedAt.Add(2 * time.Second), c.Source, c.Campaign, string(c.CallerKind)}
		for j, o := range c.Offers {
			offers = append(offers, []any{c.ID, j + 1, o.Operator, o.Channel, o.DialedAt, o.RingingAt,
				o.AnsweredAt, o.EndedAt, string(o.Outcome), o.DialStatus})
		}
	}
	closures := make([][]any, len(g.closures))
	for i, x := range g.closures {
		closures[i] = []any{x.number, x.lastMissedAt, x.closedAt, x.by, "Клиент написал в мессенджер"}
	}
	return []benchTable{
		{"calls", []string{"call_id", "direction", "caller", "caller_e164", "caller_name", "withheld", "did",
			"status", "offered_to", "answered_by", "talked_to", "ring_seconds", "wait_seconds", "talk_seconds",
			"hangup_cause", "hangup_cause_text", "started_at", "answered_at", "ended_at", "close_reason",
			"recorded_at", "source", "campaign", "caller_kind"}, calls},
		{"offers", []string{"call_id", "seq", "operator", "channel", "dialed_at", "ringing_at", "answered_at",
			"ended_at", "outcome", "dial_status"}, offers},
		{"callback_closures", []string{"number", "last_missed_at", "closed_at", "closed_by", "reason"}, closures},
	}
}
