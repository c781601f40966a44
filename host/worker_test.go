package host

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

func podSpec(policy api.RestartPolicy, images ...string) api.PodSpec {
	spec := api.PodSpec{RestartPolicy: policy}
	for i, img := range images {
		name := strings.TrimSuffix(img, ".wasm")
		if len(images) > 1 {
			name = name + string(rune('a'+i))
		}
		spec.Containers = append(spec.Containers, api.Container{Name: name, Image: img})
	}
	return spec
}

func phaseIs(ph api.PodPhase) func(*api.Pod) bool {
	return func(p *api.Pod) bool { return p != nil && p.Status.Phase == ph }
}

func TestPodRunsToCompletion(t *testing.T) {
	n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
	n.createPod("hello", podSpec(api.RestartPolicyNever, "hello.wasm"))
	p := n.waitPod("hello", "Succeeded", phaseIs(api.PodSucceeded))

	if p.Spec.NodeName != "node1" {
		t.Errorf("nodeName = %q", p.Spec.NodeName)
	}
	cs := containerStatus(p, "hello")
	if cs == nil || cs.State.Terminated == nil || cs.State.Terminated.Reason != ReasonCompleted || cs.State.Terminated.ExitCode != 0 {
		t.Fatalf("status: %s", describe(p))
	}
	if !strings.HasPrefix(cs.ContainerID, "wasmlet://") || !strings.HasPrefix(cs.ImageID, "sha256:") || len(cs.ImageID) != 71 {
		t.Errorf("containerID %q imageID %q", cs.ContainerID, cs.ImageID)
	}
	if cs.State.Terminated.ContainerID != cs.ContainerID {
		t.Errorf("terminated.containerID %q, containerID %q", cs.State.Terminated.ContainerID, cs.ContainerID)
	}
	if !strings.HasPrefix(p.Status.PodIP, "127.42.") || p.Status.HostIP != "127.0.0.1" || p.Status.StartTime == nil {
		t.Errorf("podIP %q hostIP %q startTime %v", p.Status.PodIP, p.Status.HostIP, p.Status.StartTime)
	}
	var ready, initialized, scheduled api.ConditionStatus
	for _, c := range p.Status.Conditions {
		switch c.Type {
		case api.PodReady:
			ready = c.Status
		case api.PodInitialized:
			initialized = c.Status
		case api.PodScheduled:
			scheduled = c.Status
		}
	}
	if ready != api.ConditionFalse || initialized != api.ConditionTrue || scheduled != api.ConditionTrue {
		t.Errorf("conditions: %+v", p.Status.Conditions)
	}
	evs := n.events("hello")
	for _, want := range []string{
		"Normal Scheduled Successfully assigned default/hello to node1",
		`Normal Pulling Pulling image "hello.wasm"`,
		`Normal Pulled Successfully pulled image "hello.wasm" in `,
		"Normal Created Created container: hello",
		"Normal Started Started container hello",
	} {
		if !hasEvent(evs, want) {
			t.Errorf("no event %q in %q", want, evs)
		}
	}
	out, err := n.logs("hello", LogOptions{})
	if err != nil || out != "started hello\nexiting with 0\n" {
		t.Errorf("logs = %q, %v", out, err)
	}
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		policy api.RestartPolicy
		image  string
		want   api.PodPhase
		reason string
	}{
		{api.RestartPolicyNever, "crash.wasm", api.PodFailed, ReasonError},
		{api.RestartPolicyOnFailure, "hello.wasm", api.PodSucceeded, ReasonCompleted},
		{api.RestartPolicyNever, "oom.wasm", api.PodFailed, ReasonOOMKilled},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy)+"/"+tt.image, func(t *testing.T) {
			n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
			n.createPod("p", podSpec(tt.policy, tt.image))
			p := n.waitPod("p", string(tt.want), phaseIs(tt.want))
			cs := containerStatus(p, strings.TrimSuffix(tt.image, ".wasm"))
			if cs.State.Terminated == nil || cs.State.Terminated.Reason != tt.reason || cs.RestartCount != 0 {
				t.Errorf("status: %s", describe(p))
			}
		})
	}
}

