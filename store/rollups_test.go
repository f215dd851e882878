package store

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// rollupStore is what the roll-up tests ask of a store.
type rollupStore interface {
	reportStore
	RebuildRollups(ctx context.Context) (RollupCounts, error)
	CheckRollups(ctx context.Context) (RollupDrift, error)
	summary(ctx context.Context, from, to time.Time, sl time.Duration, rollups bool) (report.Summary, error)
}

// rollupGen makes random calls around the spring the clocks of Berlin go
// forward (30 March 2025), with everything the roll-ups must count right:
// the three lines, four operators rung once or twice each, every status
// and outcome, uncertain records (gaps), waits that repeat, calls out.
type rollupGen struct {
	r *rand.Rand
	n int
}

var rollupFrom = time.Date(2025, time.March, 27, 0, 0, 0, 0, time.UTC)

func (g *rollupGen) ms(lo, hi float64) float64 {
	return math.Round((lo+g.r.Float64()*(hi-lo))*1000) / 1000
}

func (g *rollupGen) call(id string) screenpop.Call {
	r := g.r
	start := rollupFrom.Add(time.Duration(r.Int64N(int64(7 * 24 * time.Hour)))).Truncate(time.Millisecond)
	c := screenpop.Call{ID: id, Direction: screenpop.Inbound, DID: []string{lineYandex, lineAvito, lineUnmapped}[r.IntN(3)],
		StartedAt: start, EndedAt: start.Add(time.Duration(1+r.IntN(600)) * time.Second)}
	if r.IntN(8) == 0 {
		c.Caller, c.Withheld = "anonymous", true
	} else {
		c.Caller = fmt.Sprintf("+7916000%04d", r.IntN(40))
		c.CallerE164 = ptr(c.Caller)
	}
	for _, gap := range []screenpop.Gap{screenpop.GapStart, screenpop.GapAnswer, screenpop.GapEnd, screenpop.GapOffers} {
		if r.IntN(6) == 0 {
			c.Gaps = append(c.Gaps, gap)
		}
	}
	if slices.Contains(c.Gaps, screenpop.GapEnd) {
		c.CloseReason = "ari_down"
	}
	ops := []string{"101", "102", "103", "104"}
	if r.IntN(7) == 0 {
		c.Direction = screenpop.Outbound
		c.AnsweredBy = ptr(ops[r.IntN(4)])
		c.Status = []screenpop.Status{screenpop.StatusAnswered, screenpop.StatusMissed, screenpop.StatusBusy}[r.IntN(3)]
		return c
	}
	c.Status = []screenpop.Status{screenpop.StatusAnswered, screenpop.StatusAnswered, screenpop.StatusAnswered,
		screenpop.StatusMissed, screenpop.StatusAbandoned, screenpop.StatusBusy, screenpop.StatusFailed}[r.IntN(7)]
	// Waits repeat: a record replaced or deleted takes one of equal waits out.
	c.WaitSeconds = []float64{4.25, 20, g.ms(0, 60)}[r.IntN(3)]
	var answerer string
	if c.Status == screenpop.StatusAnswered {
		answerer = ops[r.IntN(4)]
		c.AnsweredBy = ptr(answerer)
		a := start.Add(time.Duration(c.WaitSeconds * float64(time.Second)))
		c.AnsweredAt = &a
	}
	for range r.IntN(5) {
		op := ops[r.IntN(4)]
		dialed := g.ms(0, 5)
		ringing, answered, ended := -1.0, -1.0, dialed+g.ms(0, 30)
		if r.IntN(5) > 0 {
			ringing = dialed + g.ms(0, 1)
		}
		outcome := []screenpop.Outcome{screenpop.OutcomeNoAnswer, screenpop.OutcomeCancelled, screenpop.OutcomeAnsweredElsewhere,
			screenpop.OutcomeBusy}[r.IntN(4)]
		if op == answerer || r.IntN(10) == 0 {
			outcome = screenpop.OutcomeAnswered
			answered = dialed + g.ms(1, 20)
			ended = answered + g.ms(1, 300)
			if r.IntN(5) == 0 {
				ended = -1
			}
		}
		c.Offers = append(c.Offers, reportOffer(start, op, outcome, dialed, ringing, answered, ended))
	}
	for _, o := range c.Offers {
		if o.Rang() && !slices.Contains(c.OfferedTo, o.Operator) {
			c.OfferedTo = append(c.OfferedTo, o.Operator)
		}
	}
	return c
}

