package cli

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseResourceArgs(t *testing.T) {
	tests := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{[]string{"pods"}, "[pods:[]]", ""},
		{[]string{"po", "a", "b"}, "[pods:[a b]]", ""},
		{[]string{"rs,pods"}, "[replicasets.apps:[] pods:[]]", ""},
		{[]string{"rs,replicaset,pods"}, "[replicasets.apps:[] pods:[]]", ""},
		{[]string{"rc/x", "pod/y", "rc/z"}, "[replicationcontrollers:[x z] pods:[y]]", ""},
		{[]string{"replicasets.apps", "x"}, "[replicasets.apps:[x]]", ""},
		{[]string{"Pod", "x"}, "[pods:[x]]", ""},
		{[]string{"all"}, "[pods:[] replicationcontrollers:[] services:[] deployments.apps:[] replicasets.apps:[]]", ""},
		{[]string{"rs,all"}, "[replicasets.apps:[] pods:[] replicationcontrollers:[] services:[] deployments.apps:[]]", ""},
		{[]string{"statefulsets"}, "", `the server doesn't have a resource type "statefulsets"`},
		{[]string{"sts/x"}, "", `the server doesn't have a resource type "sts"`},
		{[]string{"pod/x", "y"}, "", "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'wasmlet get resource/<resource_name>' instead of 'wasmlet get resource resource/<resource_name>'"},
		{[]string{"pod/"}, "", "arguments in resource/name form must have a single resource and name"},
	}
	for _, tt := range tests {
		refs, err := parseResourceArgs(tt.args)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("parseResourceArgs(%q) error = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseResourceArgs(%q): %v", tt.args, err)
			continue
		}
		got := "["
		for i, r := range refs {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("%s:%v", r.resource.GroupResource(), r.names)
		}
		got += "]"
		if got != tt.want {
			t.Errorf("parseResourceArgs(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

// FuzzParseResourceArgs: any argument list is either understood or
// refused with an error, never a panic.
func FuzzParseResourceArgs(f *testing.F) {
	f.Add("rs,pods a b")
	f.Add("rc/x pod/y")
	f.Add("/ ,, a/b/c")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		refs, err := parseResourceArgs(args)
		if err == nil {
			for _, r := range refs {
				if r.resource == nil {
					t.Fatalf("parseResourceArgs(%q): ref without a resource", args)
				}
			}
		}
	})
}