// TestCrashLoopBackOff checks the restart delays exactly, in virtual time:
// immediate, then 10 s, 20 s, 40 s.
func TestCrashLoopBackOff(t *testing.T) {
	for _, policy := range []api.RestartPolicy{api.RestartPolicyAlways, api.RestartPolicyOnFailure} {
		t.Run(string(policy), func(t *testing.T) {
			n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
			n.createPod("crash", podSpec(policy, "crash.wasm"))
			// The first restart is immediate.
			p := n.waitPod("crash", "first back-off", func(p *api.Pod) bool {
				cs := containerStatus(p, "crash")
				return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonCrashLoopBackOff
			})
			cs := containerStatus(p, "crash")
			if cs.RestartCount != 1 || p.Status.Phase != api.PodRunning {
				t.Fatalf("after the first crash: %s", describe(p))
			}
			for i, delay := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
				cs := containerStatus(p, "crash")
				wantMsg := "back-off " + delay.String() + " restarting failed container=crash pod=crash_default(" + p.UID + ")"
				if cs.State.Waiting.Message != wantMsg {
					t.Fatalf("crash %d: message %q, want %q", i, cs.State.Waiting.Message, wantMsg)
				}
				last := cs.LastTerminationState.Terminated
				if last == nil || last.ExitCode != 1 || last.Reason != ReasonError {
					t.Fatalf("crash %d: lastState %s", i, stateString(cs.LastTerminationState))
				}
				finished := last.FinishedAt.Time
				count := cs.RestartCount
				n.clk.Advance(delay)
				p = n.waitPod("crash", "next back-off", func(p *api.Pod) bool {
					cs := containerStatus(p, "crash")
					return cs != nil && cs.RestartCount == count+1 && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonCrashLoopBackOff
				})
				started := containerStatus(p, "crash").LastTerminationState.Terminated.StartedAt.Time
				if got := started.Sub(finished); got != delay {
					t.Fatalf("crash %d: restarted %v after the exit, want %v", i, got, delay)
				}
			}
			if !hasEvent(n.events("crash"), "Warning BackOff Back-off restarting failed container crash in pod crash_default(") {
				t.Errorf("no BackOff event: %q", n.events("crash"))
			}
			out, err := n.logs("crash", LogOptions{Previous: true})
			if err != nil || !strings.Contains(out, "exiting with 1") {
				t.Errorf("previous logs = %q, %v", out, err)
			}
		})
	}
}

func TestImagePullBackOff(t *testing.T) {
	for _, image := range []string{"missing.wasm", "bad.wasm", "hello.wasm@sha256:" + strings.Repeat("0", 64)} {
		t.Run(image, func(t *testing.T) {
			n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
			n.createPod("img", api.PodSpec{Containers: []api.Container{{Name: "c", Image: image}}})
			p := n.waitPod("img", "ErrImagePull", func(p *api.Pod) bool {
				cs := containerStatus(p, "c")
				return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonErrImagePull
			})
			if msg := containerStatus(p, "c").State.Waiting.Message; msg == "" {
				t.Error("ErrImagePull without a message")
			}
			if p.Status.Phase != api.PodPending {
				t.Errorf("phase %s", p.Status.Phase)
			}
			errImagePull := func(p *api.Pod) bool {
				cs := containerStatus(p, "c")
				return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonErrImagePull
			}
			// Retried 10 s later: the 10 s back-off is over, the pull fails
			// again (back-off 20 s); 10 s later it is in back-off.
			n.clk.Advance(10 * time.Second)
			n.waitPod("img", "second ErrImagePull", func(p *api.Pod) bool {
				return errImagePull(p) && strings.Contains(p.Annotations[AnnotationBackoff], `"delay":20000000000`)
			})
			n.clk.Advance(10 * time.Second)
			p = n.waitPod("img", "ImagePullBackOff", func(p *api.Pod) bool {
				cs := containerStatus(p, "c")
				return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonImagePullBackOff
			})
			if msg := containerStatus(p, "c").State.Waiting.Message; msg != `Back-off pulling image "`+image+`"` {
				t.Errorf("message %q", msg)
			}
			_, err := n.logs("img", LogOptions{})
			if err == nil || !strings.Contains(err.Error(), `container "c" in pod "img" is waiting to start: trying and failing to pull image`) {
				t.Errorf("logs error = %v", err)
			}
			// At the end of the 20 s back-off it pulls again.
			n.clk.Advance(10 * time.Second)
			n.waitPod("img", "third ErrImagePull", func(p *api.Pod) bool {
				return errImagePull(p) && strings.Contains(p.Annotations[AnnotationBackoff], `"delay":40000000000`)
			})
			evs := n.events("img")
			if !hasEvent(evs, `Warning Failed Failed to pull image "`+image+`": `) || !hasEvent(evs, "Warning Failed Error: ErrImagePull") {
				t.Errorf("events %q", evs)
			}
		})
	}
}

