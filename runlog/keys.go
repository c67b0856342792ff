package runlog

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
)

// SchemaVersion is the version of the JSON Schemas of manifest.json and
// result.json (docs/schemas/), written into both files as schema_version by
// whatever writes them. It is semver, so that a CI script can tell whether
// it understands a file: the minor is raised when keys are added, the major
// when a key is removed or its meaning or type changes; the patch is for
// the schemas' wording. A file without schema_version was written before
// 1.0.0, when keys with no value were left out rather than written null.
const SchemaVersion = "1.2.0"

// marshalObject encodes the struct v as a JSON object holding every key of
// the record's contract, whatever the content (doc.go, "Keys"): each
// exported field, in field order, under its json tag's name, encoded as
// encoding/json does, except that a nil slice is written [] (a list is a
// list, empty when there is nothing in it) and a field tagged null:"empty"
// is written null when it is empty (its zero value, or IsZero for a time),
// the way a nil pointer or map already is. Types call it from MarshalJSON
// with a method-less copy of themselves.
func marshalObject(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("runlog: marshal %T: not a struct", v)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, f := range reflect.VisibleFields(rv.Type()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || f.Anonymous || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		val, err := fieldJSON(f, rv.FieldByIndex(f.Index))
		if err != nil {
			return nil, fmt.Errorf("runlog: marshal %s: %w", name, err)
		}
		if n++; n > 1 {
			b.WriteByte(',')
		}
		key, _ := marshalCompact(name)
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// fieldJSON is the JSON of one field's value for marshalObject.
func fieldJSON(f reflect.StructField, fv reflect.Value) ([]byte, error) {
	switch {
	case fv.Kind() == reflect.Slice && fv.IsNil():
		return []byte("[]"), nil
	case f.Tag.Get("null") == "empty" && isEmpty(fv):
		return []byte("null"), nil
	}
	return marshalCompact(fv.Interface())
}

// isEmpty reports whether a null:"empty" field has no value.
func isEmpty(fv reflect.Value) bool {
	if z, ok := fv.Interface().(interface{ IsZero() bool }); ok {
		return z.IsZero()
	}
	return fv.IsZero()
}

// The record's types write every key (marshalObject); manifest.json and
// result.json also say which schema they follow.

// MarshalJSON implements json.Marshaler, with every key and the schema
// version.
func (m Manifest) MarshalJSON() ([]byte, error) {
	type plain Manifest
	p := plain(m)
	p.SchemaVersion = SchemaVersion
	return marshalObject(p)
}

// MarshalJSON implements json.Marshaler, with every key and the schema
// version.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	p := plain(r)
	p.SchemaVersion = SchemaVersion
	return marshalObject(p)
}

// MarshalJSON implements json.Marshaler, with every key.
func (p ProtocolRef) MarshalJSON() ([]byte, error) {
	type plain ProtocolRef
	return marshalObject(plain(p))
}

// MarshalJSON implements json.Marshaler, with every key.
func (r RealTime) MarshalJSON() ([]byte, error) {
	type plain RealTime
	return marshalObject(plain(r))
}

// MarshalJSON implements json.Marshaler, with every key.
func (j Job) MarshalJSON() ([]byte, error) {
	type plain Job
	return marshalObject(plain(j))
}

// MarshalJSON implements json.Marshaler, with every key.
func (d DUTIdentity) MarshalJSON() ([]byte, error) {
	type plain DUTIdentity
	return marshalObject(plain(d))
}

// MarshalJSON implements json.Marshaler, with every key.
func (c Calibration) MarshalJSON() ([]byte, error) {
	type plain Calibration
	return marshalObject(plain(c))
}

// MarshalJSON implements json.Marshaler, with every key.
func (b Build) MarshalJSON() ([]byte, error) {
	type plain Build
	return marshalObject(plain(b))
}

// MarshalJSON implements json.Marshaler, with every key.
func (s StepResult) MarshalJSON() ([]byte, error) {
	type plain StepResult
	return marshalObject(plain(s))
}

// MarshalJSON implements json.Marshaler, with every key.
func (d InfluxDelivery) MarshalJSON() ([]byte, error) {
	type plain InfluxDelivery
	return marshalObject(plain(d))
}
