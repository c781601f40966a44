package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// The end-to-end tests run the binary as a user does: `serve` in a process
// of its own, killed with SIGKILL and started again on the same data dir,
// and the CLI verbs (and kubectl, when it is installed) against it.

var (
	buildOnce sync.Once
	binary    string
	cacheDir  string
	buildErr  error
)

// repoRoot is the module's root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestMain removes the binary build made (26 MB a run) once the tests
// are done with it.
func TestMain(m *testing.M) {
	// The nodes the tests start record themselves (for the CLI to find
	// them) in a directory of the tests', not in the user's.
	state, err := os.MkdirTemp("", "wasmlet-e2e-state-")
	if err == nil {
		os.Setenv("XDG_STATE_HOME", state)
	}
	// The tests of this package mostly wait for processes (nodes, pods,
	// shells), so they run side by side beyond one a core; -parallel
	// given on the command line wins.
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", "8")
	}
	code := m.Run()
	if binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	if state != "" {
		os.RemoveAll(state)
	}
	os.Exit(code)
}

// build builds the binary (CGO_ENABLED=0, as released) and the myweb
// module.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasmlet-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "wasmlet")
		cmd := exec.Command("go", "build", "-o", binary, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		if _, err := examples.Build("myweb"); err != nil {
			buildErr = err
			return
		}
		// The binary compiles modules itself (a few seconds, without the
		// race detector), into a cache shared by the tests' nodes.
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "wasmlet-test", "wazero")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// server is one `wasmlet serve` process.
type server struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	err    error // of Wait, once done is closed
}

// serveArgs are the flags of every serve of a test: the same data dir and
// pod range each time.
func serveArgs(t *testing.T, dataDir string) []string {
	return []string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--node-name", "n1",
		"--image-root", repoRoot(t), "--pod-cidr", podCIDR(),
		"--shutdown-grace-period", "5s"}
}

