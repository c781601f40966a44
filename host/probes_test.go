package host

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// recordingProber is a ProbeManager that starts containers unready and
// records the calls it gets.
type recordingProber struct {
	mu      sync.Mutex
	calls   []string
	started chan string // container IDs
	preStop chan string
}

func newRecordingProber() *recordingProber {
	return &recordingProber{started: make(chan string, 16), preStop: make(chan string, 16)}
}

func (r *recordingProber) note(s string) {
	r.mu.Lock()
	r.calls = append(r.calls, s)
	r.mu.Unlock()
}

func (r *recordingProber) ContainerStarted(pod *api.Pod, container, id string) (bool, bool) {
	r.note("started " + container)
	r.started <- id
	return true, false
}
func (r *recordingProber) ContainerStopped(podUID, container, id string) {
	r.note("stopped " + container)
}
func (r *recordingProber) PodRemoved(podUID string) { r.note("removed") }
func (r *recordingProber) PostStart(ctx context.Context, pod *api.Pod, container, id string) error {
	r.note("postStart " + container)
	return nil
}
func (r *recordingProber) PreStop(ctx context.Context, pod *api.Pod, container, id string) {
	r.note("preStop " + container)
	r.preStop <- id
}

func TestProbeManagerHooks(t *testing.T) {
	rt := &capturingRuntime{}
	pr := newRecordingProber()
	n := newTestNodeWith(t, rt, func(o *Options) { o.ProbeManager = pr })
	pod := n.createPod("web", podSpec(api.RestartPolicyAlways, "serve.wasm"))
	id := <-pr.started

	// Running but not ready until the prober says so.
	p := n.waitPod("web", "running, unready", func(p *api.Pod) bool {
		cs := containerStatus(p, "serve")
		return cs != nil && cs.State.Running != nil && !cs.Ready && cs.Started != nil && *cs.Started
	})
	if p.Status.Phase != api.PodRunning {
		t.Errorf("phase %s", p.Status.Phase)
	}
	n.h.SetContainerReady(pod.UID, "serve", id, true)
	n.waitPod("web", "ready", isRunning("serve"))

	// A liveness failure: Killing with the prober's message, preStop, SIGTERM,
	// killed after the probe's grace, restarted by the policy.
	first := rt.last()
	n.h.KillContainer(pod.UID, "serve", id, "Container serve failed liveness probe, will be restarted", i64(3))
	if got := <-pr.preStop; got != id {
		t.Fatalf("preStop for %s, want %s", got, id)
	}
	<-first.termed
	n.clk.Advance(3 * time.Second)
	<-first.Done()
	newID := <-pr.started
	if newID == id {
		t.Fatal("same container ID after a restart")
	}
	p = n.waitPod("web", "restarted", func(p *api.Pod) bool {
		cs := containerStatus(p, "serve")
		return cs != nil && cs.RestartCount == 1 && cs.State.Running != nil
	})
	last := containerStatus(p, "serve").LastTerminationState.Terminated
	if last == nil || last.ExitCode != 137 || last.Reason != ReasonError {
		t.Errorf("lastState %s", stateString(containerStatus(p, "serve").LastTerminationState))
	}
	if !hasEvent(n.events("web"), "Normal Killing Container serve failed liveness probe, will be restarted") {
		t.Errorf("events %q", n.events("web"))
	}

	// An exec probe runs a fresh instance with the container's env.
	var out bytes.Buffer
	code, err := n.h.RunInContainer(context.Background(), p, "serve", []string{"check", "now"}, &out, &out)
	if err != nil || code != 0 || !strings.HasPrefix(out.String(), "started check now") {
		t.Errorf("exec: code %d, %v, output %q", code, err, out.String())
	}
	exec := rt.last()
	env := strings.Join(exec.cfg.Env, " ")
	if !strings.Contains(env, "POD_IP="+p.Status.PodIP) || len(exec.cfg.Listeners) != 0 {
		t.Errorf("exec env %q listeners %d", env, len(exec.cfg.Listeners))
	}

	pr.mu.Lock()
	calls := strings.Join(pr.calls, ", ")
	pr.mu.Unlock()
	if !strings.HasPrefix(calls, "postStart serve, started serve, preStop serve, stopped serve, postStart serve, started serve") {
		t.Errorf("calls: %s", calls)
	}
}
