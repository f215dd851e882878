package screenpop

import (
	"fmt"
	"testing"
)

func TestParseNumber(t *testing.T) {
	tests := []struct {
		name, raw, region string
		want              Number
	}{
		{"international form stays as it is", "+79161234567", "RU", Number{Raw: "+79161234567", E164: "+79161234567"}},
		{"national form with trunk prefix 8 becomes international", "89161234567", "RU", Number{Raw: "89161234567", E164: "+79161234567"}},
		{"country code without plus is understood", "79161234567", "RU", Number{Raw: "79161234567", E164: "+79161234567"}},
		{"ten digits without prefix are national", "9161234567", "RU", Number{Raw: "9161234567", E164: "+79161234567"}},
		{"formatting characters are ignored", "+7 (916) 123-45-67", "RU", Number{Raw: "+7 (916) 123-45-67", E164: "+79161234567"}},
		{"00 international prefix is understood", "0049301234567", "RU", Number{Raw: "0049301234567", E164: "+49301234567"}},
		{"foreign number in plus form", "+442079460018", "RU", Number{Raw: "+442079460018", E164: "+442079460018"}},
		{"anonymous is withheld", "anonymous", "RU", Number{Raw: "anonymous", Withheld: true}},
		{"Restricted is withheld whatever its case", "Restricted", "RU", Number{Raw: "Restricted", Withheld: true}},
		{"Unavailable is withheld", "Unavailable", "RU", Number{Raw: "Unavailable", Withheld: true}},
		{"empty is withheld", "", "RU", Number{Raw: "", Withheld: true}},
		{"blank is withheld", "   ", "RU", Number{Raw: "   ", Withheld: true}},
		{"letters are withheld", "abc123", "RU", Number{Raw: "abc123", Withheld: true}},
		{"a short extension is a number without E.164", "101", "RU", Number{Raw: "101"}},
		{"garbage digits that are no possible number keep only the raw form", "+0000000000000000000", "RU", Number{Raw: "+0000000000000000000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseNumber(tt.raw, tt.region); got != tt.want {
				t.Errorf("ParseNumber(%q, %q) = %+v, want %+v", tt.raw, tt.region, got, tt.want)
			}
			if got := ParseNumber(tt.raw, tt.region); got != tt.want {
				t.Errorf("ParseNumber(%q, %q) remembered = %+v, want %+v", tt.raw, tt.region, got, tt.want)
			}
		})
	}
}

func TestParseNumberRemembersPerRegionAndWithinItsBound(t *testing.T) {
	if got := ParseNumber("89161234567", "RU"); got.E164 != "+79161234567" {
		t.Fatalf("RU: %+v", got)
	}
	// The same digits in another country are another number.
	if got, want := ParseNumber("89161234567", "DE"), parseNumber("89161234567", "DE"); got != want || got.E164 == "+79161234567" {
		t.Fatalf("DE: %+v, want %+v", got, want)
	}
	for i := range parsedMax + 10 {
		ParseNumber(fmt.Sprintf("+7916%07d", i), "RU")
	}
	parsed.Lock()
	n := len(parsed.m)
	parsed.Unlock()
	if n > parsedMax {
		t.Fatalf("%d numbers remembered, the bound is %d", n, parsedMax)
	}
	if got := ParseNumber("+79160000001", "RU"); got.E164 != "+79160000001" {
		t.Fatalf("after forgetting: %+v", got)
	}
}

func BenchmarkParseNumber(b *testing.B) {
	b.Run("new", func(b *testing.B) {
		for i := range b.N {
			parseNumber(fmt.Sprintf("8916%07d", i%10000000), "RU")
		}
	})
	b.Run("remembered", func(b *testing.B) {
		for range b.N {
			ParseNumber("74953334455", "RU")
		}
	})
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"+79161234567", "89161234567", "anonymous", "", "101", "0049301234567", "+7 (916) 123-45-67", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n := ParseNumber(raw, "RU")
		if n.Raw != raw {
			t.Fatalf("Raw changed: %q -> %q", raw, n.Raw)
		}
		if n.Withheld && n.E164 != "" {
			t.Fatalf("withheld number %q has E.164 %q", raw, n.E164)
		}
		if n.E164 != "" {
			// Normalising is idempotent: the E.164 form parses to itself.
			if again := ParseNumber(n.E164, "RU"); again.E164 != n.E164 {
				t.Fatalf("%q -> %q -> %q", raw, n.E164, again.E164)
			}
		}
	})
}
