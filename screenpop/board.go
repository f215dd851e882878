package screenpop

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// The wallboard: the call centre as a supervisor watches it on a wall
// screen. What is happening now comes from call tracking's snapshot (the
// calls under way) and the operator hub (whose page is open); today's
// figures from the calls recorded today, as the call log holds them and
// as call tracking finishes them.

// Board is the wallboard at one instant.
type Board struct {
	At time.Time `json:"at"`
	// Calls are the inbound calls waiting for an operator: not yet rung
	// anywhere, or ringing; the longest waiting first.
	Calls []BoardCall `json:"calls"`
	// Talking is how many calls, in and out, have an operator talking.
	Talking   int             `json:"talking"`
	Operators []BoardOperator `json:"operators"`
	// Lines are today's figures by line (the source the dialled number
	// advertises, or the number when it advertises none), the busiest
	// first; Total adds them up.
	Lines     []LineToday     `json:"lines"`
	Total     LineToday       `json:"total"`
	Callbacks BoardCallbacks  `json:"callbacks"`
	Limits    BoardThresholds `json:"thresholds"`
	// Problems say what the board could not read, so a stale figure is
	// never shown as a current one.
	Problems []string `json:"problems"`
	// UnseenSeconds is how long today the daemon did not see a box's
	// events (UnseenTotal): today's figures lack the calls that began and
	// ended then.
	UnseenSeconds float64 `json:"unseen_seconds"`
}

// BoardCall is a call waiting for an operator. The caller's number is
// personal data and stays off a screen the whole room sees.
type BoardCall struct {
	ID   string `json:"call_id"`
	Line string `json:"line"`
	// State is waiting (no phone rings yet) or ringing.
	State     string    `json:"state"`
	StartedAt time.Time `json:"started_at"`
	// Ringing names the operators whose phones ring for it.
	Ringing []string `json:"ringing"`
}

// Operators' states on the wallboard.
const (
	OperatorRinging = "ringing"
	OperatorTalking = "talking"
	OperatorFree    = "free"    // their page is open and their phone idle
	OperatorOffline = "offline" // no page open, no call
)

// BoardOperator is an operator as the wallboard shows them.
type BoardOperator struct {
	Extension string `json:"extension"`
	Name      string `json:"name"`
	State     string `json:"state"`
	// Since is when they started talking (nil when not talking, or when
	// they joined the call by a transfer, whose moment is not known here).
	Since *time.Time `json:"since,omitempty"`
	// Line is the line of the call they ring or talk on; empty for an
	// outbound call.
	Line string `json:"line,omitempty"`
}

// LineToday is one line's calls today. Calls counts the inbound calls
// that started today and have ended (the calls under way are the board's
// Calls and Talking); Answered and Lost split them. InTime is the
// answered ones picked up within the service level's time; ServiceLevel
// is InTime over Answered+Lost of the calls whose answer could be timed,
// nil before any. Untimed counts calls the daemon did not see start or be
// answered exactly: they are in Calls but not in the service level.
type LineToday struct {
	Line         string   `json:"line"`
	Calls        int      `json:"calls"`
	Answered     int      `json:"answered"`
	Lost         int      `json:"lost"`
	InTime       int      `json:"in_time"`
	Untimed      int      `json:"untimed"`
	ServiceLevel *float64 `json:"service_level"`
}

// BoardCallbacks is the callback list's size and its oldest item.
type BoardCallbacks struct {
	Count int `json:"count"`
	// Oldest is when the longest-waiting item's first missed call
	// started; nil when the list is empty.
	Oldest *time.Time `json:"oldest"`
}

