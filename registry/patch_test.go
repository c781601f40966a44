package registry

import (
	"encoding/json"
	"strconv"
	"strings"
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

func TestStrategicMergePatch(t *testing.T) {
	pod := `{"metadata":{"name":"p","labels":{"a":"1","b":"2"},"finalizers":["x","y"],
		"ownerReferences":[{"uid":"u1","name":"o1"},{"uid":"u2","name":"o2"}]},
		"spec":{"containers":[
			{"name":"app","image":"a.wasm","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
			 "ports":[{"containerPort":80,"name":"http"}],"volumeMounts":[{"name":"d","mountPath":"/d"}]},
			{"name":"side","image":"s.wasm","args":["x","y"]}],
		"volumes":[{"name":"d","emptyDir":{}}],
		"tolerations":[{"key":"k"}]},
		"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"Initialized","status":"True"}]}}`
	tests := []struct {
		name, patch, want string
	}{
		{"containers merge by name",
			`{"spec":{"containers":[{"name":"app","image":"b.wasm"}]}}`,
			`{"metadata":{"name":"p","labels":{"a":"1","b":"2"},"finalizers":["x","y"],"ownerReferences":[{"uid":"u1","name":"o1"},{"uid":"u2","name":"o2"}]},
			"spec":{"containers":[
				{"name":"app","image":"b.wasm","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"ports":[{"containerPort":80,"name":"http"}],"volumeMounts":[{"name":"d","mountPath":"/d"}]},
				{"name":"side","image":"s.wasm","args":["x","y"]}],
			"volumes":[{"name":"d","emptyDir":{}}],"tolerations":[{"key":"k"}]},
			"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"Initialized","status":"True"}]}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyStrategicPatch(mustJSON(t, pod), mustJSON(t, tc.patch), "Pod")
			if err != nil {
				t.Fatal(err)
			}
			equalJSON(t, got, tc.want)
		})
	}
}

// TestStrategicMergePatchFields checks one field of the result per case.
func TestStrategicMergePatchFields(t *testing.T) {
	pod := `{"metadata":{"name":"p","labels":{"a":"1","b":"2"},"finalizers":["x","y"],
		"ownerReferences":[{"uid":"u1","name":"o1"},{"uid":"u2","name":"o2"}]},
		"spec":{"containers":[
			{"name":"app","image":"a.wasm","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
			 "ports":[{"containerPort":80,"name":"http"}],"volumeMounts":[{"name":"d","mountPath":"/d"}]},
			{"name":"side","image":"s.wasm","args":["x","y"]}],
		"volumes":[{"name":"d","emptyDir":{}}],
		"tolerations":[{"key":"k"}]},
		"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"Initialized","status":"True"}]}}`
	tests := []struct {
		name, kind, patch, path, want string
	}{
		{"new container appended", "Pod",
			`{"spec":{"containers":[{"name":"new","image":"n.wasm"}]}}`,
			"/spec/containers", `[{"name":"app","image":"a.wasm","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"ports":[{"containerPort":80,"name":"http"}],"volumeMounts":[{"name":"d","mountPath":"/d"}]},{"name":"side","image":"s.wasm","args":["x","y"]},{"name":"new","image":"n.wasm"}]`},
		{"container deleted", "Pod",
			`{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}`,
			"/spec/containers/0/name", `"app"`},
		{"env merged by name", "Pod",
			`{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"3"},{"name":"C","value":"4"}]}]}}`,
			"/spec/containers/0/env", `[{"name":"A","value":"1"},{"name":"B","value":"3"},{"name":"C","value":"4"}]`},
		{"env element removed", "Pod",
			`{"spec":{"containers":[{"name":"app","env":[{"name":"A","$patch":"delete"}]}]}}`,
			"/spec/containers/0/env", `[{"name":"B","value":"2"}]`},
		{"ports by containerPort", "Pod",
			`{"spec":{"containers":[{"name":"app","ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":81}]}]}}`,
			"/spec/containers/0/ports", `[{"containerPort":80,"name":"http","protocol":"TCP"},{"containerPort":81}]`},
		{"volumeMounts by mountPath", "Pod",
			`{"spec":{"containers":[{"name":"app","volumeMounts":[{"mountPath":"/d","readOnly":true}]}]}}`,
			"/spec/containers/0/volumeMounts", `[{"name":"d","mountPath":"/d","readOnly":true}]`},
		{"list of primitives replaced", "Pod",
			`{"spec":{"containers":[{"name":"side","args":["z"]}]}}`,
			"/spec/containers/1/args", `["z"]`},
		{"list without merge key replaced", "Pod",
			`{"spec":{"tolerations":[{"key":"other"}]}}`,
			"/spec/tolerations", `[{"key":"other"}]`},
		{"list replace directive", "Pod",
			`{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"o.wasm"}]}}`,
			"/spec/containers", `[{"name":"only","image":"o.wasm"}]`},
		{"map replace directive", "Pod",
			`{"metadata":{"labels":{"$patch":"replace","c":"3"}}}`,
			"/metadata/labels", `{"c":"3"}`},
		{"map delete directive", "Pod",
			`{"metadata":{"labels":{"$patch":"delete"}}}`,
			"/metadata", `{"name":"p","finalizers":["x","y"],"ownerReferences":[{"uid":"u1","name":"o1"},{"uid":"u2","name":"o2"}]}`},
		{"null removes a label", "Pod",
			`{"metadata":{"labels":{"a":null}}}`,
			"/metadata/labels", `{"b":"2"}`},
		{"finalizers merged as a set", "Pod",
			`{"metadata":{"finalizers":["y","z"]}}`,
			"/metadata/finalizers", `["x","y","z"]`},
		{"delete from primitive list", "Pod",
			`{"metadata":{"$deleteFromPrimitiveList/finalizers":["x"]}}`,
			"/metadata/finalizers", `["y"]`},
		{"ownerReferences by uid", "Pod",
			`{"metadata":{"ownerReferences":[{"uid":"u2","$patch":"delete"}]}}`,
			"/metadata/ownerReferences", `[{"uid":"u1","name":"o1"}]`},
		{"conditions by type", "Pod",
			`{"status":{"conditions":[{"type":"Ready","status":"True"}]}}`,
			"/status/conditions", `[{"type":"Ready","status":"True"},{"type":"Initialized","status":"True"}]`},
		{"retainKeys on volumes", "Pod",
			`{"spec":{"volumes":[{"name":"d","hostPath":{"path":"/x"},"$retainKeys":["name","hostPath"]}]}}`,
			"/spec/volumes", `[{"name":"d","hostPath":{"path":"/x"}}]`},
		{"setElementOrder", "Pod",
			`{"spec":{"$setElementOrder/containers":[{"name":"side"},{"name":"app"}]}}`,
			"/spec/containers/0/name", `"side"`},
		{"rs template containers", "ReplicaSet",
			`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"b.wasm"}]}}}}`,
			"/spec/template/spec/containers", `[{"name":"app","image":"b.wasm","env":[{"name":"A","value":"1"}]},{"name":"side","image":"s.wasm"}]`},
	}
	rs := `{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"app","image":"a.wasm","env":[{"name":"A","value":"1"}]},{"name":"side","image":"s.wasm"}]}}}}`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := pod
			if tc.kind == "ReplicaSet" {
				doc = rs
			}
			got, err := applyStrategicPatch(mustJSON(t, doc), mustJSON(t, tc.patch), tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			v := valueAt(t, got, tc.path)
			want, _ := decodeJSON([]byte(tc.want))
			if !jsonEqual(v, want) {
				g, _ := json.Marshal(v)
				t.Errorf("%s:\ngot  %s\nwant %s", tc.path, g, tc.want)
			}
		})
	}
}

func TestStrategicMergePatchErrors(t *testing.T) {
	for _, patch := range []string{
		`{"spec":{"containers":[{"image":"no-name"}]}}`,
		`{"spec":{"containers":["not an object"]}}`,
		`{"metadata":{"$patch":"explode"}}`,
		`{"spec":{"$retainKeys":"containers"}}`,
	} {
		if _, err := applyStrategicPatch(mustJSON(t, `{"spec":{"containers":[{"name":"a"}]}}`), mustJSON(t, patch), "Pod"); err == nil {
			t.Errorf("%s: no error", patch)
		}
	}
}

// valueAt is the value at path ("/a/0/b") of doc.
func valueAt(t *testing.T, doc any, path string) any {
	t.Helper()
	for _, tok := range strings.Split(path, "/")[1:] {
		switch c := doc.(type) {
		case map[string]any:
			doc = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i >= len(c) {
				t.Fatalf("%s: no element %s", path, tok)
			}
			doc = c[i]
		default:
			t.Fatalf("%s: no %s", path, tok)
		}
	}
	return doc
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
