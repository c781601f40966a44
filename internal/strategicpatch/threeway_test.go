package strategicpatch

import (
	"encoding/json"
	"testing"
)

func TestCreateThreeWayMergePatch(t *testing.T) {
	rc := func(env, extra string) string {
		return `{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"web"` + extra + `},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"web.wasm","env":[` + env + `]}]}}}}`
	}
	live := func(env, extra string) string {
		return `{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"web","uid":"u1"` + extra + `},"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"web","image":"web.wasm","imagePullPolicy":"IfNotPresent","env":[` + env + `]}],"restartPolicy":"Always"}}}}`
	}
	tests := []struct {
		name                        string
		original, modified, current string
		want                        string
	}{
		{
			name:     "unchanged file, defaults and scale live",
			original: rc(`{"name":"A","value":"1"}`, ""), modified: rc(`{"name":"A","value":"1"}`, ""),
			current: live(`{"name":"A","value":"1"}`, ""),
			want:    `{}`,
		},
		{
			name:     "env var removed from the file",
			original: rc(`{"name":"A","value":"1"},{"name":"B","value":"2"}`, ""), modified: rc(`{"name":"A","value":"1"}`, ""),
			current: live(`{"name":"A","value":"1"},{"name":"B","value":"2"}`, ""),
			want:    `{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],"containers":[{"$setElementOrder/env":[{"name":"A"}],"env":[{"$patch":"delete","name":"B"}],"name":"web"}]}}}}`,
		},
		{
			name:     "env var another client added stays",
			original: rc(`{"name":"A","value":"1"}`, ""), modified: rc(`{"name":"A","value":"2"}`, ""),
			current: live(`{"name":"A","value":"1"},{"name":"X","value":"x"}`, ""),
			want:    `{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],"containers":[{"$setElementOrder/env":[{"name":"A"}],"env":[{"name":"A","value":"2"}],"name":"web"}]}}}}`,
		},
		{
			name:     "annotation and label removed",
			original: rc(``, `,"labels":{"a":"1","b":"2"}`), modified: rc(``, `,"labels":{"a":"1"}`),
			current: live(``, `,"labels":{"a":"1","b":"2"}`),
			want:    `{"metadata":{"labels":{"b":null}}}`,
		},
		{
			name:     "finalizer removed, one added",
			original: rc(``, `,"finalizers":["x/a"]`), modified: rc(``, `,"finalizers":["x/b"]`),
			current: live(``, `,"finalizers":["x/a"]`),
			want:    `{"metadata":{"$deleteFromPrimitiveList/finalizers":["x/a"],"finalizers":["x/b"]}}`,
		},
		{
			name:     "no last applied configuration: nothing is deleted",
			original: ``, modified: rc(`{"name":"A","value":"1"}`, ""),
			current: live(`{"name":"A","value":"1"},{"name":"B","value":"2"}`, ""),
			want:    `{}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var original map[string]any
			if tc.original != "" {
				original = mustMap(t, tc.original)
			}
			patch := CreateThreeWayMergePatch("ReplicationController", original, mustMap(t, tc.modified), mustMap(t, tc.current))
			got, _ := json.Marshal(patch)
			if string(got) != tc.want {
				t.Errorf("patch\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