// BoardThresholds turn the wallboard's tiles amber and red. A wait is a
// call's time since it started; the service level is a percentage (lower
// is worse); callbacks are the list's size and its oldest item's age.
type BoardThresholds struct {
	ServiceLevelTime  time.Duration `json:"-"`
	ServiceLevelSecs  float64       `json:"service_level_seconds"`
	WaitAmber         float64       `json:"wait_amber_seconds"`
	WaitRed           float64       `json:"wait_red_seconds"`
	ServiceLevelAmber float64       `json:"service_level_amber"`
	ServiceLevelRed   float64       `json:"service_level_red"`
	CallbacksAmber    int           `json:"callbacks_amber"`
	CallbacksRed      int           `json:"callbacks_red"`
	CallbackAgeAmber  float64       `json:"callback_age_amber_seconds"`
	CallbackAgeRed    float64       `json:"callback_age_red_seconds"`
}

// BoardParts is what a board is built from.
type BoardParts struct {
	Now       time.Time
	Open      []OpenCall
	Operators []Operator
	// Online reports whether an operator has their page open.
	Online func(extension string) bool
	// Line names the line of a dialled number at an instant.
	Line      func(did string, at time.Time) string
	Today     []LineToday
	Callbacks []Callback
	Limits    BoardThresholds
	Problems  []string
}

// NewBoard builds the board from its parts.
func NewBoard(p BoardParts) Board {
	b := Board{At: p.Now.UTC(), Calls: []BoardCall{}, Operators: []BoardOperator{}, Lines: []LineToday{},
		Limits: p.Limits, Problems: slices.Clone(p.Problems)}
	if b.Problems == nil {
		b.Problems = []string{}
	}
	names := map[string]string{}
	for _, op := range p.Operators {
		names[op.Extension] = op.Name
	}
	name := func(ext string) string { return cmp.Or(names[ext], ext) }
	states := map[string]BoardOperator{}
	for _, c := range p.Open {
		line := ""
		if c.Direction != Outbound {
			line = p.Line(c.DID, c.StartedAt)
		}
		switch c.State {
		case OpenWaiting, OpenRinging:
			if c.Direction == Outbound {
				continue // the operator's own phone rings for a click-to-dial
			}
			bc := BoardCall{ID: c.ID, Line: line, State: c.State, StartedAt: c.StartedAt.UTC(), Ringing: []string{}}
			for _, ext := range c.Ringing {
				bc.Ringing = append(bc.Ringing, name(ext))
				if states[ext].State != OperatorTalking {
					states[ext] = BoardOperator{State: OperatorRinging, Line: line}
				}
			}
			b.Calls = append(b.Calls, bc)
		case OpenAnswered:
			b.Talking++
			if c.Talking == "" {
				continue
			}
			op := BoardOperator{State: OperatorTalking, Line: line}
			if c.AnsweredAt != nil && c.AnsweredBy == c.Talking {
				at := c.AnsweredAt.UTC()
				op.Since = &at
			}
			states[c.Talking] = op
		}
	}
	slices.SortStableFunc(b.Calls, func(x, y BoardCall) int {
		return cmp.Or(x.StartedAt.Compare(y.StartedAt), cmp.Compare(x.ID, y.ID))
	})
	seen := map[string]bool{}
	add := func(ext string) {
		if seen[ext] {
			return
		}
		seen[ext] = true
		op, busy := states[ext]
		if !busy {
			op.State = OperatorOffline
			if p.Online != nil && p.Online(ext) {
				op.State = OperatorFree
			}
		}
		op.Extension, op.Name = ext, name(ext)
		b.Operators = append(b.Operators, op)
	}
	for _, op := range p.Operators {
		add(op.Extension)
	}
	// A phone that rings or talks for an extension no operator has (yet)
	// still shows.
	extra := make([]string, 0, len(states))
	for ext := range states {
		if !seen[ext] {
			extra = append(extra, ext)
		}
	}
	slices.Sort(extra)
	for _, ext := range extra {
		add(ext)
	}
	for _, l := range p.Today {
		b.Lines = append(b.Lines, l)
		b.Total.add(l)
	}
	b.Total.finish()
	for _, cb := range p.Callbacks {
		b.Callbacks.Count++
		if at := cb.FirstMissedAt.UTC(); b.Callbacks.Oldest == nil || at.Before(*b.Callbacks.Oldest) {
			b.Callbacks.Oldest = &at
		}
	}
	return b
}

