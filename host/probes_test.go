package host

import (
	"bytes"
	"context"
	"fmt"
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
	network []string    // "<call> <podIP> <podIPs> <hostIP>" of the pod each call got
	pod     *api.Pod    // the pod ContainerStarted got last
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

func (r *recordingProber) noteNetwork(call string, pod *api.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	r.network = append(r.network, fmt.Sprintf("%s %s %v %s", call, pod.Status.PodIP, ips, pod.Status.HostIP))
}

func (r *recordingProber) ContainerStarted(pod *api.Pod, container, id string) (bool, bool) {
	r.note("started " + container)
	r.noteNetwork("started", pod)
	r.mu.Lock()
	r.pod = pod
	r.mu.Unlock()
	r.started <- id
	return true, false
}
func (r *recordingProber) ContainerStopped(podUID, container, id string) {
	r.note("stopped " + container)
}
func (r *recordingProber) PodRemoved(podUID string) { r.note("removed") }
func (r *recordingProber) PostStart(ctx context.Context, pod *api.Pod, container, id string) error {
	r.note("postStart " + container)
	r.noteNetwork("postStart", pod)
	return nil
}
func (r *recordingProber) PreStop(ctx context.Context, pod *api.Pod, container, id string) {
	r.note("preStop " + container)
	r.noteNetwork("preStop", pod)
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

// TestProbesSeeThePodIPOnFirstStart: on a new pod's first start the stored
// pod has no IP yet; hooks, probes and exec probes get it all the same.
func TestProbesSeeThePodIPOnFirstStart(t *testing.T) {
	rt := &capturingRuntime{}
	pr := newRecordingProber()
	n := newTestNodeWith(t, rt, func(o *Options) { o.ProbeManager = pr })
	pod := n.createPod("web", podSpec(api.RestartPolicyAlways, "serve.wasm"))
	id := <-pr.started
	p := n.waitPod("web", "running", func(p *api.Pod) bool {
		cs := containerStatus(p, "serve")
		return cs != nil && cs.State.Running != nil
	})
	ip := p.Status.PodIP
	if !strings.HasPrefix(ip, "127.42.") {
		t.Fatalf("pod IP %q", ip)
	}

	pr.mu.Lock()
	given := pr.pod
	pr.mu.Unlock()
	var out bytes.Buffer
	if _, err := n.h.RunInContainer(context.Background(), given, "serve", []string{"check"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if env := strings.Join(rt.last().cfg.Env, " "); !strings.Contains(env, "POD_IP="+ip+" ") && !strings.HasSuffix(env, "POD_IP="+ip) {
		t.Errorf("exec env %q, want POD_IP=%s", env, ip)
	}

	n.h.KillContainer(pod.UID, "serve", id, "", nil)
	<-pr.preStop

	pr.mu.Lock()
	got := pr.network
	pr.mu.Unlock()
	want := []string{"postStart", "started", "preStop"}
	if len(got) != len(want) {
		t.Fatalf("calls %q", got)
	}
	for i, call := range want {
		if w := fmt.Sprintf("%s %s [%s] 127.0.0.1", call, ip, ip); got[i] != w {
			t.Errorf("call %d: %q, want %q", i, got[i], w)
		}
	}
}
