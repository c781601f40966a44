package apiserver_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/apiserver"
)

// kubectl runs the real kubectl against a node: the test of what the
// server must offer a client it does not control.
type kubectl struct {
	t          *testing.T
	bin        string
	kubeconfig string
	cacheDir   string
}

func findKubectl(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: the end-to-end test of the real kubectl is skipped")
	}
	return bin
}

func newKubectl(t *testing.T, n *node) *kubectl {
	return &kubectl{t: t, bin: findKubectl(t), kubeconfig: filepath.Join(n.dataDir, apiserver.KubeconfigFile), cacheDir: t.TempDir()}
}

// run runs kubectl with args (and stdin) and returns stdout, stderr and
// whether it exited 0.
func (k *kubectl) run(stdin string, args ...string) (string, string, bool) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return k.runCtx(ctx, stdin, args...)
}

func (k *kubectl) runCtx(ctx context.Context, stdin string, args ...string) (string, string, bool) {
	k.t.Helper()
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+k.cacheDir, "KUBECTL_KUBERC=false")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	k.t.Logf("kubectl %s\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	return out.String(), errb.String(), err == nil
}

// must runs kubectl and fails the test unless it succeeds.
func (k *kubectl) must(stdin string, args ...string) string {
	k.t.Helper()
	out, errOut, ok := k.run(stdin, args...)
	if !ok {
		k.t.Fatalf("kubectl %s failed: %s%s", strings.Join(args, " "), out, errOut)
	}
	return out
}

