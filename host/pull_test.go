package host

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// gatedRuntime is the node's runtime whose compiles wait until the test
// opens gate: on a new node a Go guest compiles for seconds, and the tests
// look at its pod meanwhile.
type gatedRuntime struct {
	moduleRuntime
	compiles atomic.Int32
	entered  chan struct{} // one send per compile that began
	gate     chan struct{}
}

func newGatedRuntime(t *testing.T) *gatedRuntime {
	return &gatedRuntime{moduleRuntime: realRuntime(t), entered: make(chan struct{}, 100), gate: make(chan struct{})}
}

func (g *gatedRuntime) Compile(ctx context.Context, wasm []byte) (compiledModule, error) {
	g.compiles.Add(1)
	g.entered <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.moduleRuntime.Compile(ctx, wasm)
}

// eventLog records the reasons and messages of the events of one object in
// the order the store created them; each call returns all seen so far.
func (n *testNode) eventLog(involved string) func() []string {
	n.t.Helper()
	r, _ := api.LookupResource("events")
	ctx, cancel := context.WithCancel(context.Background())
	w, err := n.st.Watch(ctx, r, "", store.ListOptions{ResourceVersion: n.st.ResourceVersion()})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { cancel(); w.Stop() })
	var seen []string
	return func() []string {
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					return seen
				}
				if e := ev.Object.(*api.Event); ev.Type == store.Added && e.InvolvedObject.Name == involved {
					seen = append(seen, e.Reason+" "+e.Message)
				}
			case <-time.After(100 * time.Millisecond):
				return seen
			}
		}
	}
}

func isCreating(name string) func(*api.Pod) bool {
	return func(p *api.Pod) bool {
		cs := containerStatus(p, name)
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonContainerCreating
	}
}

// TestPodIsContainerCreatingWhileItsModuleCompiles: while a pod's module is
// read and compiled, the pod is Pending with its container waiting in
// ContainerCreating and the conditions a kubelet gives it, and its events
// are Pulling, then Pulled with the time the pull and compile took and the
// module's size; a second pod of the module finds it already present.
func TestPodIsContainerCreatingWhileItsModuleCompiles(t *testing.T) {
	rt := newGatedRuntime(t)
	n := newTestNode(t, rt, nil, nil, "")
	image := examples.MustBuild(t, "hello")
	fi, err := os.Stat(image)
	if err != nil {
		t.Fatal(err)
	}
	events := n.eventLog("hello")
	n.createPod("hello", api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "hello", Image: image}}})
	select {
	case <-rt.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the module was never compiled")
	}
	p := n.waitPod("hello", "ContainerCreating", isCreating("hello"))
	if p.Status.Phase != api.PodPending || p.Status.StartTime == nil || p.Status.PodIP == "" {
		t.Errorf("phase %s, startTime %v, podIP %q", p.Status.Phase, p.Status.StartTime, p.Status.PodIP)
	}
	cs := containerStatus(p, "hello")
	if cs.Ready || cs.Started == nil || *cs.Started || cs.RestartCount != 0 || cs.Image != image || cs.ImageID != "" || cs.State.Waiting.Message != "" {
		t.Errorf("container status %+v", cs)
	}
	var conds []string
	for _, c := range p.Status.Conditions {
		conds = append(conds, fmt.Sprintf("%s=%s %s %s", c.Type, c.Status, c.Reason, c.Message))
	}
	wantConds := []string{
		"PodReadyToStartContainers=True  ",
		"Initialized=True  ",
		"Ready=False ContainersNotReady containers with unready status: [hello]",
		"ContainersReady=False ContainersNotReady containers with unready status: [hello]",
		"PodScheduled=True  ",
	}
	if !slices.Equal(conds, wantConds) {
		t.Errorf("conditions\n%q, want\n%q", conds, wantConds)
	}
	scheduledAt := p.Status.Conditions[4].LastTransitionTime
	if got, want := events(), []string{"Scheduled Successfully assigned default/hello to node1", fmt.Sprintf("Pulling Pulling image %q", image)}; !slices.Equal(got, want) {
		t.Errorf("events while compiling %q, want %q", got, want)
	}

	n.clk.Advance(15 * time.Second)
	close(rt.gate)
	p = n.waitPod("hello", "Succeeded", phaseIs(api.PodSucceeded))
	wantEvents := []string{
		"Scheduled Successfully assigned default/hello to node1",
		fmt.Sprintf("Pulling Pulling image %q", image),
		fmt.Sprintf("Pulled Successfully pulled image %q in 15s (15s including waiting). Image size: %d bytes.", image, fi.Size()),
		"Created Created container: hello",
		"Started Started container hello",
	}
	if got := events(); !slices.Equal(got, wantEvents) {
		t.Errorf("events after the compile %q, want %q", got, wantEvents)
	}
	if c := p.Status.Conditions[4]; c.Type != api.PodScheduled || !c.LastTransitionTime.Equal(scheduledAt.Time) {
		t.Errorf("PodScheduled %+v, want its time of %v kept", c, scheduledAt)
	}

	// The module is compiled: the next pod of it starts without a pull.
	again := n.eventLog("again")
	n.createPod("again", api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "hello", Image: image}}})
	n.waitPod("again", "Succeeded", phaseIs(api.PodSucceeded))
	wantEvents = []string{
		"Scheduled Successfully assigned default/again to node1",
		fmt.Sprintf("Pulled Container image %q already present on machine", image),
		"Created Created container: hello",
		"Started Started container hello",
	}
	if got := again(); !slices.Equal(got, wantEvents) {
		t.Errorf("events of the second pod %q, want %q", got, wantEvents)
	}
	if c := rt.compiles.Load(); c != 1 {
		t.Errorf("%d compiles, want 1", c)
	}
}

