package ari

import (
	"bytes"
	"encoding/json"
	"errors"
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

// sameDecoding fails t unless Decode and the library's way give the same
// event, type and error on data.
func sameDecoding(t *testing.T, dec *Decoder, data []byte) {
	t.Helper()
	ev, typ, err := dec.Decode(data)
	wantEv, wantTyp, wantErr := dec.libraryDecode(data)
	if typ != wantTyp || fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("Decode(%s) = type %q, error %v; the library's way: type %q, error %v", data, typ, err, wantTyp, wantErr)
	}
	sameEvent(t, data, wantEv, ev)
}

// sameEvent fails t unless the events are the same, their times' locations too
// (which cmp, by Time.Equal, does not see).
func sameEvent(t *testing.T, data []byte, want, got screenpop.Event) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Decode(%s): event differs from the library's way (-library +Decode):\n%s", data, d)
	}
	if got.At.String() != want.At.String() || got.Channel.CreatedAt.String() != want.Channel.CreatedAt.String() ||
		got.Peer.CreatedAt.String() != want.Peer.CreatedAt.String() {
		t.Fatalf("Decode(%s): times %v, %v, %v; the library's way %v, %v, %v", data,
			got.At, got.Channel.CreatedAt, got.Peer.CreatedAt, want.At, want.Channel.CreatedAt, want.Peer.CreatedAt)
	}
}

// errorClass is which of the decoder's errors err is.
func errorClass(err error) error {
	for _, class := range []error{ErrSkipped, ErrUnknownType, ErrMalformed} {
		if errors.Is(err, class) {
			return class
		}
	}
	return err
}

// agrees fails t if Decode takes data otherwise than the library would
// take the fields call tracking reads: it may refuse as malformed what
// the library takes or skips (names in another case, duplicate names,
// invalid UTF-8, a wrong value in a field the library's type for that
// event lacks), but
// what it accepts, the library accepts too and makes the same event of,
// once the fields Decode does not read are taken out (and those that are
// null: the library's times refuse a null, Decode reads it as missing, as
// encoding/json does every other null). It reports whether
// Decode accepted data.
func agrees(t *testing.T, dec *Decoder, data []byte) bool {
	t.Helper()
	ev, typ, err := dec.Decode(data)
	if err != nil {
		if c := errorClass(err); c != ErrSkipped && c != ErrUnknownType && c != ErrMalformed {
			t.Fatalf("Decode(%s): error %v is none of skipped, unknown type, malformed", data, err)
		}
		_, wantTyp, wantErr := dec.libraryDecode(data)
		if wantErr == nil && errorClass(err) != ErrMalformed {
			t.Fatalf("Decode(%s) = %v; the library's way takes it", data, err)
		}
		if wantErr != nil && errorClass(err) != errorClass(wantErr) && errorClass(err) != ErrMalformed {
			t.Fatalf("Decode(%s) = type %q, error %v; the library's way: type %q, error %v", data, typ, err, wantTyp, wantErr)
		}
		return false
	}
	read := readFields(t, data)
	wantEv, wantTyp, wantErr := dec.libraryDecode(read)
	if wantErr != nil || wantTyp != typ {
		t.Fatalf("Decode(%s) = %s event; the library's way, on the fields it reads (%s): type %q, error %v", data, typ, read, wantTyp, wantErr)
	}
	sameEvent(t, data, wantEv, ev)
	return true
}

// channelFields are the fields of a channel Decode reads (nil: all of a
// map's members), eventFields those of an event.
var (
	channelFields = map[string]map[string]any{
		"id": nil, "name": nil, "state": nil, "creationtime": nil, "channelvars": nil,
		"caller": {"name": nil, "number": nil}, "dialplan": {"context": nil, "exten": nil},
	}
	eventFields = map[string]any{
		"type": nil, "timestamp": nil, "cause": nil, "cause_txt": nil, "soft": nil, "caller_presentation": nil,
		"dialstatus": nil, "dialstring": nil, "bridge": map[string]any{"id": nil}, "args": nil, "variable": nil, "value": nil,
		"exten": nil, "context": nil, "result": nil,
		"channel": channelFields, "caller": channelFields, "peer": channelFields, "transferee": channelFields,
		"transferer_first_leg": channelFields, "transferer_second_leg": channelFields, "transfer_target": channelFields,
	}
)

