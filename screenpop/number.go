package screenpop

import (
	"log/slog"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Number is a caller's number as the call log and the client lookup see it.
type Number struct {
	// Raw is what Asterisk sent, untouched.
	Raw string
	// E164 is the normalised form (+79161234567), "" when the number is
	// withheld or is not a phone number (a short internal extension).
	E164 string
	// Withheld is true when the caller hid their number: no lookup is done.
	Withheld bool
}

// LogValue is how a number is logged (slog.LogValuer): masked, for a phone
// number is personal data; "withheld" when the caller hid it.
func (n Number) LogValue() slog.Value {
	switch {
	case n.Withheld:
		return slog.StringValue("withheld")
	case n.E164 != "":
		return slog.StringValue(MaskNumber(n.E164))
	}
	return slog.StringValue(MaskNumber(n.Raw))
}

// MaskNumber hides all but the last digits of a phone number, for logs:
// phone numbers are personal data.
func MaskNumber(n string) string {
	if len(n) <= 4 {
		return "***"
	}
	return "***" + n[len(n)-4:]
}

// withheldWords are the caller IDs carriers and Asterisk put in place of a
// hidden number, lower-cased.
var withheldWords = map[string]bool{
	"anonymous": true, "restricted": true, "unavailable": true, "unknown": true,
	"private": true, "withheld": true, "blocked": true, "anonymous caller": true,
}

// ParseNumber normalises a caller number. region is the ISO country whose
// national forms are expected ("RU": 89161234567 means +79161234567).
// It never fails: a number that cannot be normalised keeps only Raw.
//
// Results are remembered (up to parsedMax numbers, then forgotten all at
// once): the lines dialled and the callers who call back are parsed again
// and again, at some 20 µs a parse by libphonenumber.
func ParseNumber(raw, region string) Number {
	k := numberKey{raw, region}
	parsed.Lock()
	n, ok := parsed.m[k]
	parsed.Unlock()
	if ok {
		return n
	}
	n = parseNumber(raw, region)
	parsed.Lock()
	if len(parsed.m) >= parsedMax {
		clear(parsed.m)
	}
	parsed.m[k] = n
	parsed.Unlock()
	return n
}

type numberKey struct{ raw, region string }

// parsedMax bounds the numbers ParseNumber remembers.
const parsedMax = 8192

var parsed = struct {
	sync.Mutex
	m map[numberKey]Number
}{m: make(map[numberKey]Number, parsedMax)}

func parseNumber(raw, region string) Number {
	n := Number{Raw: raw}
	s := strings.TrimSpace(raw)
	if s == "" || withheldWords[strings.ToLower(s)] {
		n.Withheld = true
		return n
	}
	// Some trunks send international numbers as 00 + country code;
	// libphonenumber only knows the region's own international prefix.
	if strings.HasPrefix(s, "00") && region != "" {
		s = "+" + s[2:]
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			// Letters and the like: not a number anyone can dial back.
			n.Withheld = true
			return n
		}
	}
	if digits == 0 {
		n.Withheld = true
		return n
	}
	// Short numbers are extensions or service numbers: no country to give.
	if digits < 7 {
		return n
	}
	pn, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsPossibleNumber(pn) {
		return n
	}
	e164 := phonenumbers.Format(pn, phonenumbers.E164)
	if len(e164) < 8 { // "+" and 7 digits, as above, after the parse
		return n
	}
	// A number outside the known ranges must at least normalise to itself,
	// or one caller would get two identities.
	if !phonenumbers.IsValidNumber(pn) {
		again, err := phonenumbers.Parse(e164, region)
		if err != nil || phonenumbers.Format(again, phonenumbers.E164) != e164 {
			return n
		}
	}
	n.E164 = e164
	return n
}

// ValidRegion reports whether region is a country code libphonenumber
// knows ("RU", "DE"...).
func ValidRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(region) != 0
}