// moreComplete is another record of c that the call log takes in its
// place: its end seen and no gaps, ended later, and anything else as it
// may come out once the daemon saw it all (another start, line, status,
// offers).
func (g *rollupGen) moreComplete(c screenpop.Call) screenpop.Call {
	n := g.call(c.ID)
	n.Gaps, n.CloseReason = nil, ""
	if g.r.IntN(2) == 0 {
		n.StartedAt = c.StartedAt // the same hour, another outcome
	}
	n.EndedAt = c.EndedAt.Add(time.Hour)
	return n
}

// TestRollupsAgreeWithTheRawRows writes random calls, replaces some with
// more complete records, offers them again as less complete ones (which
// the call log ignores) and deletes some, and after each step checks the
// roll-ups against the raw rows: kept and rebuilt they hold the same
// figures, and the reports read from them say what the raw rows say, in
// Moscow, in Berlin over the night its clocks go forward, in UTC and in
// India (half an hour off UTC: the raw rows).
func TestRollupsAgreeWithTheRawRows(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			seeds := []uint64{1, 2, 3}
			if raceDetector {
				// Under the race detector one seed checks the store's
				// goroutines; the three of a plain run take the package
				// past go test's 10 minutes on a loaded machine.
				seeds = seeds[:1]
			}
			for _, seed := range seeds {
				t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { testRollupsAgree(t, b, seed) })
			}
		})
	}
}