// readFields is data with only the members Decode reads (eventFields).
func readFields(t *testing.T, data []byte) []byte {
	t.Helper()
	var doc any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber() // as written: 1e3 is no int to the library
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("Decode took %s, which is not JSON: %v", data, err)
	}
	var prune func(v any, fields map[string]any) any
	prune = func(v any, fields map[string]any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := map[string]any{}
		for k, sub := range m {
			f, ok := fields[k]
			if !ok || sub == nil {
				continue
			}
			switch f := f.(type) {
			case map[string]any:
				sub = prune(sub, f)
			case map[string]map[string]any:
				sub = prune(sub, anyFields(f))
			}
			out[k] = sub
		}
		return out
	}
	b, err := json.Marshal(prune(doc, eventFields))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func anyFields(f map[string]map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range f {
		if v == nil {
			out[k] = nil
		} else {
			out[k] = v
		}
	}
	return out
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

func TestDecodeAgreesWithTheLibrary(t *testing.T) {
	dec := NewDecoder("FROM_DID")
	t.Run("on every recorded event", func(t *testing.T) {
		used := 0
		for _, l := range allTraceLines(t) {
			sameDecoding(t, dec, l)
			if _, _, err := dec.Decode(l); err == nil {
				used++
			}
		}
		if used < 1000 {
			t.Errorf("only %d recorded events are used: the traces are missing some", used)
		}
	})
	t.Run("on every fuzz corpus entry", func(t *testing.T) {
		for name, data := range fuzzCorpus(t) {
			t.Run(name, func(t *testing.T) {
				agrees(t, dec, data)
				// What the library refused (broken on purpose, most of them)
				// must be refused as it was.
				_, _, err := dec.Decode(data)
				if _, _, wantErr := dec.libraryDecode(data); wantErr != nil && errorClass(err) != errorClass(wantErr) {
					t.Errorf("Decode(%s) = %v; the library's way: %v", data, err, wantErr)
				}
				t.Logf("%v", err)
			})
		}
	})
	t.Run("on every recorded event with a field changed", func(t *testing.T) {
		var took, refused, stricter int
		for _, l := range representatives(t) {
			for _, m := range mutations(t, l) {
				if agrees(t, dec, m) {
					took++
				} else if _, _, err := dec.libraryDecode(m); err == nil {
					stricter++
					if testing.Verbose() {
						_, _, err := dec.Decode(m)
						t.Logf("refused where the library took it: %v", err)
					}
				} else {
					refused++
				}
			}
		}
		t.Logf("%d changed events taken, %d refused, and %d refused that the library took", took, refused, stricter)
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
// replaced by values of other JSON types, or strings with escapes, odd
// times and the like; each key in other case, or removed.
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

// FuzzDecodeAgrees checks that Decode and the library's way agree (as
// agrees says) on whatever comes in.
//
//	go test -run '^$' -fuzz FuzzDecodeAgrees -fuzztime 5m ./ari/
func FuzzDecodeAgrees(f *testing.F) {
	for _, l := range allTraceLines(f) {
		f.Add(l)
	}
	for _, data := range fuzzCorpus(f) {
		f.Add(data)
	}
	dec := NewDecoder("FROM_DID")
	f.Fuzz(func(t *testing.T, data []byte) {
		agrees(t, dec, data)
	})
}

func TestDecodeReadsTheLibrarysFields(t *testing.T) {
	// The fields Decode reads are named as the library names them: a
	// name misspelt would read nothing, silently.
	lib := map[string][]string{"event": nil, "channel": jsonFields(reflect.TypeFor[channelDataJSON]()),
		"caller": jsonFields(reflect.TypeFor[ariv5.CallerID]()), "dialplan": jsonFields(reflect.TypeFor[ariv5.DialplanCEP]()),
		"bridge": jsonFields(reflect.TypeFor[ariv5.BridgeData]())}
	for _, v := range []any{ariv5.ChannelCreated{}, ariv5.ChannelStateChange{}, ariv5.ChannelCallerID{},
		ariv5.ChannelHangupRequest{}, ariv5.ChannelDestroyed{}, ariv5.Dial{}, ariv5.ChannelEnteredBridge{},
		ariv5.ChannelLeftBridge{}, ariv5.StasisStart{}, ariv5.StasisEnd{}, ariv5.ChannelVarset{},
		ariv5.BridgeBlindTransfer{}, ariv5.BridgeAttendedTransfer{}} {
		lib["event"] = append(lib["event"], jsonFields(reflect.TypeOf(v))...)
	}
	for _, c := range []struct {
		what string
		v    any
	}{
		{"event", wireEvent{}}, {"channel", wireChannel{}}, {"caller", wireChannel{}.Caller},
		{"dialplan", wireChannel{}.Dialplan}, {"bridge", wireEvent{}.Bridge},
	} {
		for _, name := range wireFields(reflect.TypeOf(c.v)) {
			if !slices.Contains(lib[c.what], name) {
				t.Errorf("Decode reads %q in the %s; the library has no such field there", name, c.what)
			}
		}
	}
}

// channelDataJSON is the library's private type into which
// ChannelData.UnmarshalJSON decodes a channel: its fields.
type channelDataJSON struct {
	Key          *ariv5.Key         `json:"key,omitempty"`
	ID           string             `json:"id"`
	Name         string             `json:"name"`
	State        string             `json:"state"`
	Accountcode  string             `json:"accountcode"`
	Caller       *ariv5.CallerID    `json:"caller"`
	Connected    *ariv5.CallerID    `json:"connected"`
	Creationtime ariv5.DateTime     `json:"creationtime"`
	Dialplan     *ariv5.DialplanCEP `json:"dialplan"`
	ChannelVars  map[string]string  `json:"channelvars"`
}

// wireFields is the JSON names go-json-experiment/json decodes into a
// struct: a field without a name in its tag is matched by its Go name.
func wireFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
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
