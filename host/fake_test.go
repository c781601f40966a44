package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

// fakeRuntime is a moduleRuntime of functions: tests decide what an
// instance does from its module's bytes and its config.
type fakeRuntime struct {
	compile func(ctx context.Context, wasm []byte) (compiledModule, error)
	start   func(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error)
}

func (f *fakeRuntime) Compile(ctx context.Context, wasm []byte) (compiledModule, error) {
	if f.compile != nil {
		return f.compile(ctx, wasm)
	}
	if !strings.HasPrefix(string(wasm), "fake:") {
		return nil, errors.New("invalid magic number")
	}
	return string(wasm), nil
}

func (f *fakeRuntime) Start(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error) {
	if f.start != nil {
		return f.start(ctx, mod, cfg)
	}
	return startScripted(ctx, mod.(string), cfg), nil
}

func (f *fakeRuntime) Close(context.Context) error { return nil }

// fakeInstance behaves as its module says:
//
//	fake:exit N       exits with N at once
//	fake:serve        runs until killed, ignores SIGTERM
//	fake:graceful     exits 0 on SIGTERM
//	fake:oom          exits 137, OOMKilled
//
// Any of them run with argv[0] "check" (an exec probe) exits 0.
type fakeInstance struct {
	cfg     wasi.Config
	done    chan struct{}
	once    sync.Once
	status  wasi.ExitStatus
	onTerm  func()
	termed  chan struct{}
	termOne sync.Once
}

func startScripted(ctx context.Context, script string, cfg wasi.Config) *fakeInstance {
	fi := &fakeInstance{cfg: cfg, done: make(chan struct{}), termed: make(chan struct{})}
	fmt.Fprintf(cfg.Stdout, "started %s\n", strings.Join(cfg.Args, " "))
	fields := strings.Fields(strings.TrimPrefix(script, "fake:"))
	if len(cfg.Args) > 0 && cfg.Args[0] == "check" {
		fields = []string{"exit", "0"} // an exec probe's command
	}
	switch fields[0] {
	case "exit":
		var code uint32
		fmt.Sscan(fields[1], &code)
		fmt.Fprintf(cfg.Stderr, "exiting with %d\n", code)
		fi.end(wasi.ExitStatus{Code: code})
	case "oom":
		fi.end(wasi.ExitStatus{Code: 137, OOMKilled: true, Message: "out of memory"})
	case "graceful":
		fi.onTerm = func() { fi.end(wasi.ExitStatus{Code: 0}) }
	}
	go func() {
		select {
		case <-ctx.Done():
			fi.Kill()
		case <-fi.done:
		}
	}()
	return fi
}

func (f *fakeInstance) end(st wasi.ExitStatus) {
	f.once.Do(func() {
		f.status = st
		for _, l := range f.cfg.Listeners {
			l.L.Close()
		}
		close(f.done)
	})
}

func (f *fakeInstance) Terminate() {
	f.termOne.Do(func() { close(f.termed) })
	if f.onTerm != nil {
		f.onTerm()
	}
}
func (f *fakeInstance) Kill()                 { f.end(wasi.ExitStatus{Code: 137, Killed: true}) }
func (f *fakeInstance) Done() <-chan struct{} { return f.done }
func (f *fakeInstance) Wait() wasi.ExitStatus { <-f.done; return f.status }

// testNode is a host on a fake clock and an in-memory store.
type testNode struct {
	t       *testing.T
	h       *Host
	st      *store.Store
	clk     *clock.Fake
	dataDir string
	images  string
	cancel  context.CancelFunc
	done    chan error
}

func newTestNode(t *testing.T, rt moduleRuntime, st *store.Store, clk *clock.Fake, dataDir string) *testNode {
	t.Helper()
	return newTestNodeOpts(t, rt, st, clk, dataDir, nil)
}

// newTestNodeWith is newTestNode with changed options.
func newTestNodeWith(t *testing.T, rt moduleRuntime, change func(*Options)) *testNode {
	t.Helper()
	return newTestNodeOpts(t, rt, nil, nil, "", change)
}

