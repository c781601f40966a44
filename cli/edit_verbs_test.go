package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// TestAnnotatePatchReplace runs annotate, patch and replace against a node
// in memory: kubectl's words for each case, and its errors.
func TestAnnotatePatchReplace(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	node := newMemoryNode(now.Add(-time.Minute))
	for _, name := range []string{"a", "b"} {
		p := &api.Pod{}
		p.Name, p.Namespace, p.Labels = name, "default", map[string]string{"app": "web"}
		p.Spec.Containers = []api.Container{{Name: "app", Image: "app.wasm"}}
		if _, err := node.Create(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	patchFile := writeFile(t, "patch.yaml", "metadata:\n  labels:\n    tier: front\n")
	replaced := writeFile(t, "pod.yaml", strings.ReplaceAll(podManifest, "solo", "a"))
	missing := writeFile(t, "pod.yaml", strings.ReplaceAll(podManifest, "solo", "zz"))
	tests := []struct {
		line           string
		code           int
		stdout, stderr string
	}{
		{line: "annotate pod a note=hello", stdout: "pod/a annotated\n"},
		{line: "annotate pod a note=bye", code: 1, stderr: "error: --overwrite is false but found the following declared annotation(s): 'note' already has a value (hello)\n"},
		{line: "annotate pod a note=bye --overwrite", stdout: "pod/a annotated\n"},
		{line: "annotate pod a note=bye", stdout: "pod/a annotated\n"},
		{line: "annotate pod a url=http://x/?a=b", stdout: "pod/a annotated\n"},
		{line: "get pod a -o jsonpath={.metadata.annotations}", stdout: `{"note":"bye","url":"http://x/?a=b"}`},
		{line: "annotate pod a note-", stdout: "pod/a annotated\n"},
		{line: "annotate pods -l app=web team=blue", stdout: "pod/a annotated\npod/b annotated\n"},
		{line: "annotate pods --all team=red --overwrite", stdout: "pod/a annotated\npod/b annotated\n"},
		{line: "get pods -o jsonpath={.items[*].metadata.annotations.team}", stdout: "red red"},
		{line: "annotate pod a", code: 1, stderr: "error: at least one annotation update is required\n"},
		{line: "annotate x=y", code: 1, stderr: "error: one or more resources must be specified as <resource> <name> or <resource>/<name>\n"},
		{line: "annotate pod a x=y b", code: 1, stderr: "error: all resources must be specified before annotation changes: b\n"},
		{line: "annotate pod a x=y x-", code: 1, stderr: "error: can not both modify and remove the following annotation(s) in the same command: x\n"},
		{line: "annotate pods x=y", code: 1, stderr: "error: resource(s) were provided, but no name was specified\n"},
		{line: "annotate pod nope x=y", code: 1, stderr: "Error from server (NotFound): pods \"nope\" not found\n"},

		{line: `patch pod a -p {"metadata":{"labels":{"tier":"back"}}}`, stdout: "pod/a patched\n"},
		{line: `patch pod a -p {"metadata":{"labels":{"tier":"back"}}}`, stdout: "pod/a patched (no change)\n"},
		{line: "patch pod/a --type merge --patch-file " + patchFile, stdout: "pod/a patched\n"},
		{line: "get pod a -o jsonpath={.metadata.labels.tier}", stdout: "front"},
		{line: "patch pod a", code: 1, stderr: "error: must specify --patch or --patch-file containing the contents of the patch\n"},
		{line: "patch pod a -p {} --patch-file " + patchFile, code: 1, stderr: "error: cannot specify --patch and --patch-file together\n"},
		{line: "patch pod a -p {} --type xml", code: 1, stderr: "error: --type must be one of [json merge strategic], not \"xml\"\n"},
		{line: "patch pod nope -p {}", code: 1, stderr: "Error from server (NotFound): pods \"nope\" not found\n"},

		{line: "replace -f " + replaced, stdout: "pod/a replaced\n"},
		{line: "get pod a -o jsonpath={.spec.containers[0].image}", stdout: "a.wasm"},
		{line: "replace -f " + missing, code: 1, stderr: "Error from server (NotFound): error when replacing \"" + missing + "\": pods \"zz\" not found\n"},
		{line: "replace -f " + replaced + " --force --grace-period 0", stdout: "pod \"a\" deleted\npod/a replaced\n",
			stderr: "Warning: Immediate deletion"},
		{line: "replace -f " + missing + " --force", stdout: "pod/zz replaced\n"},
		{line: "replace", code: 1, stderr: "error: must specify --filename to replace\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runLine(node, now, tt.line)
		if code != tt.code {
			t.Errorf("%s: exit code %d, want %d\nstderr: %s", tt.line, code, tt.code, stderr)
		}
		if stdout != tt.stdout {
			t.Errorf("%s: stdout\n%s\nwant\n%s", tt.line, stdout, tt.stdout)
		}
		if !strings.HasPrefix(stderr, tt.stderr) || (tt.stderr == "" && stderr != "") {
			t.Errorf("%s: stderr %q, want %q", tt.line, stderr, tt.stderr)
		}
	}
}
