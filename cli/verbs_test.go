package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestVerbsLogic runs the verbs against a node held in memory: the words
// apply, label, scale and delete print for each case, and their errors.
func TestVerbsLogic(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	node := newMemoryNode(now.Add(-90 * time.Second))
	rs3 := writeFile(t, "rs.yaml", strings.Replace(rsManifest, "%d", "3", 1))
	rs4 := writeFile(t, "rs.yaml", strings.Replace(rsManifest, "%d", "4", 1))
	pod := writeFile(t, "pod.yaml", podManifest)
	steps := []step{
		{line: "get pods", stderr: "No resources found in default namespace.\n"},
		{line: "apply -f " + rs3, stdout: "replicaset.apps/myweb-rs created\n"},
		{line: "apply -f " + rs3, stdout: "replicaset.apps/myweb-rs unchanged\n"},
		{line: "apply -f " + rs4, stdout: "replicaset.apps/myweb-rs configured\n"},
		{line: "get rs", stdout: "NAME       DESIRED   CURRENT   READY   AGE\nmyweb-rs   4         0         0       90s\n"},
		{line: "scale rs myweb-rs --replicas 2", stdout: "replicaset.apps/myweb-rs scaled\n"},
		{line: "scale rs/myweb-rs --replicas 5 --current-replicas 3", code: 1, stderr: "error: Expected replicas to be 3, was 2\n"},
		{line: "apply -f " + rs4, stdout: "replicaset.apps/myweb-rs configured\n"},
		{line: "get rs myweb-rs --no-headers -o wide", stdout: "myweb-rs   4     0     0     90s   myweb   myweb.wasm   app=web\n"},
		{line: "create -f " + pod, stdout: "pod/solo created\n"},
		{line: "create -f " + pod, code: 1, stderr: "Error from server (AlreadyExists): error when creating \"" + pod + "\": pods \"solo\" already exists\n"},
		{line: "get pods,rs -o name", stdout: "pod/solo\nreplicaset.apps/myweb-rs\n"},
		{line: "label pods solo tier=front", stdout: "pod/solo labeled\n"},
		{line: "label pods solo app=other", code: 1, stderr: "error: 'app' already has a value (solo), and --overwrite is false\n"},
		{line: "label pod/solo app=other --overwrite", stdout: "pod/solo labeled\n"},
		{line: "label pods solo tier-", stdout: "pod/solo unlabeled\n"},
		{line: "label pods solo missing-", stdout: "label \"missing\" not found.\npod/solo not labeled\n"},
		{line: "get pods -l app=other --show-labels", stdout: "NAME   READY   STATUS   RESTARTS   AGE   LABELS\nsolo   0/1              0          90s   app=other\n"},
		{line: "get pod solo nope", code: 1, stdout: "NAME   READY   STATUS   RESTARTS   AGE\nsolo   0/1              0          90s\n",
			stderr: "Error from server (NotFound): pods \"nope\" not found\n"},
		{line: "get pod solo -A", code: 1, stderr: "error: a resource cannot be retrieved by name across all namespaces\n"},
		{line: "delete pod solo --force", stdout: "pod \"solo\" force deleted\n", stderr: "Warning: Immediate deletion"},
		{line: "delete pod solo", code: 1, stderr: "Error from server (NotFound): pods \"solo\" not found\n"},
		{line: "delete -f " + rs4, stdout: "replicaset.apps \"myweb-rs\" deleted\n"},
		{line: "delete pods --all", stdout: "No resources found\n"},
		{line: "version", stdout: "Client Version: v0.1.0-dev\nKubernetes Version: v1.32.0\nServer Version: v1.32.0\n"},
	}
	for _, s := range steps {
		var out, errOut bytes.Buffer
		env := &environment{stdin: strings.NewReader(s.stdin), stdout: &out, stderr: &errOut,
			now:    func() time.Time { return now },
			getenv: func(string) string { return "" },
			dial:   func(string) (nodeClient, error) { return node, nil }}
		code := env.run(context.Background(), append([]string{"wasmlet"}, strings.Fields(s.line)...))
		if code != s.code {
			t.Errorf("%s: exit code %d, want %d\nstdout: %s\nstderr: %s", s.line, code, s.code, out.String(), errOut.String())
		}
		if out.String() != s.stdout {
			t.Errorf("%s: stdout\n%s\nwant\n%s", s.line, out.String(), s.stdout)
		}
		if !strings.HasPrefix(errOut.String(), s.stderr) || (s.stderr == "" && errOut.Len() > 0) {
			t.Errorf("%s: stderr %q, want it to begin with %q", s.line, errOut.String(), s.stderr)
		}
	}
}
