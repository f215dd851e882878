package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// unseenStore is what both stores have of unseen periods.
type unseenStore interface {
	callStore
	SaveUnseen(ctx context.Context, periods []screenpop.UnseenPeriod) error
	UnseenPeriods(ctx context.Context, from, to time.Time, limit int) ([]screenpop.UnseenPeriod, error)
}

func TestStoresKeepEachUnseenPeriodOnce(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testUnseenPeriods(t, b)
		})
	}
}

func testUnseenPeriods(t *testing.T, b backend) {
	drop := screenpop.UnseenPeriod{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute), Reason: screenpop.UnseenARIDrop, CallsInProgress: 2, CallsEndedUnseen: 1}
	killed := screenpop.UnseenPeriod{PBX: "east", From: t0.Add(10 * time.Minute), To: t0.Add(20 * time.Minute), Reason: screenpop.UnseenCrashed}
	list := func(t *testing.T, s unseenStore, from, to time.Time) []screenpop.UnseenPeriod {
		t.Helper()
		got, err := s.UnseenPeriods(context.Background(), from, to, 0)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("periods go through the spool with the calls, and a spool replayed after a crash keeps each once", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b).(unseenStore)
		dir := t.TempDir()
		sp := openTestSpool(t, dir, 1<<20)
		saver := &lostAck{db: s, times: -1} // commits, then says the connection broke
		w := newTestWriter(t, sp, saver).start(t)
		calls := spoolCalls(3)
		w.Record(calls[0])
		w.RecordUnseen(drop)
		w.Record(calls[1])
		w.RecordUnseen(killed)
		w.Record(calls[2])
		waitFor(t, "the batch to be committed", func() bool { return saver.n.Load() >= 1 && w.Failures() >= 1 })
		w.stop()
		crashed(t, sp)

		sp = openTestSpool(t, dir, 1<<20)
		if d := sp.Depth(); d != 5 {
			t.Errorf("Depth after restart = %d, want the 3 calls and 2 periods", d)
		}
		w = newTestWriter(t, sp, s).start(t)
		w.RecordUnseen(drop) // and once more, as a restart from the same state does
		w.flush(t)
		assertRows(t, s, len(calls))
		want := []screenpop.UnseenPeriod{killed, drop}
		if d := cmp.Diff(want, list(t, s, time.Time{}, time.Time{})); d != "" {
			t.Errorf("unseen periods (-want +got):\n%s", d)
		}
	})

	t.Run("the same period seen longer keeps its later end; a period of no length is none", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b).(unseenStore)
		longer := drop
		longer.To, longer.CallsInProgress = drop.To.Add(time.Hour), 5
		none := screenpop.UnseenPeriod{From: t0.Add(time.Hour), To: t0.Add(time.Hour), Reason: screenpop.UnseenARIDrop}
		for _, ps := range [][]screenpop.UnseenPeriod{{drop}, {longer, none}, {drop}} {
			if err := s.SaveUnseen(context.Background(), ps); err != nil {
				t.Fatal(err)
			}
		}
		if d := cmp.Diff([]screenpop.UnseenPeriod{longer}, list(t, s, time.Time{}, time.Time{})); d != "" {
			t.Errorf("unseen periods (-want +got):\n%s", d)
		}
	})

	t.Run("a range lists the periods that overlap it", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b).(unseenStore)
		if err := s.SaveUnseen(context.Background(), []screenpop.UnseenPeriod{drop, killed}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name     string
			from, to time.Time
			want     []screenpop.UnseenPeriod
		}{
			{"one that ends inside", t0.Add(2 * time.Minute), t0.Add(5 * time.Minute), []screenpop.UnseenPeriod{drop}},
			{"one that begins inside", t0.Add(5 * time.Minute), t0.Add(11 * time.Minute), []screenpop.UnseenPeriod{killed}},
			{"none between them", t0.Add(3 * time.Minute), t0.Add(10 * time.Minute), []screenpop.UnseenPeriod{}},
			{"both", t0, t0.Add(time.Hour), []screenpop.UnseenPeriod{killed, drop}},
		} {
			if d := cmp.Diff(c.want, list(t, s, c.from, c.to)); d != "" {
				t.Errorf("%s (-want +got):\n%s", c.name, d)
			}
		}
	})
}
