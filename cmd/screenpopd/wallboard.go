package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/viper"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/store"
)

// How long the wallboard uses what it read from the store. The calls under
// way are asked of call tracking at every board (once a second).
const (
	boardNamesFresh     = 30 * time.Second // operators and sources
	boardCallbacksFresh = 5 * time.Second
	boardTodayFresh     = 30 * time.Second // today's calls from the call log
	boardReadTimeout    = 2 * time.Second
)

// wallboardConfig reads the wallboard's keys.
func wallboardConfig(v *viper.Viper, duration func(string) time.Duration, bad func(key, format string, args ...any)) screenpop.BoardThresholds {
	th := screenpop.BoardThresholds{
		ServiceLevelTime:  duration("wallboard.service_level"),
		WaitAmber:         duration("wallboard.wait_amber").Seconds(),
		WaitRed:           duration("wallboard.wait_red").Seconds(),
		ServiceLevelAmber: float64(v.GetInt64("wallboard.service_level_amber")),
		ServiceLevelRed:   float64(v.GetInt64("wallboard.service_level_red")),
		CallbacksAmber:    int(v.GetInt64("wallboard.callbacks_amber")),
		CallbacksRed:      int(v.GetInt64("wallboard.callbacks_red")),
		CallbackAgeAmber:  duration("wallboard.callback_age_amber").Seconds(),
		CallbackAgeRed:    duration("wallboard.callback_age_red").Seconds(),
	}
	th.ServiceLevelSecs = th.ServiceLevelTime.Seconds()
	if th.ServiceLevelTime <= 0 {
		bad("wallboard.service_level", "must be longer than 0")
	}
	if th.WaitAmber <= 0 || th.WaitRed <= th.WaitAmber {
		bad("wallboard.wait_red", "must be longer than wallboard.wait_amber, which must be longer than 0")
	}
	if th.ServiceLevelRed < 0 || th.ServiceLevelAmber > 100 || th.ServiceLevelRed >= th.ServiceLevelAmber {
		bad("wallboard.service_level_red", "must be below wallboard.service_level_amber, both 0 to 100 (percent)")
	}
	if th.CallbacksAmber <= 0 || th.CallbacksRed <= th.CallbacksAmber {
		bad("wallboard.callbacks_red", "must be more than wallboard.callbacks_amber, which must be more than 0")
	}
	if th.CallbackAgeAmber <= 0 || th.CallbackAgeRed <= th.CallbackAgeAmber {
		bad("wallboard.callback_age_red", "must be longer than wallboard.callback_age_amber, which must be longer than 0")
	}
	return th
}

// mountWallboard puts the wallboard on the daemon (GET /wallboard, GET
// /wallboard/ws for supervisors' and admins' staff tokens) and has call
// tracking tell it each call it finishes. It returns the wallboard, for
// shutdown to close its sockets.
func mountWallboard(d serveDeps, hub *screenpop.Hub, limits screenpop.BoardThresholds) *web.Wallboard {
	f := &boardFeed{db: d.db, boxes: d.boxes, hub: hub, limits: limits, region: d.cfg.Region}
	f.today = &screenpop.Today{Line: f.line, Zone: time.Local, ServiceLevel: limits.ServiceLevelTime}
	for _, b := range d.boxes {
		// Before the trackers run. The box named as the call log names
		// it: a call is counted once whether call tracking or the call
		// log told of it first.
		b.tracker.Observe(screenpop.OnBox(b.pbx, f.today))
	}
	wb := web.NewWallboard(d.db, f.board, d.log)
	wb.Mount(d.web)
	return wb
}