func manifest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestKubectl(t *testing.T) {
	n := startNode(t, nil)
	k := newKubectl(t, n)

	if out := k.must("", "version"); !strings.Contains(out, "Server Version: v1.32.0") {
		t.Errorf("version: %s", out)
	}
	if _, errOut, _ := k.run("", "get", "pods"); !strings.Contains(errOut, "No resources found in default namespace.") {
		t.Errorf("get pods on an empty node: %s", errOut)
	}
	rs := manifest(t, "wasm-examples/manifests/exercises/myweb-rs.yaml")
	if out := k.must(rs, "apply", "-f", "-"); strings.TrimSpace(out) != "replicaset.apps/myweb-rs created" {
		t.Errorf("apply: %q", out)
	}
	if out := k.must(rs, "apply", "-f", "-"); strings.TrimSpace(out) != "replicaset.apps/myweb-rs unchanged" {
		t.Errorf("apply again: %q", out)
	}
	out := k.must("", "get", "rs")
	if !strings.HasPrefix(out, "NAME       DESIRED   CURRENT   READY   AGE\nmyweb-rs   2         0         0       ") {
		t.Errorf("get rs:\n%s", out)
	}
	out = k.must("", "get", "rs", "-o", "wide")
	if !strings.Contains(out, "CONTAINERS") || !strings.Contains(out, "wasm-examples/bin/myweb.wasm") {
		t.Errorf("get rs -o wide:\n%s", out)
	}
	out = k.must("", "get", "rs", "myweb-rs", "-o", "yaml")
	for _, want := range []string{"kind: ReplicaSet", "name: myweb-rs", "replicas: 2", "kubectl.kubernetes.io/last-applied-configuration", "uid: "} {
		if !strings.Contains(out, want) {
			t.Errorf("get -o yaml lacks %q:\n%s", want, out)
		}
	}
	if out := k.must("", "scale", "rs", "myweb-rs", "--replicas=3"); strings.TrimSpace(out) != "replicaset.apps/myweb-rs scaled" {
		t.Errorf("scale: %q", out)
	}
	if out := k.must("", "get", "rs", "myweb-rs", "-o", "jsonpath={.spec.replicas}"); out != "3" {
		t.Errorf("replicas after scale: %q", out)
	}
	if out := k.must("", "label", "rs", "myweb-rs", "env=dev"); strings.TrimSpace(out) != "replicaset.apps/myweb-rs labeled" {
		t.Errorf("label: %q", out)
	}
	if out := k.must("", "get", "rs", "--show-labels", "-l", "env=dev"); !strings.Contains(out, "env=dev") {
		t.Errorf("get --show-labels -l:\n%s", out)
	}
	if out := k.must("", "get", "rs", "-A"); !strings.HasPrefix(out, "NAMESPACE   NAME") || !strings.Contains(out, "default     myweb-rs") {
		t.Errorf("get -A:\n%s", out)
	}
	if out := k.must("", "patch", "rs", "myweb-rs", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"myweb","env":[{"name":"A","value":"1"}]}]}}}}`); strings.TrimSpace(out) != "replicaset.apps/myweb-rs patched" {
		t.Errorf("strategic patch: %q", out)
	}
	if out := k.must("", "get", "rs", "myweb-rs", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].name}"); out != "wasm-examples/bin/myweb.wasm A" {
		t.Errorf("after strategic patch: %q", out)
	}

	// get -w prints the list, then a line per change, until it is stopped.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string)
	go func() {
		out, _, _ := k.runCtx(ctx, "", "get", "rs", "-w")
		done <- out
	}()
	time.Sleep(2 * time.Second)
	k.must("", "label", "rs", "myweb-rs", "watched=yes")
	time.Sleep(time.Second)
	cancel()
	out = <-done
	if strings.Count(out, "myweb-rs") < 2 {
		t.Errorf("get -w saw no change:\n%s", out)
	}

	if out := k.must("", "get", "pods,rs"); !strings.Contains(out, "replicaset.apps/myweb-rs") {
		t.Errorf("get pods,rs:\n%s", out)
	}
	if out := k.must("", "api-resources"); !strings.Contains(out, "replicasets") || !strings.Contains(out, "rs ") {
		t.Errorf("api-resources:\n%s", out)
	}
	if _, errOut, ok := k.run("", "get", "rs", "nope"); ok || !strings.Contains(errOut, `Error from server (NotFound): replicasets.apps "nope" not found`) {
		t.Errorf("get missing: %s", errOut)
	}
	if out := k.must("", "delete", "rs", "myweb-rs"); strings.TrimSpace(out) != `replicaset.apps "myweb-rs" deleted` {
		t.Errorf("delete: %q", out)
	}
	if out := k.must("", "create", "namespace", "team"); strings.TrimSpace(out) != "namespace/team created" {
		t.Errorf("create namespace: %q", out)
	}
	if out := k.must("", "get", "ns"); !strings.Contains(out, "team") || !strings.Contains(out, "Active") {
		t.Errorf("get ns:\n%s", out)
	}
}

const podManifest = `apiVersion: v1
kind: Pod
metadata:
  name: hello
  labels:
    app: hello
spec:
  containers:
  - name: hello
    image: hello.wasm
    env:
    - name: GREETING
      value: hi
`

const rcManifest = `apiVersion: v1
kind: ReplicationController
metadata:
  name: web-rc
  annotations:
    note: first
spec:
  replicas: 2
  selector:
    app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: web.wasm
        env:
        - name: A
          value: "1"
        - name: B
          value: "2"
