package cli

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// testNode runs a node in-process as `wasmlet serve` runs it (store, API
// server on a loopback port, controllers, and pods run from real modules),
// named n1, with pod IPs from a range of its own, and returns the path of
// its kubeconfig.
func testNode(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	shareCompilationCache(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := wasmlet.NewConfig().
		WithDataDir(dir).
		WithListen("127.0.0.1:0").
		WithNodeName("n1").
		WithPodCIDR(podCIDR()).
		WithShutdownGracePeriod(5 * time.Second)
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

// podCIDR is a /24 of 127.43.0.0/16 picked at random, so that nodes of
// tests that run at the same time in other processes take other IPs.
func podCIDR() string { return fmt.Sprintf("127.43.%d.0/24", 1+rand.IntN(254)) }

var (
	guestOnce sync.Once
	guestPath string
	cacheDir  string
	guestErr  error
)

// myweb returns the absolute path of the myweb module, built and compiled
// once for the whole test binary.
func myweb(t *testing.T) string {
	t.Helper()
	guestOnce.Do(func() { guestPath, cacheDir, guestErr = precompile("myweb") })
	if guestErr != nil {
		t.Fatal(guestErr)
	}
	return guestPath
}

// precompile builds the example and compiles it into a compilation cache
// shared by every test process (examples.Precompile): from the cache, a
// node starts it at once.
func precompile(name string) (path, cache string, err error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	cache = filepath.Join(base, "wasmlet-test", "wazero")
	paths, err := examples.Precompile(cache, name)
	if err != nil {
		return "", "", err
	}
	return paths[0], cache, nil
}

// shareCompilationCache makes the node of data dir dir use the shared
// compilation cache.
func shareCompilationCache(t *testing.T, dir string) {
	t.Helper()
	myweb(t)
	if err := os.Symlink(cacheDir, filepath.Join(dir, "cache")); err != nil {
		t.Fatal(err)
	}
}

// ageOffset puts the CLI's clock half an hour ahead of the node's: every
// AGE then reads 30m or 31m, three characters wide as the AGE header, and
// the spacing of the tables does not depend on how long a test ran.
const ageOffset = 30 * time.Minute

// wasmletCmd runs one command line against the node and returns its exit
// code, stdout and stderr.
func wasmletCmd(t *testing.T, kubeconfig, stdin, line string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &environment{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, now: func() time.Time { return time.Now().Add(ageOffset) },
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

// suffixes makes the names of a controller's pods comparable: the
// 5-character suffix becomes xxxxx (its length is fixed, so columns keep
// their widths).
var suffixes = regexp.MustCompile(`\b(myweb-rs|myweb-rc)-[bcdfghjklmnpqrstvwxz2456789]{5}\b`)

func normalizeOutput(out string) string {
	return suffixes.ReplaceAllString(ages.ReplaceAllString(out, "<age>"), "$1-xxxxx")
}

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

// rsFile is rsManifest with the real myweb module.
func rsFile(t *testing.T, replicas int) string {
	m := strings.Replace(rsManifest, "%d", fmt.Sprint(replicas), 1)
	return writeFile(t, "rs.yaml", strings.Replace(m, "myweb.wasm", myweb(t), 1))
}

// podFile is podManifest with the real myweb module.
func podFile(t *testing.T) string {
	return writeFile(t, "pod.yaml", strings.Replace(podManifest, "solo.wasm", myweb(t), 1))
}

// step is one command and what it must print.
type step struct {
	line   string
	stdin  string
	code   int
	stdout string // exact, after normalize; "*" = anything
	stderr string // prefix
	// wait: run the command again until it prints stdout and stderr (the
	// node works on its own: controllers create pods, pods start and
	// terminate).
	wait bool
}

// waitTimeout bounds a step that waits for the node.
const waitTimeout = 90 * time.Second

func runSteps(t *testing.T, kubeconfig string, steps []step) {
	t.Helper()
	for _, s := range steps {
		start := time.Now()
		deadline := start.Add(waitTimeout)
		for {
			code, stdout, stderr := wasmletCmd(t, kubeconfig, s.stdin, s.line)
			got := normalizeOutput(stdout)
			var bad []string
			if code != s.code {
				bad = append(bad, fmt.Sprintf("exit code %d, want %d", code, s.code))
			}
			if s.stdout != "*" && got != s.stdout {
				bad = append(bad, fmt.Sprintf("stdout\n%s\nwant\n%s", got, s.stdout))
			}
			if !strings.HasPrefix(stderr, s.stderr) || (s.stderr == "" && stderr != "") {
				bad = append(bad, fmt.Sprintf("stderr %q, want it to begin with %q", stderr, s.stderr))
			}
			if len(bad) == 0 {
				if s.wait {
					t.Logf("%s: %v", s.line, time.Since(start).Round(time.Millisecond))
				}
				break
			}
			if !s.wait || time.Now().After(deadline) {
				if s.wait {
					bad = append([]string{fmt.Sprintf("still after %v:", waitTimeout)}, bad...)
				}
				t.Fatalf("%s: %s\nstdout: %s\nstderr: %s", s.line, strings.Join(bad, "\n"), stdout, stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// output runs a command that must succeed and returns its stdout.
func output(t *testing.T, kubeconfig, line string) string {
	t.Helper()
	code, stdout, stderr := wasmletCmd(t, kubeconfig, "", line)
	if code != 0 {
		t.Fatalf("%s: exit code %d\nstderr: %s", line, code, stderr)
	}
	return stdout
}

func TestApplyGetLabelScaleDelete(t *testing.T) {
	kc := testNode(t)
	rs3, rs4, pod := rsFile(t, 3), rsFile(t, 4), podFile(t)
	runSteps(t, kc, []step{
		{line: "get pods", stderr: "No resources found in default namespace.\n"},
		{line: "get pods -n kube-system", stderr: "No resources found in kube-system namespace.\n"},
		{line: "get statefulsets", code: 1, stderr: `error: the server doesn't have a resource type "statefulsets"`},
		{line: "get pod nope", code: 1, stderr: "Error from server (NotFound): pods \"nope\" not found\n"},
		{line: "apply -f " + rs3, stdout: "replicaset.apps/myweb-rs created\n"},
		{line: "apply -f " + rs3, stdout: "replicaset.apps/myweb-rs unchanged\n"},
		{line: "apply -f " + rs4, stdout: "replicaset.apps/myweb-rs configured\n"},
		{line: "get rs", wait: true, stdout: "NAME       DESIRED   CURRENT   READY   AGE\nmyweb-rs   4         4         4       <age>\n"},
		{line: "get rs/myweb-rs -o name", stdout: "replicaset.apps/myweb-rs\n"},
		{line: "create -f " + pod, stdout: "pod/solo created\n"},
		{line: "create -f " + pod, code: 1, stderr: "Error from server (AlreadyExists): error when creating \"" + pod + "\": pods \"solo\" already exists\n"},
		{line: "get pods,rs -o name", stdout: strings.Repeat("pod/myweb-rs-xxxxx\n", 4) + "pod/solo\nreplicaset.apps/myweb-rs\n"},
		{line: "get rs,pods --no-headers", wait: true, stdout: "replicaset.apps/myweb-rs   4     4     4     <age>\n" +
			strings.Repeat("pod/myweb-rs-xxxxx   1/1   Running   0     <age>\n", 4) +
			"pod/solo             1/1   Running   0     <age>\n"},
		{line: "label pods solo tier=front", stdout: "pod/solo labeled\n"},
		{line: "label pods solo app=other", code: 1, stderr: "error: 'app' already has a value (solo), and --overwrite is false\n"},
		{line: "label pod/solo app=other --overwrite", stdout: "pod/solo labeled\n"},
		{line: "label pods solo tier-", stdout: "pod/solo unlabeled\n"},
		{line: "label pods solo missing-", stdout: "label \"missing\" not found.\npod/solo not labeled\n"},
		{line: "get pods -l app=other --show-labels", stdout: "NAME   READY   STATUS    RESTARTS   AGE   LABELS\nsolo   1/1     Running   0          <age>   app=other\n"},
	})

	// Every pod runs on its own IP of the node's range, on node n1.
	ips := map[string]bool{}
	for _, row := range strings.Split(strings.TrimSpace(output(t, kc, "get pods -o wide --no-headers")), "\n") {
		f := strings.Fields(row)
		if len(f) < 7 || !strings.HasPrefix(f[5], "127.43.") || f[6] != "n1" || ips[f[5]] {
			t.Errorf("get pods -o wide: row %q: want its own IP in 127.43.0.0/16 and node n1", row)
		}
		ips[f[5]] = true
	}

	// A pod relabelled out of the selector is released and replaced;
	// relabelled back, it is adopted again and one pod goes.
	released := strings.TrimPrefix(strings.SplitN(output(t, kc, "get pods -l app=web -o name"), "\n", 2)[0], "pod/")
	runSteps(t, kc, []step{
		{line: "label pod " + released + " app=database --overwrite", stdout: "pod/myweb-rs-xxxxx labeled\n"},
		{line: "get pods " + released + " -o jsonpath={.metadata.ownerReferences}", wait: true, stdout: ""},
		{line: "get rs myweb-rs --no-headers", wait: true, stdout: "myweb-rs   4     4     4     <age>\n"},
		{line: "get pods -l app=web --no-headers", wait: true, stdout: strings.Repeat("myweb-rs-xxxxx   1/1   Running   0     <age>\n", 4)},
		{line: "label pod " + released + " app=web --overwrite", stdout: "pod/myweb-rs-xxxxx labeled\n"},
		{line: "get pods -l app=web --no-headers", wait: true, stdout: strings.Repeat("myweb-rs-xxxxx   1/1   Running   0     <age>\n", 4)},
		{line: "scale rs myweb-rs --replicas 2", stdout: "replicaset.apps/myweb-rs scaled\n"},
		{line: "scale rs myweb-rs --replicas 5 --current-replicas 3", code: 1, stderr: "error: Expected replicas to be 3, was 2\n"},
		{line: "get pods -l app=web --no-headers", wait: true, stdout: strings.Repeat("myweb-rs-xxxxx   1/1   Running   0     <age>\n", 2)},
		{line: "get rs myweb-rs -o json", stdout: "*"},
		{line: "apply -f " + rs4, stdout: "replicaset.apps/myweb-rs configured\n"},
		{line: "delete pod solo --grace-period 0 --force", stdout: "pod \"solo\" force deleted\n",
			stderr: "Warning: Immediate deletion does not wait for confirmation"},
		{line: "delete -f " + rs4, stdout: "replicaset.apps \"myweb-rs\" deleted\n"},
		{line: "get rs,pods", wait: true, stderr: "No resources found in default namespace.\n"},
		{line: "delete pods --all", stdout: "No resources found\n"},
	})
}

func TestNamespacesAndNodes(t *testing.T) {
	kc := testNode(t)
	pod := podFile(t)
	runSteps(t, kc, []step{
		{line: "get nodes -o name", stdout: "node/n1\n"},
		{line: "get nodes --no-headers -o custom-columns=NAME:.metadata.name,READY:.status.conditions[?(@.type==\"Ready\")].status", stdout: "n1    True\n"},
		{line: "get ns --no-headers", stdout: "default       Active   <age>\nkube-system   Active   <age>\n"},
		{line: "create namespace team", stdout: "namespace/team created\n"},
		{line: "get ns team --no-headers", stdout: "team   Active   <age>\n"},
		{line: "apply -f " + pod + " -n team", stdout: "pod/solo created\n"},
		{line: "get pods -A -o name", stdout: "pod/solo\n"},
		{line: "get pods --all-namespaces", wait: true, stdout: "NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE\nteam        solo   1/1     Running   0          <age>\n"},
		{line: "delete ns team", stdout: "namespace \"team\" deleted\n"},
		{line: "get pods -A", wait: true, stderr: "No resources found\n"},
		{line: "get ns team", wait: true, code: 1, stderr: "Error from server (NotFound): namespaces \"team\" not found\n"},
	})
}

func TestNoNode(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig.yaml")
	code, _, stderr := wasmletCmd(t, kc, "", "get pods")
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stderr == "" {
		t.Errorf("get pods without a node: exit %d, stderr %q; want 1 and one line", code, stderr)
	}
}
