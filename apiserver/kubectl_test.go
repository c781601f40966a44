package apiserver_test

import (
	"bytes"
	"context"
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
