package runlog

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mockloop/mockloop/internal/golden"
	"github.com/mockloop/mockloop/internal/schematest"
)

// The published schemas (docs/schemas/) are themselves valid 2020-12
// schemas, of this SchemaVersion, and the goldens of this package follow
// them.
func TestSchemasValidateGoldens(t *testing.T) {
	for _, tc := range []struct{ schema, golden string }{
		{"manifest", "testdata/manifest_running.golden.json"},
		{"manifest", "testdata/manifest_closed.golden.json"},
		{"result", "testdata/result.golden.json"},
		{"result", "testdata/result_interrupted.golden.json"},
		{"result", "testdata/result_pass.golden.json"},
	} {
		s := schematest.Compile(t, tc.schema)
		if err := schematest.Validate(s, readFile(t, ".", tc.golden)); err != nil {
			t.Errorf("%s against %s.schema.json: %v", tc.golden, tc.schema, err)
		}
	}
	for _, name := range []string{"manifest", "result"} {
		doc := schematest.Doc(t, name).(map[string]any)
		if id, _ := doc["$id"].(string); !strings.Contains(id, "/"+SchemaVersion+"/") {
			t.Errorf("%s.schema.json: $id %q does not name version %s", name, id, SchemaVersion)
		}
		if v := prop(doc, "schema_version")["const"]; v != SchemaVersion {
			t.Errorf("%s.schema.json: schema_version const %v, want %s", name, v, SchemaVersion)
		}
	}
	// A file that lacks a key, has one more, or a wrong enum fails.
	s := schematest.Compile(t, "result")
	good := string(readFile(t, ".", "testdata/result_pass.golden.json"))
	for _, bad := range []string{
		strings.Replace(good, `"abort_reason": null,`, "", 1),
		strings.Replace(good, `"frames": 0,`, `"frames": 0, "extra": 1,`, 1),
		strings.Replace(good, `"outcome": "pass"`, `"outcome": "passed"`, 1),
		strings.Replace(good, `"host": null`, `"host": 3`, 1),
	} {
		if bad == good {
			t.Fatal("golden changed: the edit did not apply")
		}
		if schematest.Validate(s, []byte(bad)) == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

// TestResultPassGolden pins down the smallest result a run makes: a pass
// with nothing in it, every key there.
func TestResultPassGolden(t *testing.T) {
	r, _ := create(t, testRunID)
	if err := r.Close(Result{Outcome: OutcomePass, DurationS: 0.5}); err != nil {
		t.Fatal(err)
	}
	b := readFile(t, r.Dir(), resultFile)
	golden.Check(t, "testdata/result_pass.golden.json", b)
}

// Every key of the Go types of manifest.json and result.json is in the
// schema, required, and allows null exactly when the Go field can be
// written null; the schema has no key the types lack. A key added to Go
// without the schema fails here.
func TestSchemasListEveryKey(t *testing.T) {
	for name, typ := range map[string]reflect.Type{"manifest": reflect.TypeFor[Manifest](), "result": reflect.TypeFor[Result]()} {
		doc := schematest.Doc(t, name).(map[string]any)
		checkKeys(t, name, doc, doc, typ, map[reflect.Type]bool{})
	}
}

// wireTypes are the types whose JSON is another struct's (custom
// MarshalJSON).
var wireTypes = map[reflect.Type]reflect.Type{reflect.TypeFor[ChannelStats](): reflect.TypeFor[statsJSON]()}

// checkKeys holds the struct type typ to the object schema node of file
// name, then the types of its fields to their $defs.
func checkKeys(t *testing.T, name string, doc, node map[string]any, typ reflect.Type, seen map[reflect.Type]bool) {
	t.Helper()
	seen[typ] = true
	where := name + ".schema.json " + typ.Name()
	if node == nil {
		t.Errorf("%s: no definition", where)
		return
	}
	wire := typ
	if w, ok := wireTypes[typ]; ok {
		wire = w
	}
	if node["additionalProperties"] != false || node["type"] != "object" {
		t.Errorf("%s: not an object with additionalProperties false", where)
	}
	props, _ := node["properties"].(map[string]any)
	var keys []string
	for _, f := range reflect.VisibleFields(wire) {
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || key == "-" {
			continue
		}
		keys = append(keys, key)
		p, ok := props[key].(map[string]any)
		if !ok {
			t.Errorf("%s: key %q of the Go type is not in the schema", where, key)
			continue
		}
		if !slices.Contains(anys(node["required"]), any(key)) {
			t.Errorf("%s: key %q not required", where, key)
		}
		if d, _ := p["description"].(string); d == "" {
			t.Errorf("%s: key %q has no description", where, key)
		}
		k := f.Type.Kind()
		nullable := k == reflect.Pointer || k == reflect.Map || f.Tag.Get("null") == "empty"
		if allowsNull(p) != nullable {
			t.Errorf("%s: key %q allows null: %v; the Go field writes null: %v", where, key, allowsNull(p), nullable)
		}
		checkFieldType(t, name, doc, f.Type, seen)
	}
	for key := range props {
		if !slices.Contains(keys, key) {
			t.Errorf("%s: key %q is not in the Go type", where, key)
		}
	}
	if len(anys(node["required"])) != len(keys) {
		t.Errorf("%s: %d keys required, the Go type has %d", where, len(anys(node["required"])), len(keys))
	}
}

// checkFieldType checks the struct types a field's type holds against the
// schema's $defs of the same name.
func checkFieldType(t *testing.T, name string, doc map[string]any, ft reflect.Type, seen map[reflect.Type]bool) {
	t.Helper()
	for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
		ft = ft.Elem()
	}
	if ft.Kind() != reflect.Struct || ft == reflect.TypeFor[time.Time]() || seen[ft] {
		return
	}
	defs, _ := doc["$defs"].(map[string]any)
	def, _ := defs[ft.Name()].(map[string]any)
	checkKeys(t, name, doc, def, ft, seen)
}

// allowsNull reports whether a property's schema admits null.
func allowsNull(p map[string]any) bool {
	if p["type"] == "null" || slices.Contains(anys(p["type"]), any("null")) || slices.Contains(anys(p["enum"]), nil) {
		return true
	}
	for _, alt := range anys(p["anyOf"]) {
		if m, _ := alt.(map[string]any); m["type"] == "null" {
			return true
		}
	}
	return false
}

func anys(v any) []any { a, _ := v.([]any); return a }

// prop is the schema of a top-level key.
func prop(doc map[string]any, key string) map[string]any {
	props, _ := doc["properties"].(map[string]any)
	p, _ := props[key].(map[string]any)
	return p
}

// Records written before 1.0.0 left keys out; they read as before, and
// written again they hold the same values, the keys added being null, [],
// 0 or false.
func TestRecordsBefore100Read(t *testing.T) {
	for _, tc := range []struct {
		file string
		v    any
	}{
		{"testdata/v0/result.json", &Result{}},
		{"testdata/v0/manifest.json", &Manifest{}},
	} {
		old := readFile(t, ".", tc.file)
		if err := json.Unmarshal(old, tc.v); err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		again, err := marshalFile(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		var o, n any
		if json.Unmarshal(old, &o) != nil || json.Unmarshal(again, &n) != nil {
			t.Fatal("not JSON")
		}
		delete(n.(map[string]any), "schema_version")
		if got, want := dropEmpty(n), dropEmpty(o); !reflect.DeepEqual(got, want) {
			t.Errorf("%s written again:\n%v\nwant\n%v", tc.file, got, want)
		}
		if strings.Count(string(again), "null") <= strings.Count(string(old), "null") {
			t.Errorf("%s written again has no key added as null:\n%s", tc.file, again)
		}
	}
}

// dropEmpty is v without the object keys whose value is null, false, 0,
// "" or [].
func dropEmpty(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			switch e := dropEmpty(e).(type) {
			case nil, bool, float64, string:
				if e == nil || e == false || e == 0.0 || e == "" {
					continue
				}
				out[k] = e
			case []any:
				if len(e) > 0 {
					out[k] = e
				}
			default:
				out[k] = e
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = dropEmpty(e)
		}
		return out
	}
	return v
}

// frames_kept_every (1.1.0): a record made before it kept every frame
// (KeptEvery 1); a thinned dry run's manifest says N and validates; 0 or
// a negative N is refused by the schema.
func TestFramesKeptEvery(t *testing.T) {
	var old Manifest
	if err := json.Unmarshal(readFile(t, ".", "testdata/v0/manifest.json"), &old); err != nil {
		t.Fatal(err)
	}
	if old.FramesKeptEvery != 0 || old.KeptEvery() != 1 {
		t.Errorf("a record before 1.1.0: frames_kept_every %d, KeptEvery %d; want 0 and 1", old.FramesKeptEvery, old.KeptEvery())
	}
	s := schematest.Compile(t, "manifest")
	good := string(readFile(t, ".", "testdata/manifest_closed.golden.json"))
	for _, tc := range []struct {
		value string
		ok    bool
	}{{"1", true}, {"10", true}, {"null", true}, {"0", false}, {"-10", false}, {"2.5", false}, {`"every:10"`, false}} {
		doc := strings.Replace(good, `"frames_kept_every": null`, `"frames_kept_every": `+tc.value, 1)
		if doc == good && tc.value != "null" {
			t.Fatal("golden changed: the edit did not apply")
		}
		if err := schematest.Validate(s, []byte(doc)); (err == nil) != tc.ok {
			t.Errorf("frames_kept_every %s: %v, want valid %v", tc.value, err, tc.ok)
		}
		var m Manifest
		if err := json.Unmarshal([]byte(doc), &m); tc.ok && (err != nil || m.KeptEvery() != max(1, m.FramesKeptEvery)) {
			t.Errorf("frames_kept_every %s reads as %d (%v)", tc.value, m.KeptEvery(), err)
		}
	}
	m := Manifest{FramesKeptEvery: 10}
	if b, _ := json.Marshal(m); !strings.Contains(string(b), `"frames_kept_every":10`) {
		t.Errorf("written: %s", b)
	}
}

// rig_mode (1.2.0): a manifest made before it (1.1.0, or before 1.0.0)
// lacks the key and reads as a numerical rig's, as every rig was then, and
// written again says null, not a mode it never recorded; a hybrid run's
// says hybrid, and the schema takes the two modes and null only.
func TestRigMode(t *testing.T) {
	for _, file := range []string{"testdata/v1.1.0/manifest.json", "testdata/v0/manifest.json"} {
		old := readFile(t, ".", file)
		if strings.Contains(string(old), "rig_mode") {
			t.Fatalf("%s: has rig_mode; it stands for a record made before it", file)
		}
		var m Manifest
		if err := json.Unmarshal(old, &m); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if m.RigMode != "" || m.Mode() != RigModeNumerical {
			t.Errorf("%s: rig_mode %q, Mode %q; want empty and %q", file, m.RigMode, m.Mode(), RigModeNumerical)
		}
		if b, _ := json.Marshal(&m); !strings.Contains(string(b), `"rig_mode":null`) {
			t.Errorf("%s written again: %s; want rig_mode null", file, b)
		}
	}
	s := schematest.Compile(t, "manifest")
	good := string(readFile(t, ".", "testdata/manifest_closed.golden.json"))
	for _, tc := range []struct {
		value, mode string
		ok          bool
	}{
		{`"numerical"`, RigModeNumerical, true}, {`"hybrid"`, RigModeHybrid, true}, {"null", RigModeNumerical, true},
		{`"Hybrid"`, "", false}, {`""`, "", false}, {"1", "", false}, {`["hybrid"]`, "", false},
	} {
		doc := strings.Replace(good, `"rig_mode": "numerical"`, `"rig_mode": `+tc.value, 1)
		if doc == good && tc.value != `"numerical"` {
			t.Fatal("golden changed: the edit did not apply")
		}
		if err := schematest.Validate(s, []byte(doc)); (err == nil) != tc.ok {
			t.Errorf("rig_mode %s: %v, want valid %v", tc.value, err, tc.ok)
		}
		var m Manifest
		if err := json.Unmarshal([]byte(doc), &m); tc.ok && (err != nil || m.Mode() != tc.mode) {
			t.Errorf("rig_mode %s reads as %q (%v), want %q", tc.value, m.Mode(), err, tc.mode)
		}
	}
	m := Manifest{RigMode: RigModeHybrid}
	if b, _ := json.Marshal(m); !strings.Contains(string(b), `"rig_mode":"hybrid"`) {
		t.Errorf("written: %s", b)
	}
}