func (l *LineToday) add(o LineToday) {
	l.Calls += o.Calls
	l.Answered += o.Answered
	l.Lost += o.Lost
	l.InTime += o.InTime
	l.Untimed += o.Untimed
}

// finish sets the service level from the counts.
func (l *LineToday) finish() {
	l.ServiceLevel = nil
	if timed := l.Answered + l.Lost - l.Untimed; timed > 0 {
		sl := 100 * float64(l.InTime) / float64(timed)
		l.ServiceLevel = &sl
	}
}

// Today tallies today's inbound calls by line for the wallboard. The same
// call may come twice, from the call log and from call tracking as it
// ends: it counts once, as its latest record says. It is safe for
// concurrent use; as an Observer it takes the calls call tracking
// finishes.
type Today struct {
	// Line names the line of a dialled number at an instant (the source
	// the number advertised then). It must return at once: it runs on
	// call tracking's goroutine.
	Line func(did string, at time.Time) string
	// Zone is where the day starts and ends.
	Zone *time.Location
	// ServiceLevel is how soon an answer counts as in time.
	ServiceLevel time.Duration

	mu    sync.Mutex
	day   time.Time
	calls map[string]dayCall
}

type dayCall struct {
	line                            string
	answered, lost, inTime, untimed bool
}

// Notice takes the record of a call call tracking finished.
func (d *Today) Notice(n Notice) {
	if n.Kind != NoticeEnded || n.Call == nil {
		return
	}
	d.Add(*n.Call, "", time.Now())
}

// Add counts c (a recorded call) on line, or on the line Line names for
// its dialled number when line is empty. Calls that are not inbound, are
// an employee's internal call, or did not start on now's day are left out.
func (d *Today) Add(c Call, line string, now time.Time) {
	if c.Direction == Outbound || PresetKind(c) == KindInternal || c.CallerKind == KindInternal {
		return
	}
	if line == "" {
		line = c.Source
	}
	if line == "" && d.Line != nil {
		line = d.Line(c.DID, c.StartedAt)
	}
	if line == "" {
		line = c.DID
	}
	dc := dayCall{line: line}
	switch {
	case c.Status == StatusAnswered || c.AnsweredAt != nil:
		dc.answered = true
		if slices.Contains(c.Gaps, GapStart) || slices.Contains(c.Gaps, GapAnswer) || c.AnsweredAt == nil {
			dc.untimed = true
		} else {
			dc.inTime = c.AnsweredAt.Sub(c.StartedAt) <= d.ServiceLevel
		}
	default:
		dc.lost = true
		dc.untimed = slices.Contains(c.Gaps, GapStart) || slices.Contains(c.Gaps, GapEnd)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.roll(now)
	if c.StartedAt.Before(d.day) {
		return
	}
	d.calls[CallKey(c.PBX, c.ID)] = dc // two boxes' calls may share an ID
}

// roll starts a new tally when now is on another day; d.mu is held.
func (d *Today) roll(now time.Time) {
	zone := d.Zone
	if zone == nil {
		zone = time.Local
	}
	if day := StartOfDay(now.In(zone)); !day.Equal(d.day) || d.calls == nil {
		d.day, d.calls = day, map[string]dayCall{}
	}
}

// Start is the start of now's day, from which Add counts calls.
func (d *Today) Start(now time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.roll(now)
	return d.day
}

// Lines gives today's figures by line, the busiest first.
func (d *Today) Lines(now time.Time) []LineToday {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.roll(now)
	by := map[string]*LineToday{}
	for _, c := range d.calls {
		l := by[c.line]
		if l == nil {
			l = &LineToday{Line: c.line}
			by[c.line] = l
		}
		l.Calls++
		switch {
		case c.answered:
			l.Answered++
		case c.lost:
			l.Lost++
		}
		if c.inTime {
			l.InTime++
		}
		if c.untimed {
			l.Untimed++
		}
	}
	out := make([]LineToday, 0, len(by))
	for _, l := range by {
		l.finish()
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b LineToday) int { return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Line, b.Line)) })
	return out
}
