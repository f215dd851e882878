package continuity_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// child is the daemon as a child process, run again and again on one data
// directory, its log (JSON) appended to one file; the restart tests read
// its embedded store.
type child struct {
	*replicas.Replica
	t *testing.T
}

func newChild(t *testing.T, ariURL string) *child {
	return &child{replicas.New(t, "daemon", ariURL), t}
}

// start runs the daemon and waits until it is ready (connected to ARI,
// resynced, its store open); it returns when it was.
func (c *child) start() time.Time {
	c.t.Helper()
	c.Start()
	c.Ready()
	return time.Now()
}

// rows counts the calls in the call log (the embedded store).
func (c *child) rows() int {
	db, err := sql.Open("sqlite", filepath.Join(c.DataDir, "screenpop.db"))
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM calls").Scan(&n); err != nil {
		return 0
	}
	return n
}

// stored reads the call log once the daemon has stopped.
func (c *child) stored() []screenpop.Call {
	c.t.Helper()
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(c.DataDir, "screenpop.db"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	var calls []screenpop.Call
	if err := db.Calls(ctx, screenpop.CallFilter{Offers: true}, func(call screenpop.Call) error {
		calls = append(calls, call)
		return nil
	}); err != nil {
		c.t.Fatal(err)
	}
	return calls
}

// TestRestartsKeepEveryCallRecord stops the daemon (a real child process)
// every few seconds during 300 calls and starts it again on the same
// data directory: with SIGTERM, every call that spans a restart has one
// record, equal to the oracle's or flagged; with kill -9 too, and no call
// that had ended is lost.
func TestRestartsKeepEveryCallRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 300 calls in real time twice (about 2 minutes each)")
	}
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		seed uint64
	}{
		{"SIGTERM", syscall.SIGTERM, 30},
		{"kill -9", syscall.SIGKILL, 31},
	} {
		t.Run(tt.name+" every few seconds keeps every call's record true", func(t *testing.T) {
			const calls = 300
			s, url := oracletest.Sim(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			oracle := oracletest.RunTracked(t, ctx, ari.Config{URL: url, Username: "screenpop", Password: oracletest.SimPassword, App: "oracle", SubscribeAll: true})
			oracletest.WaitLong(t, "the oracle is connected", oracle.Client.Ready)
			d := newChild(t, url)
			d.start()

			loadDone := make(chan arisim.Stats, 1)
			go func() {
				st, err := s.Run(ctx, oracletest.Load(calls, 5, tt.seed))
				if err != nil {
					t.Errorf("load: %v", err)
				}
				loadDone <- st
			}()
			rng := rand.New(rand.NewPCG(tt.seed, 1))
			var (
				blind    []oracletest.Window
				restarts []time.Time
				lag      []time.Duration // from the last saved state to the signal
				st       arisim.Stats
			)
		restarting:
			for {
				// Up 2 to 4 s: the fault's timing, not a wait for something.
				select {
				case st = <-loadDone:
					break restarting
				case <-time.After(time.Duration(2000+rng.IntN(2000)) * time.Millisecond):
				}
				stopped := time.Now()
				d.Stop(tt.sig)
				// The daemon is blind from its last saved state: what it
				// took in after that (kill -9 comes before the state
				// being written reaches the disk; events still on their
				// way are lost at any stop) is gone with it, as the
				// events of an ARI drop are.
				from := stopped
				if saved := d.savedAt(); !saved.IsZero() && saved.Before(from) {
					from = saved
				}
				lag = append(lag, stopped.Sub(from))
				ready := d.start()
				restarts = append(restarts, stopped)
				blind = append(blind, oracletest.Window{From: from, To: ready})
			}
			if st.Completed != calls {
				t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
			}
			truth := oracletest.Truth(t, oracle, calls)
			want := oracletest.Seeable(truth, blind)
			oracletest.ProgressLong(t, fmt.Sprintf("the daemon has stored the %d calls it could see", want), d.rows, func() bool { return d.rows() >= want })
			d.Stop(syscall.SIGTERM)
			records := d.stored()

			spanning, spanningExact := 0, 0
			for _, c := range records {
				if w, ok := truth[c.ID]; ok && oracletest.Spans(w, restarts) {
					spanning++
					if len(c.Gaps) == 0 && len(c.Unflagged(w)) == 0 {
						spanningExact++
					}
				}
			}
			t.Logf("%d calls, %d restarts by %s (%d starts); %d rows; %d calls spanned a restart, %d of them exact, the others flagged",
				calls, len(restarts), tt.name, d.Starts, len(records), spanning, spanningExact)
			unsaved := 0
			for _, c := range truth {
				if oracletest.InsideOne(c, blind) && !oracletest.InsideOne(c, signalled(blind, restarts)) {
					unsaved++
				}
			}
			slices.Sort(lag)
			t.Logf("the last state saved before a stop was a median %v, at most %v older than the signal; %d calls began after it and ended before the daemon was back",
				lag[len(lag)/2], lag[len(lag)-1], unsaved)
			oracletest.Judge(truth, records, blind).Report(t)
			if spanning == 0 {
				t.Error("no call spanned a restart: the test tried nothing")
			}
		})
	}
}

// savedAt is where the stopped daemon's unseen period begins: when it
// last saved its calls in progress, or, if it was killed, the time of the
// last event it had applied then; the zero time if it saved none.
func (c *child) savedAt() time.Time {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.DataDir, "calls-in-progress.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}
	}
	if err != nil {
		c.t.Fatal(err)
	}
	// The file is a whole state, then a line for each save after it: the
	// last line whole (ending in its newline) says when.
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if len(lines) > 1 && !bytes.HasSuffix(b, []byte("\n")) {
		lines = lines[:len(lines)-1] // cut short by the stop: not saved
	}
	var s struct {
		SavedAt time.Time `json:"saved_at"`
		Seen    time.Time `json:"seen"`
		Stopped bool      `json:"stopped"`
	}
	if err := json.Unmarshal(lines[len(lines)-1], &s); err != nil {
		c.t.Fatalf("the saved calls in progress: %v", err)
	}
	// Killed, the last event applied: events of a later time may have
	// been queued, and died with the daemon (its unseen period starts
	// there). Stopped, it applied all it read before saving.
	if !s.Stopped && !s.Seen.IsZero() && s.Seen.Before(s.SavedAt) {
		return s.Seen
	}
	return s.SavedAt
}

// signalled is the blind windows started at the signals instead.
func signalled(blind []oracletest.Window, at []time.Time) []oracletest.Window {
	out := slices.Clone(blind)
	for i := range out {
		out[i].From = at[i]
	}
	return out
}
