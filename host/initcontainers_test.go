package host

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/internal/table"
	"github.com/wasmlet/wasmlet/store"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// The tests below run init containers of the example guests: crash, which
// exits with EXIT_CODE after CRASH_AFTER, and graceful, which runs until
// SIGTERM. The node runs on a fake clock.

// crashContainer is a container of the crash guest exiting with code after
// after.
func crashContainer(t *testing.T, name string, code int, after string) api.Container {
	t.Helper()
	return api.Container{Name: name, Image: examples.MustBuild(t, "crash"), Env: []api.EnvVar{
		{Name: "EXIT_CODE", Value: strconv.Itoa(code)}, {Name: "CRASH_AFTER", Value: after}}}
}

// gracefulContainer is a container of the graceful guest.
func gracefulContainer(t *testing.T, name string) api.Container {
	t.Helper()
	return api.Container{Name: name, Image: examples.MustBuild(t, "graceful"), Env: []api.EnvVar{{Name: "DRAIN", Value: "10ms"}}}
}

func sidecarContainer(c api.Container) api.Container {
	always := api.ContainerRestartPolicyAlways
	c.RestartPolicy = &always
	return c
}

func initStatus(p *api.Pod, name string) *api.ContainerStatus {
	if p == nil {
		return nil
	}
	return findStatus(p.Status.InitContainerStatuses, name)
}

func condition(p *api.Pod, typ api.PodConditionType) api.PodCondition {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return api.PodCondition{}
}

// versions reads w until the pod name is as cond says, and returns every
// version of it seen on the way (the last one satisfies cond).
func versions(t *testing.T, w store.Watch, name string, what string, cond func(*api.Pod) bool) []*api.Pod {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	var seen []*api.Pod
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("pod %s: the watch ended waiting for %s", name, what)
			}
			p, isPod := ev.Object.(*api.Pod)
			if !isPod || p.Name != name {
				continue
			}
			if ev.Type == store.Deleted {
				p = nil
			}
			seen = append(seen, p)
			if cond(p) {
				return seen
			}
		case <-timeout:
			var last *api.Pod
			if len(seen) > 0 {
				last = seen[len(seen)-1]
			}
			t.Fatalf("pod %s: timed out waiting for %s; last: %s", name, what, describeInit(last))
		}
	}
}

// waitLong is n.waitPod with a longer guard: under the race detector the
// guests run on wazero's interpreter, and a loaded machine makes each start
// take seconds.
func waitLong(t *testing.T, n *testNode, name, what string, cond func(*api.Pod) bool) *api.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := n.st.Watch(ctx, podsResource(), "default", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for {
		o, err := n.st.Get(ctx, podsResource(), "default", name)
		var p *api.Pod
		if err == nil {
			p = o.(*api.Pod)
		} else if !api.IsNotFound(err) {
			t.Fatal(err)
		}
		if cond(p) {
			return p
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s: timed out waiting for %s; last: %s", name, what, describeInit(p))
		case <-w.ResultChan():
		}
	}
}

// describeInit is describe with the init containers.
func describeInit(p *api.Pod) string {
	if p == nil {
		return "<gone>"
	}
	var b strings.Builder
	for _, c := range p.Status.InitContainerStatuses {
		fmt.Fprintf(&b, "init %s{restarts=%d ready=%v state=%s last=%s} ", c.Name, c.RestartCount, c.Ready, stateString(c.State), stateString(c.LastTerminationState))
	}
	return b.String() + describe(p)
}

