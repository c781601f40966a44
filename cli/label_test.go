package cli

import (
	"maps"
	"slices"
	"testing"
)

func TestParseLabelArgs(t *testing.T) {
	tests := []struct {
		args    []string
		set     map[string]string
		remove  []string
		wantErr string
	}{
		{[]string{"app=web"}, map[string]string{"app": "web"}, nil, ""},
		{[]string{"app=", "tier-"}, map[string]string{"app": ""}, []string{"tier"}, ""},
		{[]string{"example.com/owner=me"}, map[string]string{"example.com/owner": "me"}, nil, ""},
		{[]string{"a=b", "a-"}, nil, nil, "can not both modify and remove a label in the same command"},
		{[]string{"=b"}, nil, nil, "invalid label spec: =b"},
		{[]string{"-"}, nil, nil, "invalid label spec: -"},
		{[]string{"a=b=c"}, nil, nil, "invalid label spec: a=b=c"},
	}
	for _, tt := range tests {
		set, remove, err := parseLabelArgs(tt.args)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("parseLabelArgs(%q) error = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseLabelArgs(%q): %v", tt.args, err)
			continue
		}
		if !maps.Equal(set, tt.set) || !slices.Equal(remove, tt.remove) {
			t.Errorf("parseLabelArgs(%q) = %v, %v; want %v, %v", tt.args, set, remove, tt.set, tt.remove)
		}
	}
}

func TestLabelChange(t *testing.T) {
	tests := []struct {
		old, updated map[string]string
		overwrite    bool
		want         string
	}{
		{map[string]string{"a": "1"}, map[string]string{"a": "1"}, false, "not labeled"},
		{map[string]string{"a": "1"}, map[string]string{"a": "1", "b": "2"}, false, "labeled"},
		{map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "1"}, false, "unlabeled"},
		{map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "1"}, true, "labeled"},
		{map[string]string{"app": "web"}, map[string]string{"app": "database"}, true, "labeled"},
		{nil, map[string]string{}, false, "not labeled"},
	}
	for _, tt := range tests {
		if got := labelChange(tt.old, tt.updated, tt.overwrite); got != tt.want {
			t.Errorf("labelChange(%v, %v, %v) = %q, want %q", tt.old, tt.updated, tt.overwrite, got, tt.want)
		}
	}
}
