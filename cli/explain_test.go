package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenFile compares got with testdata/<name>, or rewrites it with
// -update.
func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cli -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s\n--- got:\n%s\n--- want:\n%s", name, path, got, want)
	}
}

// runOffline runs a command that needs no node.
func runOffline(line string) (int, string, string) {
	var out, errOut bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, now: time.Now,
		getenv: func(string) string { return "" }}
	code := env.run(context.Background(), append([]string{"wasmlet"}, strings.Fields(line)...))
	return code, out.String(), errOut.String()
}

func TestExplainGolden(t *testing.T) {
	tests := []struct{ golden, line string }{
		{"pods", "explain pods"},
		{"pods.spec.restartPolicy", "explain pods.spec.restartPolicy"},
		{"rs.spec.selector.matchExpressions", "explain rs.spec.selector.matchExpressions"},
		{"rs.spec.selector.matchExpressions-recursive", "explain rs.spec.selector.matchExpressions --recursive"},
		{"po.spec.containers", "explain po.spec.containers"},
		{"pods.spec.volumes.hostPath.type", "explain pods.spec.volumes.hostPath.type"},
		{"pods.spec.containers.resources.limits", "explain pods.spec.containers.resources.limits"},
		{"pods.spec.containers.livenessProbe.httpGet.port", "explain pods.spec.containers.livenessProbe.httpGet.port"},
		{"rs-recursive", "explain rs --recursive --api-version=apps/v1"},
		{"rc-recursive", "explain replicationcontrollers --recursive"},
		{"events", "explain events"},
		{"nodes.status", "explain nodes.status"},
		{"namespaces-recursive", "explain ns --recursive"},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			code, out, errOut := runOffline(tc.line)
			if code != 0 || errOut != "" {
				t.Fatalf("%s: exit code %d, stderr %q", tc.line, code, errOut)
			}
			goldenFile(t, filepath.Join("explain", tc.golden+".golden"), []byte(out))
		})
	}
}

func TestExplainErrors(t *testing.T) {
	tests := []struct {
		line, stdout, stderr string
	}{
		{"explain", "", "error: You must specify the type of resource to explain. Use \"wasmlet api-resources\" for a complete list of supported resources.\n"},
		{"explain statefulsets", "", "the server doesn't have a resource type \"statefulsets\"\n"},
		{"explain pods.spec.nope", "KIND:       Pod\nVERSION:    v1\n\n", "error: field \"nope\" does not exist\n"},
		// kubectl names the last element of the path, not the first
		// missing one.
		{"explain pods.nope.deeper", "KIND:       Pod\nVERSION:    v1\n\n", "error: field \"deeper\" does not exist\n"},
		{"explain pods.spec.restartPolicy.x", "KIND:       Pod\nVERSION:    v1\n\n", "error: field \"x\" does not exist\n"},
		{"explain pods --api-version=apps/v1", "", "error: GVR (apps/v1, Resource=pods) not found in OpenAPI schema\n"},
		{"explain rs --api-version=v1", "", "error: GVR (/v1, Resource=replicasets) not found in OpenAPI schema\n"},
	}
	for _, tc := range tests {
		code, out, errOut := runOffline(tc.line)
		if code != 1 || out != tc.stdout || errOut != tc.stderr {
			t.Errorf("%s: exit code %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q", tc.line, code, out, tc.stdout, errOut, tc.stderr)
		}
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  string
	}{
		{"a b c", 3, "a b\nc"},
		{"aaaa bb", 3, "aaaa\nbb"},
		{"ab cd\nef gh", 5, "ab cd\nef gh"},
		{"ab cd ef", 5, "ab cd\nef"},
		{"x\n", 10, "x\n"},
	}
	for _, tc := range tests {
		if got := wrap(tc.in, tc.width); got != tc.want {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}