// TestPodsOfOneImageShareItsPull: the pods of an image that start while it
// is pulled wait for that pull; the module is fetched and compiled once.
func TestPodsOfOneImageShareItsPull(t *testing.T) {
	module, err := os.ReadFile(examples.MustBuild(t, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	var gets atomic.Int32
	fetchGate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		select {
		case <-fetchGate:
		case <-r.Context().Done():
			return
		}
		w.Write(module)
	}))
	// Cleanups run last first: the node stops, then its fetches end.
	t.Cleanup(srv.Close)
	var opened atomic.Bool
	open := func() {
		if opened.CompareAndSwap(false, true) {
			close(fetchGate)
		}
	}
	t.Cleanup(open)
	rt := newGatedRuntime(t)
	close(rt.gate)
	n := newTestNodeWith(t, rt, func(o *Options) { o.HTTPClient = srv.Client() })
	image := srv.URL + "/hello.wasm"
	// Few enough that their runs end in time under the race detector's
	// interpreter on a loaded machine; two would show a shared pull.
	const pods = 6
	for i := range pods {
		n.createPod(fmt.Sprintf("p%d", i), api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "hello", Image: image}}})
	}
	for i := range pods {
		n.waitPod(fmt.Sprintf("p%d", i), "ContainerCreating", isCreating("hello"))
		n.waitEvent(fmt.Sprintf("p%d", i), "Normal Pulling ")
	}
	// Each pod asks for the module right after its Pulling event; a pod that
	// fetched it on its own would be seen here.
	time.Sleep(500 * time.Millisecond)
	open()
	for i := range pods {
		n.waitPod(fmt.Sprintf("p%d", i), "Succeeded", phaseIs(api.PodSucceeded))
		n.waitEvent(fmt.Sprintf("p%d", i), fmt.Sprintf("Normal Pulled Successfully pulled image %q in ", image))
	}
	if g, c := gets.Load(), rt.compiles.Load(); g != 1 || c != 1 {
		t.Errorf("%d pods: %d fetches and %d compiles of their module, want 1 and 1", pods, g, c)
	}
}
