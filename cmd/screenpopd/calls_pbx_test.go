package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// Two boxes' calls with the same IDs, as the calls command lists them: a
// PBX column in the table (there only when a call has a box), a pbx field
// in JSON and CSV, and --pbx to list one box.
func TestCallsCommandListsBoxes(t *testing.T) {
	for _, st := range callLogStores {
		t.Run(st.name, func(t *testing.T) {
			flags := st.flags(t)
			cfg, err := load(t, flags...)
			if err != nil {
				t.Fatal(err)
			}
			db, err := store.OpenSeeded(t.Context(), storeConfig(cfg))
			if err != nil {
				t.Fatal(err)
			}
			var calls []screenpop.Call
			for _, pbx := range []string{"", "pbx1", "pbx2"} {
				for i, id := range []string{"1765000000.1", "1765000000.2"} {
					c := loggedCall(id, "89161234567", "74951112233", marchAt(14, 9, i), screenpop.StatusMissed, "101")
					c.PBX = pbx
					calls = append(calls, c)
				}
			}
			if err := db.SaveCalls(t.Context(), calls); err != nil {
				t.Fatal(err)
			}
			db.Close()

			keys := func(out string) []string {
				var ks []string
				for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
					id := regexp.MustCompile(`"call_id":"([^"]*)"`).FindStringSubmatch(l)
					pbx := regexp.MustCompile(`"pbx":"([^"]*)"`).FindStringSubmatch(l)
					if pbx == nil {
						pbx = []string{"", ""}
					}
					ks = append(ks, screenpop.CallKey(pbx[1], id[1]))
				}
				return ks
			}
			all := keys(callsCLI(t, flags, withDay(nil), "--format", "jsonl"))
			want := []string{"pbx2/1765000000.2", "pbx1/1765000000.2", "1765000000.2", "pbx2/1765000000.1", "pbx1/1765000000.1", "1765000000.1"}
			if !slices.Equal(all, want) {
				t.Errorf("listed %v, want %v", all, want)
			}
			for _, tt := range []struct{ pbx, want string }{
				{"pbx1", "pbx1/1765000000.2 pbx1/1765000000.1"}, {"", "1765000000.2 1765000000.1"}, {"pbx3", ""},
			} {
				out := callsCLI(t, flags, withDay([][2]string{{"pbx", tt.pbx}}), "--format", "jsonl")
				got := ""
				if strings.TrimSpace(out) != "" {
					got = strings.Join(keys(out), " ")
				}
				if got != tt.want {
					t.Errorf("--pbx %q listed %q, want %q", tt.pbx, got, tt.want)
				}
			}
			table := callsCLI(t, flags, withDay(nil))
			lines := strings.Split(strings.TrimSpace(table), "\n")
			if !regexp.MustCompile(`^PBX\s+STARTED\s+DIR`).MatchString(lines[0]) || !regexp.MustCompile(`^pbx2\s+2026-03-14 09:01:00\s+in`).MatchString(lines[1]) ||
				!regexp.MustCompile(`^-\s+2026-03-14 09:01:00\s+in`).MatchString(lines[3]) || lines[7] != "6 calls" {
				t.Errorf("the table of two boxes:\n%s", table)
			}
			one := callsCLI(t, flags, withDay([][2]string{{"pbx", ""}}))
			if !strings.HasPrefix(one, "STARTED") {
				t.Errorf("the table of the one box has a PBX column:\n%s", one)
			}
			csv := callsCLI(t, flags, withDay([][2]string{{"pbx", "pbx2"}}), "--format", "csv")
			rows := strings.Split(strings.TrimSpace(csv), "\r\n")
			if !strings.HasSuffix(rows[0], ",lookup_name,pbx") || !strings.HasSuffix(rows[1], ",pbx2") || len(rows) != 3 {
				t.Errorf("the CSV of pbx2:\n%s", csv)
			}
		})
	}
}
