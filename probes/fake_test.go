package probes

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
)

// t0 is when the fake clocks of the tests start.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeRuntime is a Runtime of function fields; nil fields do nothing.
type fakeRuntime struct {
	setStarted func(podUID, container, id string, started bool)
	setReady   func(podUID, container, id string, ready bool)
	kill       func(podUID, container, id, message string, grace *int64)
	run        func(ctx context.Context, pod *api.Pod, container string, argv []string, stdout, stderr io.Writer) (int32, error)
}

func (f *fakeRuntime) SetContainerStarted(podUID, container, id string, started bool) {
	if f.setStarted != nil {
		f.setStarted(podUID, container, id, started)
	}
}

func (f *fakeRuntime) SetContainerReady(podUID, container, id string, ready bool) {
	if f.setReady != nil {
		f.setReady(podUID, container, id, ready)
	}
}

func (f *fakeRuntime) KillContainer(podUID, container, id, message string, grace *int64) {
	if f.kill != nil {
		f.kill(podUID, container, id, message, grace)
	}
}

func (f *fakeRuntime) RunInContainer(ctx context.Context, pod *api.Pod, container string, argv []string, stdout, stderr io.Writer) (int32, error) {
	if f.run != nil {
		return f.run(ctx, pod, container, argv, stdout, stderr)
	}
	return 0, nil
}

// fakeRecorder keeps events as "Type Reason Message".
type fakeRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *fakeRecorder) Eventf(obj api.Object, eventType, reason, messageFmt string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventType+" "+reason+" "+fmt.Sprintf(messageFmt, args...))
}

func (r *fakeRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// count is how many recorded events are exactly e.
func (r *fakeRecorder) count(e string) int {
	n := 0
	for _, x := range r.list() {
		if x == e {
			n++
		}
	}
	return n
}

// newTestPod is a pod of one container named c, with the given IP.
func newTestPod(c api.Container, podIP string) *api.Pod {
	return &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-1"},
		Spec:       api.PodSpec{Containers: []api.Container{c}, RestartPolicy: api.RestartPolicyAlways},
		Status:     api.PodStatus{PodIP: podIP},
	}
}

// newTestManager is a Manager on a fake clock with a fake recorder.
func newTestManager(t testing.TB, rt Runtime) (*Manager, *clock.Fake, *fakeRecorder) {
	t.Helper()
	clk := clock.NewFake(t0)
	rec := &fakeRecorder{}
	m := New(Options{Clock: clk, Recorder: rec, Runtime: rt})
	t.Cleanup(func() { m.Close() })
	return m, clk, rec
}

// testInstance is an instance of pod's first container, without workers.
func testInstance(m *Manager, pod *api.Pod) *instance {
	return newInstance(m, pod, &pod.Spec.Containers[0], "id-1", m.clock.Now())
}

// hostPort splits a listener's address.
func hostPort(t *testing.T, addr string) (string, int32) {
	t.Helper()
	h, p, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://"))
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	fmt.Sscan(p, &n)
	return h, n
}

// advanceWhenWaiting advances clk by d once n timers are pending, in the
// background (for a probe that must time out while the test waits on it).
func advanceWhenWaiting(clk *clock.Fake, n int, d time.Duration) {
	go func() {
		clk.BlockUntil(n)
		clk.Advance(d)
	}()
}
