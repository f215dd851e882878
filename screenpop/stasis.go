package screenpop

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// PBX is what the core asks of Asterisk.
type PBX interface {
	// SetVariable sets a channel variable (or CALLERID(name)) on a channel
	// waiting in our Stasis app.
	SetVariable(ctx context.Context, channelID, name, value string) error
	// Continue sends a channel waiting in our Stasis app back to the
	// dialplan.
	Continue(ctx context.Context, channelID string) error
}

// Cards gives the card of a call, waiting for its lookup at most until ctx
// ends. The Popper is one.
type Cards interface {
	Card(ctx context.Context, callID string) (Card, bool)
}

// DefaultStasisDeadline bounds how long a call may wait in Stasis for us.
const DefaultStasisDeadline = 300 * time.Millisecond

// Channel variables the dialplan can use after Stasis.
const (
	VarClientID = "SCREENPOP_CLIENT_ID"
	VarManager  = "SCREENPOP_MANAGER"
)

// continueBound is how long a continue may take once sent: past the
// deadline we still send it, for a call left in Stasis never moves.
const continueBound = 2 * time.Second

// Stasis handles calls the dialplan sends to our Stasis app: within the
// deadline it looks the caller up, shows their name on desk phones
// (CALLERID(name)), tells the dialplan the client and their manager's
// extension (so it can ring the manager first), and continues the call.
// Whatever the client base does, no caller waits longer than the deadline.
type Stasis struct {
	pbx      PBX
	cards    Cards // nil: no lookup, just continue
	deadline time.Duration
	log      *slog.Logger
	wg       sync.WaitGroup
	// Base, if set, is what the lookups and variables run on, within the
	// deadline: the daemon cancels it at shutdown, and each call waiting
	// then is continued at once, unnamed. Set it before the first notice.
	Base context.Context
	// Took, if set, is told how long each stage of a call's way through
	// the handler took: StasisLookup (waiting for the card), StasisVariables,
	// StasisContinue and StasisHandled (all of it, from the notice to
	// Asterisk's answer to the continue). Set it before the first notice.
	Took func(stage string, d time.Duration)

	mu       sync.Mutex
	handling map[string]bool // channels being handled: a resync may name one again
}

// NewStasis returns a Stasis handler; deadline <= 0 means the default.
func NewStasis(pbx PBX, cards Cards, deadline time.Duration, log *slog.Logger) *Stasis {
	if deadline <= 0 {
		deadline = DefaultStasisDeadline
	}
	return &Stasis{pbx: pbx, cards: cards, deadline: deadline, log: log, handling: map[string]bool{}}
}

// The stages Stasis.Took is told of.
const (
	StasisLookup    = "lookup"
	StasisVariables = "variables"
	StasisContinue  = "continue"
	StasisHandled   = "handled"
)

func (s *Stasis) took(stage string, since time.Time) time.Time {
	now := time.Now()
	if s.Took != nil {
		s.Took(stage, now.Sub(since))
	}
	return now
}

// Notice handles a NoticeStasis; it returns at once.
func (s *Stasis) Notice(n Notice) {
	if n.Kind != NoticeStasis || n.ChannelID == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handling[n.ChannelID] {
		return
	}
	s.handling[n.ChannelID] = true
	s.wg.Add(1)
	noticed := time.Now()
	go func() {
		defer s.wg.Done()
		s.handle(n, noticed)
		s.mu.Lock()
		delete(s.handling, n.ChannelID)
		s.mu.Unlock()
	}()
}

func (s *Stasis) handle(n Notice, noticed time.Time) {
	start := noticed
	end := start.Add(s.deadline)
	stage := noticed
	if s.cards != nil {
		// The lookup gets most of the deadline; setting variables and
		// continuing need the rest.
		lctx, cancel := context.WithDeadline(orBackground(s.Base), start.Add(s.deadline*6/10))
		card, ok := s.cards.Card(lctx, n.Key())
		cancel()
		stage = s.took(StasisLookup, stage)
		if ok && card.Lookup == LookupPending {
			s.log.Warn("the caller's lookup did not finish within its share of the Stasis deadline; the call goes on unnamed",
				"call", n.CallID, "waited", time.Since(start), "deadline", s.deadline)
		}
		if ok && s.setVariables(n, card, end) {
			stage = s.took(StasisVariables, stage)
		}
	}
	// Send the continue even if the deadline has passed, or the daemon
	// is stopping: a call left in Stasis would wait until the caller gave
	// up.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(orBackground(s.Base)), max(time.Until(end), continueBound))
	defer cancel()
	if err := s.pbx.Continue(cctx, n.ChannelID); err != nil {
		s.log.Error("continue channel waiting in Stasis", "call", n.CallID, "channel", n.ChannelID, "err", err)
		return
	}
	s.took(StasisContinue, stage)
	s.took(StasisHandled, start)
	if took := time.Since(start); took > s.deadline {
		s.log.Warn("a call waited in Stasis longer than the deadline", "call", n.CallID, "took", took, "deadline", s.deadline)
	}
}

// setVariables tells the dialplan who is calling, as far as time allows;
// it reports whether it had anything to set.
func (s *Stasis) setVariables(n Notice, card Card, end time.Time) bool {
	if card.Lookup != LookupFound || len(card.Clients) == 0 {
		return false
	}
	c := card.Clients[0] // the client the dealership knows best
	var vars [][2]string
	// A lead nobody has named yet keeps the carrier's caller name.
	if name := callerIDName(c.Client); name != "" {
		vars = append(vars, [2]string{"CALLERID(name)", name})
	}
	vars = append(vars, [2]string{VarClientID, strconv.FormatInt(c.ID, 10)})
	if c.Manager != nil && c.Manager.Extension != "" {
		vars = append(vars, [2]string{VarManager, c.Manager.Extension})
	}
	// Keep a little time for the continue. The variables go out together:
	// a call waits for the slowest, not for the sum.
	ctx, cancel := context.WithDeadline(orBackground(s.Base), end.Add(-s.deadline/10))
	defer cancel()
	var wg sync.WaitGroup
	for _, v := range vars {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.pbx.SetVariable(ctx, n.ChannelID, v[0], v[1]); err != nil {
				s.log.Warn("set channel variable for the dialplan", "call", n.CallID, "variable", v[0], "err", err)
			}
		}()
	}
	wg.Wait()
	return true
}

// callerIDName is what a desk phone shows: "Петров Иван", short enough for
// its display.
func callerIDName(c Client) string {
	name := c.LastName + " " + c.FirstName
	if c.LastName == "" || c.FirstName == "" {
		name = c.FullName()
	}
	if r := []rune(name); len(r) > 40 {
		name = string(r[:40])
	}
	return name
}

// Wait waits for the calls being handled, for shutdown.
func (s *Stasis) Wait() { s.wg.Wait() }
