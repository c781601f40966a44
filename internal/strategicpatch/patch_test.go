package strategicpatch

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

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
			got, err := StrategicMergeMapPatch("Pod", mustMap(t, pod), mustMap(t, tc.patch))
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
			got, err := StrategicMergeMapPatch(tc.kind, mustMap(t, doc), mustMap(t, tc.patch))
			if err != nil {
				t.Fatal(err)
			}
			v := valueAt(t, got, tc.path)
			want := mustValue(t, tc.want)
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
		if _, err := StrategicMergeMapPatch("Pod", mustMap(t, `{"spec":{"containers":[{"name":"a"}]}}`), mustMap(t, patch)); err == nil {
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

// TestStrategicMergePatchIsLinear: lists merged by key or as sets, their
// order and their deletions cost in proportion to the list and the patch:
// a 3 MiB patch of 200,000 elements took the better part of an hour when
// each element was looked for by a scan of the list (100,000 here: ten
// minutes).
func TestStrategicMergePatchIsLinear(t *testing.T) {
	const n = 100000
	elems := func(format string) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	doc := `{"metadata":{"finalizers":["f1"]},"spec":{"containers":[{"name":"app","env":[{"name":"A"}]}]}}`
	for name, patch := range map[string]string{
		"merge key":      `{"spec":{"containers":[{"name":"app","env":[` + elems(`{"name":"E%d"}`) + `]}]}}`,
		"set":            `{"metadata":{"finalizers":[` + elems(`"f%d"`) + `]}}`,
		"element order":  `{"spec":{"containers":[{"name":"app","env":[` + elems(`{"name":"E%d"}`) + `]}],"$setElementOrder/containers":[` + elems(`{"name":"c%d"}`) + `]}}`,
		"deletions":      `{"metadata":{"$deleteFromPrimitiveList/finalizers":[` + elems(`"f%d"`) + `]}}`,
		"delete by key":  `{"spec":{"containers":[{"name":"app","env":[` + elems(`{"name":"E%d","$patch":"delete"}`) + `]}]}}`,
		"order of a set": `{"metadata":{"$setElementOrder/finalizers":[` + elems(`"f%d"`) + `]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dm, pm := mustMap(t, doc), mustMap(t, patch)
			start := time.Now()
			if _, err := StrategicMergeMapPatch("Pod", dm, pm); err != nil {
				t.Fatal(err)
			}
			d := time.Since(start)
			if d > 10*time.Second {
				t.Errorf("%d elements merged in %v", n, d)
			}
			t.Logf("%d elements merged in %v", n, d)
		})
	}
}