func newTestNodeOpts(t *testing.T, rt moduleRuntime, st *store.Store, clk *clock.Fake, dataDir string, change func(*Options)) *testNode {
	t.Helper()
	if clk == nil {
		clk = clock.NewFake(t0)
	}
	if st == nil {
		var err error
		st, err = store.Open("", store.Options{InMemory: true, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
	}
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	images := filepath.Join(dataDir, "images")
	os.MkdirAll(images, 0o755)
	for name, script := range map[string]string{
		"hello.wasm": "fake:exit 0", "crash.wasm": "fake:exit 1", "serve.wasm": "fake:serve",
		"graceful.wasm": "fake:graceful", "oom.wasm": "fake:oom", "bad.wasm": "not wasm",
	} {
		os.WriteFile(filepath.Join(images, name), []byte(script), 0o644)
	}
	opts := Options{
		NodeName: "node1", DataDir: dataDir, ImageRoot: images, Clock: clk,
		PodCIDR: testPodCIDR, ShutdownGracePeriod: 20 * time.Second,
	}
	if change != nil {
		change(&opts)
	}
	h, err := newHost(st, opts, rt)
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{t: t, h: h, st: st, clk: clk, dataDir: dataDir, images: images}
	n.start()
	return n
}

func (n *testNode) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.done = make(chan error, 1)
	go func() { n.done <- n.h.Start(ctx) }()
	n.t.Cleanup(n.stop)
}

func (n *testNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	if err := <-n.done; err != nil {
		n.t.Errorf("Start: %v", err)
	}
	n.h.Close()
}

func (n *testNode) createPod(name string, spec api.PodSpec) *api.Pod {
	n.t.Helper()
	p := &api.Pod{TypeMeta: api.TypeMeta{Kind: "Pod", APIVersion: "v1"}, ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"}, Spec: spec}
	// The store takes objects as the API server hands them over: defaulted
	// (a pod without terminationGracePeriodSeconds is deleted at once).
	api.Default(p)
	o, err := n.st.Create(context.Background(), p)
	if err != nil {
		n.t.Fatal(err)
	}
	return o.(*api.Pod)
}

// waitPod waits (in real time, as a guard only) until cond holds for the
// stored pod; a nil pod means it is gone. The guard is long: myweb on
// wazero's interpreter under the race detector, on a loaded machine, took
// more than 20 s to start.
func (n *testNode) waitPod(name string, what string, cond func(*api.Pod) bool) *api.Pod {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := n.st.Watch(ctx, podsResource(), "default", store.ListOptions{})
	if err != nil {
		n.t.Fatal(err)
	}
	defer w.Stop()
	check := func() (*api.Pod, bool) {
		o, err := n.st.Get(ctx, podsResource(), "default", name)
		if api.IsNotFound(err) {
			return nil, cond(nil)
		}
		if err != nil {
			n.t.Fatal(err)
		}
		p := o.(*api.Pod)
		return p, cond(p)
	}
	var last *api.Pod
	for {
		p, ok := check()
		if ok {
			return p
		}
		last = p
		select {
		case <-ctx.Done():
			n.t.Fatalf("pod %s: timed out waiting for %s; last: %s", name, what, describe(last))
		case <-w.ResultChan():
		}
	}
}

func describe(p *api.Pod) string {
	if p == nil {
		return "<gone>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s", p.Status.Phase)
	for _, c := range p.Status.ContainerStatuses {
		fmt.Fprintf(&b, " %s{restarts=%d ready=%v state=%s last=%s}", c.Name, c.RestartCount, c.Ready, stateString(c.State), stateString(c.LastTerminationState))
	}
	return b.String()
}

func stateString(s api.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Terminated != nil:
		return fmt.Sprintf("terminated(%d %s %q)", s.Terminated.ExitCode, s.Terminated.Reason, s.Terminated.Message)
	case s.Waiting != nil:
		return fmt.Sprintf("waiting(%s %q)", s.Waiting.Reason, s.Waiting.Message)
	}
	return "none"
}

func (n *testNode) events(involved string) []string {
	n.t.Helper()
	r, _ := api.LookupResource("events")
	objs, _, err := n.st.List(context.Background(), r, "", store.ListOptions{})
	if err != nil {
		n.t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		e := o.(*api.Event)
		if e.InvolvedObject.Name == involved {
			out = append(out, fmt.Sprintf("%s %s %s", e.Type, e.Reason, e.Message))
		}
	}
	return out
}

func hasEvent(evs []string, prefix string) bool {
	for _, e := range evs {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func (n *testNode) logs(pod string, opts LogOptions) (string, error) {
	var b strings.Builder
	err := n.h.Logs(context.Background(), "default", pod, opts, &b)
	return b.String(), err
}

var _ io.Writer = (*strings.Builder)(nil)

func containerStatus(p *api.Pod, name string) *api.ContainerStatus {
	if p == nil {
		return nil
	}
	return findStatus(p.Status.ContainerStatuses, name)
}

// waitLogs follows a pod's log from its end until count new lines
// containing substr were written (in real time, as a guard only).
func (n *testNode) waitLogs(pod, substr string, count int) {
	n.t.Helper()
	zero := int64(0)
	n.followLogs(pod, substr, count, LogOptions{TailLines: &zero})
}

// followLogs follows a pod's log as opts say until count lines containing
// substr were written.
func (n *testNode) followLogs(pod, substr string, count int, opts LogOptions) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lw := &lineCounter{substr: substr, want: count, done: cancel}
	opts.Follow = true
	err := n.h.Logs(ctx, "default", pod, opts, lw)
	if lw.seen() < count {
		n.t.Fatalf("pod %s: %d of %d new log lines with %q (%v)", pod, lw.seen(), count, substr, err)
	}
}

type lineCounter struct {
	mu     sync.Mutex
	substr string
	want   int
	n      int
	done   func()
}

func (l *lineCounter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n += strings.Count(string(b), l.substr)
	if l.n >= l.want {
		l.done()
	}
	return len(b), nil
}

func (l *lineCounter) seen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// waitEvent waits (in real time, as a guard only) until an event of the
// object named involved starts with prefix ("Normal Killing ...").
func (n *testNode) waitEvent(involved, prefix string) {
	n.t.Helper()
	n.waitEvents(fmt.Sprintf("event %q of %s", prefix, involved), func() bool { return hasEvent(n.events(involved), prefix) })
}

// waitEventCount waits until the events of involved with reason were seen
// count times in all (a new node's recorder starts new Event objects).
func (n *testNode) waitEventCount(involved, reason string, count int32) {
	n.t.Helper()
	r, _ := api.LookupResource("events")
	n.waitEvents(fmt.Sprintf("%s of %s %d times", reason, involved, count), func() bool {
		objs, _, err := n.st.List(context.Background(), r, "", store.ListOptions{})
		if err != nil {
			n.t.Fatal(err)
		}
		var seen int32
		for _, o := range objs {
			if e := o.(*api.Event); e.InvolvedObject.Name == involved && e.Reason == reason {
				seen += e.Count
			}
		}
		return seen >= count
	})
}

func (n *testNode) waitEvents(what string, cond func() bool) {
	n.t.Helper()
	r, _ := api.LookupResource("events")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := n.st.Watch(ctx, r, "", store.ListOptions{})
	if err != nil {
		n.t.Fatal(err)
	}
	defer w.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			n.t.Fatalf("timed out waiting for %s", what)
		case <-w.ResultChan():
		}
	}
}

// lastState returns the pod's last stored state, which the DELETED event of
// w carries.
func lastState(t *testing.T, w store.Watch) *api.Pod {
	t.Helper()
	for ev := range w.ResultChan() {
		if ev.Type == store.Deleted {
			return ev.Object.(*api.Pod)
		}
	}
	t.Fatal("the watch ended before the pod was deleted")
	return nil
}

// watchPods watches the default namespace's pods from now on.
func (n *testNode) watchPods() store.Watch {
	n.t.Helper()
	w, err := n.st.Watch(context.Background(), podsResource(), "default", store.ListOptions{ResourceVersion: n.st.ResourceVersion()})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(w.Stop)
	return w
}

// testPodCIDR is a /24 of the default range picked once per test process:
// the tests of other packages that run at the same time (probes, the
// root package) must not be handed the same pod IPs and ports.
var testPodCIDR = fmt.Sprintf("127.42.%d.0/24", 1+rand.IntN(254))
