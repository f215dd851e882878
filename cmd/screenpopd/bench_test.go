package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/spool"
	"github.com/screenpop/screenpop/store"
)

// The test PostgreSQL and a schema of a test's own in it, as the
// end-to-end tests have them.
var (
	testPostgresDSN = replicas.PostgresDSN
	freshSchema     = replicas.FreshSchema
)

var (
	idRe   = regexp.MustCompile(`"(id|CHANNEL\(linkedid\))":"([^"]+)"`)
	timeRe = regexp.MustCompile(`"(timestamp|creationtime)":"([^"]+)"`)
)

// burstCopies makes n copies of a trace, each with its own channel IDs and
// timestamps shifted past the previous copy, as n successive bursts.
func burstCopies(tb testing.TB, trace []byte, n int) []byte {
	tb.Helper()
	const layout = "2006-01-02T15:04:05.000-0700"
	// Find what changes from copy to copy once: [start, end) of each ID
	// and timestamp value.
	type edit struct {
		start, end int
		at         time.Time // zero for an ID
	}
	var edits []edit
	for _, m := range idRe.FindAllSubmatchIndex(trace, -1) {
		edits = append(edits, edit{start: m[4], end: m[5]})
	}
	for _, m := range timeRe.FindAllSubmatchIndex(trace, -1) {
		t, err := time.Parse(layout, string(trace[m[4]:m[5]]))
		if err != nil {
			tb.Fatalf("timestamp %q: %v", trace[m[4]:m[5]], err)
		}
		edits = append(edits, edit{start: m[4], end: m[5], at: t})
	}
	slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
	var out bytes.Buffer
	out.Grow((len(trace) + len(edits)*8) * n)
	for k := 0; k < n; k++ {
		suffix := "-" + strconv.Itoa(k)
		shift := time.Duration(k) * time.Minute
		prev := 0
		for _, e := range edits {
			out.Write(trace[prev:e.start])
			if e.at.IsZero() {
				out.Write(trace[e.start:e.end])
				out.WriteString(suffix)
			} else {
				out.WriteString(e.at.Add(shift).Format(layout))
			}
			prev = e.end
		}
		out.Write(trace[prev:])
	}
	return out.Bytes()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplayBurstToPostgres drives burst.jsonl (19 simultaneous calls,
// 2,090 events) through the whole event path — decoding, call tracking,
// the spool and the PostgreSQL call log — as fast as it goes, once per
// op, and checks every record reached the database.
func BenchmarkReplayBurstToPostgres(b *testing.B) {
	trace, err := os.ReadFile(filepath.Join(tracesDir(b), "burst.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	dsn := freshSchema(b)
	db, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	sp, err := spool.Open(b.TempDir(), 1<<30)
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	cfg := testConfig(b)
	input := burstCopies(b, trace, b.N)

	log := discardLogger()
	writer := spool.NewWriter(sp, db, log)
	wctx, stopWriting := context.WithCancel(ctx)
	defer stopWriting()
	go writer.Run(wctx)
	events := make(chan screenpop.Event, eventQueue)
	tracker := screenpop.NewTracker(cfg.trackerConfig(), writer, nil)
	done := make(chan error, 1)
	m := ari.NewMetrics(nil)

	b.ReportAllocs()
	cpu0, start := cpuTime(), time.Now()
	b.ResetTimer()
	go func() { done <- tracker.Run(ctx, events) }()
	if err := ari.ReadTrace(ctx, bytes.NewReader(input), ari.NewDecoder(cfg.DIDVariable), events, m, log); err != nil {
		b.Fatal(err)
	}
	close(events)
	<-done
	if err := writer.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0

	calls := 19 * b.N
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var stored, answered int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE status = 'answered') FROM calls").Scan(&stored, &answered); err != nil {
		b.Fatal(err)
	}
	if stored != calls || answered != calls {
		b.Fatalf("%d calls in the database (%d answered), want %d, all answered", stored, answered, calls)
	}
	tot := m.Totals()
	b.ReportMetric(float64(tot.Events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(calls), "cpu-µs/call")
}