// statusColumn is the STATUS column of each version that has init
// container statuses, repeats dropped.
func statusColumn(seen []*api.Pod) []string {
	var out []string
	for _, p := range seen {
		if p == nil || len(p.Status.InitContainerStatuses) == 0 {
			continue
		}
		s := table.PodStatus(p).Status
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func ran(cs *api.ContainerStatus) bool {
	return cs != nil && (cs.ContainerID != "" || cs.RestartCount > 0)
}

func completed(cs *api.ContainerStatus) bool {
	return cs != nil && cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0 && cs.State.Terminated.Reason == ReasonCompleted
}

// TestRealInitContainersRunInOrder: two init containers run one after the
// other, each to its end, before the container starts; meanwhile the pod is
// Pending, not Initialized, its container waits with PodInitializing, and
// its STATUS column goes Init:0/2, Init:1/2, PodInitializing, Running.
func TestRealInitContainersRunInOrder(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	w := n.watchPods()
	n.createPod("init", api.PodSpec{
		InitContainers: []api.Container{crashContainer(t, "first", 0, "0s"), crashContainer(t, "second", 0, "0s")},
		Containers:     []api.Container{gracefulContainer(t, "app")},
	})
	seen := versions(t, w, "init", "the container running", isRunning("app"))
	for _, p := range seen {
		first, second, app := initStatus(p, "first"), initStatus(p, "second"), containerStatus(p, "app")
		if first == nil {
			continue
		}
		if ran(second) && !completed(first) {
			t.Errorf("second ran before first completed: %s", describeInit(p))
		}
		if ran(app) && !(completed(first) && completed(second)) {
			t.Errorf("the container ran before the init containers completed: %s", describeInit(p))
		}
		if !completed(second) {
			cond := condition(p, api.PodInitialized)
			if p.Status.Phase != api.PodPending || cond.Status != api.ConditionFalse || cond.Reason != "ContainersNotInitialized" ||
				app.State.Waiting == nil || app.State.Waiting.Reason != ReasonPodInitializing {
				t.Errorf("while initializing: phase %s, Initialized %+v, %s", p.Status.Phase, cond, describeInit(p))
			}
			want := "containers with incomplete status: [first second]"
			if completed(first) {
				want = "containers with incomplete status: [second]"
			}
			if cond.Message != want {
				t.Errorf("Initialized message %q, want %q", cond.Message, want)
			}
		}
	}
	if got, want := statusColumn(seen), []string{"Init:0/2", "Init:1/2", "PodInitializing", "Running"}; !slices.Equal(got, want) {
		t.Errorf("STATUS went %q, want %q", got, want)
	}
	p := seen[len(seen)-1]
	for _, name := range []string{"first", "second"} {
		cs := initStatus(p, name)
		if !completed(cs) || !cs.Ready || cs.RestartCount != 0 || cs.Started == nil || *cs.Started || cs.ContainerID == "" {
			t.Errorf("init container %s at the end: %+v", name, cs)
		}
	}
	if c := condition(p, api.PodInitialized); c.Status != api.ConditionTrue || p.Status.Phase != api.PodRunning {
		t.Errorf("at the end: phase %s, Initialized %+v", p.Status.Phase, c)
	}
	if s := table.PodStatus(p); s.Ready != 1 || s.Total != 1 || s.Restarts != 0 {
		t.Errorf("table at the end: %+v", s)
	}
	evs := n.events("init")
	for _, want := range []string{
		`Normal Pulled Successfully pulled image "` + p.Spec.InitContainers[0].Image + `"`,
		"Normal Created Created container: first",
		"Normal Started Started container first",
		`Normal Pulled Container image "` + p.Spec.InitContainers[1].Image + `" already present on machine`,
		"Normal Created Created container: second",
		"Normal Started Started container second",
		"Normal Created Created container: app",
		"Normal Started Started container app",
	} {
		if !hasEvent(evs, want) {
			t.Errorf("no event %q in %q", want, evs)
		}
	}
	out, err := n.logs("init", LogOptions{Container: "second"})
	if err != nil || !strings.Contains(out, "exiting with code 0") {
		t.Errorf("logs -c second: %q, %v", out, err)
	}
}

// TestRealInitContainerCrashLoop: an init container that fails is started
// again with the containers' crash-loop back-off (at once, then 10 s, 20 s)
// under Always and OnFailure, and the container never starts meanwhile:
// Init:Error, then Init:CrashLoopBackOff.
func TestRealInitContainerCrashLoop(t *testing.T) {
	for _, policy := range []api.RestartPolicy{api.RestartPolicyAlways, api.RestartPolicyOnFailure} {
		t.Run(string(policy), func(t *testing.T) {
			n := newTestNode(t, realRuntime(t), nil, nil, "")
			w := n.watchPods()
			pod := n.createPod("loop", api.PodSpec{
				RestartPolicy:  policy,
				InitContainers: []api.Container{crashContainer(t, "fail", 3, "0s")},
				Containers:     []api.Container{gracefulContainer(t, "app")},
			})
			seen := versions(t, w, "loop", "the back-off", func(p *api.Pod) bool {
				cs := initStatus(p, "fail")
				return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonCrashLoopBackOff
			})
			if got, want := statusColumn(seen), []string{"Init:0/1", "Init:Error", "Init:0/1", "Init:Error", "Init:CrashLoopBackOff"}; !slices.Equal(got, want) {
				t.Errorf("STATUS went %q, want %q", got, want)
			}
			p := seen[len(seen)-1]
			for _, delay := range []time.Duration{10 * time.Second, 20 * time.Second} {
				cs := initStatus(p, "fail")
				want := fmt.Sprintf("back-off %s restarting failed container=fail pod=loop_default(%s)", delay, pod.UID)
				last := cs.LastTerminationState.Terminated
				if cs.State.Waiting.Message != want || last == nil || last.ExitCode != 3 || last.Reason != ReasonError {
					t.Fatalf("in back-off: %s; want message %q", describeInit(p), want)
				}
				cond := condition(p, api.PodInitialized)
				if p.Status.Phase != api.PodPending || cond.Status != api.ConditionFalse || cond.Message != "containers with incomplete status: [fail]" {
					t.Errorf("in back-off: phase %s, Initialized %+v", p.Status.Phase, cond)
				}
				if s := table.PodStatus(p); s.Status != "Init:CrashLoopBackOff" || s.Restarts != int(cs.RestartCount) {
					t.Errorf("table in back-off: %+v, restarts %d", s, cs.RestartCount)
				}
				count, finished := cs.RestartCount, last.FinishedAt.Time
				n.clk.Advance(delay - time.Second)
				time.Sleep(50 * time.Millisecond)
				if p := waitLong(t, n, "loop", "", func(*api.Pod) bool { return true }); initStatus(p, "fail").RestartCount != count {
					t.Fatalf("restarted inside its back-off: %s", describeInit(p))
				}
				n.clk.Advance(time.Second)
				p = waitLong(t, n, "loop", "the next back-off", func(p *api.Pod) bool {
					cs := initStatus(p, "fail")
					return cs != nil && cs.RestartCount == count+1 && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonCrashLoopBackOff
				})
				if started := initStatus(p, "fail").LastTerminationState.Terminated.StartedAt.Time; started.Sub(finished) != delay {
					t.Errorf("restarted %v after the exit, want %v", started.Sub(finished), delay)
				}
			}
			if app := containerStatus(p, "app"); ran(app) || app.State.Waiting == nil || app.State.Waiting.Reason != ReasonPodInitializing {
				t.Errorf("the container: %s", describeInit(p))
			}
			evs := n.events("loop")
			if !hasEvent(evs, "Warning BackOff Back-off restarting failed container fail in pod loop_default(") || hasEvent(evs, "Normal Started Started container app") {
				t.Errorf("events %q", evs)
			}
		})
	}
}

// TestRealInitContainerNeverFailsPod: under restartPolicy Never a failed
// init container fails the pod: Failed, Init:Error; the init containers
// after it and the container never run.
func TestRealInitContainerNeverFailsPod(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.createPod("never", api.PodSpec{
		RestartPolicy:  api.RestartPolicyNever,
		InitContainers: []api.Container{crashContainer(t, "ok", 0, "0s"), crashContainer(t, "fail", 3, "0s"), crashContainer(t, "after", 0, "0s")},
		Containers:     []api.Container{gracefulContainer(t, "app")},
	})
	p := waitLong(t, n, "never", "Failed", phaseIs(api.PodFailed))
	fail := initStatus(p, "fail")
	if !completed(initStatus(p, "ok")) || fail.State.Terminated == nil || fail.State.Terminated.ExitCode != 3 ||
		fail.State.Terminated.Reason != ReasonError || fail.RestartCount != 0 {
		t.Errorf("init containers: %s", describeInit(p))
	}
	if ran(initStatus(p, "after")) || ran(containerStatus(p, "app")) {
		t.Errorf("ran after the failure: %s", describeInit(p))
	}
	if s := table.PodStatus(p); s.Status != "Init:Error" {
		t.Errorf("STATUS %q, want Init:Error", s.Status)
	}
	if c := condition(p, api.PodInitialized); c.Status != api.ConditionFalse || c.Message != "containers with incomplete status: [fail after]" {
		t.Errorf("Initialized %+v", c)
	}
	n.clk.Advance(5 * time.Minute)
	time.Sleep(100 * time.Millisecond)
	evs := n.events("never")
	if hasEvent(evs, "Normal Started Started container after") || hasEvent(evs, "Normal Started Started container app") || !hasEvent(evs, "Normal Started Started container fail") {
		t.Errorf("events %q", evs)
	}
	if p := waitLong(t, n, "never", "", func(*api.Pod) bool { return true }); initStatus(p, "fail").RestartCount != 0 || p.Status.Phase != api.PodFailed {
		t.Errorf("later: %s", describeInit(p))
	}
}

// TestRealInitContainersAfterNodeRestart: a node that starts again does
// not run again the init containers that completed: not while a later one
// is in its crash loop, which goes on where it was, nor once the
// container has run.
func TestRealInitContainersAfterNodeRestart(t *testing.T) {
	dataDir := t.TempDir()
	clk := clock.NewFake(t0)
	st := openDiskStore(t, dataDir, clk)
	n := newTestNode(t, realRuntime(t), st, clk, dataDir)
	n.createPod("looping", api.PodSpec{
		InitContainers: []api.Container{crashContainer(t, "ok", 0, "0s"), crashContainer(t, "fail", 1, "0s")},
		Containers:     []api.Container{gracefulContainer(t, "app")},
	})
	n.createPod("done", api.PodSpec{
		InitContainers: []api.Container{crashContainer(t, "ok", 0, "0s")},
		Containers:     []api.Container{gracefulContainer(t, "app")},
	})
	loopBefore := waitLong(t, n, "looping", "the back-off", func(p *api.Pod) bool {
		cs := initStatus(p, "fail")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonCrashLoopBackOff
	})
	doneBefore := waitLong(t, n, "done", "running", isRunning("app"))
	if err := n.h.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	n.stop()
	st.Close()

	clk.Advance(time.Second)
	st = openDiskStore(t, dataDir, clk)
	defer st.Close()
	n2 := newTestNode(t, realRuntime(t), st, clk, dataDir)
	done := waitLong(t, n2, "done", "running again", func(p *api.Pod) bool {
		cs := containerStatus(p, "app")
		return isRunning("app")(p) && cs.RestartCount == 1
	})
	if got, was := initStatus(done, "ok"), initStatus(doneBefore, "ok"); got.ContainerID != was.ContainerID || got.RestartCount != 0 || !completed(got) || !got.Ready {
		t.Errorf("pod done's init container after the restart: %+v, was %+v", got, was)
	}
	if c := condition(done, api.PodInitialized); c.Status != api.ConditionTrue {
		t.Errorf("pod done: Initialized %+v", c)
	}
	// The back-off (10 s) goes on: fail runs again at its end, ok does not.
	count := initStatus(loopBefore, "fail").RestartCount
	clk.Advance(10 * time.Second)
	loop := waitLong(t, n2, "looping", "fail run again", func(p *api.Pod) bool {
		cs := initStatus(p, "fail")
		return cs != nil && cs.RestartCount == count+1 && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonCrashLoopBackOff
	})
	if got, was := initStatus(loop, "ok"), initStatus(loopBefore, "ok"); got.ContainerID != was.ContainerID || got.RestartCount != 0 || !completed(got) {
		t.Errorf("pod looping's completed init container after the restart: %+v, was %+v", got, was)
	}
	if s := table.PodStatus(loop); s.Status != "Init:CrashLoopBackOff" || ran(containerStatus(loop, "app")) {
		t.Errorf("pod looping: %q, %s", s.Status, describeInit(loop))
	}
	for _, pod := range []string{"looping", "done"} {
		if c := countEvents(t, st, pod, "Started", "Started container ok"); c != 1 {
			t.Errorf("pod %s: ok started %d times, want once", pod, c)
		}
	}
	n2.stop() // before the store closes
}

// countEvents sums the counts of the events of involved with reason and
// message.
func countEvents(t *testing.T, st *store.Store, involved, reason, message string) int32 {
	t.Helper()
	r, _ := api.LookupResource("events")
	objs, _, err := st.List(context.Background(), r, "", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	for _, o := range objs {
		if e := o.(*api.Event); e.InvolvedObject.Name == involved && e.Reason == reason && e.Message == message {
			n += e.Count
		}
	}
	return n
}

// TestRealSidecarInitContainer: a sidecar starts before the container and
// runs beside it; once the container has ended for good the sidecar is
// stopped and the pod Succeeded.
func TestRealSidecarInitContainer(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	w := n.watchPods()
	n.createPod("side", api.PodSpec{
		RestartPolicy:  api.RestartPolicyNever,
		InitContainers: []api.Container{sidecarContainer(gracefulContainer(t, "proxy"))},
		Containers:     []api.Container{crashContainer(t, "main", 0, "500ms")},
	})
	seen := versions(t, w, "side", "Succeeded", phaseIs(api.PodSucceeded))
	sawBoth := false
	for _, p := range seen {
		proxy, main := initStatus(p, "proxy"), containerStatus(p, "main")
		if proxy == nil {
			continue
		}
		if main.State.Running != nil {
			if proxy.State.Running == nil {
				t.Errorf("main runs without its sidecar: %s", describeInit(p))
			}
			sawBoth = true
			if s := table.PodStatus(p); s.Total != 2 || s.Ready != 2 || s.Status != "Running" || p.Status.Phase != api.PodRunning {
				t.Errorf("both running: %+v, phase %s", s, p.Status.Phase)
			}
			if c := condition(p, api.PodInitialized); c.Status != api.ConditionTrue {
				t.Errorf("Initialized %+v with the sidecar started", c)
			}
		}
	}
	if !sawBoth {
		t.Error("never saw main and its sidecar running together")
	}
	p := seen[len(seen)-1]
	if proxy := initStatus(p, "proxy"); proxy.State.Terminated == nil || proxy.RestartCount != 0 || !completed(containerStatus(p, "main")) {
		t.Errorf("at the end: %s", describeInit(p))
	}
	if s := table.PodStatus(p); s.Status != "Completed" {
		t.Errorf("STATUS %q", s.Status)
	}
	if !hasEvent(n.events("side"), "Normal Killing Stopping container proxy") {
		t.Errorf("events %q", n.events("side"))
	}
}

// TestRealSidecarStopsAfterContainers: a deleted pod's sidecar is stopped
// once its container has stopped.
func TestRealSidecarStopsAfterContainers(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.createPod("side", api.PodSpec{
		InitContainers: []api.Container{sidecarContainer(gracefulContainer(t, "proxy"))},
		Containers:     []api.Container{gracefulContainer(t, "app")},
	})
	waitLong(t, n, "side", "running", isRunning("app"))
	w := n.watchPods()
	if _, _, err := n.st.Delete(context.Background(), podsResource(), "default", "side", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	seen := versions(t, w, "side", "gone", isGone)
	appFirst := false
	for _, p := range seen {
		if p == nil {
			continue
		}
		proxy, app := initStatus(p, "proxy"), containerStatus(p, "app")
		if proxy.State.Running == nil && app.State.Running != nil {
			t.Errorf("the sidecar stopped before the container: %s", describeInit(p))
		}
		if proxy.State.Running != nil && app.State.Terminated != nil {
			appFirst = true
		}
	}
	if !appFirst {
		t.Error("never saw the container stopped with its sidecar running")
	}
	if last := seen[len(seen)-2]; initStatus(last, "proxy").State.Terminated == nil {
		t.Errorf("last state: %s", describeInit(last))
	}
}

// TestGetPhaseWithInitContainers: the kubelet's getPhase counts of init
// containers and sidecars (k8s-semantics.md section 1.2).
func TestGetPhaseWithInitContainers(t *testing.T) {
	always := api.ContainerRestartPolicyAlways
	inits := []api.Container{{Name: "i"}, {Name: "s", RestartPolicy: &always}}
	st := func(name string, s api.ContainerState, last ...api.ContainerState) api.ContainerStatus {
		cs := api.ContainerStatus{Name: name, State: s}
		if len(last) > 0 {
			cs.LastTerminationState = last[0]
		}
		return cs
	}
	started := func(cs api.ContainerStatus, b bool) api.ContainerStatus {
		cs.Started = &b
		return cs
	}
	app := st("a", waiting(ReasonPodInitializing))
	tests := []struct {
		name        string
		policy      api.RestartPolicy
		init        []api.ContainerStatus
		app         api.ContainerStatus
		initialized bool
		want        api.PodPhase
	}{
		{"init running", "", []api.ContainerStatus{st("i", running())}, app, false, api.PodPending},
		{"init waiting", "", []api.ContainerStatus{st("i", waiting(ReasonPodInitializing))}, app, false, api.PodPending},
		{"init failed Never", api.RestartPolicyNever, []api.ContainerStatus{st("i", exited(1))}, app, false, api.PodFailed},
		{"init in back-off Never", api.RestartPolicyNever, []api.ContainerStatus{st("i", waiting(ReasonCrashLoopBackOff), exited(1))}, app, false, api.PodFailed},
		{"init failed Always", api.RestartPolicyAlways, []api.ContainerStatus{st("i", exited(1))}, app, false, api.PodPending},
		{"init done, sidecar unstarted", "", []api.ContainerStatus{st("i", exited(0)), started(st("s", running()), false)}, app, false, api.PodPending},
		{"init done, sidecar waiting", "", []api.ContainerStatus{st("i", exited(0)), st("s", waiting(ReasonPodInitializing))}, app, false, api.PodPending},
		{"all running", "", []api.ContainerStatus{st("i", exited(0)), started(st("s", running()), true)}, st("a", running()), true, api.PodRunning},
		{"sidecar restarting after init", "", []api.ContainerStatus{st("i", exited(0)), st("s", waiting(ReasonCrashLoopBackOff), exited(1))}, st("a", running()), true, api.PodRunning},
		{"app done Never, sidecar stopped", api.RestartPolicyNever, []api.ContainerStatus{st("i", exited(0)), st("s", exited(137))}, st("a", exited(0)), true, api.PodSucceeded},
		{"app done Never, sidecar running", api.RestartPolicyNever, []api.ContainerStatus{st("i", exited(0)), started(st("s", running()), true)}, st("a", exited(0)), true, api.PodRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &api.PodSpec{InitContainers: inits, Containers: []api.Container{{Name: "a"}}, RestartPolicy: tt.policy}
			if got := getPhase(spec, tt.init, []api.ContainerStatus{tt.app}, false, tt.initialized); got != tt.want {
				t.Errorf("getPhase = %s, want %s", got, tt.want)
			}
		})
	}
}

// orderRuntime is the fake runtime, recording the containers (argv[0])
// whose instances are sent SIGTERM, in order.
type orderRuntime struct {
	fakeRuntime
	mu    sync.Mutex
	terms []string
}

type orderInstance struct {
	*fakeInstance
	name string
	rt   *orderRuntime
}

func (o *orderRuntime) Start(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error) {
	return &orderInstance{fakeInstance: startScripted(ctx, mod.(string), cfg), name: cfg.Args[0], rt: o}, nil
}

func (i *orderInstance) Terminate() {
	i.rt.mu.Lock()
	i.rt.terms = append(i.rt.terms, i.name)
	i.rt.mu.Unlock()
	i.fakeInstance.Terminate()
}

// TestSidecarsStopLast: when the pod is deleted and when the node shuts
// down, the containers are stopped first, then the sidecars, last one
// first, each once the ones after it are gone.
func TestSidecarsStopLast(t *testing.T) {
	for _, how := range []string{"delete", "shutdown"} {
		t.Run(how, func(t *testing.T) {
			rt := &orderRuntime{}
			n := newTestNode(t, rt, nil, nil, "")
			always := api.ContainerRestartPolicyAlways
			n.createPod("side", api.PodSpec{
				InitContainers: []api.Container{
					{Name: "s1", Image: "graceful.wasm", RestartPolicy: &always},
					{Name: "init", Image: "hello.wasm"},
					{Name: "s2", Image: "graceful.wasm", RestartPolicy: &always},
				},
				Containers: []api.Container{{Name: "app", Image: "graceful.wasm"}},
			})
			p := waitLong(t, n, "side", "running", isRunning("app"))
			if s := table.PodStatus(p); s.Ready != 3 || s.Total != 3 || s.Status != "Running" {
				t.Errorf("table: %+v", s)
			}
			switch how {
			case "delete":
				if _, _, err := n.st.Delete(context.Background(), podsResource(), "default", "side", store.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
				waitLong(t, n, "side", "gone", isGone)
			case "shutdown":
				if err := n.h.Shutdown(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			rt.mu.Lock()
			defer rt.mu.Unlock()
			if want := []string{"app", "s2", "s1"}; !slices.Equal(rt.terms, want) {
				t.Errorf("SIGTERM went to %q, want %q", rt.terms, want)
			}
		})
	}
}

// TestSidecarRestartsUnderNever: a sidecar that ends after the pod
// initialized is started again whatever the pod's restart policy, with the
// crash-loop back-off, while the container runs on and the pod stays
// Running.
func TestSidecarRestartsUnderNever(t *testing.T) {
	rt := &capturingRuntime{}
	n := newTestNode(t, rt, nil, nil, "")
	always := api.ContainerRestartPolicyAlways
	n.createPod("side", api.PodSpec{
		RestartPolicy:  api.RestartPolicyNever,
		InitContainers: []api.Container{{Name: "proxy", Image: "serve.wasm", RestartPolicy: &always}},
		Containers:     []api.Container{{Name: "app", Image: "serve.wasm"}},
	})
	n.waitPod("side", "running", isRunning("app"))
	rt.mu.Lock()
	proxy := rt.insts[0]
	rt.mu.Unlock()
	for i, want := range []int32{1, 2} {
		proxy.end(wasi.ExitStatus{Code: 2})
		if i == 1 {
			// The second end is inside the back-off (10 s).
			p := n.waitPod("side", "the back-off", func(p *api.Pod) bool {
				cs := initStatus(p, "proxy")
				return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonCrashLoopBackOff
			})
			// kubectl names the sidecar's state even once the pod
			// initialized: its container loop finds no reason to print
			// instead.
			if s := table.PodStatus(p); p.Status.Phase != api.PodRunning || s.Status != "Init:CrashLoopBackOff" || s.Ready != 1 || s.Total != 2 || s.Restarts != 1 {
				t.Errorf("sidecar in back-off: phase %s, table %+v", p.Status.Phase, table.PodStatus(p))
			}
			n.clk.Advance(10 * time.Second)
		}
		p := n.waitPod("side", "the sidecar running again", func(p *api.Pod) bool {
			cs := initStatus(p, "proxy")
			return cs != nil && cs.RestartCount == want && cs.State.Running != nil
		})
		if app := containerStatus(p, "app"); app.RestartCount != 0 || app.State.Running == nil || p.Status.Phase != api.PodRunning {
			t.Errorf("after the sidecar's end %d: %s", i+1, describeInit(p))
		}
		rt.mu.Lock()
		proxy = rt.insts[len(rt.insts)-1]
		rt.mu.Unlock()
	}
}