// capturingRuntime remembers the instances it started.
type capturingRuntime struct {
	fakeRuntime
	mu    sync.Mutex
	insts []*fakeInstance
}

func (c *capturingRuntime) Start(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error) {
	fi := startScripted(ctx, mod.(string), cfg)
	c.mu.Lock()
	c.insts = append(c.insts, fi)
	c.mu.Unlock()
	return fi, nil
}

func (c *capturingRuntime) last() *fakeInstance {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.insts[len(c.insts)-1]
}

func isRunning(name string) func(*api.Pod) bool {
	return func(p *api.Pod) bool {
		cs := containerStatus(p, name)
		return cs != nil && cs.State.Running != nil && cs.Ready
	}
}

func isGone(p *api.Pod) bool { return p == nil }

func TestGracefulTermination(t *testing.T) {
	tests := []struct {
		image     string
		grace     *int64
		killAfter time.Duration // 0: ends on SIGTERM
	}{
		{"graceful.wasm", nil, 0},
		{"serve.wasm", nil, 30 * time.Second},
		{"serve.wasm", i64(5), 5 * time.Second},
		{"serve.wasm", i64(0), 2 * time.Second}, // the kubelet's 2 s floor
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			rt := &capturingRuntime{}
			n := newTestNode(t, rt, nil, nil, "")
			spec := podSpec(api.RestartPolicyAlways, tt.image)
			name := spec.Containers[0].Name
			spec.Containers[0].Ports = []api.ContainerPort{{Name: "http", ContainerPort: 8080}}
			n.createPod("p", spec)
			p := n.waitPod("p", "running", isRunning(name))
			inst := rt.last()
			if len(inst.cfg.Listeners) != 1 || inst.cfg.Listeners[0].L.Addr().String() != p.Status.PodIP+":8080" {
				t.Fatalf("listeners %v, pod IP %s", inst.cfg.Listeners, p.Status.PodIP)
			}
			_, _, err := n.st.Delete(context.Background(), podsResource(), "default", "p", store.DeleteOptions{GracePeriodSeconds: tt.grace})
			if err != nil {
				t.Fatal(err)
			}
			if tt.killAfter == 0 {
				n.waitPod("p", "gone", isGone)
				return
			}
			<-inst.termed // SIGTERM delivered
			n.clk.Advance(tt.killAfter - time.Second)
			select {
			case <-inst.Done():
				t.Fatalf("killed before %v", tt.killAfter)
			default:
			}
			n.clk.Advance(time.Second)
			<-inst.Done()
			if st := inst.Wait(); st.Code != 137 {
				t.Errorf("exit %d", st.Code)
			}
			n.waitPod("p", "gone", isGone)
			if !hasEvent(n.events("p"), "Normal Killing Stopping container "+name) {
				t.Errorf("events %q", n.events("p"))
			}
			// The IP and the port are free again.
			l, err := net.Listen("tcp", p.Status.PodIP+":8080")
			if err != nil {
				t.Fatalf("port still bound: %v", err)
			}
			l.Close()
		})
	}
}

