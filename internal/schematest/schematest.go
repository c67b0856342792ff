package schematest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Dir is docs/schemas of the module, found from this file's path so that
// any package's tests, from any working directory, read the same files.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "schemas")
}

// Doc is the schema NAME.schema.json ("result", "manifest") decoded as
// the validator decodes JSON.
func Doc(t testing.TB, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(), name+".schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("schematest: %s.schema.json: %v", name, err)
	}
	return doc
}

// Compile compiles the schema NAME.schema.json, which checks it against
// the 2020-12 meta-schema first; it fails t if it does not compile.
func Compile(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	loc := "file:///" + name + ".schema.json"
	if err := c.AddResource(loc, Doc(t, name)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		t.Fatalf("schematest: %s.schema.json: %v", name, err)
	}
	return s
}

// Validate reports how the JSON document b departs from the schema s; nil
// when it is valid.
func Validate(s *jsonschema.Schema, b []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("schematest: %w", err)
	}
	return s.Validate(v)
}
