package main

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/screenpop/screenpop/screenpop"
)

// stateFileName is where, in the data directory, call tracking keeps the
// calls in progress between runs.
const stateFileName = "calls-in-progress.json"

// keepTrackerState wires what carries call records across restarts and
// odd clocks: the calls in progress saved in the data directory as they
// change and at a stop, and restored now; event times far from the
// tracker's clock counted and logged. It is called before the tracker
// runs.
func keepTrackerState(tracker *screenpop.Tracker, dataDir string, reg prometheus.Registerer, log *slog.Logger) {
	jumps := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "screenpop_tracker_clock_jumps_total",
		Help: "ARI events dated more than a minute from call tracking's clock and not confirmed by the next event: they did not move it. Should stay 0.",
	})
	saveFailures := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "screenpop_tracker_state_save_failures_total",
		Help: "Failed saves of the calls in progress to the data directory. Should stay 0.",
	})
	reg.MustRegister(jumps, saveFailures)
	tracker.OnClockJump(func(eventAt, clock time.Time) {
		jumps.Inc()
		log.Warn("an ARI event is dated far from call tracking's clock; the clock stays until another event confirms it",
			"event_at", eventAt, "clock", clock)
	})

	f := screenpop.StateFile{Path: filepath.Join(dataDir, stateFileName)}
	s, ok, err := f.Load()
	switch {
	case err != nil:
		log.Error("cannot read the calls in progress saved by the last run; the calls Asterisk still has are picked up as new, flagged", "err", err)
	case ok:
		if err := tracker.Restore(s); err != nil {
			log.Error("cannot restore the calls in progress saved by the last run", "err", err)
		} else {
			log.Info("restored the calls in progress saved by the last run", "calls", len(s.Calls), "saved_at", s.SavedAt)
		}
	}
	var lastLogged time.Time
	tracker.KeepState(f.Save, func(err error) {
		saveFailures.Inc()
		if time.Since(lastLogged) >= time.Minute {
			lastLogged = time.Now()
			log.Error("cannot save the calls in progress; a crash now would close them as ended while the daemon was down", "err", err)
		}
	})
}
