package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet"
)

// testNode runs a node in-process on a loopback port, with the store and
// the API server but without running pods, and returns the path of its
// kubeconfig.
func testNode(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	cfg := wasmlet.NewConfig().
		WithDataDir(dir).
		WithListen("127.0.0.1:0").
		WithNodeName("n1").
		WithPods(false)
	node, err := wasmlet.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		node.Close()
	})
	if err := node.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig.yaml")
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Fatalf("the node wrote no kubeconfig: %v", err)
	}
	return kubeconfig
}

// wasmletCmd runs one command line against the node and returns its exit
// code, stdout and stderr.
func wasmletCmd(t *testing.T, kubeconfig, stdin, line string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &environment{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, now: time.Now,
		getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return kubeconfig
			}
			return ""
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := env.run(ctx, append([]string{"wasmlet"}, strings.Fields(line)...))
	return code, out.String(), errOut.String()
}

// ages makes AGE cells comparable: every duration becomes <age>.
var ages = regexp.MustCompile(`\b\d+(s|m|h|d|y)(\d+(s|m|h|d))?\b`)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const rsManifest = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: myweb-rs
  labels:
    app: web
spec:
  replicas: %d
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: myweb
        image: myweb.wasm
`

const podManifest = `apiVersion: v1
kind: Pod
metadata:
  name: solo
  labels:
    app: solo
spec:
  containers:
  - name: solo
    image: solo.wasm
`

// step is one command and what it must print.
type step struct {
	line   string
	stdin  string
	code   int
	stdout string // exact, after ages are replaced by <age>; "*" = anything
	stderr string // prefix
}

func runSteps(t *testing.T, kubeconfig string, steps []step) {
	t.Helper()
	for _, s := range steps {
		code, stdout, stderr := wasmletCmd(t, kubeconfig, s.stdin, s.line)
		if code != s.code {
			t.Errorf("%s: exit code %d, want %d\nstdout: %s\nstderr: %s", s.line, code, s.code, stdout, stderr)
		}
		if got := ages.ReplaceAllString(stdout, "<age>"); s.stdout != "*" && got != s.stdout {
			t.Errorf("%s: stdout\n%s\nwant\n%s", s.line, got, s.stdout)
		}
		if !strings.HasPrefix(stderr, s.stderr) || (s.stderr == "" && stderr != "") {
			t.Errorf("%s: stderr %q, want it to begin with %q", s.line, stderr, s.stderr)
		}
	}
}

func TestApplyGetLabelScaleDelete(t *testing.T) {
	kc := testNode(t)
	rs3 := writeFile(t, "rs.yaml", strings.Replace(rsManifest, "%d", "3", 1))
	rs4 := writeFile(t, "rs.yaml", strings.Replace(rsManifest, "%d", "4", 1))
	pod := writeFile(t, "pod.yaml", podManifest)
	runSteps(t, kc, []step{
		{line: "get pods", stderr: "No resources found in default namespace.\n"},
		{line: "get pods -n kube-system", stderr: "No resources found in kube-system namespace.\n"},
		{line: "get services", code: 1, stderr: `error: the server doesn't have a resource type "services"`},
		{line: "get pod nope", code: 1, stderr: "Error from server (NotFound): pods \"nope\" not found\n"},
		{line: "apply -f " + rs3, stdout: "replicaset.apps/myweb-rs created\n"},
		{line: "apply -f " + rs3, stdout: "replicaset.apps/myweb-rs unchanged\n"},
		{line: "apply -f " + rs4, stdout: "replicaset.apps/myweb-rs configured\n"},
		{line: "get rs", stdout: "NAME       DESIRED   CURRENT   READY   AGE\nmyweb-rs   4         0         0       <age>\n"},
		{line: "get rs/myweb-rs -o name", stdout: "replicaset.apps/myweb-rs\n"},
		{line: "create -f " + pod, stdout: "pod/solo created\n"},
		{line: "create -f " + pod, code: 1, stderr: "Error from server (AlreadyExists): pods \"solo\" already exists\n"},
		{line: "get pods,rs -o name", stdout: "pod/solo\nreplicaset.apps/myweb-rs\n"},
		{line: "get rs,pods --no-headers", stdout: "replicaset.apps/myweb-rs   4     0     0     <age>\npod/solo   0/1   Pending   0     <age>\n"},
		{line: "label pods solo tier=front", stdout: "pod/solo labeled\n"},
		{line: "label pods solo app=other", code: 1, stderr: "error: 'app' already has a value (solo), and --overwrite is false\n"},
		{line: "label pod/solo app=other --overwrite", stdout: "pod/solo labeled\n"},
		{line: "label pods solo tier-", stdout: "pod/solo unlabeled\n"},
		{line: "label pods solo missing-", stdout: "label \"missing\" not found.\npod/solo not labeled\n"},
		{line: "get pods -l app=other --show-labels", stdout: "NAME   READY   STATUS    RESTARTS   AGE   LABELS\nsolo   0/1     Pending   0          <age>   app=other\n"},
		{line: "scale rs myweb-rs --replicas 2", stdout: "replicaset.apps/myweb-rs scaled\n"},
		{line: "scale rs myweb-rs --replicas 5 --current-replicas 3", code: 1, stderr: "error: Expected replicas to be 3, was 2\n"},
		{line: "get rs myweb-rs -o json", stdout: "*"},
		{line: "apply -f " + rs4, stdout: "replicaset.apps/myweb-rs configured\n"},
		{line: "delete pod solo --grace-period 0 --force", stdout: "pod \"solo\" deleted\n",
			stderr: "Warning: Immediate deletion does not wait for confirmation"},
		{line: "delete -f " + rs4, stdout: "replicaset.apps \"myweb-rs\" deleted\n"},
		{line: "get rs,pods", stderr: "No resources found in default namespace.\n"},
		{line: "delete pods --all", stdout: "No resources found\n"},
	})
}

func TestNamespacesAndNodes(t *testing.T) {
	kc := testNode(t)
	pod := writeFile(t, "pod.yaml", podManifest)
	runSteps(t, kc, []step{
		{line: "create namespace team", stdout: "namespace/team created\n"},
		{line: "get ns team --no-headers", stdout: "team   Active   <age>\n"},
		{line: "apply -f " + pod + " -n team", stdout: "pod/solo created\n"},
		{line: "get pods -A -o name", stdout: "pod/solo\n"},
		{line: "get pods --all-namespaces", stdout: "NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE\nteam        solo   0/1     Pending   0          <age>\n"},
		{line: "get nodes -o name", stdout: "node/n1\n"},
		{line: "delete ns team", stdout: "namespace \"team\" deleted\n"},
	})
}

func TestNoNode(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig.yaml")
	code, _, stderr := wasmletCmd(t, kc, "", "get pods")
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stderr == "" {
		t.Errorf("get pods without a node: exit %d, stderr %q; want 1 and one line", code, stderr)
	}
}
