package api

import (
	"reflect"
	"strings"
	"testing"
)

// documentedTypes walks every struct type reachable from the kinds the
// node serves (and Scale), calling visit once per type.
func documentedTypes(visit func(t reflect.Type)) {
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		switch t {
		case reflect.TypeFor[Time](), reflect.TypeFor[MicroTime](), reflect.TypeFor[Quantity](), reflect.TypeFor[IntOrString]():
			return
		}
		seen[t] = true
		visit(t)
		for _, f := range Fields(t) {
			walk(f.Type)
		}
	}
	for _, r := range Resources() {
		walk(reflect.TypeOf(r.New()))
	}
	walk(reflect.TypeFor[Scale]())
}

// TestEveryFieldIsDocumented holds the schema that kubectl explain and
// wasmlet explain print to its promise: every type and every field of
// what the node serves says what it is.
func TestEveryFieldIsDocumented(t *testing.T) {
	used := map[string]bool{}
	documentedTypes(func(typ reflect.Type) {
		if TypeDescription(typ) == "" && len(Fields(typ)) > 0 {
			t.Errorf("type %s has no description", typ.Name())
		}
		for _, f := range Fields(typ) {
			if f.Description == "" {
				t.Errorf("field %s.%s has no description", typ.Name(), f.Name)
			}
		}
		for i := 0; i < typ.NumField(); i++ {
			sf := typ.Field(i)
			owner := typ
			if sf.Anonymous && !strings.Contains(sf.Tag.Get("json"), "metadata") {
				owner = sf.Type
			}
			for _, f := range Fields(owner) {
				used[owner.Name()+"."+f.Name] = true
			}
		}
	})
	for _, q := range []string{"Quantity", "IntOrString"} {
		if typeDocs[q] == "" {
			t.Errorf("type %s has no description", q)
		}
	}
	// A description of a field that no longer exists is a mistake waiting
	// to be served.
	for key := range fieldDocs {
		if !used[key] {
			t.Errorf("fieldDocs has %s, which is no field of a served type", key)
		}
	}
}

func TestFieldsRequiredAndInline(t *testing.T) {
	byName := func(typ reflect.Type) map[string]Field {
		m := map[string]Field{}
		for _, f := range Fields(typ) {
			m[f.Name] = f
		}
		return m
	}
	tests := []struct {
		typ      reflect.Type
		field    string
		required bool
	}{
		{reflect.TypeFor[PodSpec](), "containers", true},
		{reflect.TypeFor[PodSpec](), "restartPolicy", false},
		{reflect.TypeFor[Container](), "name", true},
		{reflect.TypeFor[Volume](), "emptyDir", false}, // inlined from VolumeSource
		{reflect.TypeFor[Probe](), "httpGet", false},   // inlined from ProbeHandler
		{reflect.TypeFor[Pod](), "kind", false},        // inlined from TypeMeta
		{reflect.TypeFor[GRPCAction](), "service", false},
		{reflect.TypeFor[ReplicaSetSpec](), "selector", true},
	}
	for _, tc := range tests {
		f, ok := byName(tc.typ)[tc.field]
		if !ok {
			t.Errorf("%s has no field %s", tc.typ.Name(), tc.field)
			continue
		}
		if f.Required != tc.required {
			t.Errorf("%s.%s required = %v, want %v", tc.typ.Name(), tc.field, f.Required, tc.required)
		}
	}
	if got := Enum(reflect.TypeFor[RestartPolicy]()); strings.Join(got, ",") != "Always,Never,OnFailure" {
		t.Errorf("Enum(RestartPolicy) = %v", got)
	}
	if Enum(reflect.TypeFor[string]()) != nil {
		t.Error("a plain string has an enum")
	}
}
