package ari

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// libraryDecode is Decode as it was before the fast path: every event
// through the library's event types with encoding/json.
func (d *Decoder) libraryDecode(data []byte) (screenpop.Event, string, error) {
	typ, err := EventType(data)
	if err != nil {
		return screenpop.Event{}, "", err
	}
	if !allowed[typ] {
		if knownTypes[typ] {
			return screenpop.Event{}, typ, ErrSkipped
		}
		return screenpop.Event{}, typ, ErrUnknownType
	}
	if typ == "ChannelVarset" {
		return d.decodeVarset(data) // it has no fast path to compare
	}
	ev, err := d.decodeLibrary(typ, data)
	if err != nil {
		return screenpop.Event{}, typ, fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	return ev, typ, nil
}

// sameDecoding fails t unless Decode and the library's way agree on data:
// the same event, type and error.
func sameDecoding(t *testing.T, dec *Decoder, data []byte) {
	t.Helper()
	ev, typ, err := dec.Decode(data)
	wantEv, wantTyp, wantErr := dec.libraryDecode(data)
	if typ != wantTyp || fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("Decode(%s) = type %q, error %v; the library's way: type %q, error %v", data, typ, err, wantTyp, wantErr)
	}
	if d := cmp.Diff(wantEv, ev); d != "" {
		t.Fatalf("Decode(%s): event differs from the library's way (-library +fast):\n%s", data, d)
	}
	// The time's location too, which cmp (by Time.Equal) does not see.
	if ev.At.String() != wantEv.At.String() || ev.Channel.CreatedAt.String() != wantEv.Channel.CreatedAt.String() ||
		ev.Peer.CreatedAt.String() != wantEv.Peer.CreatedAt.String() {
		t.Fatalf("Decode(%s): times %v, %v, %v; the library's way %v, %v, %v", data,
			ev.At, ev.Channel.CreatedAt, ev.Peer.CreatedAt, wantEv.At, wantEv.Channel.CreatedAt, wantEv.Peer.CreatedAt)
	}
}

// fuzzCorpus reads the FuzzDecode seed files, which hold the broken
// events.
func fuzzCorpus(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecode", "*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no FuzzDecode corpus: %v", err)
	}
	corpus := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, v, ok := strings.Cut(strings.TrimSpace(string(b)), "\n")
		v, ok2 := strings.CutPrefix(v, "[]byte(")
		v, ok3 := strings.CutSuffix(v, ")")
		s, err := strconv.Unquote(v)
		if !ok || !ok2 || !ok3 || err != nil {
			t.Fatalf("%s: not a []byte corpus entry", p)
		}
		corpus[filepath.Base(p)] = []byte(s)
	}
	return corpus
}

func TestFastDecodeAgreesWithTheLibrary(t *testing.T) {
	dec := NewDecoder("FROM_DID")
	t.Run("on every recorded event", func(t *testing.T) {
		for _, l := range allTraceLines(t) {
			sameDecoding(t, dec, l)
		}
	})
	t.Run("on every fuzz corpus entry", func(t *testing.T) {
		for name, data := range fuzzCorpus(t) {
			t.Run(name, func(t *testing.T) { sameDecoding(t, dec, data) })
		}
	})
	t.Run("on every recorded event with a field changed", func(t *testing.T) {
		for _, l := range representatives(t) {
			for _, m := range mutations(t, l) {
				sameDecoding(t, dec, m)
			}
		}
	})
	t.Run("with other channel variables", func(t *testing.T) {
		for _, dec := range []*Decoder{
			{DIDVariable: "CHANNEL(linkedid)", LinkedIDVariable: "FROM_DID"},
			{DIDVariable: "CHANNEL(linkedid)", LinkedIDVariable: "CHANNEL(linkedid)"},
			{DIDVariable: "", LinkedIDVariable: "NONE"},
		} {
			for _, l := range representatives(t) {
				sameDecoding(t, dec, l)
			}
		}
	})
}

func TestFastDecodeTakesEveryRecordedEvent(t *testing.T) {
	// The fast path is worth having only if it takes what Asterisk sends.
	dec := NewDecoder("FROM_DID")
	for _, l := range allTraceLines(t) {
		typ, err := EventType(l)
		if err != nil || !allowed[typ] || libraryOnly[typ] {
			continue
		}
		if _, ok := dec.decodeFast(typ, l); !ok {
			t.Errorf("the fast path left this event to the library: %s", l)
		}
	}
}

// representatives is the first recorded event of each type the decoder
// reads, and each type it skips.
func representatives(t testing.TB) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	for _, l := range allTraceLines(t) {
		typ, err := EventType(l)
		if err != nil || seen[typ] {
			continue
		}
		seen[typ] = true
		out = append(out, l)
	}
	return out
}

