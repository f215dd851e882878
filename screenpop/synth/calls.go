package synth

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// CallsConfig says what call history to make up.
type CallsConfig struct {
	Seed uint64
	// Calls start in [From, To), by the day in From's location.
	From, To time.Time
	// PerDay is about how many inbound calls a weekday has; Saturdays have
	// half as many, Sundays a quarter.
	PerDay int
	// DIDs are the lines dialled, the first most often; Operators the
	// extensions that answer; Known the clients' numbers (E.164) that
	// call; Purposes what operators note calls were about.
	DIDs, Operators, Known, Purposes []string
}

// CallHistory is a made-up call log: inbound calls, operators' calls out
// (most missed callers are called back, some never), and the notes
// operators wrote, in the order they happened.
type CallHistory struct {
	Calls []screenpop.Call
	Notes []screenpop.Note
}

// Calls makes up a call history as the daemon would have logged it, the
// same every time for a config: calls between 9:00 and 20:00 with a
// morning and an afternoon peak, a third of them ringing every operator at
// once, about one in six missed or abandoned, new callers among clients,
// and a purpose noted on most answered calls. Its caller kinds are left to
// the store (which knows the client base), but for withheld callers.
func Calls(cfg CallsConfig) CallHistory {
	r := rand.New(rand.NewPCG(cfg.Seed, 0xca11))
	var h CallHistory
	var prospects []string // new callers' numbers, who may call again
	n := 0
	id := func(prefix string) string { n++; return fmt.Sprintf("%s-%d-%06d", prefix, cfg.Seed, n) }
	loc := cfg.From.Location()
	for day := time.Date(cfg.From.Year(), cfg.From.Month(), cfg.From.Day(), 0, 0, 0, 0, loc); day.Before(cfg.To); day = day.AddDate(0, 0, 1) {
		perDay := cfg.PerDay
		switch day.Weekday() {
		case time.Saturday:
			perDay /= 2
		case time.Sunday:
			perDay /= 4
		}
		count := perDay*4/5 + r.IntN(perDay*2/5+1)
		for range count {
			// Peaks at 11:00 and 16:00.
			hour := 9 + r.IntN(11)
			if r.IntN(3) == 0 {
				hour = []int{10, 11, 11, 12, 15, 16, 16, 17}[r.IntN(8)]
			}
			start := day.Add(time.Duration(hour)*time.Hour + time.Duration(r.IntN(3600_000))*time.Millisecond)
			if !start.Before(cfg.To) || start.Before(cfg.From) {
				continue
			}
			number := ""
			switch x := r.IntN(100); {
			case x < 4: // withheld
			case x < 55 && len(cfg.Known) > 0:
				number = cfg.Known[r.IntN(len(cfg.Known))]
			case x < 65 && len(prospects) > 0:
				number = prospects[r.IntN(len(prospects))]
			default:
				number = fmt.Sprintf("+7916%07d", r.IntN(10_000_000))
				prospects = append(prospects, number)
			}
			c := inboundCall(r, id("hist"), start, number, cfg)
			h.Calls = append(h.Calls, c)
			if c.Status == screenpop.StatusAnswered && len(cfg.Purposes) > 0 && r.IntN(10) < 8 {
				h.Notes = append(h.Notes, screenpop.Note{CallID: c.ID, Purpose: purpose(r, cfg.Purposes),
					Operator: screenpop.Operator{Extension: *c.AnsweredBy}, At: c.EndedAt})
			}
			// Four in five missed callers with a number are called back,
			// most within the hour, some the next day.
			if (c.Status == screenpop.StatusMissed || c.Status == screenpop.StatusAbandoned) && number != "" && r.IntN(5) < 4 {
				delay := time.Duration(2+r.IntN(55)) * time.Minute
				if r.IntN(4) == 0 {
					delay = time.Duration(2+r.IntN(26)) * time.Hour
				}
				if back := start.Add(delay); back.Before(cfg.To) {
					h.Calls = append(h.Calls, outboundCall(r, id("back"), back, number, cfg.Operators[r.IntN(len(cfg.Operators))]))
				}
			}
		}
	}
	slices.SortStableFunc(h.Calls, func(a, b screenpop.Call) int { return a.StartedAt.Compare(b.StartedAt) })
	return h
}

// purpose picks a purpose, the first two (service bookings and sales,
// by default) most often.
func purpose(r *rand.Rand, ps []string) string {
	if len(ps) > 1 && r.IntN(3) > 0 {
		return ps[r.IntN(2)]
	}
	return ps[r.IntN(len(ps))]
}

