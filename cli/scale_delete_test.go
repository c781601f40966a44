package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestScaleAndCascade: scale by file and with --current-replicas, and the
// grace period and propagation policy each delete flag sends.
func TestScaleAndCascade(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	node := newMemoryNode(now)
	rs := writeFile(t, "rs.yaml", strings.Replace(rsManifest, "%d", "3", 1))
	pod := writeFile(t, "pod.yaml", podManifest)
	tests := []struct {
		line           string
		code           int
		stdout, stderr string
		grace          string // the grace period sent, "nil" for none
		policy         string
	}{
		{line: "create -f " + rs, stdout: "replicaset.apps/myweb-rs created\n"},
		{line: "scale -f " + rs + " --replicas 5", stdout: "replicaset.apps/myweb-rs scaled\n"},
		{line: "scale rs myweb-rs --current-replicas 5 --replicas 1", stdout: "replicaset.apps/myweb-rs scaled\n"},
		{line: "scale rs myweb-rs --current-replicas 5 --replicas 2", code: 1, stderr: "error: Expected replicas to be 5, was 1\n"},
		{line: "scale -f " + pod + " --replicas 2", code: 1},
		{line: "get rs myweb-rs -o jsonpath={.spec.replicas}", stdout: "1"},
		{line: "delete rs myweb-rs --cascade=orphan", stdout: "replicaset.apps \"myweb-rs\" deleted\n", grace: "nil", policy: "Orphan"},
		{line: "create -f " + rs, stdout: "replicaset.apps/myweb-rs created\n"},
		{line: "delete -f " + rs + " --cascade=foreground --wait=false", stdout: "replicaset.apps \"myweb-rs\" deleted\n", grace: "nil", policy: "Foreground"},
		{line: "create -f " + pod, stdout: "pod/solo created\n"},
		{line: "delete pod solo --grace-period 5 --cascade=false", stdout: "pod \"solo\" deleted\n", grace: "5", policy: "Orphan"},
		{line: "create -f " + pod, stdout: "pod/solo created\n"},
		{line: "delete pod solo --now", stdout: "pod \"solo\" deleted\n", grace: "1", policy: "Background"},
		{line: "create -f " + pod, stdout: "pod/solo created\n"},
		{line: "delete pod solo --force", stdout: "pod \"solo\" force deleted\n", stderr: "Warning: Immediate deletion", grace: "0", policy: "Background"},
		{line: "delete pod solo --cascade=sideways", code: 1, stderr: "error: invalid cascade value (sideways). Must be \"background\", \"foreground\", or \"orphan\"\n"},
		{line: "delete pod solo --now --grace-period 3", code: 1, stderr: "error: --now and --grace-period cannot be specified together\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runLine(node, now, tt.line)
		if code != tt.code {
			t.Errorf("%s: exit code %d, want %d\nstderr: %s", tt.line, code, tt.code, stderr)
		}
		if stdout != tt.stdout {
			t.Errorf("%s: stdout\n%s\nwant\n%s", tt.line, stdout, tt.stdout)
		}
		if !strings.HasPrefix(stderr, tt.stderr) || (tt.stderr == "" && stderr != "" && tt.code == 0) {
			t.Errorf("%s: stderr %q, want %q", tt.line, stderr, tt.stderr)
		}
		if tt.policy != "" {
			opts := node.lastDelete()
			grace := "nil"
			if opts.GracePeriodSeconds != nil {
				grace = fmt.Sprint(*opts.GracePeriodSeconds)
			}
			if grace != tt.grace || opts.PropagationPolicy != tt.policy {
				t.Errorf("%s: sent grace %s, policy %q; want %s, %q", tt.line, grace, opts.PropagationPolicy, tt.grace, tt.policy)
			}
		}
	}
}
