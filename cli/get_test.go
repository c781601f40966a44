package cli

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

func TestGetOutputs(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	node := describeFixtureNode(t, now)
	cols := writeFile(t, "cols.txt", "NAME  PHASE\n.metadata.name  .status.phase\n")
	tests := []struct {
		line           string
		code           int
		stdout, stderr string
	}{
		{line: "get pods -o jsonpath={.items[*].metadata.name}", stdout: "crasher myweb-rs-x2b4k pending"},
		{line: "get pod crasher -o jsonpath={.status.phase}", stdout: "Running"},
		{line: `get pods -o jsonpath={range.items[*]}{.metadata.name}{"\t"}{.status.podIP}{"\n"}{end}`,
			stdout: "crasher\t127.42.0.3\nmyweb-rs-x2b4k\t127.42.0.5\npending\t\n"},
		{line: "get pods -o jsonpath-as-json={.items[0].metadata.name}", stdout: "[\n    \"crasher\"\n]\n"},
		{line: "get pods -o jsonpath", code: 1, stderr: "error: template format specified but no template given\n"},
		{line: "get pods -o jsonpath={.items[", code: 1, stderr: "error: error parsing jsonpath {.items[, unclosed action\n"},
		{line: "get pods -o custom-columns=NAME:.metadata.name,IP:.status.podIP,PORTS:.spec.containers[*].ports[*].containerPort",
			stdout: "NAME             IP           PORTS\ncrasher          127.42.0.3   <none>\nmyweb-rs-x2b4k   127.42.0.5   8080,9000,9001\npending          <none>       <none>\n"},
		{line: "get pods --no-headers -o custom-columns-file=" + cols,
			stdout: "crasher          Running\nmyweb-rs-x2b4k   Running\npending          <none>\n"},
		{line: "get pods -o custom-columns=NAME", code: 1, stderr: "error: unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>\n"},
		{line: "get pods -o wat", code: 1, stderr: "error: unable to match a printer suitable for the output format \"wat\", allowed formats are: custom-columns,custom-columns-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,wide,yaml\n"},
		{line: "get pods --sort-by=.metadata.creationTimestamp -o name", stdout: "pod/myweb-rs-x2b4k\npod/crasher\npod/pending\n"},
		{line: "get pods --sort-by={.status.podIP} -o name", stdout: "pod/pending\npod/crasher\npod/myweb-rs-x2b4k\n"},
		{line: "get pods --sort-by=.nope", code: 1, stderr: "error: couldn't find any field with path \"{.nope}\" in the list of objects\n"},
		{line: "get pods -L app -L tier,zone --show-labels", stdout: "" +
			"NAME             READY   STATUS             RESTARTS      AGE   APP   TIER    ZONE   LABELS\n" +
			"crasher          0/1     CrashLoopBackOff   4 (90s ago)   15m                        <none>\n" +
			"myweb-rs-x2b4k   2/2     Running            1 (10m ago)   30m   web   front   a      app=web,tier=front,zone=a\n" +
			"pending          0/1                        0             1s                         <none>\n"},
		{line: "get all -o name", stdout: "pod/crasher\npod/myweb-rs-x2b4k\npod/pending\nreplicationcontroller/myweb-rc\nreplicaset.apps/myweb-rs\n"},
		// Objects are named kind/name when what was fetched spans several
		// kinds: every list counts, an empty one too, and a kind of names
		// when one of them was found.
		{line: "get all -n team", stdout: "NAME        READY   STATUS        RESTARTS   AGE\npod/going   1/1     Terminating   0          150m\n"},
		{line: "get pods,nodes -n nowhere", stdout: "NAME      STATUS   ROLES           AGE   VERSION\nnode/n1   Ready    control-plane   4h    v0.1.0-dev\n"},
		{line: "get nodes,pods -n nowhere -o wide --no-headers",
			stdout: "node/n1   Ready   control-plane   4h    v0.1.0-dev   127.0.0.1   <none>   wasip1   6.8.0   wazero://v1.12.0\n"},
		{line: "get nodes,no", stdout: "NAME   STATUS   ROLES           AGE   VERSION\nn1     Ready    control-plane   4h    v0.1.0-dev\n"},
		{line: "get pods,nodes crasher", code: 1, stdout: "NAME      READY   STATUS             RESTARTS      AGE\ncrasher   0/1     CrashLoopBackOff   4 (90s ago)   15m\n",
			stderr: "Error from server (NotFound): nodes \"crasher\" not found\n"},
		{line: "get all -n nowhere", stderr: "No resources found in nowhere namespace.\n"},
		{line: "get pod nope --ignore-not-found"},
		{line: "get rs,rc --sort-by=.metadata.name", stdout: "" +
			"NAME                             DESIRED   CURRENT   READY   AGE\nreplicationcontroller/myweb-rc   2         2         2       3h45m\n\n" +
			"NAME                       DESIRED   CURRENT   READY   AGE\nreplicaset.apps/myweb-rs   3         2         1       30m\n"},
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

// syncBuffer is a buffer written by a command while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLine runs a command line that runs until ctx ends (a watch), and
// returns its output and a function that stops it and returns its exit
// code.
func startLine(t *testing.T, node *memoryNode, now time.Time, line string) (*syncBuffer, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	env := &environment{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr,
		now:    func() time.Time { return now },
		getenv: func(string) string { return "" },
		dial:   func(string) (nodeClient, error) { return node, nil }}
	done := make(chan int)
	before := node.watcherCount()
	go func() { done <- env.run(ctx, append([]string{"wasmlet"}, strings.Fields(line)...)) }()
	deadline := time.Now().Add(5 * time.Second)
	for node.watcherCount() == before {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("%s ended before watching: exit %d, stderr %s", line, code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never started watching", line)
		}
		time.Sleep(time.Millisecond)
	}
	return stdout, stderr, func() int {
		cancel()
		return <-done
	}
}

// waitFor waits until buf holds want.
func waitFor(t *testing.T, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for buf.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("output\n%s\nwant\n%s", buf.String(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGetWatch(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	node := newMemoryNode(now.Add(-time.Minute))
	pods, _ := api.LookupResource("pods")
	ctx := context.Background()
	mk := func(name string) api.Object {
		p := &api.Pod{}
		p.Name, p.Namespace = name, "default"
		p.Spec.Containers = []api.Container{{Name: "app", Image: "app.wasm"}}
		return p
	}
	if _, err := node.Create(ctx, mk("a")); err != nil {
		t.Fatal(err)
	}

	stdout, _, stop := startLine(t, node, now, "get pods -w")
	header := "NAME   READY   STATUS   RESTARTS   AGE\na      0/1              0          60s\n"
	waitFor(t, stdout, header)
	if _, err := node.Create(ctx, mk("a-much-longer-name")); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Patch(ctx, pods, "default", "a", "", []byte(`{"status":{"phase":"Running"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := node.Delete(ctx, pods, "default", "a-much-longer-name", clientDelete()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, stdout, header+
		"a-much-longer-name   0/1              0          60s\n"+
		"a                    0/1     Running   0          60s\n"+
		"a-much-longer-name   0/1               0          60s\n")
	// Interrupted, as kubectl's, it exits 1.
	if code := stop(); code != 1 {
		t.Errorf("get -w ended with %d, want 1", code)
	}

	stdout, _, stop = startLine(t, node, now, "get pods -w -o jsonpath={.metadata.name}{\"\\n\"}")
	waitFor(t, stdout, "a\n")
	if _, err := node.Patch(ctx, pods, "default", "a", "", []byte(`{"metadata":{"labels":{"w":"1"}}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, stdout, "a\na\n")
	stop()

	stdout, _, stop = startLine(t, node, now, "get pod a --watch-only -o yaml")
	for _, v := range []string{"2", "3"} {
		if _, err := node.Patch(ctx, pods, "default", "a", "", []byte(`{"metadata":{"labels":{"w":"`+v+`"}}}`)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(stdout.String(), "kind: Pod") < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if out := stdout.String(); !strings.HasPrefix(out, "apiVersion: v1\n") || strings.Count(out, "\n---\napiVersion: v1\n") != 1 {
		t.Errorf("get -w -o yaml printed\n%s", out)
	}
	stop()

	stdout, _, stop = startLine(t, node, now, "get pod a --watch-only -o name")
	if _, err := node.Patch(ctx, pods, "default", "a", "", []byte(`{"metadata":{"labels":{"x":"y"}}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, stdout, "pod/a\n")
	stop()

	for line, want := range map[string]string{
		"get pods,rs -w":  "error: you may only specify a single resource type\n",
		"get pod a a -w":  "error: you may only watch a single resource or type of resource at a time\n",
		"get pod a b -w":  "Error from server (NotFound): pods \"b\" not found\n",
		"get pod nope -w": "Error from server (NotFound): pods \"nope\" not found\n",
	} {
		code, _, stderr := runLine(node, now, line)
		if code != 1 || stderr != want {
			t.Errorf("%s: exit %d, stderr %q; want 1, %q", line, code, stderr, want)
		}
	}
}