func startServer(t *testing.T, bin string, args []string) *server {
	t.Helper()
	s := &server{cmd: exec.Command(bin, args...), stderr: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd.Stderr = s.stderr
	s.cmd.Stdout = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.After(60 * time.Second)
	for !strings.Contains(s.stderr.String(), "serving on https://") {
		select {
		case <-s.done:
			t.Fatalf("serve ended: %v\n%s", s.err, s.stderr.String())
		case <-deadline:
			t.Fatalf("serve does not serve after 60 s:\n%s", s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s
}

// run runs the binary with the node's kubeconfig and returns stdout; a
// non-zero exit fails the test.
func run(t *testing.T, bin, kubeconfig string, args ...string) string {
	t.Helper()
	out, errOut, err := runErr(bin, kubeconfig, args...)
	if err != nil {
		t.Fatalf("wasmlet %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func runErr(bin, kubeconfig string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// waitOutput runs the command until ok accepts its stdout.
func waitOutput(t *testing.T, bin, kubeconfig, what string, ok func(string) bool, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, errOut, err := runErr(bin, kubeconfig, args...)
		if err == nil && ok(out) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("wasmlet %s: not %s after 60 s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), what, err, out, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// object is what the test compares of an object across a restart.
type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name              string            `json:"name"`
		UID               string            `json:"uid"`
		ResourceVersion   string            `json:"resourceVersion"`
		Generation        int64             `json:"generation"`
		CreationTimestamp string            `json:"creationTimestamp"`
		Labels            map[string]string `json:"labels"`
		OwnerReferences   []struct {
			UID string `json:"uid"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Spec   json.RawMessage `json:"spec"`
	Status struct {
		Phase string `json:"phase"`
		PodIP string `json:"podIP"`
	} `json:"status"`
}

func objects(t *testing.T, bin, kubeconfig string, args ...string) map[string]object {
	t.Helper()
	out := run(t, bin, kubeconfig, append(args, "-o", "json")...)
	var list struct {
		Items []object `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("wasmlet %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := map[string]object{}
	for _, o := range list.Items {
		m[o.Kind+"/"+o.Metadata.Name] = o
	}
	return m
}

// runningPods: n pods of the ReplicaSet, Running.
func runningPods(n int) func(string) bool {
	return func(out string) bool {
		f := strings.Fields(out)
		if len(f) != n {
			return false
		}
		for _, phase := range f {
			if phase != "Running" {
				return false
			}
		}
		return true
	}
}

func TestServeKillRestart(t *testing.T) {
	t.Parallel()
	bin := build(t)
	dataDir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	args := serveArgs(t, dataDir)
	srv := startServer(t, bin, args)
	manifests := filepath.Join(repoRoot(t), "wasm-examples", "manifests")

	if out := run(t, bin, kc, "apply", "-f", filepath.Join(manifests, "exercises", "myweb-rs.yaml")); out != "replicaset.apps/myweb-rs created\n" {
		t.Errorf("apply: %q", out)
	}
	if out := run(t, bin, kc, "create", "namespace", "team"); out != "namespace/team created\n" {
		t.Errorf("create namespace: %q", out)
	}
	waitOutput(t, bin, kc, "2 Running pods", runningPods(2), "get", "pods", "-l", "tier=frontend", "-o", "jsonpath={.items[*].status.phase}")
	wide := run(t, bin, kc, "get", "rs,pods", "-o", "wide", "--show-labels")
	for _, want := range []string{"replicaset.apps/myweb-rs", "app in (web,webapp),environment notin (production),tier=frontend", "pod/myweb-rs-", "Running", "127.45.", "app=web,tier=frontend"} {
		if !strings.Contains(wide, want) {
			t.Errorf("get rs,pods -o wide --show-labels: no %q in\n%s", want, wide)
		}
	}
	if y := run(t, bin, kc, "get", "rs", "myweb-rs", "-o", "yaml"); !strings.Contains(y, "kind: ReplicaSet") || !strings.Contains(y, "name: myweb-rs") {
		t.Errorf("get rs myweb-rs -o yaml:\n%s", y)
	}
	if path, err := exec.LookPath("kubectl"); err != nil {
		t.Log("kubectl is not in PATH: the node is not tried with it")
	} else {
		out, err := exec.Command(path, "--kubeconfig", kc, "get", "pods").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "myweb-rs-") || !strings.Contains(string(out), "Running") {
			t.Errorf("kubectl get pods: %v\n%s", err, out)
		}
	}

	// The last write before the kill is acknowledged, and must survive it.
	run(t, bin, kc, "label", "rs", "myweb-rs", "touched=yes")
	before := objects(t, bin, kc, "get", "rs,pods")
	nsBefore := objects(t, bin, kc, "get", "ns", "team")
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done

	srv = startServer(t, bin, args)
	// The containers that ran when the node was killed died with it: they
	// are terminated (Unknown, 255) and restarted after the crash-loop
	// back-off (10 s): restartCount 1. (In the back-off the phase is
	// Running already, as on a cluster: the container's readiness says
	// when it runs.)
	waitOutput(t, bin, kc, "2 pods running again", func(s string) bool {
		return s == strings.Repeat("Running,1,Unknown,true ", 2)
	}, "get", "pods", "-l", "tier=frontend", "-o",
		"jsonpath={range .items[*]}{.status.phase},{.status.containerStatuses[0].restartCount},{.status.containerStatuses[0].lastState.terminated.reason},{.status.containerStatuses[0].ready} {end}")
	after := objects(t, bin, kc, "get", "rs,pods")
	nsAfter := objects(t, bin, kc, "get", "ns", "team")
	if len(after) != len(before) {
		t.Errorf("objects before the kill: %d, after the restart: %d", len(before), len(after))
	}
	for k, b := range before {
		a, ok := after[k]
		switch {
		case !ok:
			t.Errorf("%s is gone after the restart", k)
			continue
		case a.Metadata.UID != b.Metadata.UID:
			t.Errorf("%s: uid %s after the restart, was %s", k, a.Metadata.UID, b.Metadata.UID)
		case a.Metadata.CreationTimestamp != b.Metadata.CreationTimestamp || a.Metadata.Generation != b.Metadata.Generation:
			t.Errorf("%s: created %s generation %d after the restart, was %s %d", k,
				a.Metadata.CreationTimestamp, a.Metadata.Generation, b.Metadata.CreationTimestamp, b.Metadata.Generation)
		case !bytes.Equal(a.Spec, b.Spec):
			t.Errorf("%s: spec after the restart\n%s\nwas\n%s", k, a.Spec, b.Spec)
		case fmt.Sprint(a.Metadata.Labels) != fmt.Sprint(b.Metadata.Labels) || fmt.Sprint(a.Metadata.OwnerReferences) != fmt.Sprint(b.Metadata.OwnerReferences):
			t.Errorf("%s: labels %v owners %v after the restart, were %v %v", k,
				a.Metadata.Labels, a.Metadata.OwnerReferences, b.Metadata.Labels, b.Metadata.OwnerReferences)
		}
		// A pod keeps its IP (the allocation is in the store); its status and
		// the ReplicaSet's are the node's to rewrite, which bumps their
		// resourceVersion.
		if a.Kind == "Pod" && a.Status.PodIP != b.Status.PodIP {
			t.Errorf("%s: pod IP %s after the restart, was %s", k, a.Status.PodIP, b.Status.PodIP)
		}
		if a.Kind == "Pod" {
			if got, want := get(t, a.Status.PodIP), "Hello World! I'm "+a.Metadata.Name; got != want {
				t.Errorf("GET / of %s after the restart: %q, want %q", k, got, want)
			}
		}
	}
	if rs := after["ReplicaSet/myweb-rs"]; rs.Metadata.Labels["touched"] != "yes" {
		t.Errorf("the label written just before the kill is lost: %v", rs.Metadata.Labels)
	}
	if a, b := nsAfter["Namespace/team"], nsBefore["Namespace/team"]; a.Metadata.UID != b.Metadata.UID || a.Metadata.ResourceVersion != b.Metadata.ResourceVersion {
		t.Errorf("namespace team: uid %s resourceVersion %s after the restart, was %s %s",
			a.Metadata.UID, a.Metadata.ResourceVersion, b.Metadata.UID, b.Metadata.ResourceVersion)
	}

	if out := run(t, bin, kc, "delete", "rs", "myweb-rs"); out != "replicaset.apps \"myweb-rs\" deleted\n" {
		t.Errorf("delete rs: %q", out)
	}
	waitOutput(t, bin, kc, "no pods", func(s string) bool { return strings.TrimSpace(s) == "" }, "get", "pods", "-o", "name")

	// SIGTERM with a pod running: the pod gets its grace period (capped at
	// 5 s by --shutdown-grace-period) and the node exits 0.
	run(t, bin, kc, "apply", "-f", filepath.Join(manifests, "myweb-pod.yaml"))
	waitOutput(t, bin, kc, "Running", runningPods(1), "get", "pods", "myweb", "-o", "jsonpath={.status.phase}")
	start := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("serve still runs 15 s after SIGTERM (shutdown grace period 5 s):\n%s", srv.stderr.String())
	}
	if srv.err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", srv.err, srv.stderr.String())
	}
	t.Logf("serve stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(srv.stderr.String(), "stopping: pods get their grace period") {
		t.Errorf("serve did not say it stops its pods:\n%s", srv.stderr.String())
	}
}

// get GETs http://ip:8080/ and returns the body.
func get(t *testing.T, ip string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + ip + ":8080/")
	if err != nil {
		t.Errorf("GET %s:8080: %v", ip, err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// TestUp runs `wasmlet up -f DIR` as `make run` does, with a few of the
// example manifests, stops it with SIGINT (Ctrl-C), and finds the pod
// table, myweb's log, and the pods stopped gracefully.
func TestUp(t *testing.T) {
	t.Parallel()
	bin := build(t)
	if _, err := examples.Build("hello"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	manifests := filepath.Join(repoRoot(t), "wasm-examples", "manifests")
	for _, name := range []string{"myweb-pod.yaml", "hello-pod.yaml"} {
		b, err := os.ReadFile(filepath.Join(manifests, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cidr := podCIDR()
	dataDir := t.TempDir()
	cmd := exec.Command(bin, "up", "-f", dir, "--image-root", repoRoot(t), "--pod-cidr", cidr, "--node-name", "n1",
		"--shutdown-grace-period", "5s", "--data-dir", dataDir)
	cmd.Dir = repoRoot(t)
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})

	// Running: myweb's row, its first log line, and hello Completed.
	wants := []string{"pod/hello created", "pod/myweb created", "NAMESPACE", "Running", "Completed",
		"[myweb/myweb] myweb myweb: serving on", "[hello/hello] "}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := stdout.String()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(out, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("up prints no %q after 60 s:\nstdout:\n%s\nstderr:\n%s", missing, out, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ip string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if f := strings.Fields(line); len(f) > 6 && f[1] == "myweb" && f[3] == "Running" {
			ip = f[6]
		}
	}
	if got := get(t, ip); got != "Hello World! I'm myweb" {
		t.Errorf("GET / of myweb at %q: %q", ip, got)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up after SIGINT: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("up still runs 15 s after SIGINT:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopping: pods get their grace period") {
		t.Errorf("up did not say it stops the pods:\n%s", stderr.String())
	}
	// myweb was stopped gracefully: its log (kept in the data dir) ends
	// with its SIGTERM lines.
	logs, _ := filepath.Glob(filepath.Join(dataDir, "pods", "*", "logs", "myweb", "*"))
	var mywebLog []byte
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		mywebLog = append(mywebLog, b...)
	}
	if !bytes.Contains(mywebLog, []byte("myweb: got SIGTERM")) {
		t.Errorf("myweb's log (%v) shows no SIGTERM:\n%s", logs, mywebLog)
	}
	if !strings.Contains(stdout.String(), "[myweb/myweb] myweb: got SIGTERM") {
		t.Logf("up stopped following the logs before myweb's last lines:\n%s", stdout.String())
	}
	c := &http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get("http://" + ip + ":8080/"); err == nil {
		resp.Body.Close()
		t.Errorf("myweb still answers on %s after up ended", ip)
	}
}

// A guest that never calls the host (spin: a busy loop) still ends when its
// pod is deleted and the grace period runs out: the node compiles every
// module with the WASI layer's stop checks. Without them, delete waits for
// ever and the guest keeps its core.
func TestBusyPodEndsWhenDeleted(t *testing.T) {
	t.Parallel()
	bin := build(t)
	if _, err := examples.Build("spin"); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	startServer(t, bin, serveArgs(t, dataDir))
	manifest := filepath.Join(t.TempDir(), "spinner.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: spinner
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: spin
    image: wasm-examples/bin/spin.wasm
`), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, bin, kc, "apply", "-f", manifest)
	waitOutput(t, bin, kc, "Running", func(s string) bool { return s == "Running" },
		"get", "pod", "spinner", "-o", "jsonpath={.status.phase}")
	if out := run(t, bin, kc, "delete", "pod", "spinner"); out != "pod \"spinner\" deleted\n" {
		t.Errorf("delete: %q", out)
	}
	if _, errOut, err := runErr(bin, kc, "get", "pod", "spinner"); err == nil || !strings.Contains(errOut, "NotFound") {
		t.Errorf("get pod spinner after delete: %v %s", err, errOut)
	}
}

// emptyModule is the smallest WASI command: its _start returns at once.
var emptyModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type 0: () -> ()
	0x03, 0x02, 0x01, 0x00, // function 0 of type 0
	0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // export _start
	0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // its body: nothing
}

// TestPoisonPodCannotKeepTheNodeDown: a pod whose container takes the
// node's process down as soon as it starts (the node is told to exit, as
// a Go fatal error does, when it starts the image poison.wasm: the guests
// that did it for real are fixed). Each serve after a death answers the
// API at once and holds the pod in CrashLoopBackOff, its restart counted,
// for the back-off (10 s, then 20 s) before running it again; the pod is
// deleted during a back-off, and the node stays up.
func TestPoisonPodCannotKeepTheNodeDown(t *testing.T) {
	t.Parallel()
	bin := build(t)
	dataDir, images := t.TempDir(), t.TempDir()
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	image := filepath.Join(images, "poison.wasm")
	if err := os.WriteFile(image, emptyModule, 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(images, "poison.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: poison
spec:
  containers:
  - name: poison
    image: `+image+`
`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"WASMLET_TEST_EXIT_ON_IMAGE=poison.wasm", bin}, serveArgs(t, dataDir)...)
	serve := func() (*server, time.Time) {
		srv := startServer(t, "env", args)
		return srv, time.Now()
	}
	// dies waits for the node to die of the pod, not sooner than after
	// the back-off (less a margin for the start of serve).
	dies := func(srv *server, up time.Time, backoff time.Duration) {
		t.Helper()
		select {
		case <-srv.done:
		case <-time.After(backoff + 60*time.Second):
			t.Fatalf("the node did not run the pod again %v after it started:\n%s", backoff, srv.stderr.String())
		}
		var exit *exec.ExitError
		if !errors.As(srv.err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("serve ended with %v, want exit status 2:\n%s", srv.err, srv.stderr.String())
		}
		if lived := time.Since(up); lived < backoff-2*time.Second {
			t.Fatalf("the node ran the pod again %v after it started, within the %v back-off", lived, backoff)
		}
	}
	status := []string{"get", "pod", "poison", "-o",
		"jsonpath={.status.containerStatuses[0].restartCount},{.status.containerStatuses[0].state.waiting.reason},{.status.containerStatuses[0].lastState.terminated.reason},{.status.containerStatuses[0].lastState.terminated.exitCode}"}

	srv, up := serve()
	run(t, bin, kc, "apply", "-f", manifest)
	dies(srv, up, 0)

	// First death: counted, 10 s of back-off, during which the API serves.
	srv, up = serve()
	waitOutput(t, bin, kc, "in back-off after one death", func(s string) bool { return s == "1,CrashLoopBackOff,Unknown,255" }, status...)
	dies(srv, up, 10*time.Second)

	// Second death: 20 s of back-off; the pod is deleted during it.
	srv, up = serve()
	waitOutput(t, bin, kc, "in back-off after two deaths", func(s string) bool { return s == "2,CrashLoopBackOff,Unknown,255" }, status...)
	if msg := run(t, bin, kc, "get", "pod", "poison", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.message}"); !strings.HasPrefix(msg, "back-off 20s restarting failed container=poison pod=poison_default(") {
		t.Errorf("waiting message %q", msg)
	}
	if out := run(t, bin, kc, "delete", "pod", "poison"); out != "pod \"poison\" deleted\n" {
		t.Errorf("delete pod: %q", out)
	}
	waitOutput(t, bin, kc, "no pods", func(s string) bool { return strings.TrimSpace(s) == "" }, "get", "pods", "-o", "name")
	// Past the end of the back-off, the node is still up.
	select {
	case <-srv.done:
		t.Fatalf("the node died after the pod was deleted: %v\n%s", srv.err, srv.stderr.String())
	case <-time.After(time.Until(up.Add(25 * time.Second))):
	}
	if out := run(t, bin, kc, "get", "nodes", "-o", "name"); out != "node/n1\n" {
		t.Errorf("get nodes: %q", out)
	}
}

// TestServeStopStartResumesPods: a node stopped with SIGTERM stops its pods
// gracefully, writes how they ended and leaves no record of a running
// container; the next serve runs them again at once, as a restart whose
// last state is the stopped run (myweb exits 0 on SIGTERM: Completed), and
// `logs --previous` prints that run's log.
func TestServeStopStartResumesPods(t *testing.T) {
	t.Parallel()
	bin := build(t)
	dataDir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	args := serveArgs(t, dataDir)
	srv := startServer(t, bin, args)
	run(t, bin, kc, "apply", "-f", filepath.Join(repoRoot(t), "wasm-examples", "manifests", "myweb-pod.yaml"))
	state := []string{"get", "pod", "myweb", "-o",
		"jsonpath={.status.phase},{.status.containerStatuses[0].restartCount},{.status.containerStatuses[0].lastState.terminated.reason},{.status.containerStatuses[0].ready},{.status.containerStatuses[0].containerID}"}
	first := waitOutput(t, bin, kc, "Running", func(s string) bool { return strings.HasPrefix(s, "Running,0,,true,") }, state...)
	firstRun := containerOf(t, bin, kc, "myweb")
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	if srv.err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", srv.err, srv.stderr.String())
	}
	if left, _ := filepath.Glob(filepath.Join(dataDir, "pods", "*", "running", "*")); len(left) != 0 {
		t.Errorf("records of running containers after a graceful stop: %v", left)
	}

	srv = startServer(t, bin, args)
	again := waitOutput(t, bin, kc, "Running again", func(s string) bool {
		return strings.HasPrefix(s, "Running,1,Completed,true,") && s != first
	}, state...)
	t.Logf("before: %s, after: %s", first, again)
	last := containerOf(t, bin, kc, "myweb").LastState.Terminated
	if last == nil || last.ExitCode != 0 || last.ContainerID != firstRun.ContainerID ||
		last.StartedAt != firstRun.State.Running.StartedAt || last.FinishedAt < last.StartedAt {
		t.Errorf("last state %+v, want the end of %+v", last, firstRun)
	}
	if prev := run(t, bin, kc, "logs", "--previous", "myweb"); !strings.Contains(prev, "myweb: got SIGTERM") || !strings.Contains(prev, "myweb: exiting") {
		t.Errorf("logs --previous: %q, want the first run's log", prev)
	}
	if cur := run(t, bin, kc, "logs", "myweb"); strings.Contains(cur, "got SIGTERM") {
		t.Errorf("logs: %q, want the second run's only", cur)
	}
	ip := strings.TrimSpace(run(t, bin, kc, "get", "pod", "myweb", "-o", "jsonpath={.status.podIP}"))
	if got := get(t, ip); got != "Hello World! I'm myweb" {
		t.Errorf("GET / after the restart: %q", got)
	}
}
