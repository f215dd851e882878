package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// callbackStore is what the callback list asks of a store.
type callbackStore interface {
	callStore
	Callbacks(ctx context.Context, now time.Time) ([]screenpop.Callback, error)
	ClaimCallback(ctx context.Context, number, operator string, now time.Time) (screenpop.Callback, error)
	CloseCallback(ctx context.Context, number, operator, reason string, now time.Time) error
	ImportClients(ctx context.Context, clients []screenpop.ClientHistory) ([]int64, error)
	AddOperator(ctx context.Context, name, extension string) (screenpop.Operator, string, error)
}

const (
	ivan   = "+79161234567"
	maria  = "+79035550101"
	petrov = "Петров Иван Петрович" // the client with ivan's number
)

func min_(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// inbound is a call from number at minute m of the test, ending status.
func inbound(id, number, did string, m int, status screenpop.Status) screenpop.Call {
	c := screenpop.Call{ID: id, Direction: screenpop.Inbound, Caller: number, DID: did, Status: status,
		StartedAt: min_(m), EndedAt: min_(m).Add(30 * time.Second)}
	if number != "" {
		n := number
		c.CallerE164 = &n
	} else {
		c.Caller, c.Withheld = "anonymous", true
	}
	if status == screenpop.StatusAnswered {
		c.AnsweredBy, c.AnsweredAt = ptr("102"), at(time.Duration(m)*time.Minute+5*time.Second)
	}
	return c
}

// outbound is operator 101 calling number at minute m.
func outbound(id, number string, m int, status screenpop.Status) screenpop.Call {
	n := number
	return screenpop.Call{ID: id, Direction: screenpop.Outbound, Caller: number, CallerE164: &n, Status: status,
		AnsweredBy: ptr("101"), StartedAt: min_(m), EndedAt: min_(m).Add(20 * time.Second)}
}

func openCallbacks(t *testing.T, b backend) callbackStore {
	t.Helper()
	s, ok := openMigrated(t, b).(callbackStore)
	if !ok {
		t.Fatalf("%s does not keep a callback list", b.name)
	}
	return s
}

func save(t *testing.T, s callStore, calls ...screenpop.Call) {
	t.Helper()
	if err := s.SaveCalls(t.Context(), calls); err != nil {
		t.Fatalf("SaveCalls: %v", err)
	}
}

func list(t *testing.T, s callbackStore, now time.Time) []screenpop.Callback {
	t.Helper()
	cbs, err := s.Callbacks(t.Context(), now)
	if err != nil {
		t.Fatalf("Callbacks: %v", err)
	}
	return cbs
}

// item is what an operator reads off a callback list row.
type item struct {
	Number       string
	Attempts     int
	First, Last  int // minutes of the test
	DID          string
	Client       string
	ClaimedBy    string
	ClaimedAtMin int
}

func items(cbs []screenpop.Callback) []item {
	out := []item{}
	for _, c := range cbs {
		it := item{Number: c.Number, Attempts: c.Attempts, DID: c.DID,
			First: int(c.FirstMissedAt.Sub(t0) / time.Minute), Last: int(c.LastMissedAt.Sub(t0) / time.Minute)}
		if c.Client != nil {
			it.Client = c.Client.FullName
		}
		if c.Claim != nil {
			it.ClaimedBy = c.Claim.Name + " " + c.Claim.Operator
			it.ClaimedAtMin = int(c.Claim.ClaimedAt.Sub(t0) / time.Minute)
		}
		out = append(out, it)
	}
	return out
}

func TestCallbackList(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testCallbackList(t, b)
		})
	}
}