`

// TestKubectlVerbs runs the verbs of the course, one after the other, on
// one node.
func TestKubectlVerbs(t *testing.T) {
	logs := func(ctx context.Context, ns, pod string, opts apiserver.LogOptions, w io.Writer) error {
		_, err := io.WriteString(w, "hello from "+ns+"/"+pod+"\n")
		return err
	}
	n := startNode(t, logs)
	k := newKubectl(t, n)

	if out := k.must(podManifest, "create", "-f", "-"); strings.TrimSpace(out) != "pod/hello created" {
		t.Errorf("create: %q", out)
	}
	// Field validation: an unknown field is refused, a field Kubernetes has
	// and wasmlet does not is a warning.
	typo := strings.Replace(podManifest, "name: hello\n  labels", "name: typo\n  labelz", 1)
	if _, errOut, ok := k.run(typo, "create", "-f", "-"); ok || !strings.Contains(errOut, `strict decoding error: unknown field "metadata.labelz"`) {
		t.Errorf("unknown field: %s", errOut)
	}
	// A misspelled kind: kubectl's validation reads /openapi/v2 when v3
	// does not know the kind, and leaves the error to its resource mapping.
	kindTypo := strings.Replace(podManifest, "kind: Pod", "kind: Pdo", 1)
	if _, errOut, ok := k.run(kindTypo, "apply", "-f", "-"); ok || errOut != "error: resource mapping not found for name: \"hello\" namespace: \"\" from \"STDIN\": no matches for kind \"Pdo\" in version \"v1\"\nensure CRDs are installed first\n" {
		t.Errorf("unknown kind: %s", errOut)
	}
	unimpl := strings.Replace(podManifest, "name: hello\n", "name: tolerant\n", 1) + "  tolerations: []\n"
	if out, errOut, ok := k.run(unimpl, "apply", "-f", "-"); !ok || !strings.Contains(errOut, "Warning: spec.tolerations is not implemented by wasmlet") ||
		strings.TrimSpace(out) != "pod/tolerant created" {
		t.Errorf("field not implemented: %s%s", out, errOut)
	}
	if out := k.must("", "get", "pod", "hello", "-o", "wide"); !strings.Contains(out, "NOMINATED NODE") || !strings.Contains(out, "hello   0/1     Pending") {
		t.Errorf("get -o wide:\n%s", out)
	}
	if out := k.must("", "get", "pods", "-o", "name"); out != "pod/hello\npod/tolerant\n" {
		t.Errorf("get -o name: %q", out)
	}
	if out := k.must("", "describe", "pod", "hello"); !strings.Contains(out, "Name:") || !strings.Contains(out, "GREETING:  hi") {
		t.Errorf("describe pod:\n%s", out)
	}
	if out := k.must("", "logs", "hello"); out != "hello from default/hello\n" {
		t.Errorf("logs: %q", out)
	}
	if out := k.must("", "annotate", "pod", "hello", "note=x"); strings.TrimSpace(out) != "pod/hello annotated" {
		t.Errorf("annotate: %q", out)
	}
	if _, errOut, ok := k.run("", "label", "pod", "hello", "app=other"); ok || !strings.Contains(errOut, "already has a value (hello)") {
		t.Errorf("label without --overwrite: %s", errOut)
	}
	k.must("", "label", "pod", "hello", "app=other", "--overwrite")
	k.must("", "label", "pod", "hello", "app-")
	if out := k.must("", "get", "pod", "hello", "--show-labels"); !strings.Contains(out, "<none>") {
		t.Errorf("labels after removal:\n%s", out)
	}
	if out := k.must("", "patch", "pod", "hello", "--type", "merge", "-p", `{"metadata":{"labels":{"m":"1"}}}`); strings.TrimSpace(out) != "pod/hello patched" {
		t.Errorf("patch merge: %q", out)
	}
	if out := k.must("", "patch", "pod", "hello", "--type", "json", "-p", `[{"op":"replace","path":"/spec/containers/0/image","value":"hello2.wasm"}]`); strings.TrimSpace(out) != "pod/hello patched" {
		t.Errorf("patch json: %q", out)
	}
	if out := k.must("", "patch", "pod", "hello", "--type", "merge", "-p", `{"metadata":{"labels":{"m":"1"}}}`); strings.TrimSpace(out) != "pod/hello patched (no change)" {
		t.Errorf("patch no change: %q", out)
	}
	if _, errOut, ok := k.run("", "patch", "pod", "hello", "-p", `{"spec":{"containers":[{"name":"hello","env":[{"name":"X","value":"y"}]}]}}`); ok || !strings.Contains(errOut, "Forbidden: pod updates may not change fields") {
		t.Errorf("patch of an immutable field: %s", errOut)
	}

	if out := k.must(rcManifest, "apply", "-f", "-"); strings.TrimSpace(out) != "replicationcontroller/web-rc created" {
		t.Errorf("apply rc: %q", out)
	}
	// The file drops env B and the annotation: apply removes them, and
	// keeps what was never in the file.
	k.must("", "scale", "rc", "web-rc", "--replicas=4")
	changed := strings.Replace(strings.Replace(rcManifest, "        - name: B\n          value: \"2\"\n", "", 1), "  annotations:\n    note: first\n", "", 1)
	changed = strings.Replace(changed, "  replicas: 2\n", "", 1)
	if out := k.must(changed, "apply", "-f", "-"); strings.TrimSpace(out) != "replicationcontroller/web-rc configured" {
		t.Errorf("apply changed rc: %q", out)
	}
	out := k.must("", "get", "rc", "web-rc", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].env[*].name} {.metadata.annotations.note}")
	// replicas left the file: apply removes it and the default (1) is
	// back, as with Kubernetes.
	if out != "1 A " {
		t.Errorf("after the three-way apply: %q", out)
	}
	if out := k.must(changed, "diff", "-f", "-"); out != "" {
		t.Errorf("diff of an applied file: %q", out)
	}
	if out, _, ok := k.run(rcManifest, "diff", "-f", "-"); ok || !strings.Contains(out, "+        - name: B") {
		t.Errorf("diff of a changed file (exit 1 expected):\n%s", out)
	}
	if out := k.must(rcManifest, "apply", "--dry-run=server", "-f", "-"); !strings.Contains(out, "(server dry run)") {
		t.Errorf("server dry run: %q", out)
	}
	if out := k.must("", "get", "rc", "web-rc", "-o", "jsonpath={.spec.template.spec.containers[0].env[*].name}"); out != "A" {
		t.Errorf("a dry run changed the object: %q", out)
	}
	if out := k.must(rcManifest, "replace", "-f", "-"); strings.TrimSpace(out) != "replicationcontroller/web-rc replaced" {
		t.Errorf("replace: %q", out)
	}
	if out := k.must("", "describe", "rc", "web-rc"); !strings.Contains(out, "Replicas:") || !strings.Contains(out, "Selector:") {
		t.Errorf("describe rc:\n%s", out)
	}
	if out := k.must("", "get", "all"); !strings.Contains(out, "pod/hello") || !strings.Contains(out, "replicationcontroller/web-rc") {
		t.Errorf("get all:\n%s", out)
	}

	// edit with an editor that changes a label.
	editor := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/note: first/note: edited/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBE_EDITOR", editor)
	if out := k.must("", "edit", "rc", "web-rc"); strings.TrimSpace(out) != "replicationcontroller/web-rc edited" {
		t.Errorf("edit: %q", out)
	}
	if out := k.must("", "get", "rc", "web-rc", "-o", "jsonpath={.metadata.annotations.note}"); out != "edited" {
		t.Errorf("after edit: %q", out)
	}

	if out, errOut, _ := k.run("", "events"); !strings.Contains(out+errOut, "No events found") && !strings.Contains(out, "LAST SEEN") {
		t.Errorf("events: %s%s", out, errOut)
	}
	// No garbage collector runs here to take the orphan finalizer off:
	// kubectl must not wait for the object to go.
	if out := k.must("", "delete", "rc", "web-rc", "--cascade=orphan", "--wait=false"); strings.TrimSpace(out) != `replicationcontroller "web-rc" deleted` {
		t.Errorf("delete --cascade=orphan: %q", out)
	}
	if out := k.must("", "get", "rc", "web-rc", "-o", "jsonpath={.metadata.finalizers}"); out != `["orphan"]` {
		t.Errorf("finalizers after an orphaning delete: %q", out)
	}
	if out := k.must("", "delete", "pod", "-l", "m=1", "--grace-period=0", "--force"); !strings.Contains(out, `pod "hello" force deleted`) {
		t.Errorf("delete -l --force: %q", out)
	}
	if out := k.must("", "explain", "pods.spec.restartPolicy"); !strings.Contains(out, "FIELD: restartPolicy <string>") {
		t.Errorf("explain a field:\n%s", out)
	}
	if out := k.must("", "explain", "rs.spec.selector.matchExpressions", "--recursive"); !strings.Contains(out, "GROUP:      apps") ||
		!strings.Contains(out, "operator\t<string>") {
		t.Errorf("explain --recursive:\n%s", out)
	}
}