func TestListenerConflictIsRunContainerError(t *testing.T) {
	n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
	spec := podSpec(api.RestartPolicyAlways, "serve.wasm", "serve.wasm")
	for i := range spec.Containers {
		spec.Containers[i].Ports = []api.ContainerPort{{ContainerPort: 8080}}
	}
	n.createPod("p", spec)
	p := n.waitPod("p", "RunContainerError", func(p *api.Pod) bool {
		cs := containerStatus(p, "serveb")
		return cs != nil && cs.State.Waiting != nil && (cs.State.Waiting.Reason == ReasonRunContainerError || cs.State.Waiting.Reason == ReasonCrashLoopBackOff)
	})
	cs := containerStatus(p, "serveb")
	last := cs.LastTerminationState.Terminated
	if last == nil || last.Reason != ReasonStartError || last.ExitCode != 128 || !strings.Contains(last.Message, ":8080") {
		t.Errorf("serveb: %s", describe(p))
	}
}

func TestNodeRestartMarksLostContainers(t *testing.T) {
	dataDir := t.TempDir()
	rt := &fakeRuntime{}
	n := newTestNode(t, rt, nil, nil, dataDir)
	n.createPod("web", podSpec(api.RestartPolicyAlways, "serve.wasm"))
	n.createPod("never", podSpec(api.RestartPolicyNever, "serve.wasm"))
	n.waitPod("web", "running", isRunning("serve"))
	before := n.waitPod("never", "running", isRunning("serve"))
	n.stop() // like kill -9: nothing is recorded

	n2 := newTestNode(t, rt, n.st, n.clk, dataDir)
	// Died with the node: counted, and restarted after the back-off only.
	n2.waitPod("web", "in back-off", inCrashLoop("serve", 1, "10s"))
	n2.clk.Advance(10 * time.Second)
	p := n2.waitPod("web", "running again", func(p *api.Pod) bool {
		cs := containerStatus(p, "serve")
		return cs != nil && cs.State.Running != nil && cs.RestartCount == 1
	})
	last := containerStatus(p, "serve").LastTerminationState.Terminated
	if !isNodeCrash(last) || last.Message != messageNodeCrash {
		t.Errorf("web: %s", describe(p))
	}
	p = n2.waitPod("never", "Failed", phaseIs(api.PodFailed))
	cs := containerStatus(p, "serve")
	if cs.RestartCount != 0 || !isNodeCrash(cs.State.Terminated) {
		t.Errorf("never: %s", describe(p))
	}
	if p.Status.PodIP != before.Status.PodIP {
		t.Errorf("pod IP changed from %s to %s", before.Status.PodIP, p.Status.PodIP)
	}
}

