package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// TestEnvironmentDefaults: an environment given only what the process has
// (its stdio, and here a node to talk to) runs every verb that reads the
// clock or the environment, as main runs them: a dependency the tests
// inject and the process lacks was nil, and edit panicked on it.
func TestEnvironmentDefaults(t *testing.T) {
	now := time.Now()
	node := newMemoryNode(now)
	p := &api.Pod{}
	p.Name, p.Namespace = "a", "default"
	p.Spec.Containers = []api.Container{{Name: "app", Image: "app.wasm"}}
	if _, err := node.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("KUBE_EDITOR", "")
	t.Setenv("EDITOR", "true")
	for _, tt := range []struct{ line, stdout, stderr string }{
		{"edit pod a", "", "Edit cancelled, no changes made.\n"},
		{"get pod a -o name", "pod/a\n", ""},
		{"describe pod a", "Name:", ""},
		{"events", "", "No events found in default namespace.\n"},
	} {
		var out, errOut syncBuffer
		env := &environment{dial: func(string) (nodeClient, error) { return node, nil }}
		env.stdout, env.stderr = &out, &errOut
		code := env.run(context.Background(), append([]string{"wasmlet"}, strings.Fields(tt.line)...))
		if code != 0 || !strings.HasPrefix(out.String(), tt.stdout) || errOut.String() != tt.stderr {
			t.Errorf("%s: exit %d\nstdout %q\nstderr %q", tt.line, code, out.String(), errOut.String())
		}
	}
}
