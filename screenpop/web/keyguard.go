package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// Wrong keys are limited per client address: each address may try
// WrongKeyBurst wrong keys, and one more every WrongKeyEvery; beyond that
// its keys are not looked up at all (429, or "unknown key" on the
// websocket) until it has waited. A key that opened a page recently is
// always let through, so a signed-in page never hits the limit, even
// behind the address of someone guessing.
const (
	WrongKeyBurst = 20
	WrongKeyEvery = 6 * time.Second
	// keepGoodKeys is how long a key that worked passes a limited address.
	keepGoodKeys = 12 * time.Hour
	// maxTracked bounds the addresses and good keys remembered.
	maxTracked = 10_000
)

// ErrTooManyWrongKeys is the answer for a key from an address that tried
// too many wrong ones.
var ErrTooManyWrongKeys = errors.New("too many wrong keys from this address; wait and try again")

// KeyGuard limits wrong keys per client address. Wrap the authenticators
// with Operators and Staff, and the HTTP handler with Handler.
type KeyGuard struct {
	// unknown tells a wrong key from a failure to look it up (the
	// database being down is not the client's fault).
	unknown func(error) bool
	now     func() time.Time

	mu    sync.Mutex
	addrs map[string]*wrongKeys
	good  map[[32]byte]time.Time
	staff map[[32]byte]time.Time // the good keys that are staff tokens

	wrong, refused atomic.Uint64
}

type wrongKeys struct {
	tokens float64 // wrong keys it may still try
	at     time.Time
}

// NewKeyGuard returns a guard; unknown reports whether an authenticator's
// error means the key is not known.
func NewKeyGuard(unknown func(error) bool) *KeyGuard {
	return &KeyGuard{unknown: unknown, now: time.Now, addrs: map[string]*wrongKeys{}, good: map[[32]byte]time.Time{}, staff: map[[32]byte]time.Time{}}
}

// WrongKeys is how many wrong keys were tried; Refused how many keys
// were refused unread because their address tried too many. For metrics.
func (g *KeyGuard) WrongKeys() uint64 { return g.wrong.Load() }

// Refused: see WrongKeys.
func (g *KeyGuard) Refused() uint64 { return g.refused.Load() }

type addrKey struct{}

// Handler tells the authenticators each request's client address, and
// answers 429 to a request whose key would be refused.
func (g *KeyGuard) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientAddr(r)
		r = r.WithContext(context.WithValue(r.Context(), addrKey{}, addr))
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			token = r.URL.Query().Get("token")
		}
		if token != "" {
			if wait, limited := g.limited(addr, token); limited {
				g.refused.Add(1)
				w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
				WriteError(w, http.StatusTooManyRequests, ErrTooManyWrongKeys.Error())
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// clientAddr is the host the request came from (proxies' headers are not
// trusted: the daemon listens on the call centre's own network).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limited reports whether the address may not try token now, and how
// long until it may.
func (g *KeyGuard) limited(addr, token string) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if until, ok := g.good[sha256.Sum256([]byte(token))]; ok && now.Before(until) {
		return 0, false
	}
	b := g.addrs[addr]
	if b == nil {
		return 0, false
	}
	g.refill(b, now)
	if b.tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - b.tokens) * float64(WrongKeyEvery)), true
}

func (g *KeyGuard) refill(b *wrongKeys, now time.Time) {
	b.tokens = min(WrongKeyBurst, b.tokens+float64(now.Sub(b.at))/float64(WrongKeyEvery))
	b.at = now
}

// check runs one key lookup under the guard.
func (g *KeyGuard) check(ctx context.Context, token string, lookup func() error) error {
	addr, _ := ctx.Value(addrKey{}).(string)
	if _, limited := g.limited(addr, token); limited {
		g.refused.Add(1)
		return ErrTooManyWrongKeys
	}
	err := lookup()
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	switch {
	case err == nil:
		if len(g.good) >= maxTracked {
			clear(g.good)
		}
		g.good[sha256.Sum256([]byte(token))] = now.Add(keepGoodKeys)
	case g.unknown(err):
		g.wrong.Add(1)
		b := g.addrs[addr]
		if b == nil {
			if len(g.addrs) >= maxTracked {
				g.forgetRested(now)
			}
			b = &wrongKeys{tokens: WrongKeyBurst, at: now}
			g.addrs[addr] = b
		}
		g.refill(b, now)
		b.tokens = max(0, b.tokens-1)
	}
	return err
}

// forgetRested forgets the addresses whose allowance is whole again, or
// all of them if none is; g.mu is held.
func (g *KeyGuard) forgetRested(now time.Time) {
	for a, b := range g.addrs {
		if g.refill(b, now); b.tokens >= WrongKeyBurst {
			delete(g.addrs, a)
		}
	}
	if len(g.addrs) >= maxTracked {
		clear(g.addrs)
	}
}

// Operators guards an operators' authenticator.
func (g *KeyGuard) Operators(a Authenticator) Authenticator { return guardedOperators{a, g} }

// Staff guards a staff authenticator.
func (g *KeyGuard) Staff(a StaffAuthenticator) StaffAuthenticator { return guardedStaff{a, g} }

type guardedOperators struct {
	a Authenticator
	g *KeyGuard
}

func (o guardedOperators) OperatorByToken(ctx context.Context, token string) (op screenpop.Operator, err error) {
	err = o.g.check(ctx, token, func() error {
		op, err = o.a.OperatorByToken(ctx, token)
		return err
	})
	return op, err
}

type guardedStaff struct {
	a StaffAuthenticator
	g *KeyGuard
}

func (s guardedStaff) StaffByToken(ctx context.Context, token string) (st screenpop.Staff, err error) {
	err = s.g.check(ctx, token, func() error {
		st, err = s.a.StaffByToken(ctx, token)
		return err
	})
	if err == nil {
		s.g.mu.Lock()
		if len(s.g.staff) >= maxTracked {
			clear(s.g.staff)
		}
		s.g.staff[sha256.Sum256([]byte(token))] = s.g.now().Add(keepGoodKeys)
		s.g.mu.Unlock()
	}
	return st, err
}

// StaffSeen reports whether token opened a staff page lately: what can
// still be told to staff while the database that holds the tokens is
// down.
func (g *KeyGuard) StaffSeen(token string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.staff[sha256.Sum256([]byte(token))]
	return ok && g.now().Before(until)
}

// GuardKeys puts the server's operators' keys behind g, and every request
// through g's Handler. Guard the staff's authenticator with g.Staff where
// staff handlers are mounted. Call it before serving.
func (s *Server) GuardKeys(g *KeyGuard) {
	s.sockets.auth = g.Operators(s.sockets.auth)
	s.front = g.Handler(s.mux)
}
