package screenpop

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Source says what a dialled number (DID) advertised from one date to
// another: a radio spot, the web site's number, a billboard. Every call
// to the number in that period is logged with it.
type Source struct {
	ID int64 `json:"id"`
	// DID is the number as DIDKey normalises it.
	DID      string `json:"did"`
	Source   string `json:"source"`
	Campaign string `json:"campaign"`
	// From is the first instant the mapping holds; To the first it no
	// longer does, nil while it holds until further notice.
	From time.Time  `json:"from"`
	To   *time.Time `json:"to"`
	// Internal marks an employee's direct line rather than an advertised
	// number: its calls are of kind internal.
	Internal bool `json:"internal"`
}

// Check reports what is wrong with s, all at once.
func (s Source) Check() error {
	var errs []error
	if strings.TrimSpace(s.DID) == "" {
		errs = append(errs, errors.New("the dialled number (DID) is empty"))
	}
	if strings.TrimSpace(s.Source) == "" {
		errs = append(errs, errors.New("the source name is empty"))
	}
	if s.From.IsZero() {
		errs = append(errs, errors.New("the start date is missing"))
	}
	if s.To != nil && !s.To.After(s.From) {
		errs = append(errs, fmt.Errorf("the end %s is not after the start %s",
			s.To.Format(time.DateOnly), s.From.Format(time.DateOnly)))
	}
	return errors.Join(errs...)
}

// Overlaps reports whether s and o map the same number at some instant.
func (s Source) Overlaps(o Source) bool {
	if s.DID != o.DID {
		return false
	}
	endsAfter := func(a Source, t time.Time) bool { return a.To == nil || a.To.After(t) }
	return endsAfter(s, o.From) && endsAfter(o, s.From)
}

// Holds reports whether the mapping is valid at t.
func (s Source) Holds(t time.Time) bool {
	return !t.Before(s.From) && (s.To == nil || t.Before(*s.To))
}

// SourceName names the source a dialled number advertised at an instant,
// among sources; "" when none of them maps it then.
func SourceName(sources []Source, did string, at time.Time, region string) string {
	if strings.TrimSpace(did) == "" {
		return ""
	}
	key := DIDKey(did, region)
	for _, s := range sources {
		if s.DID == key && s.Holds(at) {
			return s.Source
		}
	}
	return ""
}

// DIDKey is the form a dialled number is matched in: its E.164 form when
// it has one, so that 74951112233, 84951112233 and +7 (495) 111-22-33 are
// one line; otherwise the number as given, without spaces.
func DIDKey(did, region string) string {
	if n := ParseNumber(did, region); n.E164 != "" {
		return n.E164
	}
	return strings.Join(strings.Fields(did), "")
}

// PresetKind is the caller kind a call's own fields decide, before any
// lookup: withheld for a hidden number, internal for a short extension's.
// It is "" when the client base and the call log must decide.
func PresetKind(c Call) CallerKind {
	switch {
	case c.CallerKind != "":
		return c.CallerKind
	case c.Withheld:
		return KindWithheld
	case c.CallerE164 == nil && isExtension(c.Caller):
		return KindInternal
	}
	return ""
}

// isExtension reports whether s is a short number of digits, as internal
// extensions are (ParseNumber gives numbers of 7 digits and more a
// country).
func isExtension(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) >= 7 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
