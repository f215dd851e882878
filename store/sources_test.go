package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// sourceBase is what the sources and caller-kind tests ask of a store.
type sourceBase interface {
	clientBase
	SourceStore
	SetRegion(region string)
	EnsureLead(ctx context.Context, e164 string) (screenpop.ClientRecord, bool, error)
}

func openSources(tb testing.TB, b backend) sourceBase {
	tb.Helper()
	s, ok := openMigrated(tb, b).(sourceBase)
	if !ok {
		tb.Fatalf("%T keeps no sources", s)
	}
	s.SetRegion("RU")
	return s
}

// nov is midnight UTC of 2026-11-d.
func nov(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }

func novPtr(d int) *time.Time { t := nov(d); return &t }

// callAt is an answered inbound call from number to did at t.
func callAt(id, number, did string, t time.Time) screenpop.Call {
	c := screenpop.Call{ID: id, Direction: screenpop.Inbound, Caller: number, DID: did, Status: screenpop.StatusAnswered,
		StartedAt: t, EndedAt: t.Add(time.Minute)}
	if n := screenpop.ParseNumber(number, "RU"); n.E164 != "" {
		c.CallerE164 = &n.E164
	} else {
		c.Withheld = n.Withheld
	}
	return c
}

func TestSources(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testSources(t, b)
		})
	}
}