func TestShutdownIsNotACrash(t *testing.T) {
	dataDir := t.TempDir()
	rt := &capturingRuntime{}
	n := newTestNode(t, rt, nil, nil, dataDir)
	n.createPod("web", podSpec(api.RestartPolicyAlways, "serve.wasm"))
	first := containerStatus(n.waitPod("web", "running", isRunning("serve")), "serve").State.Running.StartedAt
	inst := rt.last()

	done := make(chan error, 1)
	go func() { done <- n.h.Shutdown(context.Background()) }()
	<-inst.termed
	// serve ignores SIGTERM: killed at the node's cap (20 s), not 30 s.
	stopAt := n.clk.Now()
	n.clk.Advance(20 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n.stop()
	// The shutdown wrote how the container ended, before the node stopped.
	o, err := n.st.Get(context.Background(), podsResource(), "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	ended := containerStatus(o.(*api.Pod), "serve").State.Terminated
	if ended == nil || ended.ExitCode != exitCodeKilled || ended.Reason != ReasonError ||
		!ended.StartedAt.Equal(first.Time) || !ended.FinishedAt.Equal(stopAt.Add(20*time.Second)) {
		t.Fatalf("stored after the shutdown: %s", describe(o.(*api.Pod)))
	}

	// The next start runs it again at once (no back-off: the node
	// stopped it), as a new instance that counts, with the end of the
	// first as its last state.
	n2 := newTestNode(t, rt, n.st, n.clk, dataDir)
	p := n2.waitPod("web", "running again", func(p *api.Pod) bool {
		cs := containerStatus(p, "serve")
		return cs != nil && cs.State.Running != nil && rt.last() != inst
	})
	cs := containerStatus(p, "serve")
	if last := cs.LastTerminationState.Terminated; cs.RestartCount != 1 || last == nil ||
		last.ExitCode != exitCodeKilled || last.Reason != ReasonError || last.ContainerID != ended.ContainerID ||
		!last.StartedAt.Equal(first.Time) || !last.FinishedAt.Equal(ended.FinishedAt.Time) {
		t.Errorf("after shutdown: %s", describe(p))
	}
	if _, ok := p.Annotations[AnnotationBackoff]; ok {
		t.Errorf("a restart after a shutdown raised the back-off: %s", p.Annotations[AnnotationBackoff])
	}
	if _, ok := p.Annotations[AnnotationNodeShutdown]; ok {
		t.Error("shutdown annotation left on the pod")
	}
}

func TestLogsCurrentAndPrevious(t *testing.T) {
	n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
	spec := podSpec(api.RestartPolicyAlways, "crash.wasm")
	spec.Containers[0].Args = []string{"one"}
	n.createPod("c", spec)
	n.waitPod("c", "back-off", func(p *api.Pod) bool {
		cs := containerStatus(p, "crash")
		return cs != nil && cs.RestartCount == 1 && cs.State.Waiting != nil
	})
	// Instance 1 is both the current and the previous one while waiting.
	for _, prev := range []bool{false, true} {
		out, err := n.logs("c", LogOptions{Previous: prev})
		if err != nil || out != "started crash one\nexiting with 1\n" {
			t.Errorf("previous=%v: %q, %v", prev, out, err)
		}
	}
	tail := int64(1)
	out, err := n.logs("c", LogOptions{TailLines: &tail, Timestamps: true})
	if err != nil || out != t0.Format(time.RFC3339Nano)+" exiting with 1\n" {
		t.Errorf("tail 1 with timestamps: %q, %v", out, err)
	}
	limit := int64(4)
	if out, _ := n.logs("c", LogOptions{LimitBytes: &limit}); out != "star" {
		t.Errorf("limit 4: %q", out)
	}
	if _, err := n.logs("c", LogOptions{Container: "nope"}); err == nil || err.Error() != "container nope is not valid for pod c" {
		t.Errorf("bad container: %v", err)
	}
	if _, err := n.logs("missing", LogOptions{}); !api.IsNotFound(err) {
		t.Errorf("missing pod: %v", err)
	}
}

func TestNodeRegistered(t *testing.T) {
	n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
	n.createPod("hello", podSpec(api.RestartPolicyNever, "hello.wasm"))
	n.waitPod("hello", "Succeeded", phaseIs(api.PodSucceeded))
	o, err := n.st.Get(context.Background(), nodesResource(), "", "node1")
	if err != nil {
		t.Fatal(err)
	}
	node := o.(*api.Node)
	info := node.Status.NodeInfo
	if info.ContainerRuntimeVersion != "wazero://v1.12.0" || info.KubeletVersion == "" || info.OperatingSystem == "" || info.Architecture == "" {
		t.Errorf("nodeInfo %+v", info)
	}
	if len(node.Status.Conditions) != 1 || node.Status.Conditions[0].Type != api.NodeReady || node.Status.Conditions[0].Status != api.ConditionTrue {
		t.Errorf("conditions %+v", node.Status.Conditions)
	}
	if len(node.Status.Addresses) != 2 || node.Status.Addresses[0].Address != "127.0.0.1" {
		t.Errorf("addresses %+v", node.Status.Addresses)
	}
}

// TestIdlePodsCostNoWrites: time passing writes only the Node's heartbeat,
// never the pods' status.
func TestIdlePodsCostNoWrites(t *testing.T) {
	n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
	n.createPod("web", podSpec(api.RestartPolicyAlways, "serve.wasm"))
	before := n.waitPod("web", "running", isRunning("serve"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 1; i <= 7; i++ {
		n.clk.Advance(10 * time.Second)
		want := api.NewTime(n.clk.Now())
		for {
			o, err := n.st.Get(ctx, nodesResource(), "", "node1")
			if err != nil {
				t.Fatal(err)
			}
			if o.(*api.Node).Status.Conditions[0].LastHeartbeatTime.Equal(want.Time) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("heartbeat %d not written", i)
			case <-clock.Real().After(time.Millisecond):
			}
		}
	}
	after := n.waitPod("web", "still running", isRunning("serve"))
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("an idle pod was written: resourceVersion %s -> %s (%s)", before.ResourceVersion, after.ResourceVersion, describe(after))
	}
}

func TestDefinitionChangeRestartsTheContainer(t *testing.T) {
	rt := &capturingRuntime{}
	n := newTestNode(t, rt, nil, nil, "")
	n.createPod("web", podSpec(api.RestartPolicyNever, "graceful.wasm"))
	n.waitPod("web", "running", isRunning("graceful"))
	first := rt.last()
	_, err := n.st.GuaranteedUpdate(context.Background(), podsResource(), "default", "web", func(o api.Object) (api.Object, error) {
		p := o.(*api.Pod)
		p.Spec.Containers[0].Image = "serve.wasm"
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-first.Done()
	p := n.waitPod("web", "restarted with the new image", func(p *api.Pod) bool {
		cs := containerStatus(p, "graceful")
		return cs != nil && cs.State.Running != nil && cs.Image == "serve.wasm" && cs.RestartCount == 1
	})
	if !hasEvent(n.events("web"), "Normal Killing Container graceful definition changed, will be restarted") {
		t.Errorf("events %q", n.events("web"))
	}
	if p.Status.Phase != api.PodRunning {
		t.Errorf("phase %s", p.Status.Phase)
	}
}

// TestGuestABIConfig keeps docs/guest-abi.md true for what the host hands
// the WASI layer: argv, environment, mounts and listeners, in order.
func TestGuestABIConfig(t *testing.T) {
	rt := &capturingRuntime{}
	hostDir := t.TempDir()
	n := newTestNodeWith(t, rt, func(o *Options) { o.AllowedHostPaths = []string{hostDir} })
	spec := api.PodSpec{
		Volumes: []api.Volume{
			{Name: "scratch", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}},
			{Name: "host", VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: hostDir}}},
		},
		Containers: []api.Container{
			{
				Name: "app", Image: "serve.wasm", Args: []string{"-v", "$(GREETING)"},
				Env:          []api.EnvVar{{Name: "GREETING", Value: "hi"}, {Name: "B", Value: "$(GREETING)-b"}},
				VolumeMounts: []api.VolumeMount{{Name: "host", MountPath: "/host", ReadOnly: true}, {Name: "scratch", MountPath: "/data"}},
				Ports:        []api.ContainerPort{{Name: "http", ContainerPort: 8080}, {ContainerPort: 9090}, {Name: "dns", ContainerPort: 53, Protocol: "UDP"}},
			},
			{Name: "cmd", Image: "serve.wasm", Command: []string{"/bin/tool", "run"}, Args: []string{"x"}},
		},
	}
	n.createPod("abi", spec)
	p := n.waitPod("abi", "running", func(p *api.Pod) bool { return isRunning("app")(p) && isRunning("cmd")(p) })

	rt.mu.Lock()
	insts := append([]*fakeInstance(nil), rt.insts...)
	rt.mu.Unlock()
	byArg0 := map[string]*fakeInstance{}
	for _, in := range insts {
		byArg0[in.cfg.Args[0]] = in
	}
	app, cmd := byArg0["app"], byArg0["/bin/tool"]
	if app == nil || cmd == nil {
		t.Fatalf("instances: %v", byArg0)
	}
	if got := strings.Join(app.cfg.Args, " "); got != "app -v hi" {
		t.Errorf("app argv %q", got)
	}
	if got := strings.Join(cmd.cfg.Args, " "); got != "/bin/tool run x" {
		t.Errorf("cmd argv %q", got)
	}
	wantEnv := "GREETING=hi B=hi-b HOSTNAME=abi POD_NAME=abi POD_NAMESPACE=default POD_IP=" + p.Status.PodIP
	if got := strings.Join(app.cfg.Env, " "); got != wantEnv {
		t.Errorf("env %q, want %q", got, wantEnv)
	}
	m := app.cfg.Mounts
	if len(m) != 2 || m[0].GuestPath != "/host" || strings.TrimSuffix(m[0].Root.Name(), "/.") != hostDir || !m[0].ReadOnly || m[0].Quota != nil ||
		m[1].GuestPath != "/data" || !strings.HasSuffix(m[1].Root.Name(), "/pods/"+p.UID+"/volumes/scratch") || m[1].ReadOnly ||
		m[1].Quota == nil || m[1].Quota.Limit() != DefaultEmptyDirLimit {
		t.Errorf("mounts %+v", m)
	}
	ls := app.cfg.Listeners
	if len(ls) != 2 || ls[0].Name != "http" || ls[0].L.Addr().String() != p.Status.PodIP+":8080" ||
		ls[1].Name != "" || ls[1].L.Addr().String() != p.Status.PodIP+":9090" {
		t.Errorf("listeners %+v", ls)
	}
}

func TestLogsFollowEndsWithTheContainer(t *testing.T) {
	n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
	n.createPod("g", podSpec(api.RestartPolicyAlways, "graceful.wasm"))
	n.waitPod("g", "running", isRunning("graceful"))
	pr, pw := ioPipe()
	done := make(chan error, 1)
	go func() { done <- n.h.Logs(context.Background(), "default", "g", LogOptions{Follow: true}, pw) }()
	if got := pr.next(); got != "started graceful\n" {
		t.Fatalf("first line %q", got)
	}
	if _, _, err := n.st.Delete(context.Background(), podsResource(), "default", "g", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-clock.Real().After(10 * time.Second):
		t.Fatal("follow did not end with the container")
	}
}

// TestNodeRestartKeepsTheBackoff: a crash-looping container's back-off is
// in the store; a node restarted during it restarts the container at the
// end of the same back-off, not at once, and counts on from there.
func TestNodeRestartKeepsTheBackoff(t *testing.T) {
	dataDir := t.TempDir()
	n := newTestNode(t, &fakeRuntime{}, nil, nil, dataDir)
	n.createPod("crash", podSpec(api.RestartPolicyAlways, "crash.wasm"))
	inBackoff := func(restarts int32, delay string) func(*api.Pod) bool {
		return func(p *api.Pod) bool {
			cs := containerStatus(p, "crash")
			return cs != nil && cs.RestartCount == restarts && cs.State.Waiting != nil &&
				cs.State.Waiting.Reason == ReasonCrashLoopBackOff && strings.HasPrefix(cs.State.Waiting.Message, "back-off "+delay+" ")
		}
	}
	n.waitPod("crash", "back-off 10s", inBackoff(1, "10s"))
	n.clk.Advance(10 * time.Second)
	p := n.waitPod("crash", "back-off 20s", inBackoff(2, "20s"))
	finished := containerStatus(p, "crash").LastTerminationState.Terminated.FinishedAt.Time
	n.stop()

	n.clk.Advance(5 * time.Second)
	n2 := newTestNode(t, &fakeRuntime{}, n.st, n.clk, dataDir)
	// The new worker sees the back-off (and says so) before time moves on.
	n2.waitEventCount("crash", "BackOff", 3)
	n2.waitPod("crash", "still in back-off", inBackoff(2, "20s"))
	n.clk.Advance(15 * time.Second)
	p = n2.waitPod("crash", "back-off 40s", inBackoff(3, "40s"))
	started := containerStatus(p, "crash").LastTerminationState.Terminated.StartedAt.Time
	if got := started.Sub(finished); got != 20*time.Second {
		t.Errorf("restarted %v after the exit, want 20s", got)
	}
}

// TestNodeRestartDuringTermination: a pod terminating when its node dies
// loses its container with the node; the node back removes the pod without
// starting the container again.
func TestNodeRestartDuringTermination(t *testing.T) {
	dataDir := t.TempDir()
	rt := &capturingRuntime{}
	n := newTestNode(t, rt, nil, nil, dataDir)
	n.createPod("web", podSpec(api.RestartPolicyAlways, "serve.wasm"))
	n.waitPod("web", "running", isRunning("serve"))
	inst := rt.last()
	if _, _, err := n.st.Delete(context.Background(), podsResource(), "default", "web", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	<-inst.termed
	n.clk.Advance(10 * time.Second)
	n.stop() // like kill -9, 20 s before the deadline

	w := n.watchPods()
	newTestNode(t, rt, n.st, n.clk, dataDir)
	n.waitPod("web", "gone", isGone)
	last := lastState(t, w)
	cs := containerStatus(last, "serve")
	if cs.RestartCount != 0 || !isNodeCrash(cs.State.Terminated) {
		t.Errorf("last state: %s", describe(last))
	}
	if rt.last() != inst {
		t.Error("the container of a terminating pod was started again")
	}
}

// TestShutdownDoesNotWaitForAnEndedWorker: a worker whose loop ended
// because its pod was gone is still listed for a moment; Shutdown must
// return at once rather than wait for it until its deadline.
func TestShutdownDoesNotWaitForAnEndedWorker(t *testing.T) {
	n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
	w := newPodWorker(n.h, &api.Pod{ObjectMeta: api.ObjectMeta{UID: "u1", Namespace: "default", Name: "gone"}})
	close(w.exited)
	n.h.mu.Lock()
	n.h.workers[w.uid] = w
	n.h.mu.Unlock()
	defer func() {
		n.h.mu.Lock()
		delete(n.h.workers, w.uid)
		n.h.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.h.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (it waited for a worker that had ended)", err)
	}
}

// A container of a restartPolicy Never pod that cannot start ends with its
// start error, reason and message, as the kubelet shows a terminal pod's
// last attempt, not as an unknown container killed with 137.
func TestNeverPodKeepsItsStartError(t *testing.T) {
	rt := &fakeRuntime{start: func(_ context.Context, _ compiledModule, cfg wasi.Config) (instance, error) {
		cfg.Release()
		return nil, errors.New(`module[] not instantiated: "sock_open" is not exported in module "wasi_snapshot_preview1"`)
	}}
	n := newTestNode(t, rt, nil, nil, "")
	n.createPod("p", podSpec(api.RestartPolicyNever, "hello.wasm"))
	p := n.waitPod("p", "Failed", phaseIs(api.PodFailed))
	cs := containerStatus(p, "hello")
	term := cs.State.Terminated
	if term == nil || term.Reason != ReasonStartError || term.ExitCode != 128 || !strings.Contains(term.Message, "sock_open") ||
		cs.LastTerminationState.Terminated != nil {
		t.Errorf("hello: %s", describe(p))
	}
}
