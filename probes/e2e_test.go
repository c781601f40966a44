package probes_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/probes"
	"github.com/wasmlet/wasmlet/store"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// These tests run the real host, its WASI layer and the example guests,
// with the prober wired as the root package wires it. The node runs on a
// fake clock (the guests see the real one); the probes' timeouts are long
// so that moving the clock never cuts a probe in flight.

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	precompileOnce sync.Once
	precompileErr  error
)

// guests are the examples the tests run.
var guests = []string{"myweb", "liveness", "grpchealth"}

// precompiled builds the guests and compiles them into the cache the
// tests' nodes share (examples.Precompile).
func precompiled(t *testing.T) string {
	t.Helper()
	shared := examples.TestCacheDir()
	precompileOnce.Do(func() { _, precompileErr = examples.Precompile(shared, guests...) })
	if precompileErr != nil {
		t.Fatal(precompileErr)
	}
	return shared
}

type node struct {
	t   *testing.T
	st  *store.Store
	clk *clock.Fake
}

func startNode(t *testing.T) *node {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	clk := clock.NewFake(t0)
	st, err := store.Open("", store.Options{InMemory: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	m := probes.New(probes.Options{Store: st, NodeName: "node1", Clock: clk})
	// The compiled modules are shared by the tests of this process.
	dataDir := t.TempDir()
	shared := precompiled(t)
	if err := os.Symlink(shared, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
	h, err := host.New(st, host.Options{NodeName: "node1", DataDir: dataDir, Clock: clk, ProbeManager: m,
		// A range of its own: other packages' tests run pods at the same time.
		PodCIDR: fmt.Sprintf("127.46.%d.0/24", 1+rand.IntN(254))})
	if err != nil {
		st.Close()
		t.Skipf("the host is not available: %v", err)
	}
	m.SetRuntime(h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { h.Start(ctx); done <- struct{}{} }()
	go func() { m.Start(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		h.Close()
		st.Close()
	})
	return &node{t: t, st: st, clk: clk}
}

func podsResource() *api.ResourceInfo {
	r, _ := api.LookupResource("pods")
	return r
}

func (n *node) createPod(name string, c api.Container, volumes ...api.Volume) {
	n.t.Helper()
	grace := int64(5)
	p := &api.Pod{
		TypeMeta:   api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.PodSpec{
			Containers:                    []api.Container{c},
			RestartPolicy:                 api.RestartPolicyAlways,
			TerminationGracePeriodSeconds: &grace,
			Volumes:                       volumes,
		},
	}
	if _, err := n.st.Create(context.Background(), p); err != nil {
		n.t.Fatal(err)
	}
}

// podName is the test's name as a pod's.
func podName(t *testing.T) string {
	return strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
}

func (n *node) pod(name string) *api.Pod {
	o, err := n.st.Get(context.Background(), podsResource(), "default", name)
	if err != nil {
		n.t.Fatal(err)
	}
	return o.(*api.Pod)
}

// events are the pod's events as "Type Reason Message xCount".
func (n *node) events(name string) []string {
	r, _ := api.LookupResource("events")
	objs, _, err := n.st.List(context.Background(), r, "", store.ListOptions{})
	if err != nil {
		n.t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		if e := o.(*api.Event); e.InvolvedObject.Name == name {
			out = append(out, fmt.Sprintf("%s %s %s x%d", e.Type, e.Reason, e.Message, e.Count))
		}
	}
	return out
}

// waitRunning waits in real time (the image is compiled meanwhile) until
// the container runs.
func (n *node) waitRunning() {
	n.t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		p := n.pod(podName(n.t))
		if cs := p.Status.ContainerStatuses; len(cs) > 0 && cs[0].State.Waiting != nil && strings.Contains(cs[0].State.Waiting.Message, "not implemented") {
			n.t.Skipf("the WASI layer is not available: %s", cs[0].State.Waiting.Message)
		}
		if running(p) {
			return
		}
	}
	n.t.Fatalf("not running: events %q", n.events(podName(n.t)))
}

// until moves the clock a second at a time (giving the probes real time
// to run between steps) until cond holds, for at most max of virtual time.
func (n *node) until(what string, max time.Duration, cond func(*api.Pod) bool) *api.Pod {
	n.t.Helper()
	for start := n.clk.Now(); ; {
		for range 40 {
			p := n.pod(podName(n.t))
			if cs := p.Status.ContainerStatuses; len(cs) > 0 && cs[0].State.Waiting != nil && strings.Contains(cs[0].State.Waiting.Message, "not implemented") {
				n.t.Skipf("the WASI layer is not available: %s", cs[0].State.Waiting.Message)
			}
			if cond(p) {
				return p
			}
			time.Sleep(5 * time.Millisecond)
		}
		if n.clk.Since(start) >= max {
			p := n.pod(podName(n.t))
			n.t.Fatalf("after %v: waiting for %s; status %+v; events %q", max, what, p.Status.ContainerStatuses, n.events(podName(n.t)))
		}
		n.clk.Advance(time.Second)
	}
}

func running(p *api.Pod) bool {
	cs := p.Status.ContainerStatuses
	return len(cs) == 1 && cs[0].State.Running != nil
}

func ready(p *api.Pod) bool {
	cs := p.Status.ContainerStatuses
	return len(cs) == 1 && cs[0].Ready
}

func hasEvent(evs []string, prefix string) bool {
	for _, e := range evs {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func httpProbe(path string, period, failures int32) *api.Probe {
	return &api.Probe{
		ProbeHandler:  api.ProbeHandler{HTTPGet: &api.HTTPGetAction{Path: path, Port: api.FromString("http"), Scheme: api.URISchemeHTTP}},
		PeriodSeconds: period, FailureThreshold: failures, SuccessThreshold: 1, TimeoutSeconds: 30,
	}
}

// TestMyWebFailingLiveness: /healthz answers 500, so after three failures
// 10 s apart the container is killed and restarted, and the events say
// why.
func TestMyWebFailingLiveness(t *testing.T) {
	n := startNode(t)
	name := podName(t)
	n.createPod(name, api.Container{
		Name:          "myweb",
		Image:         examples.MustBuild(t, "myweb"),
		Env:           []api.EnvVar{{Name: "FAIL_AFTER", Value: "0s"}},
		Ports:         []api.ContainerPort{{Name: "http", ContainerPort: 8080}},
		LivenessProbe: httpProbe("/healthz", 10, 3),
	})
	n.waitRunning()
	p := n.until("a restart", 2*time.Minute, func(p *api.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount >= 1 && cs[0].State.Running != nil
	})
	evs := n.events(name)
	if !hasEvent(evs, "Warning Unhealthy Liveness probe failed: HTTP probe failed with statuscode: 500 x3") ||
		!hasEvent(evs, "Normal Killing Container myweb failed liveness probe, will be restarted") {
		t.Errorf("events %q", evs)
	}
	if p.Status.ContainerStatuses[0].LastTerminationState.Terminated == nil {
		t.Errorf("no last state: %+v", p.Status.ContainerStatuses[0])
	}
}

// TestMyWebReadinessAndLiveness: a healthy myweb becomes ready through its
// readiness probe and is never killed by its liveness probe.
func TestMyWebReadinessAndLiveness(t *testing.T) {
	n := startNode(t)
	name := podName(t)
	n.createPod(name, api.Container{
		Name:           "myweb",
		Image:          examples.MustBuild(t, "myweb"),
		Ports:          []api.ContainerPort{{Name: "http", ContainerPort: 8080}},
		LivenessProbe:  httpProbe("/healthz", 10, 1),
		ReadinessProbe: &api.Probe{ProbeHandler: api.ProbeHandler{TCPSocket: &api.TCPSocketAction{Port: api.FromInt32(8080)}}, PeriodSeconds: 5, FailureThreshold: 3, SuccessThreshold: 1, TimeoutSeconds: 30},
	})
	n.waitRunning()
	n.until("ready", time.Minute, ready)
	start := n.clk.Now()
	p := n.until("a minute of running", 2*time.Minute, func(*api.Pod) bool { return n.clk.Since(start) >= time.Minute })
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 || !cs.Ready {
		t.Errorf("status %+v; events %q", cs, n.events(name))
	}
}

// TestLivenessExec: the documentation's liveness-exec example; the exec
// probe is a fresh run of the liveness module that reads the emptyDir.
func TestLivenessExec(t *testing.T) {
	n := startNode(t)
	name := podName(t)
	n.createPod(name, api.Container{
		Name:         "liveness",
		Image:        examples.MustBuild(t, "liveness"),
		Args:         []string{"run"},
		Env:          []api.EnvVar{{Name: "HEALTHY_FOR", Value: "0s"}},
		VolumeMounts: []api.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
		LivenessProbe: &api.Probe{
			ProbeHandler:        api.ProbeHandler{Exec: &api.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
			InitialDelaySeconds: 5, PeriodSeconds: 5, FailureThreshold: 3, SuccessThreshold: 1, TimeoutSeconds: 30,
		},
	}, api.Volume{Name: "tmp", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}})
	n.waitRunning()
	n.until("a restart", 2*time.Minute, func(p *api.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount >= 1
	})
	evs := n.events(name)
	if !hasEvent(evs, "Warning Unhealthy Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory\n x3") ||
		!hasEvent(evs, "Normal Killing Container liveness failed liveness probe, will be restarted") {
		t.Errorf("events %q", evs)
	}
}

// TestGRPCHealth: the grpchealth guest's SERVING makes the pod ready; its
// NOT_SERVING keeps it unready with the kubelet's message.
func TestGRPCHealth(t *testing.T) {
	for _, status := range []string{"SERVING", "NOT_SERVING"} {
		t.Run(status, func(t *testing.T) {
			n := startNode(t)
			name := podName(t)
			n.createPod(name, api.Container{
				Name:           "grpchealth",
				Image:          examples.MustBuild(t, "grpchealth"),
				Env:            []api.EnvVar{{Name: "STATUS", Value: status}},
				Ports:          []api.ContainerPort{{Name: "grpc", ContainerPort: 9090}},
				ReadinessProbe: &api.Probe{ProbeHandler: api.ProbeHandler{GRPC: &api.GRPCAction{Port: 9090}}, PeriodSeconds: 5, FailureThreshold: 3, SuccessThreshold: 1, TimeoutSeconds: 30},
			})
			n.waitRunning()
			if status == "SERVING" {
				n.until("ready", time.Minute, ready)
				return
			}
			n.until("two failed probes", time.Minute, func(*api.Pod) bool {
				return hasEvent(n.events(name), `Warning Unhealthy Readiness probe failed: service unhealthy (responded with "NOT_SERVING") x2`)
			})
			if p := n.pod(name); ready(p) || !running(p) {
				t.Errorf("status %+v", p.Status.ContainerStatuses)
			}
		})
	}
}