func testSources(t *testing.T, b backend) {
	ctx := context.Background()
	// The radio line, in three spellings; the site's line; a direct line.
	const radio, site, direct = "74951112233", "8 (495) 333-44-55", "+74957778899"
	seed := func(t *testing.T, s sourceBase) {
		t.Helper()
		for _, src := range []screenpop.Source{
			{DID: "+7 495 111-22-33", Source: "Радио «Европа Плюс»", Campaign: "Осень", From: nov(1), To: novPtr(11)},
			{DID: "84951112233", Source: "Билборд МКАД", Campaign: "Зима", From: nov(11)},
			{DID: "+7 (495) 333-44-55", Source: "Сайт", From: nov(1)},
			{DID: direct, Source: "Прямой Иванова", From: nov(1), Internal: true},
		} {
			if _, err := s.AddSource(ctx, src); err != nil {
				t.Fatalf("AddSource %s: %v", src.Source, err)
			}
		}
	}

	t.Run("a call takes the source its number had when it started, whatever the number's form", func(t *testing.T) {
		t.Parallel()
		s := openSources(t, b)
		seed(t, s)
		calls := []screenpop.Call{
			callAt("before", "+79160000001", radio, nov(1).Add(-time.Second)),
			callAt("first-instant", "+79160000002", radio, nov(1)),
			callAt("last-radio", "+79160000003", radio, nov(11).Add(-time.Millisecond)),
			callAt("first-billboard", "+79160000004", radio, nov(11)),
			callAt("site", "+79160000005", site, nov(20)),
			callAt("unmapped", "+79160000006", "74990000000", nov(20)),
		}
		if err := s.SaveCalls(ctx, calls); err != nil {
			t.Fatal(err)
		}
		want := map[string][2]string{
			"before":          {"", ""},
			"first-instant":   {"Радио «Европа Плюс»", "Осень"},
			"last-radio":      {"Радио «Европа Плюс»", "Осень"},
			"first-billboard": {"Билборд МКАД", "Зима"},
			"site":            {"Сайт", ""},
			"unmapped":        {"", ""},
		}
		for id, w := range want {
			c, err := s.Call(ctx, "", id)
			if err != nil {
				t.Fatal(err)
			}
			if got := [2]string{c.Source, c.Campaign}; got != w {
				t.Errorf("call %s (DID %s at %s): source and campaign %q, want %q", id, c.DID, c.StartedAt, got, w)
			}
		}
	})

	t.Run("changing the mapping later does not rewrite logged calls", func(t *testing.T) {
		t.Parallel()
		s := openSources(t, b)
		seed(t, s)
		if err := s.SaveCalls(ctx, []screenpop.Call{callAt("old", "+79160000001", site, nov(5))}); err != nil {
			t.Fatal(err)
		}
		list, err := s.Sources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range list {
			if src.Source == "Сайт" {
				if err := s.RemoveSource(ctx, src.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := s.AddSource(ctx, screenpop.Source{DID: site, Source: "Авито", From: nov(1)}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveCalls(ctx, []screenpop.Call{callAt("new", "+79160000002", site, nov(6))}); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]string{"old": "Сайт", "new": "Авито"} {
			if c, err := s.Call(ctx, "", id); err != nil || c.Source != want {
				t.Errorf("call %s: source %q (%v), want %q", id, c.Source, err, want)
			}
		}
	})

	t.Run("overlapping periods of one number are refused, naming the other", func(t *testing.T) {
		t.Parallel()
		s := openSources(t, b)
		seed(t, s)
		_, err := s.AddSource(ctx, screenpop.Source{DID: "+74951112233", Source: "ТВ", From: nov(10), To: novPtr(12)})
		if !errors.Is(err, ErrExists) {
			t.Fatalf("AddSource over two periods: %v, want ErrExists", err)
		}
		for _, want := range []string{"Радио «Европа Плюс»", "+74951112233"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
		// Back to back is not an overlap.
		if _, err := s.AddSource(ctx, screenpop.Source{DID: site, Source: "ТВ", From: nov(1).AddDate(0, -1, 0), To: novPtr(1)}); err != nil {
			t.Errorf("a period ending when the next begins: %v", err)
		}
	})

	t.Run("bad sources are refused with every reason", func(t *testing.T) {
		t.Parallel()
		s := openSources(t, b)
		_, err := s.AddSource(ctx, screenpop.Source{DID: " ", Source: "", From: nov(5), To: novPtr(5)})
		if err == nil {
			t.Fatal("AddSource of an empty source succeeded")
		}
		for _, want := range []string{"DID", "source name", "not after"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if err := s.RemoveSource(ctx, 12345); !errors.Is(err, ErrNotFound) {
			t.Errorf("RemoveSource of an unknown ID: %v, want ErrNotFound", err)
		}
	})

	t.Run("seeding twice adds once", func(t *testing.T) {
		t.Parallel()
		s := openSources(t, b)
		seeds := []screenpop.Source{{DID: radio, Source: "Радио", From: nov(1)}, {DID: site, Source: "Сайт", From: nov(1), To: novPtr(30)}}
		for i, want := range []int{2, 0} {
			n, err := SeedSources(ctx, s, "RU", seeds)
			if err != nil || n != want {
				t.Errorf("seeding #%d added %d (%v), want %d", i+1, n, err, want)
			}
		}
		list, err := s.Sources(ctx)
		if err != nil || len(list) != 2 {
			t.Fatalf("Sources: %v %v", list, err)
		}
		if list[0].DID != "+74951112233" || list[1].DID != "+74953334455" {
			t.Errorf("sources keep numbers as %q and %q, want E.164", list[0].DID, list[1].DID)
		}
	})
}

func TestCallerKinds(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openSources(t, b)
			const line, direct = "74951112233", "74957778899"
			if _, err := s.AddSource(ctx, screenpop.Source{DID: direct, Source: "Прямой Иванова", From: nov(1), Internal: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ImportClients(ctx, []screenpop.ClientHistory{{Client: screenpop.Client{
				LastName: "Петров", FirstName: "Иван", Patronymic: "Петрович", Phones: []string{"+79161234567"}}}}); err != nil {
				t.Fatal(err)
			}
			// A lead made long ago, and one made by this very call's pop.
			if _, ok, err := s.EnsureLead(ctx, "+79035550101"); err != nil || !ok {
				t.Fatalf("EnsureLead: %v %v", ok, err)
			}
			now := time.Now().UTC().Truncate(time.Millisecond)
			calls := []screenpop.Call{
				callAt("client", "89161234567", line, now),
				callAt("old-lead", "+79035550101", line, now.Add(2*time.Minute)),
				callAt("first-ever", "+79037770000", line, now),
				callAt("again", "+79037770000", line, now.Add(time.Hour)),
				callAt("withheld", "anonymous", line, now),
				callAt("extension", "101", line, now),
				callAt("direct-line", "+79037770001", direct, now),
				callAt("not-a-number", "Mobile", line, now),
			}
			if _, ok, err := s.EnsureLead(ctx, "+79037770000"); err != nil || !ok {
				t.Fatalf("EnsureLead at the first call: %v %v", ok, err)
			}
			for _, c := range calls { // one at a time, as calls end
				if err := s.SaveCalls(ctx, []screenpop.Call{c}); err != nil {
					t.Fatal(err)
				}
			}
			got := map[string]screenpop.CallerKind{}
			for _, c := range calls {
				r, err := s.Call(ctx, c.PBX, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				got[c.ID] = r.CallerKind
			}
			want := map[string]screenpop.CallerKind{
				"client":       screenpop.KindClient,
				"old-lead":     screenpop.KindLead, // its lead is 2 minutes older than the call
				"first-ever":   screenpop.KindNew,  // its lead was made by its own pop
				"again":        screenpop.KindLead, // it called before
				"withheld":     screenpop.KindWithheld,
				"extension":    screenpop.KindInternal,
				"direct-line":  screenpop.KindInternal,
				"not-a-number": screenpop.KindWithheld,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("caller kinds (-want +got):\n%s", diff)
			}
		})
	}
}