// inboundCall makes up a call from number (withheld if "") at start.
func inboundCall(r *rand.Rand, id string, start time.Time, number string, cfg CallsConfig) screenpop.Call {
	did := cfg.DIDs[0]
	if r.IntN(2) == 0 {
		did = cfg.DIDs[r.IntN(len(cfg.DIDs))]
	}
	c := screenpop.Call{ID: id, Direction: screenpop.Inbound, DID: did, StartedAt: start.UTC(),
		OfferedTo: []string{}, TalkedTo: []string{}, Offers: []screenpop.Offer{}, HangupCause: 16, HangupCauseText: "Normal Clearing"}
	if number == "" {
		c.Caller, c.Withheld, c.CallerKind = "anonymous", true, screenpop.KindWithheld
	} else {
		c.Caller, c.CallerE164 = "8"+number[2:], &number
	}
	ms := func(lo, hi int) time.Duration { return time.Duration(lo*1000+r.IntN((hi-lo)*1000)) * time.Millisecond }
	secs := func(from, to time.Time) float64 { return float64(to.Sub(from).Milliseconds()) / 1000 }
	at := func(t time.Time) *time.Time { t = t.UTC(); return &t }
	ops := slices.Clone(cfg.Operators)
	r.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	ringAll := r.IntN(3) == 0
	if !ringAll {
		// Mostly one phone; one in four calls tries a second.
		ops = ops[:min(len(ops), 1+r.IntN(4)/3)]
	}
	dial := start.Add(ms(2, 6)) // the greeting
	const timeout = 15 * time.Second
	switch x := r.IntN(100); {
	case x < 84: // answered: by anyone ringing all, else by the last tried
		who := len(ops) - 1
		if ringAll {
			who = r.IntN(len(ops))
		}
		ans := dial.Add(ms(2, 18))
		if !ringAll {
			ans = ans.Add(time.Duration(who) * timeout)
		}
		end := ans.Add(ms(30, 420))
		t := dial
		for i, op := range ops {
			o := screenpop.Offer{Operator: op, Channel: "PJSIP/" + op, DialedAt: t.UTC(), RingingAt: at(t.Add(300 * time.Millisecond))}
			switch {
			case i == who:
				o.AnsweredAt, o.EndedAt, o.Outcome, o.DialStatus = at(ans), at(end), screenpop.OutcomeAnswered, "ANSWER"
			case ringAll:
				o.EndedAt, o.Outcome, o.DialStatus = at(ans), screenpop.OutcomeAnsweredElsewhere, "CANCEL"
			default:
				o.EndedAt, o.Outcome, o.DialStatus = at(t.Add(timeout)), screenpop.OutcomeNoAnswer, "NOANSWER"
				t = t.Add(timeout)
			}
			c.Offers = append(c.Offers, o)
			c.OfferedTo = append(c.OfferedTo, op)
		}
		c.Status, c.AnsweredBy, c.AnsweredAt, c.EndedAt, c.TalkedTo = screenpop.StatusAnswered, &ops[who], at(ans), end.UTC(), []string{ops[who]}
		c.RingSeconds, c.WaitSeconds, c.TalkSeconds = secs(dial.Add(300*time.Millisecond), ans), secs(start, ans), secs(ans, end)
	case x < 98: // nobody answered: it rang out, or the caller gave up
		abandoned := x >= 92
		end := dial.Add(timeout * time.Duration(len(ops)))
		if ringAll {
			end = dial.Add(2 * timeout)
		}
		if abandoned {
			end = dial.Add(ms(4, 14))
		}
		t := dial
		for _, op := range ops {
			if !t.Before(end) {
				break
			}
			o := screenpop.Offer{Operator: op, Channel: "PJSIP/" + op, DialedAt: t.UTC(), RingingAt: at(t.Add(300 * time.Millisecond)),
				Outcome: screenpop.OutcomeNoAnswer, DialStatus: "NOANSWER"}
			stop := t.Add(timeout)
			if ringAll || stop.After(end) {
				stop = end
			}
			if abandoned && !stop.Before(end) {
				o.Outcome, o.DialStatus = screenpop.OutcomeCancelled, "CANCEL"
			}
			o.EndedAt = at(stop)
			c.Offers = append(c.Offers, o)
			c.OfferedTo = append(c.OfferedTo, op)
			if !ringAll {
				t = stop
			}
		}
		c.Status, c.HangupCause, c.HangupCauseText = screenpop.StatusMissed, 19, "No answer"
		if abandoned {
			c.Status, c.HangupCause, c.HangupCauseText = screenpop.StatusAbandoned, 16, "Normal Clearing"
		}
		c.EndedAt = end.UTC()
		c.RingSeconds, c.WaitSeconds = secs(dial.Add(300*time.Millisecond), end), secs(start, end)
	default: // every phone busy
		o := screenpop.Offer{Operator: ops[0], Channel: "PJSIP/" + ops[0], DialedAt: dial.UTC(), EndedAt: at(dial.Add(500 * time.Millisecond)),
			Outcome: screenpop.OutcomeBusy, DialStatus: "BUSY"}
		c.Offers = append(c.Offers, o)
		c.Status, c.HangupCause, c.HangupCauseText = screenpop.StatusBusy, 17, "User busy"
		c.EndedAt = dial.Add(time.Second).UTC()
		c.WaitSeconds = secs(start, c.EndedAt)
	}
	return c
}

// outboundCall is an operator calling number back at start.
func outboundCall(r *rand.Rand, id string, start time.Time, number, op string) screenpop.Call {
	c := screenpop.Call{ID: id, Direction: screenpop.Outbound, Caller: "8" + number[2:], CallerE164: &number,
		AnsweredBy: &op, StartedAt: start.UTC(), OfferedTo: []string{}, TalkedTo: []string{}, Offers: []screenpop.Offer{},
		HangupCause: 16, HangupCauseText: "Normal Clearing"}
	ring := start.Add(3 * time.Second)
	if r.IntN(4) > 0 {
		ans := ring.Add(time.Duration(3+r.IntN(15)) * time.Second).UTC()
		end := ans.Add(time.Duration(40+r.IntN(200)) * time.Second).UTC()
		c.Status, c.AnsweredAt, c.TalkedTo, c.EndedAt = screenpop.StatusAnswered, &ans, []string{op}, end
		c.RingSeconds, c.WaitSeconds, c.TalkSeconds = ans.Sub(ring).Seconds(), ans.Sub(start).Seconds(), end.Sub(ans).Seconds()
		return c
	}
	c.Status, c.EndedAt, c.HangupCause, c.HangupCauseText = screenpop.StatusMissed, ring.Add(30*time.Second).UTC(), 19, "No answer"
	c.RingSeconds, c.WaitSeconds = 30, 33
	return c
}
