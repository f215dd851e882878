#!/bin/sh
# Compares ways to decode the recorded ARI events into small structs of
# our own (the README's Performance section has the figures): the
# decoder as it was at ac94db0 (a hand-written scanner, decode_fast.go),
# the decoder as it is (package ari), and encoding/json,
# go-json-experiment/json, goccy/go-json and easyjson (generated:
# wire_easyjson.go) into the same fields, each plain and with pooled
# structs. A module of its own, under testdata, so that none of these
# libraries is a dependency of screenpop.
#
#	sh ari/testdata/decodecompare/run.sh   # COUNT=10 by default
set -e
cd "$(dirname "$0")"
rm -rf oldari && mkdir oldari
for f in decode.go decode_events.go decode_fast.go; do
	git show ac94db0:ari/$f | sed 's/^package ari$/package oldari/' >oldari/$f
done
go test -count=1 -run 'Test' -v . | grep -E '^(---|ok|FAIL)'
go test -run '^$' -bench BenchmarkUsed -benchtime=100x -count="${COUNT:-10}" . | tee bench.out | grep -E '^(goos|goarch|cpu)'
awk -f med.awk bench.out | sort
