package host

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/internal/hostile"
	"github.com/wasmlet/wasmlet/store"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// The tests below run the real WASI layer and the example guests; the host
// still runs on a fake clock (the guests see the real one).

// realRuntime returns the node's runtime, compiling into a cache shared by
// the tests of this process. Under the race detector it is wazero's
// interpreter: its compiler takes most of a minute for a Go guest there.
func realRuntime(t *testing.T) moduleRuntime {
	t.Helper()
	cfg, checks, dir := wazero.NewRuntimeConfig(), compilerArch, filepath.Join(os.TempDir(), "wasmlet-host-test-cache")
	if raceEnabled {
		cfg, checks, dir = wazero.NewRuntimeConfigInterpreter(), false, ""
	}
	rt, err := newWazeroRuntimeWith(context.Background(), cfg, checks, dir)
	if err != nil {
		t.Skipf("the WASI layer is not available: %v", err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

func examplePod(t *testing.T, example string, policy api.RestartPolicy, env ...api.EnvVar) api.PodSpec {
	t.Helper()
	return api.PodSpec{
		RestartPolicy: policy,
		Containers: []api.Container{{
			Name:  example,
			Image: examples.MustBuild(t, example),
			Env:   env,
		}},
	}
}

func TestRealHelloCompletes(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.createPod("hello", examplePod(t, "hello", api.RestartPolicyNever))
	p := n.waitPod("hello", "Succeeded", phaseIs(api.PodSucceeded))
	cs := containerStatus(p, "hello")
	if cs.State.Terminated == nil || cs.State.Terminated.Reason != ReasonCompleted {
		t.Fatalf("status: %s", describe(p))
	}
	out, err := n.logs("hello", LogOptions{})
	if err != nil || out == "" {
		t.Errorf("logs %q, %v", out, err)
	}
}

func TestRealCrashLoop(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.createPod("crash", examplePod(t, "crash", api.RestartPolicyAlways, api.EnvVar{Name: "CRASH_AFTER", Value: "0s"}))
	p := n.waitPod("crash", "CrashLoopBackOff", func(p *api.Pod) bool {
		cs := containerStatus(p, "crash")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonCrashLoopBackOff
	})
	for _, delay := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		cs := containerStatus(p, "crash")
		if !strings.HasPrefix(cs.State.Waiting.Message, "back-off "+delay.String()+" restarting failed container=crash pod=crash_default(") {
			t.Fatalf("message %q, want back-off %v", cs.State.Waiting.Message, delay)
		}
		count := cs.RestartCount
		n.clk.Advance(delay)
		p = n.waitPod("crash", "the next crash", func(p *api.Pod) bool {
			cs := containerStatus(p, "crash")
			return cs != nil && cs.RestartCount == count+1 && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonCrashLoopBackOff
		})
	}
	out, err := n.logs("crash", LogOptions{Previous: true})
	if err != nil || !strings.Contains(out, "exiting with code 1") {
		t.Errorf("previous logs %q, %v", out, err)
	}
}

func TestRealMyWebServesOnItsPodIP(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	spec := examplePod(t, "myweb", api.RestartPolicyAlways)
	spec.Containers[0].Ports = []api.ContainerPort{{Name: "http", ContainerPort: 8080}}
	n.createPod("myweb", spec)
	p := n.waitPod("myweb", "running", isRunning("myweb"))
	if !strings.HasPrefix(p.Status.PodIP, "127.42.") {
		t.Fatalf("pod IP %q", p.Status.PodIP)
	}
	resp, err := http.Get("http://" + p.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "Hello World! I'm myweb" {
		t.Errorf("body %q", body)
	}
	// The request's log line, after the line saying where it serves.
	n.followLogs("myweb", " GET / 200", 1, LogOptions{})
	if out, err := n.logs("myweb", LogOptions{}); err != nil || !strings.HasPrefix(out, `myweb myweb: serving on port "http"`) {
		t.Errorf("logs %q, %v", out, err)
	}
	// myweb drains and exits on SIGTERM: deleting it needs no virtual time.
	if _, _, err := n.st.Delete(context.Background(), podsResource(), "default", "myweb", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitPod("myweb", "gone", isGone)
}

func TestRealStubbornIsKilledAtTheDeadline(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.createPod("stubborn", examplePod(t, "stubborn", api.RestartPolicyAlways, api.EnvVar{Name: "INTERVAL", Value: "10ms"}))
	n.waitPod("stubborn", "running", isRunning("stubborn"))
	w := n.watchPods()
	if _, _, err := n.st.Delete(context.Background(), podsResource(), "default", "stubborn", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The worker sends SIGTERM (event Killing) before the clock moves: a
	// container stopped later than its deadline minus 2 s gets the 2 s floor.
	n.waitEvent("stubborn", "Normal Killing Stopping container stubborn")

	// A second before the deadline the guest still runs and the pod stays.
	n.clk.Advance(29 * time.Second)
	n.waitLogs("stubborn", "still here", 2)
	if p := n.waitPod("stubborn", "still there", func(*api.Pod) bool { return true }); p == nil {
		t.Fatal("the pod went away before its container stopped")
	}

	n.clk.Advance(time.Second)
	n.waitPod("stubborn", "gone", isGone)
	// The pod's last state, removed with it, shows the kill.
	last := lastState(t, w)
	term := containerStatus(last, "stubborn").State.Terminated
	if term == nil || term.ExitCode != 137 || term.Reason != ReasonError {
		t.Errorf("last state before removal: %s", describe(last))
	}
}

func TestRealOOMKilled(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	spec := examplePod(t, "hog", api.RestartPolicyNever, api.EnvVar{Name: "INTERVAL", Value: "0s"})
	spec.Containers[0].Resources.Limits = memoryLimits("64Mi")
	n.createPod("hog", spec)
	p := n.waitPod("hog", "Failed", phaseIs(api.PodFailed))
	term := containerStatus(p, "hog").State.Terminated
	if term == nil || term.Reason != ReasonOOMKilled || term.ExitCode != 137 {
		t.Errorf("status: %s", describe(p))
	}
}

// TestRealImagePullBackOff: a module missing, invalid or over the module
// limits (a compile bomb, never compiled) is ErrImagePull, then
// ImagePullBackOff; once a valid module is in place, the next pull at
// the end of the back-off runs it.
func TestRealImagePullBackOff(t *testing.T) {
	tests := []struct {
		image, message string
		module         []byte
	}{
		{"missing.wasm", "no such file or directory", nil},
		{"bad.wasm", "is not a valid WebAssembly module", nil},
		{"bomb.wasm", "is refused: section 10: defined function 0: wasi: module over the node's limits: locals 2147483647, over the limit of 50000", hostile.CompileLocals(0x7fffffff)},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			n := newTestNode(t, realRuntime(t), nil, nil, "")
			if tt.module != nil {
				if err := os.WriteFile(filepath.Join(n.images, tt.image), tt.module, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			n.createPod("img", api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: tt.image}}})
			waiting := func(reason string) func(p *api.Pod) bool {
				return func(p *api.Pod) bool {
					cs := containerStatus(p, "c")
					return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == reason
				}
			}
			p := n.waitPod("img", "ErrImagePull", waiting(ReasonErrImagePull))
			if msg := containerStatus(p, "c").State.Waiting.Message; !strings.Contains(msg, tt.message) {
				t.Errorf("message %q, want %q in it", msg, tt.message)
			}
			// The retry 10 s later fails again (back-off 20 s); a sync 10 s
			// later is inside the back-off.
			n.clk.Advance(10 * time.Second)
			n.waitPod("img", "second ErrImagePull", func(p *api.Pod) bool {
				return waiting(ReasonErrImagePull)(p) && strings.Contains(p.Annotations[AnnotationBackoff], `"delay":20000000000`)
			})
			n.clk.Advance(10 * time.Second)
			n.waitPod("img", "ImagePullBackOff", waiting(ReasonImagePullBackOff))

			hello, err := os.ReadFile(examples.MustBuild(t, "hello"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(n.images, tt.image), hello, 0o644); err != nil {
				t.Fatal(err)
			}
			n.clk.Advance(10 * time.Second)
			p = n.waitPod("img", "Succeeded", phaseIs(api.PodSucceeded))
			if cs := containerStatus(p, "c"); cs.RestartCount != 0 || cs.State.Terminated == nil || cs.State.Terminated.Reason != ReasonCompleted {
				t.Errorf("status: %s", describe(p))
			}
			evs := n.events("img")
			for _, want := range []string{`Warning Failed Failed to pull image "` + tt.image + `": `, "Warning Failed Error: ErrImagePull",
				"Warning Failed Error: ImagePullBackOff", `Normal Pulled Successfully pulled image "` + tt.image + `"`} {
				if !hasEvent(evs, want) {
					t.Errorf("no event %q in %q", want, evs)
				}
			}
		})
	}
}

// TestRealGracefulDelete: a deleted pod's guest sees SIGTERM, drains and
// exits 0 well inside its grace period, with no virtual time passing; then
// the pod goes away.
func TestRealGracefulDelete(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.createPod("graceful", examplePod(t, "graceful", api.RestartPolicyAlways, api.EnvVar{Name: "DRAIN", Value: "2s"}))
	n.waitPod("graceful", "running", isRunning("graceful"))
	w := n.watchPods()
	if _, _, err := n.st.Delete(context.Background(), podsResource(), "default", "graceful", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p := n.waitPod("graceful", "terminating", func(p *api.Pod) bool { return p != nil && p.DeletionTimestamp != nil })
	if p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 30 {
		t.Errorf("deletionGracePeriodSeconds %v", p.DeletionGracePeriodSeconds)
	}
	// Read while the guest drains, before the pod and its logs go.
	n.followLogs("graceful", "got SIGTERM, draining", 1, LogOptions{})
	n.waitPod("graceful", "gone", isGone)
	last := lastState(t, w)
	term := containerStatus(last, "graceful").State.Terminated
	if term == nil || term.ExitCode != 0 || term.Reason != ReasonCompleted {
		t.Errorf("last state before removal: %s", describe(last))
	}
	if !hasEvent(n.events("graceful"), "Normal Killing Stopping container graceful") {
		t.Errorf("events %q", n.events("graceful"))
	}
}

// TestRealNodeShutdownAndStart: a node shut down gracefully stops myweb
// with SIGTERM, and the next start runs it again at once, as a restart
// whose last state is the stopped run.
func TestRealNodeShutdownAndStart(t *testing.T) {
	dataDir := t.TempDir()
	n := newTestNode(t, realRuntime(t), nil, nil, dataDir)
	spec := examplePod(t, "myweb", api.RestartPolicyAlways)
	spec.Containers[0].Ports = []api.ContainerPort{{Name: "http", ContainerPort: 8080}}
	n.createPod("myweb", spec)
	before := n.waitPod("myweb", "running", isRunning("myweb"))
	// myweb drains and exits on SIGTERM: no virtual time needed.
	if err := n.h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n.stop()

	n2 := newTestNode(t, realRuntime(t), n.st, n.clk, dataDir)
	p := n2.waitPod("myweb", "running again", func(p *api.Pod) bool {
		cs := containerStatus(p, "myweb")
		return cs != nil && cs.State.Running != nil && cs.ContainerID != containerStatus(before, "myweb").ContainerID
	})
	cs := containerStatus(p, "myweb")
	if last := cs.LastTerminationState.Terminated; cs.RestartCount != 1 || last == nil ||
		last.ContainerID != containerStatus(before, "myweb").ContainerID || p.Status.PodIP != before.Status.PodIP {
		t.Errorf("after shutdown: %s, IP %s (was %s)", describe(p), p.Status.PodIP, before.Status.PodIP)
	}
	resp, err := http.Get("http://" + p.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	n2.stop()
}

// TestRealNodeRestartOnDisk restarts the node on the same on-disk store:
// the running container is recorded as died with the node, counted, and
// started again after the back-off.
func TestRealNodeRestartOnDisk(t *testing.T) {
	dataDir := t.TempDir()
	clk := clock.NewFake(t0)
	open := func() *store.Store {
		st, err := store.Open(filepath.Join(dataDir, "store"), store.Options{Now: clk.Now})
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "not implemented") {
				t.Skipf("store: %v", err)
			}
			t.Fatal(err)
		}
		return st
	}
	st := open()
	n := newTestNode(t, realRuntime(t), st, clk, dataDir)
	spec := examplePod(t, "myweb", api.RestartPolicyAlways)
	spec.Containers[0].Ports = []api.ContainerPort{{Name: "http", ContainerPort: 8080}}
	n.createPod("myweb", spec)
	n.waitPod("myweb", "running", isRunning("myweb"))
	n.stop()
	st.Close()

	st = open()
	defer st.Close()
	// A new process: a new runtime (Close released the first one).
	n2 := newTestNode(t, realRuntime(t), st, clk, dataDir)
	n2.waitPod("myweb", "in back-off", inCrashLoop("myweb", 1, "10s"))
	clk.Advance(10 * time.Second)
	p := n2.waitPod("myweb", "running again", func(p *api.Pod) bool {
		cs := containerStatus(p, "myweb")
		return cs != nil && cs.State.Running != nil && cs.RestartCount == 1
	})
	last := containerStatus(p, "myweb").LastTerminationState.Terminated
	if !isNodeCrash(last) {
		t.Errorf("status: %s", describe(p))
	}
	resp, err := http.Get("http://" + p.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	n2.stop()
}