func testCallbackList(t *testing.T, b backend) {
	const line1, line2 = "74951112233", "74957778899"
	tests := []struct {
		name  string
		calls []screenpop.Call
		now   int
		want  []item
	}{
		{
			name:  "a missed call puts its number on the list, with its line and time",
			calls: []screenpop.Call{inbound("a1", ivan, line1, 0, screenpop.StatusMissed)},
			now:   1,
			want:  []item{{Number: ivan, Attempts: 1, DID: line1, Client: petrov}},
		},
		{
			name: "every missed or abandoned call since counts as an attempt; the line is the last one's",
			calls: []screenpop.Call{inbound("b1", ivan, line1, 0, screenpop.StatusMissed), inbound("b2", ivan, line1, 5, screenpop.StatusAbandoned),
				inbound("b3", ivan, line2, 9, screenpop.StatusMissed)},
			now:  10,
			want: []item{{Number: ivan, Attempts: 3, First: 0, Last: 9, DID: line2, Client: petrov}},
		},
		{
			name:  "a client who calls again and is answered is off the list",
			calls: []screenpop.Call{inbound("c1", ivan, line1, 0, screenpop.StatusMissed), inbound("c2", ivan, line1, 3, screenpop.StatusAnswered)},
			now:   4,
			want:  []item{},
		},
		{
			name:  "an operator calling the number back takes it off the list, whatever came of the call",
			calls: []screenpop.Call{inbound("d1", ivan, line1, 0, screenpop.StatusMissed), outbound("d2", ivan, 3, screenpop.StatusMissed)},
			now:   4,
			want:  []item{},
		},
		{
			name: "a call missed after the resolution opens a new item counting from it",
			calls: []screenpop.Call{inbound("e1", ivan, line1, 0, screenpop.StatusMissed), outbound("e2", ivan, 3, screenpop.StatusAnswered),
				inbound("e3", ivan, line2, 7, screenpop.StatusAbandoned)},
			now:  8,
			want: []item{{Number: ivan, Attempts: 1, First: 7, Last: 7, DID: line2, Client: petrov}},
		},
		{
			name: "withheld, busy and answered calls, and calls to other numbers, put nothing on the list",
			calls: []screenpop.Call{inbound("f1", "", line1, 0, screenpop.StatusMissed), inbound("f2", ivan, line1, 1, screenpop.StatusBusy),
				inbound("f4", maria, line1, 3, screenpop.StatusAnswered),
				outbound("f5", "+79990000000", 4, screenpop.StatusAnswered)},
			now:  5,
			want: []item{},
		},
		{
			name:  "a failed call (no phone could be reached) stays on the list: nobody spoke to the caller",
			calls: []screenpop.Call{inbound("h1", ivan, line1, 2, screenpop.StatusFailed)},
			now:   3,
			want:  []item{{Number: ivan, Attempts: 1, First: 2, Last: 2, DID: line1, Client: petrov}},
		},
		{
			name: "the list is the longest waiting first, each number once, with its client",
			calls: []screenpop.Call{inbound("g1", maria, line2, 2, screenpop.StatusMissed), inbound("g2", ivan, line1, 4, screenpop.StatusMissed),
				inbound("g3", maria, line1, 6, screenpop.StatusMissed), outbound("g4", ivan, 1, screenpop.StatusAnswered)},
			now: 7,
			want: []item{{Number: maria, Attempts: 2, First: 2, Last: 6, DID: line1},
				{Number: ivan, Attempts: 1, First: 4, Last: 4, DID: line1, Client: petrov}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openCallbacks(t, b)
			if _, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{{Client: screenpop.Client{
				LastName: "Петров", FirstName: "Иван", Patronymic: "Петрович", Phones: []string{ivan}}}}); err != nil {
				t.Fatal(err)
			}
			save(t, s, tt.calls...)
			got := list(t, s, min_(tt.now))
			if diff := cmp.Diff(tt.want, items(got)); diff != "" {
				t.Errorf("callback list (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("the client is the first the client base has for the number, with how many more share it", func(t *testing.T) {
		t.Parallel()
		s := openCallbacks(t, b)
		ids, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{
			{Client: screenpop.Client{LastName: "Иванова", FirstName: "Мария", Phones: []string{ivan, maria}}},
			{Client: screenpop.Client{LastName: "Иванов", FirstName: "Пётр", Patronymic: "Ильич", Phones: []string{maria}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		save(t, s, inbound("n1", maria, line1, 0, screenpop.StatusMissed))
		got := list(t, s, min_(1))
		want := &screenpop.CallbackClient{ID: ids[0], FullName: "Иванова Мария", Others: 1}
		if len(got) != 1 || !cmp.Equal(want, got[0].Client) {
			t.Errorf("the list is %+v, want one item whose client is %+v", got, want)
		}
	})

	t.Run("an item closed by hand stays closed until the next missed call", func(t *testing.T) {
		t.Parallel()
		s := openCallbacks(t, b)
		save(t, s, inbound("h1", ivan, line1, 0, screenpop.StatusMissed), inbound("h2", ivan, line1, 1, screenpop.StatusMissed))
		if err := s.CloseCallback(t.Context(), ivan, "101", "  the client wrote to the dealership's chat  ", min_(2)); err != nil {
			t.Fatalf("CloseCallback: %v", err)
		}
		if got := items(list(t, s, min_(3))); len(got) != 0 {
			t.Errorf("after closing: %+v, want an empty list", got)
		}
		if err := s.CloseCallback(t.Context(), ivan, "102", "again", min_(3)); !errors.Is(err, screenpop.ErrNoCallback) {
			t.Errorf("closing a closed item: got %v, want ErrNoCallback", err)
		}
		save(t, s, inbound("h3", ivan, line2, 5, screenpop.StatusAbandoned))
		want := []item{{Number: ivan, Attempts: 1, First: 5, Last: 5, DID: line2}}
		if diff := cmp.Diff(want, items(list(t, s, min_(6)))); diff != "" {
			t.Errorf("after a new missed call (-want +got):\n%s", diff)
		}
		var by, reason string
		row := "SELECT closed_by, reason FROM callback_closures"
		var err error
		switch s := s.(type) {
		case *Postgres:
			err = s.pool.QueryRow(t.Context(), row).Scan(&by, &reason)
		case *SQLite:
			err = s.db.QueryRowContext(t.Context(), row).Scan(&by, &reason)
		}
		if err != nil || by != "101" || reason != "the client wrote to the dealership's chat" {
			t.Errorf("closure stored as %q, %q (%v)", by, reason, err)
		}
	})

	t.Run("closing and claiming hold though the daemon's clock is behind Asterisk's", func(t *testing.T) {
		t.Parallel()
		s := openCallbacks(t, b)
		save(t, s, inbound("o1", ivan, line1, 0, screenpop.StatusMissed), inbound("o2", maria, line1, 0, screenpop.StatusMissed))
		behind := min_(-60)
		if _, err := s.ClaimCallback(t.Context(), ivan, "101", behind); err != nil {
			t.Fatalf("ClaimCallback: %v", err)
		}
		if err := s.CloseCallback(t.Context(), maria, "101", "a wrong number", behind); err != nil {
			t.Fatalf("CloseCallback: %v", err)
		}
		want := []item{{Number: ivan, Attempts: 1, DID: line1, Client: "", ClaimedBy: " 101", ClaimedAtMin: -60}}
		if diff := cmp.Diff(want, items(list(t, s, behind))); diff != "" {
			t.Errorf("callback list (-want +got):\n%s", diff)
		}
	})

	t.Run("closing needs a reason and a number", func(t *testing.T) {
		t.Parallel()
		s := openCallbacks(t, b)
		save(t, s, inbound("i1", ivan, line1, 0, screenpop.StatusMissed))
		for _, tc := range []struct{ number, reason string }{{ivan, "  "}, {"89161234567", "called from a mobile"}} {
			if err := s.CloseCallback(t.Context(), tc.number, "101", tc.reason, min_(1)); err == nil {
				t.Errorf("CloseCallback(%q, %q) closed it", tc.number, tc.reason)
			}
		}
		if got := items(list(t, s, min_(1))); len(got) != 1 {
			t.Errorf("the list is %+v, want the item still open", got)
		}
	})

	t.Run("a claim is shown to all, holds against others, and lapses", func(t *testing.T) {
		t.Parallel()
		s := openCallbacks(t, b)
		for _, op := range []struct{ name, ext string }{{"Анна Смирнова", "101"}, {"Борис Волков", "102"}} {
			if _, _, err := s.AddOperator(t.Context(), op.name, op.ext); err != nil {
				t.Fatal(err)
			}
		}
		save(t, s, inbound("j1", ivan, line1, 0, screenpop.StatusMissed))
		cb, err := s.ClaimCallback(t.Context(), ivan, "101", min_(1))
		if err != nil {
			t.Fatalf("ClaimCallback: %v", err)
		}
		if cb.Claim == nil || cb.Claim.Operator != "101" || cb.Claim.Name != "Анна Смирнова" || !cb.Claim.ClaimedAt.Equal(min_(1)) {
			t.Errorf("ClaimCallback returned claim %+v", cb.Claim)
		}
		want := []item{{Number: ivan, Attempts: 1, DID: line1, ClaimedBy: "Анна Смирнова 101", ClaimedAtMin: 1}}
		if diff := cmp.Diff(want, items(list(t, s, min_(2)))); diff != "" {
			t.Errorf("the list another operator reads (-want +got):\n%s", diff)
		}
		_, err = s.ClaimCallback(t.Context(), ivan, "102", min_(5))
		var taken *screenpop.ClaimedError
		if !errors.As(err, &taken) || taken.Claim.Operator != "101" {
			t.Fatalf("102 claiming 101's item: got %v, want a ClaimedError naming 101", err)
		}
		// 101 claims again: the claim is renewed.
		if _, err := s.ClaimCallback(t.Context(), ivan, "101", min_(10)); err != nil {
			t.Fatalf("101 renewing the claim: %v", err)
		}
		if got := items(list(t, s, min_(24))); len(got) != 1 || got[0].ClaimedAtMin != 10 {
			t.Errorf("14 minutes after the renewal: %+v, want 101's claim of minute 10", got)
		}
		if got := items(list(t, s, min_(26))); len(got) != 1 || got[0].ClaimedBy != "" {
			t.Errorf("16 minutes after the renewal: %+v, want the claim lapsed", got)
		}
		if cb, err := s.ClaimCallback(t.Context(), ivan, "102", min_(26)); err != nil || cb.Claim == nil || cb.Claim.Operator != "102" {
			t.Errorf("102 claiming the lapsed item: %+v, %v", cb.Claim, err)
		}
	})

	t.Run("a claim ends with its item and does not carry over to the next", func(t *testing.T) {
		t.Parallel()
		s := openCallbacks(t, b)
		save(t, s, inbound("k1", ivan, line1, 0, screenpop.StatusMissed))
		if _, err := s.ClaimCallback(t.Context(), ivan, "101", min_(1)); err != nil {
			t.Fatal(err)
		}
		save(t, s, outbound("k2", ivan, 2, screenpop.StatusAnswered), inbound("k3", ivan, line1, 4, screenpop.StatusMissed))
		want := []item{{Number: ivan, Attempts: 1, First: 4, Last: 4, DID: line1}}
		if diff := cmp.Diff(want, items(list(t, s, min_(5)))); diff != "" {
			t.Errorf("the new item (-want +got):\n%s", diff)
		}
		if _, err := s.ClaimCallback(t.Context(), maria, "101", min_(5)); !errors.Is(err, screenpop.ErrNoCallback) {
			t.Errorf("claiming a number with no callback: got %v, want ErrNoCallback", err)
		}
	})

	t.Run("two operators claiming at once: one gets it, the other is told who", func(t *testing.T) {
		t.Parallel()
		s := openCallbacks(t, b)
		save(t, s, inbound("l1", ivan, line1, 0, screenpop.StatusMissed))
		errs := make(chan error, 2)
		for _, op := range []string{"101", "102"} {
			go func() {
				_, err := s.ClaimCallback(context.Background(), ivan, op, min_(1))
				errs <- err
			}()
		}
		var won, lost int
		for range 2 {
			var taken *screenpop.ClaimedError
			switch err := <-errs; {
			case err == nil:
				won++
			case errors.As(err, &taken):
				lost++
			default:
				t.Errorf("ClaimCallback: %v", err)
			}
		}
		if won != 1 || lost != 1 {
			t.Errorf("%d claims won and %d lost, want one each", won, lost)
		}
	})

	t.Run("an outbound call reads back with its direction", func(t *testing.T) {
		t.Parallel()
		s := openCallbacks(t, b)
		c := outbound("m1", ivan, 0, screenpop.StatusAnswered)
		c.TalkedTo, c.OfferedTo, c.Offers = []string{"101"}, []string{}, []screenpop.Offer{}
		save(t, s, c)
		c.CallerKind = screenpop.KindNew // the number is on no client and never called
		assertStoredOnce(t, s, c)
	})
}