// boardFeed gathers the wallboard's parts: call tracking's calls under
// way, the hub's open pages, and what the store knows (operators' names,
// sources, the callback list, today's calls), read again when stale.
type boardFeed struct {
	db     *store.Lazy
	boxes  []trackedBox
	hub    *screenpop.Hub
	today  *screenpop.Today
	limits screenpop.BoardThresholds
	region string

	mu        sync.Mutex // held while the board is built: one builder at a time
	operators []screenpop.Operator
	namesAt   time.Time
	namesErr  error
	callbacks []screenpop.Callback
	cbAt      time.Time
	cbErr     error
	todayAt   time.Time
	todayErr  error
	unseen    []screenpop.UnseenPeriod // today's
	unseenErr error

	// sources are read by line on call tracking's goroutine: under their
	// own lock, never held while reading the store.
	smu     sync.RWMutex
	sources []screenpop.Source
}

// line names the line of a dialled number: the source it advertised at,
// as far as the feed last read the sources; the number itself otherwise.
func (f *boardFeed) line(did string, at time.Time) string {
	f.smu.RLock()
	defer f.smu.RUnlock()
	if name := screenpop.SourceName(f.sources, did, at, f.region); name != "" {
		return name
	}
	return did
}

func (f *boardFeed) board(ctx context.Context) screenpop.Board {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	var problems []string
	if now.Sub(f.namesAt) >= boardNamesFresh {
		f.namesAt = now
		rctx, cancel := context.WithTimeout(ctx, boardReadTimeout)
		ops, err := f.db.Operators(rctx)
		if err == nil {
			f.operators = ops
			var srcs []screenpop.Source
			if srcs, err = f.db.Sources(rctx); err == nil {
				f.smu.Lock()
				f.sources = srcs
				f.smu.Unlock()
			}
		}
		cancel()
		f.namesErr = err
	}
	if f.namesErr != nil {
		problems = append(problems, fmt.Sprintf("operators and lines as read at %s: %v", f.namesAt.Format("15:04"), f.namesErr))
	}
	if now.Sub(f.cbAt) >= boardCallbacksFresh {
		f.cbAt = now
		rctx, cancel := context.WithTimeout(ctx, boardReadTimeout)
		cbs, err := f.db.Callbacks(rctx, now)
		cancel()
		if f.cbErr = err; err == nil {
			f.callbacks = cbs
		}
	}
	if f.cbErr != nil {
		problems = append(problems, fmt.Sprintf("the callback list could not be read: %v", f.cbErr))
	}
	if now.Sub(f.todayAt) >= boardTodayFresh {
		f.todayAt = now
		rctx, cancel := context.WithTimeout(ctx, boardReadTimeout)
		f.todayErr = f.db.Calls(rctx, screenpop.CallFilter{From: f.today.Start(now), Direction: screenpop.Inbound}, func(c screenpop.Call) error {
			f.today.Add(c, c.Source, now)
			return nil
		})
		f.unseen, f.unseenErr = f.db.UnseenPeriods(rctx, f.today.Start(now), time.Time{}, 0)
		cancel()
	}
	if f.unseenErr != nil {
		problems = append(problems, fmt.Sprintf("the time the daemon did not see the PBX today is not known: %v", f.unseenErr))
	}
	if f.todayErr != nil {
		problems = append(problems, fmt.Sprintf("today's figures lack the calls of before this daemon started: the call log could not be read: %v", f.todayErr))
	}
	var open []screenpop.OpenCall
	for _, bx := range f.boxes {
		sctx, cancel := context.WithTimeout(ctx, boardReadTimeout)
		snap, err := bx.tracker.Snapshot(sctx)
		cancel()
		if err != nil {
			what := "the calls under way are not known: "
			if len(f.boxes) > 1 {
				what = fmt.Sprintf("the calls under way on %s are not known: ", bx.pbx)
			}
			problems = append(problems, what+err.Error())
		}
		open = append(open, snap.Open...)
	}
	b := screenpop.NewBoard(screenpop.BoardParts{
		Now: now, Open: open, Operators: f.operators, Online: f.hub.Online, Line: f.line,
		Today: f.today.Lines(now), Callbacks: f.callbacks, Limits: f.limits, Problems: problems,
	})
	b.UnseenSeconds = screenpop.UnseenTotal(f.unseen, f.today.Start(now), now).Seconds()
	return b
}