func testRollupsAgree(t *testing.T, b backend, seed uint64) {
	s, ok := openMigrated(t, b).(rollupStore)
	if !ok {
		t.Fatalf("%s keeps no roll-ups", b.name)
	}
	s.(interface{ SetRegion(string) }).SetRegion("RU")
	ctx := context.Background()
	since := time.Date(2025, time.January, 1, 0, 0, 0, 0, reportsZone)
	for _, src := range []screenpop.Source{
		{DID: lineYandex, Source: "Яндекс.Директ", Campaign: "Сервис", From: since},
		{DID: "+74951110002", Source: "Авито", From: since},
	} {
		if _, err := s.AddSource(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.AddOperator(ctx, "Анна Смирнова", "101"); err != nil {
		t.Fatal(err)
	}

	g := &rollupGen{r: rand.New(rand.NewPCG(seed, 15))}
	calls := make([]screenpop.Call, 400)
	for i := range calls {
		calls[i] = g.call(fmt.Sprintf("c%d-%03d", seed, i))
	}
	for batch := range slices.Chunk(calls, 50) {
		if err := s.SaveCalls(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// Operators note a third of the calls, with one of three purposes.
	noter := s.(interface {
		SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error)
	})
	note := func(c screenpop.Call) {
		n := screenpop.Note{CallID: c.ID, Purpose: []string{"sales", "service_booking", "question"}[g.r.IntN(3)], Text: "перезвонить",
			Operator: screenpop.Operator{Extension: "101", Name: "Анна Смирнова"}, At: c.EndedAt}
		if _, err := noter.SaveNote(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range calls {
		if g.r.IntN(3) == 0 {
			note(c)
		}
	}
	checkRollups(t, s, "after writing 400 calls and noting some")

	var replaced, stale []screenpop.Call
	for i, c := range calls {
		switch g.r.IntN(4) {
		case 0:
			calls[i] = g.moreComplete(c)
			replaced = append(replaced, calls[i])
		case 1:
			// Less complete: the end and all else unseen, and ended sooner.
			// The stored record stays.
			l := g.call(c.ID)
			l.CloseReason = "ari_down"
			l.Gaps = []screenpop.Gap{screenpop.GapStart, screenpop.GapAnswer, screenpop.GapEnd, screenpop.GapOffers}
			l.EndedAt = c.EndedAt.Add(-time.Second)
			stale = append(stale, l)
		}
	}
	if err := s.SaveCalls(ctx, append(replaced, stale...)); err != nil {
		t.Fatal(err)
	}
	// Notes written again with another purpose, and new ones.
	for _, c := range calls {
		if g.r.IntN(4) == 0 {
			note(c)
		}
	}
	checkRollups(t, s, fmt.Sprintf("after replacing %d records, offering %d less complete ones and noting calls again", len(replaced), len(stale)))

	var gone []string
	for _, c := range calls {
		if g.r.IntN(5) == 0 {
			gone = append(gone, c.ID)
		}
	}
	deleteCalls(t, s, gone)
	var unnoted []string
	for _, c := range calls {
		if g.r.IntN(6) == 0 {
			unnoted = append(unnoted, c.ID)
		}
	}
	deleteNotes(t, s, unnoted)
	checkRollups(t, s, fmt.Sprintf("after deleting %d calls and the notes of %d", len(gone), len(unnoted)))

	n, err := s.RebuildRollups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inbound := 0
	for _, c := range calls {
		if c.Direction == screenpop.Inbound && !slices.Contains(gone, c.ID) {
			inbound++
		}
	}
	if n.Calls != inbound {
		t.Errorf("rebuilt, the roll-ups count %d inbound calls; %d are stored", n.Calls, inbound)
	}
	checkRollups(t, s, "after a rebuild")
}

// checkRollups checks that the roll-ups s keeps are what the raw rows
// give, and that every report reads the same from either.
func checkRollups(t *testing.T, s rollupStore, when string) {
	t.Helper()
	ctx := context.Background()
	if p, ok := s.(*Postgres); ok {
		// operator_stats before a report counts the stale hours again:
		// the days that have one read the raw rows.
		var stale int
		if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM rollup_stale").Scan(&stale); err != nil {
			t.Fatal(err)
		}
		if stale == 0 && when != "after a rebuild" {
			t.Errorf("%s: no hour is marked stale: the writes were not seen", when)
		}
		checkOperatorStats(t, p, fmt.Sprintf("%s, with %d hours stale", when, stale))
	}
	if q, ok := s.(*SQLite); ok {
		// The days with a stale hour read the raw rows.
		checkSQLiteOperatorStats(t, q, when+", some hours stale")
	}
	d, err := s.CheckRollups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !d.None() {
		t.Errorf("%s: the roll-ups differ from the raw rows in %d call and %d operator rows: %v", when, d.Calls, d.Operators, d.Examples)
	}
	for _, zone := range []string{"Europe/Moscow", "Europe/Berlin", "UTC", "Asia/Kolkata"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, days := range [][2]int{{27, 3}, {29, 2}, {30, 1}, {25, 12}} {
			from := time.Date(2025, time.March, days[0], 0, 0, 0, 0, loc)
			to := from.AddDate(0, 0, days[1])
			got, err := s.summary(ctx, from, to, report.DefaultServiceLevel, true)
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.summary(ctx, from, to, report.DefaultServiceLevel, false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: the report of %d days from %s in %s from the roll-ups differs from the raw rows' (-raw +roll-ups):\n%s",
					when, days[1], from.Format(time.DateOnly), zone, diff)
			}
			if want.Totals.Total == 0 || len(want.Operators) == 0 || len(want.Purposes) == 0 {
				t.Errorf("%s: the report of %d days from %s in %s counts no calls, operators or purposes: it proves nothing",
					when, days[1], from.Format(time.DateOnly), zone)
			}
		}
	}
	if p, ok := s.(*Postgres); ok {
		checkOperatorStats(t, p, when)
	}
	if q, ok := s.(*SQLite); ok {
		checkSQLiteOperatorStats(t, q, when)
	}
}

// operatorStats0009 is operator_stats as migration 0009 made it, from the
// raw rows: what the view over the roll-ups must still say.
const operatorStats0009 = `SELECT d.day_start::date AS day, d.day_start, s.operator, o.name AS operator_name,
    s.offered, s.answered, s.offered - s.answered AS missed, s.no_answer,
    round(s.answered::numeric / nullif(s.offered, 0), 4) AS answer_rate,
    s.avg_ring_seconds, s.avg_talk_seconds, s.talk_seconds, s.outbound, s.outbound_answered
FROM generate_series(date_trunc('day', (SELECT min(started_at) FROM calls)),
                     (SELECT max(started_at) FROM calls), interval '1 day') AS d (day_start)
CROSS JOIN LATERAL (
    SELECT t.operator,
        count(*) FILTER (WHERE t.inbound) AS offered,
        count(*) FILTER (WHERE t.inbound AND t.outcome = 'answered') AS answered,
        count(*) FILTER (WHERE t.inbound AND t.outcome = 'no_answer') AS no_answer,
        round(avg(t.ring_seconds), 1) AS avg_ring_seconds,
        round(avg(t.talk_seconds), 1) AS avg_talk_seconds,
        round(coalesce(sum(t.talk_seconds), 0), 1) AS talk_seconds,
        count(*) FILTER (WHERE NOT t.inbound) AS outbound,
        count(*) FILTER (WHERE NOT t.inbound AND t.outcome = 'answered') AS outbound_answered
    FROM (
        SELECT f.operator, true AS inbound, f.outcome,
            CASE WHEN f.outcome = 'answered' AND NOT c.gaps && '{answer}'
                THEN extract(epoch FROM f.answered_at - coalesce(f.ringing_at, f.dialed_at)) END AS ring_seconds,
            CASE WHEN f.outcome = 'answered' AND NOT c.gaps && '{answer,end}'
                THEN extract(epoch FROM f.ended_at - f.answered_at) END AS talk_seconds
        FROM calls c JOIN offers f ON f.pbx = c.pbx AND f.call_id = c.call_id
        WHERE c.direction = 'inbound'
            AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
            AND (f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL)
        UNION ALL
        SELECT c.answered_by, false, c.status, NULL, NULL
        FROM calls c
        WHERE c.direction = 'outbound' AND c.answered_by IS NOT NULL
            AND c.started_at >= d.day_start AND c.started_at < d.day_start + interval '1 day'
    ) t
    GROUP BY t.operator
) s
LEFT JOIN operators o ON o.extension = s.operator`

// checkOperatorStats checks that operator_stats says what 0009's view
// said, row for row, in zones whole hours and half an hour off UTC.
func checkOperatorStats(t *testing.T, p *Postgres, when string) {
	t.Helper()
	ctx := context.Background()
	for _, zone := range []string{"Europe/Moscow", "Europe/Berlin", "Asia/Kolkata"} {
		err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config('TimeZone', $1, true)", zone); err != nil {
				return err
			}
			var rows, onlyNew, onlyOld int
			err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM operator_stats),
				(SELECT count(*) FROM (SELECT * FROM operator_stats EXCEPT ALL (`+operatorStats0009+`)) x),
				(SELECT count(*) FROM ((`+operatorStats0009+`) EXCEPT ALL SELECT * FROM operator_stats) y)`).Scan(&rows, &onlyNew, &onlyOld)
			if err != nil {
				return err
			}
			if onlyNew != 0 || onlyOld != 0 || rows == 0 {
				t.Errorf("%s: in %s operator_stats has %d rows, %d of them not 0009's, and misses %d of 0009's", when, zone, rows, onlyNew, onlyOld)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// deleteNotes deletes the notes of calls.
func deleteNotes(t *testing.T, s callStore, ids []string) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch s := s.(type) {
	case *Postgres:
		_, err = s.pool.Exec(ctx, "DELETE FROM call_notes WHERE call_id = ANY($1)", ids)
	case *SQLite:
		_, err = s.db.ExecContext(ctx, "DELETE FROM call_notes WHERE call_id IN (SELECT value FROM json_each(?))", sqliteList(ids))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// deleteCalls deletes calls, their offers with them.
func deleteCalls(t *testing.T, s callStore, ids []string) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch s := s.(type) {
	case *Postgres:
		_, err = s.pool.Exec(ctx, "DELETE FROM calls WHERE call_id = ANY($1)", ids)
	case *SQLite:
		_, err = s.db.ExecContext(ctx, "DELETE FROM calls WHERE call_id IN (SELECT value FROM json_each(?))", sqliteList(ids))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestRollupsAgreeWithTheRawRowsInOtherZones runs the SQLite half of
// TestRollupsAgreeWithTheRawRows again in processes of other local zones:
// the embedded store's operator_stats counts the process's local days
// (SQLite's localtime, from TZ), served by the roll-ups in Berlin over the
// night its clocks go forward and read from the raw rows in India.
func TestRollupsAgreeWithTheRawRowsInOtherZones(t *testing.T) {
	if os.Getenv("SCREENPOP_TEST_CHILD_ZONE") != "" {
		t.Skip("a child run: its parent runs the zones")
	}
	for _, zone := range []string{"Europe/Berlin", "Asia/Kolkata"} {
		t.Run(zone, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^TestRollupsAgreeWithTheRawRows$/^SQLite$", "-test.count", "1", "-test.v")
			cmd.Env = append(os.Environ(), "TZ="+zone, "SCREENPOP_TEST_CHILD_ZONE="+zone)
			out, err := cmd.CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("--- PASS: TestRollupsAgreeWithTheRawRows/SQLite")) {
				t.Errorf("in %s: %v\n%s", zone, err, out)
			}
		})
	}
}

// sqliteOperatorDay is a row of the embedded store's operator_stats.
type sqliteOperatorDay struct {
	Day, DayStart, Operator                    string
	Name                                       *string
	Offered, Answered, Missed, NoAnswer        int64
	AnswerRate, AvgRingSeconds, AvgTalkSeconds *float64
	TalkSeconds                                float64
	Outbound, OutboundAnswered                 int64
}

// checkSQLiteOperatorStats checks that the embedded store's operator_stats
// says, row for row, what its raw rows give counted here, by local day of
// the process's zone (time.Local, from TZ as SQLite's localtime):
// averages in seconds to a tenth of the milliseconds the times were kept
// to, half away from zero.
func checkSQLiteOperatorStats(t *testing.T, s *SQLite, when string) {
	t.Helper()
	ctx := context.Background()
	var got []sqliteOperatorDay
	rows, err := s.db.QueryContext(ctx, `SELECT * FROM operator_stats ORDER BY day, operator`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r sqliteOperatorDay
		if err := rows.Scan(&r.Day, &r.DayStart, &r.Operator, &r.Name, &r.Offered, &r.Answered, &r.Missed, &r.NoAnswer,
			&r.AnswerRate, &r.AvgRingSeconds, &r.AvgTalkSeconds, &r.TalkSeconds, &r.Outbound, &r.OutboundAnswered); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()

	type sums struct {
		sqliteOperatorDay
		ringN, talkN, ringMs, talkMs int64
	}
	days := map[[2]string]*sums{}
	day := func(at, op string) *sums {
		ts, err := time.Parse(sqliteTimeFormat, at)
		if err != nil {
			t.Fatal(err)
		}
		d := ts.In(time.Local).Format(time.DateOnly)
		r := days[[2]string{d, op}]
		if r == nil {
			r = &sums{sqliteOperatorDay: sqliteOperatorDay{Day: d, Operator: op}}
			days[[2]string{d, op}] = r
		}
		return r
	}
	ms := func(from, to string) int64 {
		a, err := time.Parse(sqliteTimeFormat, from)
		if err != nil {
			t.Fatal(err)
		}
		b, err := time.Parse(sqliteTimeFormat, to)
		if err != nil {
			t.Fatal(err)
		}
		return b.Sub(a).Milliseconds()
	}
	raw, err := s.db.QueryContext(ctx, `SELECT c.started_at, c.direction, c.status, c.answered_by, c.gaps,
		f.operator, f.outcome, f.dialed_at, f.ringing_at, f.answered_at, f.ended_at
		FROM calls c LEFT JOIN offers f ON f.pbx = c.pbx AND f.call_id = c.call_id AND c.direction = 'inbound'`)
	if err != nil {
		t.Fatal(err)
	}
	for raw.Next() {
		var start, direction, status, gaps string
		var answeredBy, op, outcome, dialed, ringing, answered, ended *string
		if err := raw.Scan(&start, &direction, &status, &answeredBy, &gaps, &op, &outcome, &dialed, &ringing, &answered, &ended); err != nil {
			t.Fatal(err)
		}
		switch {
		case direction == "outbound" && answeredBy != nil:
			r := day(start, *answeredBy)
			r.Outbound++
			if status == "answered" {
				r.OutboundAnswered++
			}
		case direction == "inbound" && op != nil && (ringing != nil || answered != nil):
			r := day(start, *op)
			r.Offered++
			switch *outcome {
			case "answered":
				r.Answered++
				if answered != nil && !strings.Contains(gaps, `"answer"`) {
					from := dialed
					if ringing != nil {
						from = ringing
					}
					r.ringN++
					r.ringMs += ms(*from, *answered)
				}
				if answered != nil && ended != nil && !strings.Contains(gaps, `"answer"`) && !strings.Contains(gaps, `"end"`) {
					r.talkN++
					r.talkMs += ms(*answered, *ended)
				}
			case "no_answer":
				r.NoAnswer++
			}
		}
	}
	if err := raw.Err(); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	names := map[string]string{}
	ops, err := s.db.QueryContext(ctx, `SELECT extension, name FROM operators`)
	if err != nil {
		t.Fatal(err)
	}
	for ops.Next() {
		var ext, name string
		if err := ops.Scan(&ext, &name); err != nil {
			t.Fatal(err)
		}
		names[ext] = name
	}
	ops.Close()
	// tenths is ms milliseconds over n in seconds to a tenth, half away
	// from zero.
	tenths := func(ms, n int64) float64 {
		q := (2*abs(ms) + 100*n) / (200 * n)
		if ms < 0 {
			q = -q
		}
		return float64(q) / 10
	}
	var want []sqliteOperatorDay
	for _, r := range days {
		d := r.sqliteOperatorDay
		local, err := time.ParseInLocation(time.DateOnly, d.Day, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		d.DayStart = local.UTC().Format(sqliteTimeFormat)
		if name, ok := names[d.Operator]; ok {
			d.Name = &name
		}
		d.Missed = d.Offered - d.Answered
		if r.ringN > 0 {
			v := tenths(r.ringMs, r.ringN)
			d.AvgRingSeconds = &v
		}
		if r.talkN > 0 {
			v := tenths(r.talkMs, r.talkN)
			d.AvgTalkSeconds = &v
		}
		d.TalkSeconds = tenths(r.talkMs, 1)
		want = append(want, d)
	}
	slices.SortFunc(want, func(a, b sqliteOperatorDay) int {
		if c := strings.Compare(a.Day, b.Day); c != 0 {
			return c
		}
		return strings.Compare(a.Operator, b.Operator)
	})
	// answer_rate is answered over offered, as SQLite rounds it: compared
	// through those.
	for i := range got {
		got[i].AnswerRate = nil
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: operator_stats in %s is not what the raw rows give (-raw +view):\n%s", when, time.Local, diff)
	}
	if len(want) == 0 {
		t.Errorf("%s: no operator rang or called: the check proves nothing", when)
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
