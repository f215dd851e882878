package screenpop

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestALoggedNumberNeverPrintsInFull(t *testing.T) {
	// Without the time, whose digits could pass for a number's.
	noTime := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, noTime) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, noTime) },
	}
	ways := map[string]func(*slog.Logger, Number){
		"as an attribute":       func(l *slog.Logger, n Number) { l.Info("call", "caller", n) },
		"with slog.Any":         func(l *slog.Logger, n Number) { l.Info("call", slog.Any("caller", n)) },
		"in a group":            func(l *slog.Logger, n Number) { l.Info("call", slog.Group("call", "caller", n)) },
		"on a logger's context": func(l *slog.Logger, n Number) { l.With("caller", n).Info("call") },
	}
	tests := []struct {
		name, raw, shown string
	}{
		{"an international number shows its last four digits", "+79161234567", "***4567"},
		{"a national number shows its E.164 form's last four", "89161234567", "***4567"},
		{"a number with formatting shows the last four of its E.164 form", "+7 (916) 123-45-67", "***4567"},
		{"a number that is no possible phone number shows its last four characters", "+0000000000000000000", "***0000"},
		{"a short extension shows nothing of itself", "101", "***"},
		{"a withheld number says so", "anonymous", "withheld"},
	}
	for _, tt := range tests {
		n := ParseNumber(tt.raw, "RU")
		for hname, h := range handlers {
			for wname, log := range ways {
				t.Run(tt.name+", "+wname+", "+hname, func(t *testing.T) {
					var b bytes.Buffer
					log(slog.New(h(&b)), n)
					out := b.String()
					if !strings.Contains(out, tt.shown) {
						t.Errorf("logged %q; want the number shown as %q", out, tt.shown)
					}
					for _, full := range []string{n.Raw, n.E164} {
						if leaks(out, full) {
							t.Errorf("logged %q: more of %q than its last four digits", out, full)
						}
					}
				})
			}
		}
	}
}

// leaks reports whether out holds more of number's digits than the last
// four: any five of them in a row.
func leaks(out, number string) bool {
	var digits []byte
	for i := 0; i < len(number); i++ {
		if '0' <= number[i] && number[i] <= '9' {
			digits = append(digits, number[i])
		}
	}
	if len(digits) <= 4 {
		return len(digits) > 0 && strings.Contains(out, string(digits))
	}
	for i := 0; i+5 <= len(digits); i++ {
		if strings.Contains(out, string(digits[i:i+5])) {
			return true
		}
	}
	return false
}
