package main

import "testing"

func TestTableCellsNeverSendControlCharactersToTheTerminal(t *testing.T) {
	for in, want := range map[string]string{
		"+79161234567":                 "+79161234567",
		"\x1b[2J\x1b]0;pwned\x07+7916": `\x1b[2J\x1b]0;pwned\x07+7916`,
		"Иван\u202eПетров":             `Иван\u202eПетров`,
		"a\u009bb":                     `a\x9bb`,
		"line\nbreak\ttab":             "line break tab",
		"bad\xffutf8":                  `bad\ufffdutf8`,
		"":                             "-",
	} {
		if got := tableCell(in); got != want {
			t.Errorf("tableCell(%q) = %q, want %q", in, got, want)
		}
	}
}
