package strategicpatch

import (
	"bytes"
	"encoding/json"
	"testing"
)

// toMap decodes a JSON object, numbers kept exact, as the node's callers
// decode them.
func toMap(b []byte) (map[string]any, error) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func mustMap(t testing.TB, s string) map[string]any {
	t.Helper()
	m, err := toMap([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

// mustValue decodes any JSON value.
func mustValue(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func equalJSON(t *testing.T, got map[string]any, want string) {
	t.Helper()
	if !jsonEqual(got, mustMap(t, want)) {
		g, _ := json.Marshal(got)
		t.Errorf("got  %s\nwant %s", g, want)
	}
}

func encode(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
