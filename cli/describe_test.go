package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
)

// printerFixtures reads a list of objects from the printers' testdata;
// kind is the kind of items that do not name theirs.
func printerFixtures(t *testing.T, file, kind string) []api.Object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("printers", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := yaml.Unmarshal(b, &raws); err != nil {
		t.Fatal(err)
	}
	var out []api.Object
	for _, raw := range raws {
		var tm api.TypeMeta
		if err := json.Unmarshal(raw, &tm); err != nil {
			t.Fatal(err)
		}
		r, ok := api.LookupKind(tm.APIVersion, tm.Kind)
		if !ok {
			r, _ = api.LookupResource(kind)
		}
		obj := r.New()
		if err := json.Unmarshal(raw, obj); err != nil {
			t.Fatal(err)
		}
		out = append(out, obj)
	}
	return out
}

// describeFixtureNode is a node in memory holding the objects of the
// printers' describe fixtures.
func describeFixtureNode(t *testing.T, now time.Time) *memoryNode {
	node := newMemoryNode(now)
	for _, f := range []struct{ file, kind string }{
		{"describe-pods.yaml", "pods"}, {"describe-events.yaml", "events"},
		{"describe-controllers.yaml", ""}, {"describe-nodes.yaml", "nodes"}, {"namespaces.yaml", "namespaces"},
	} {
		node.seed(printerFixtures(t, f.file, f.kind)...)
	}
	return node
}

// runLine runs one command line against node and returns its exit code,
// stdout and stderr.
func runLine(node nodeClient, now time.Time, line string) (int, string, string) {
	var out, errOut bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
		now:    func() time.Time { return now },
		getenv: func(string) string { return "" },
		dial:   func(string) (nodeClient, error) { return node, nil }}
	code := env.run(context.Background(), append([]string{"wasmlet"}, strings.Fields(line)...))
	return code, out.String(), errOut.String()
}

func TestDescribeVerb(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	node := describeFixtureNode(t, now)
	get := func(resource, ns, name string) api.Object {
		r, _ := api.LookupResource(resource)
		obj, err := node.Get(context.Background(), r, ns, name)
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}
	// description is what the printers make of one object, given the
	// events and pods describe must have found for it.
	description := func(resource, ns, name string, events []string, pods ...string) string {
		r, _ := api.LookupResource(resource)
		in := printers.DescribeInput{Resource: r, Object: get(resource, ns, name), Now: now, ShowEvents: events != nil}
		for _, e := range events {
			in.Events = append(in.Events, *get("events", "default", e).(*api.Event))
		}
		for _, p := range pods {
			pns, pname, _ := strings.Cut(p, "/")
			in.Pods = append(in.Pods, get("pods", pns, pname).(*api.Pod))
		}
		var b bytes.Buffer
		if err := printers.Describe(&b, in); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	podEvents := []string{"myweb-rs-x2b4k.1", "myweb-rs-x2b4k.3", "myweb-rs-x2b4k.2"}
	myweb := description("pods", "default", "myweb-rs-x2b4k", podEvents)
	mywebQuiet := description("pods", "default", "myweb-rs-x2b4k", nil)
	crasher := description("pods", "default", "crasher", []string{"crasher.1"})
	pending := description("pods", "default", "pending", []string{})
	crasherFile := writeFile(t, "crasher.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: crasher\nspec:\n  containers:\n  - name: crasher\n    image: crash.wasm\n")

	tests := []struct {
		line           string
		code           int
		stdout, stderr string
	}{
		{line: "describe", code: 1, stderr: "error: You must specify the type of resource to describe. Use \"wasmlet api-resources\" for a complete list of supported resources.\n"},
		{line: "describe pod myweb-rs-x2b4k", stdout: myweb},
		{line: "describe pods/myweb-rs-x2b4k", stdout: myweb},
		{line: "describe po myweb-rs-x2b4k --show-events=false", stdout: mywebQuiet},
		// As kubectl 1.32, every object described shows its events, however
		// many there are and however they were found.
		{line: "describe pod myweb", stdout: myweb + "\n"},
		{line: "describe pod myweb --show-events=false", stdout: mywebQuiet + "\n"},
		{line: "describe pod nope", code: 1, stderr: "Error from server (NotFound): pods \"nope\" not found\n"},
		{line: "describe pod myweb-rs-x2b4k nope", code: 1, stdout: myweb,
			stderr: "Error from server (NotFound): pods \"nope\" not found\n"},
		{line: "describe pods", stdout: crasher + "\n\n" + myweb + "\n\n" + pending},
		{line: "describe pods -l app=web", stdout: myweb},
		{line: "describe pods -l app=none", stderr: "No resources found in default namespace.\n"},
		{line: "describe pods -A -l app=none", stderr: "No resources found\n"},
		{line: "describe pods -n team", stdout: description("pods", "team", "going", []string{})},
		{line: "describe rs myweb-rs", stdout: description("replicasets", "default", "myweb-rs",
			[]string{"myweb-rs.1"}, "default/myweb-rs-x2b4k")},
		{line: "describe rc", stdout: description("replicationcontrollers", "default", "myweb-rc", []string{})},
		{line: "describe node n1", stdout: description("nodes", "", "n1", []string{"n1.1"},
			"default/crasher", "default/myweb-rs-x2b4k", "team/going")},
		{line: "describe ns old", stdout: description("namespaces", "", "old", nil)},
		{line: "describe -f " + crasherFile, stdout: description("pods", "default", "crasher", []string{"crasher.1"})},
		{line: "describe pods -l app=web pod/x", code: 1, stderr: "error: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'wasmlet get resource/<resource_name>' instead of 'wasmlet get resource resource/<resource_name>'\n"},
		{line: "describe statefulsets", code: 1, stderr: "error: the server doesn't have a resource type \"statefulsets\"\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runLine(node, now, tt.line)
		if code != tt.code {
			t.Errorf("%s: exit code %d, want %d\nstderr: %s", tt.line, code, tt.code, stderr)
		}
		if stdout != tt.stdout {
			t.Errorf("%s: stdout\n%s\nwant\n%s", tt.line, stdout, tt.stdout)
		}
		if stderr != tt.stderr {
			t.Errorf("%s: stderr %q, want %q", tt.line, stderr, tt.stderr)
		}
	}
}
