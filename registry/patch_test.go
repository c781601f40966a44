package registry

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wasmlet/wasmlet/api"
)

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("decoding %s: %v", s, err)
	}
	return v.(map[string]any)
}

func equalJSON(t *testing.T, got map[string]any, want string) {
	t.Helper()
	w := mustJSON(t, want)
	if !jsonEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("got  %s\nwant %s", g, want)
	}
}

func TestMergePatch(t *testing.T) {
	// RFC 7386's appendix examples.
	tests := []struct{ doc, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, tc := range tests {
		got := applyMergePatch(mustJSON(t, tc.doc), mustJSON(t, tc.patch)).(map[string]any)
		equalJSON(t, got, tc.want)
	}
}

func TestJSONPatch(t *testing.T) {
	doc := `{"metadata":{"labels":{"a":"1"}},"spec":{"list":[1,2,3],"a/b":"x","m~n":"y"}}`
	tests := []struct {
		name, patch, want string
		fail              bool
	}{
		{"add", `[{"op":"add","path":"/metadata/labels/b","value":"2"}]`,
			`{"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"list":[1,2,3],"a/b":"x","m~n":"y"}}`, false},
		{"add to array end", `[{"op":"add","path":"/spec/list/-","value":4}]`,
			`{"metadata":{"labels":{"a":"1"}},"spec":{"list":[1,2,3,4],"a/b":"x","m~n":"y"}}`, false},
		{"insert into array", `[{"op":"add","path":"/spec/list/1","value":9}]`,
			`{"metadata":{"labels":{"a":"1"}},"spec":{"list":[1,9,2,3],"a/b":"x","m~n":"y"}}`, false},
		{"remove", `[{"op":"remove","path":"/spec/list/0"},{"op":"remove","path":"/spec/a~1b"}]`,
			`{"metadata":{"labels":{"a":"1"}},"spec":{"list":[2,3],"m~n":"y"}}`, false},
		{"replace escaped", `[{"op":"replace","path":"/spec/m~0n","value":"z"}]`,
			`{"metadata":{"labels":{"a":"1"}},"spec":{"list":[1,2,3],"a/b":"x","m~n":"z"}}`, false},
		{"move", `[{"op":"move","from":"/metadata/labels/a","path":"/metadata/labels/c"}]`,
			`{"metadata":{"labels":{"c":"1"}},"spec":{"list":[1,2,3],"a/b":"x","m~n":"y"}}`, false},
		{"copy", `[{"op":"copy","from":"/spec/list","path":"/spec/copy"}]`,
			`{"metadata":{"labels":{"a":"1"}},"spec":{"list":[1,2,3],"copy":[1,2,3],"a/b":"x","m~n":"y"}}`, false},
		{"test passes", `[{"op":"test","path":"/spec/list/1","value":2}]`, doc, false},
		{"test fails", `[{"op":"test","path":"/spec/list/1","value":5}]`, "", true},
		{"replace missing", `[{"op":"replace","path":"/spec/nope","value":1}]`, "", true},
		{"remove missing", `[{"op":"remove","path":"/spec/list/7"}]`, "", true},
		{"index past the end", `[{"op":"add","path":"/spec/list/5","value":1}]`, "", true},
		{"unknown op", `[{"op":"frob","path":"/spec"}]`, "", true},
		{"no path", `[{"op":"add","value":1}]`, "", true},
		{"not a list", `{"op":"add"}`, "", true},
		{"move into own child", `[{"op":"move","from":"/spec","path":"/spec/x"}]`, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyJSONPatch(mustJSON(t, doc), []byte(tc.patch))
			if tc.fail {
				if err == nil {
					t.Fatalf("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			equalJSON(t, got.(map[string]any), tc.want)
		})
	}
}

// FuzzApplyPatch feeds arbitrary patches of each type to applyPatch: it
// must never panic.
func FuzzApplyPatch(f *testing.F) {
	f.Add(uint8(0), []byte(`[{"op":"add","path":"/metadata/labels/x","value":"1"}]`))
	f.Add(uint8(1), []byte(`{"metadata":{"labels":{"a":null}}}`))
	f.Add(uint8(2), []byte(`{"spec":{"containers":[{"name":"app","$patch":"delete"}],"$setElementOrder/containers":[{"name":"app"}]}}`))
	f.Add(uint8(2), []byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["x"]},"spec":{"volumes":[{"name":"v","$retainKeys":["name"]}]}}`))
	doc := `{"metadata":{"name":"p","labels":{"a":"1"},"finalizers":["x"]},"spec":{"containers":[{"name":"app","env":[{"name":"A"}]}],"volumes":[{"name":"v","emptyDir":{}}]}}`
	types := []PatchType{JSONPatch, MergePatch, StrategicMergePatch}
	f.Fuzz(func(t *testing.T, which uint8, patch []byte) {
		m, _ := decodeJSON([]byte(doc))
		_, _ = applyPatch(m.(map[string]any), types[int(which)%len(types)], patch, "Pod")
	})
}

// FuzzDecode: any body decodes to an object or a Status error.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","bogus":1}]}}`), uint8(0))
	f.Add([]byte(`{"kind":"ReplicaSet"}`), uint8(1))
	f.Add([]byte(`[1,2`), uint8(2))
	modes := []string{FieldValidationStrict, FieldValidationWarn, FieldValidationIgnore}
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		res, ok := api.LookupResource("pods")
		if !ok {
			t.Skip("no pods")
		}
		obj, _, err := Decode(res, b, modes[int(mode)%len(modes)])
		if err == nil && obj == nil {
			t.Error("no object and no error")
		}
	})
}

// jsonEqual compares two decoded JSON values, numbers by their value.
func jsonEqual(a, b any) bool {
	return reflect.DeepEqual(normalizeNumbers(a), normalizeNumbers(b))
}

func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = normalizeNumbers(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = normalizeNumbers(e)
		}
		return l
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return float64(i)
		}
		f, _ := t.Float64()
		return f
	case int:
		return float64(t)
	case int64:
		return float64(t)
	default:
		return v
	}
}