// mutations are data with one thing changed: each value, at any depth,
// replaced by values of other JSON types, or strings the fast path must
// leave to the library; each key in other case, or removed.
func mutations(t testing.TB, data []byte) [][]byte {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	values := []any{nil, 0, -3, 1.5, 1e3, true, "", "x", `a"b`, "\u00e9", "2026-11-24T23:00:36.321+0300",
		"9999-12-31T23:59:59.999-1000", "0001-01-01T00:00:00.000+0000", map[string]any{}, []any{}, []any{"a", nil}}
	var out [][]byte
	add := func() {
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		}) {
			v := m[k]
			for _, nv := range values {
				m[k] = nv
				add()
			}
			m[k] = v
			delete(m, k)
			add()
			m[strings.ToUpper(k[:1])+k[1:]] = v
			add()
			delete(m, strings.ToUpper(k[:1])+k[1:])
			m[k] = v
			if sub, ok := v.(map[string]any); ok {
				walk(sub)
			}
		}
	}
	walk(doc)
	// Raw changes json.Marshal would not make.
	s := string(data)
	for _, r := range [][2]string{
		{`"id":"`, `"id":"\u0041`}, {`"type":"`, `"type" : "`}, {`{`, "\ufeff{"}, {`"channel":{`, `"channel":{"id":"dup",`},
		{`"timestamp":`, `"timestamp":"2026-11-24T23:00:36.321+0000","timestamp":`}, {`}`, `}}`}, {`"name":"`, "\"name\":\"\xff"},
		{`"caller":{`, `"caller":{"name":"a","name":"b",`}, {`"FROM_DID":`, `"FROM_DID":"1","FROM_DID":`}, {`:`, `:[`},
		{`"channelvars":{`, "\"channelvars\":{\"\xff\":\"1\","}, {`"dialplan":{`, `"dialplan":{"priority":01,`},
		{`"dialplan":{`, `"dialplan":{"priority":1e2,`}, {`"dialplan":{`, `"dialplan":{"priority":99999999999999999999,`},
		{`"channel":{`, `"channel":{"key":{"kind":"channel"},`}, {`"channel":{`, `"channel":{"language":5,"x":[1,{"y":null}],`},
	} {
		if strings.Contains(s, r[0]) {
			out = append(out, []byte(strings.Replace(s, r[0], r[1], 1)))
		}
	}
	for i := 0; i < len(data); i += max(1, len(data)/20) {
		out = append(out, data[:i]) // truncated
	}
	return out
}

// FuzzFastDecode checks that the fast path and the library's way agree
// on whatever comes in.
//
//	go test -run '^$' -fuzz FuzzFastDecode -fuzztime 5m ./ari/
func FuzzFastDecode(f *testing.F) {
	for _, l := range allTraceLines(f) {
		f.Add(l)
	}
	for _, data := range fuzzCorpus(f) {
		f.Add(data)
	}
	dec := NewDecoder("FROM_DID")
	f.Fuzz(func(t *testing.T, data []byte) {
		sameDecoding(t, dec, data)
	})
}

func TestFastDecodeKnowsTheLibrarysFields(t *testing.T) {
	// encoding/json reads a field it knows and type-checks its value, and
	// ignores the others; the fast path must know the same fields, or it
	// would take an event the library refuses.
	types := map[string]any{
		"ChannelCreated": ariv5.ChannelCreated{}, "ChannelStateChange": ariv5.ChannelStateChange{},
		"ChannelCallerId": ariv5.ChannelCallerID{}, "ChannelHangupRequest": ariv5.ChannelHangupRequest{},
		"ChannelDestroyed": ariv5.ChannelDestroyed{}, "Dial": ariv5.Dial{},
		"ChannelEnteredBridge": ariv5.ChannelEnteredBridge{}, "ChannelLeftBridge": ariv5.ChannelLeftBridge{},
		"StasisStart": ariv5.StasisStart{}, "StasisEnd": ariv5.StasisEnd{},
		"ApplicationReplaced": ariv5.EventData{}, // decodeLibrary's type for it
	}
	var all []string // every field name of those types
	for _, v := range types {
		for _, name := range jsonFields(reflect.TypeOf(v)) {
			if !slices.Contains(all, name) {
				all = append(all, name)
			}
		}
	}
	slices.Sort(all)
	for _, typ := range AllowedEvents {
		if libraryOnly[typ] {
			continue
		}
		v, ok := types[typ]
		if !ok {
			t.Errorf("no library type listed for %s", typ)
			continue
		}
		_, mask, ok := eventFields(typ)
		if !ok {
			t.Errorf("the fast path does not decode %s", typ)
			continue
		}
		var fast []string
		for _, name := range all {
			if f := eventField([]byte(name)); f >= 0 && mask&(1<<f) != 0 {
				fast = append(fast, name)
			}
		}
		lib := jsonFields(reflect.TypeOf(v))
		slices.Sort(lib)
		if d := cmp.Diff(lib, fast); d != "" {
			t.Errorf("%s: fields (-library +fast path):\n%s", typ, d)
		}
	}
	for _, c := range []struct {
		v    any
		want []string
	}{
		{ariv5.CallerID{}, []string{"name", "number"}},
		{ariv5.DialplanCEP{}, []string{"context", "exten", "priority"}},
		{ariv5.BridgeData{}, []string{"bridge_class", "bridge_type", "channels", "creator", "id", "key", "name", "technology"}},
	} {
		got := jsonFields(reflect.TypeOf(c.v))
		slices.Sort(got)
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%T: fields (-fast path +library):\n%s", c.v, d)
		}
	}
}

// jsonFields is the JSON names encoding/json decodes into a struct.
func jsonFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case tag == "-" || !f.IsExported():
		case f.Anonymous && name == "":
			names = append(names, jsonFields(f.Type)...)
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	return names
}
