package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/store"
)

// The tests below start a node on what a node process that died leaves:
// the stored pods and the run journal in the data dir. They run on the fake
// clock, so that "restarted only after the back-off" is exact.

// inCrashLoop: the container waits in CrashLoopBackOff with the given
// restart count and back-off delay.
func inCrashLoop(container string, restarts int32, delay string) func(*api.Pod) bool {
	return func(p *api.Pod) bool {
		cs := containerStatus(p, container)
		return cs != nil && cs.RestartCount == restarts && cs.State.Waiting != nil &&
			cs.State.Waiting.Reason == ReasonCrashLoopBackOff && strings.HasPrefix(cs.State.Waiting.Message, "back-off "+delay+" ")
	}
}

// startLog is a runtime that records when (on the node's clock) each
// instance started, and can snapshot, at each start, what a process that
// died there would leave: the stored pod and the run journal's files.
type startLog struct {
	fakeRuntime
	n    func() *testNode
	snap bool

	mu       sync.Mutex
	starts   []time.Time
	pod      *api.Pod          // stored at the last start
	journal  map[string][]byte // path -> content at the last start
	lastInst *fakeInstance
}

func (s *startLog) Start(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error) {
	n := s.n()
	fi := startScripted(ctx, mod.(string), cfg)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts = append(s.starts, n.clk.Now())
	s.lastInst = fi
	if s.snap {
		o, err := n.st.Get(context.Background(), podsResource(), "default", "poison")
		if err != nil {
			n.t.Errorf("snapshot: %v", err)
			return fi, nil
		}
		s.pod = o.(*api.Pod)
		s.journal = readJournals(n.t, n.dataDir)
	}
	return fi, nil
}

func (s *startLog) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.starts)
}

func (s *startLog) startedAt(i int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts[i]
}

// readJournals returns every run record under dataDir.
func readJournals(t *testing.T, dataDir string) map[string][]byte {
	paths, _ := filepath.Glob(filepath.Join(dataDir, "pods", "*", "running", "*"))
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("reading %s: %v", p, err)
		}
		out[p] = b
	}
	return out
}

// dieAtLastStart puts back what the process would have left had it died
// at the last start: the journal files and the pod as stored then.
func (s *startLog) dieAtLastStart(t *testing.T, n *testNode) {
	t.Helper()
	s.mu.Lock()
	pod, journal := s.pod, s.journal
	s.mu.Unlock()
	for p := range readJournals(t, n.dataDir) {
		os.Remove(p)
	}
	for p, b := range journal {
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setStored(t, n.st, pod.Name, func(p *api.Pod) {
		p.Status = pod.Status
		p.Annotations = pod.Annotations
	})
}

func setStored(t *testing.T, st *store.Store, name string, change func(*api.Pod)) *api.Pod {
	t.Helper()
	o, err := st.GuaranteedUpdate(context.Background(), podsResource(), "default", name, func(o api.Object) (api.Object, error) {
		p := o.(*api.Pod)
		change(p)
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return o.(*api.Pod)
}

// TestPoisonPodBacksOffAcrossNodeDeaths: a guest that takes its node
// down as soon as it starts, before the node wrote that it runs. Each
// node start after a death counts a restart and waits the crash-loop
// back-off (10 s, 20 s, 40 s, 80 s) before it starts the guest again, and
// the pod can be deleted meanwhile. Without the run journal, the store
// says the container never started: each node start runs it at once.
func TestPoisonPodBacksOffAcrossNodeDeaths(t *testing.T) {
	dataDir := t.TempDir()
	var cur *testNode
	rt := &startLog{snap: true}
	rt.n = func() *testNode { return cur }
	cur = newTestNodeOpts(t, rt, nil, nil, dataDir, nil)
	n := cur
	n.createPod("poison", podSpec(api.RestartPolicyAlways, "serve.wasm"))
	n.waitPod("poison", "running", isRunning("serve"))
	st, clk := n.st, n.clk

	for i, delay := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second} {
		cur.stop()
		rt.dieAtLastStart(t, cur)
		if len(rt.journal) != 1 {
			t.Fatalf("death %d: the journal held %d records at the start, want 1", i+1, len(rt.journal))
		}
		diedAt := clk.Now()
		cur = newTestNode(t, rt, st, clk, dataDir)
		restarts := int32(i + 1)
		p := cur.waitPod("poison", "crash-loop back-off", inCrashLoop("serve", restarts, delay.String()))
		last := containerStatus(p, "serve").LastTerminationState.Terminated
		if !isNodeCrash(last) || last.Message != messageNodeCrash || !last.FinishedAt.Equal(diedAt) {
			t.Fatalf("death %d: %s", i+1, describe(p))
		}
		if got := len(readJournals(t, dataDir)); got != 0 {
			t.Errorf("death %d: %d run records left once the crash was written", i+1, got)
		}
		before := rt.count()
		clk.Advance(delay)
		cur.waitPod("poison", "started again", func(p *api.Pod) bool {
			cs := containerStatus(p, "serve")
			return cs != nil && cs.State.Running != nil && cs.RestartCount == restarts
		})
		if rt.count() != before+1 {
			t.Fatalf("death %d: %d starts, want %d", i+1, rt.count(), before+1)
		}
		if got := rt.startedAt(before).Sub(diedAt); got != delay {
			t.Fatalf("death %d: started again %v after the node came back, want %v", i+1, got, delay)
		}
	}

	// A fifth death; the pod is deleted while it waits.
	cur.stop()
	rt.dieAtLastStart(t, cur)
	cur = newTestNode(t, rt, st, clk, dataDir)
	cur.waitPod("poison", "crash-loop back-off", inCrashLoop("serve", 5, (160*time.Second).String()))
	starts := rt.count()
	if _, _, err := st.Delete(context.Background(), podsResource(), "default", "poison", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cur.waitPod("poison", "gone", isGone)
	clk.Advance(300 * time.Second)
	if rt.count() != starts {
		t.Error("the deleted pod's container was started")
	}
}

// TestNodeDeathStates: each state a node process can die in, with the
// container's start recorded in the journal, in the store, in both, or
// after a graceful shutdown.
func TestNodeDeathStates(t *testing.T) {
	type state struct {
		name       string
		status     func(p *api.Pod, started api.ContainerStatus) // what the store holds
		record     bool                                          // the journal's record is left
		shutdown   bool                                          // the pod carries the shutdown mark
		crash      bool
		restarts   int32
		newID      bool // the container ID is the record's, not the stored one
		lastReason string
	}
	tests := []state{
		{name: "started and written", record: true, crash: true, restarts: 1},
		{name: "started, not yet written", record: true, crash: true, restarts: 1, newID: true, status: func(p *api.Pod, _ api.ContainerStatus) {
			p.Status.ContainerStatuses[0] = api.ContainerStatus{Name: "serve", Image: "serve.wasm",
				State: api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: ReasonContainerCreating}}}
		}},
		{name: "written, journal lost", crash: true, restarts: 1},
		{name: "graceful shutdown", shutdown: true, restarts: 1},
		{name: "died during a graceful shutdown", record: true, shutdown: true, crash: true, restarts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := t.TempDir()
			var cur *testNode
			rt := &startLog{snap: false}
			rt.n = func() *testNode { return cur }
			cur = newTestNode(t, rt, nil, nil, dataDir)
			n := cur
			n.createPod("poison", podSpec(api.RestartPolicyAlways, "serve.wasm"))
			running := n.waitPod("poison", "running", isRunning("serve"))
			cs := *containerStatus(running, "serve")
			n.stop() // the waiters remove the record: put back what a dead process leaves
			journal := filepath.Join(dataDir, "pods", string(running.UID))
			id := strings.TrimPrefix(cs.ContainerID, containerIDPrefix)
			if tt.newID {
				id = newContainerID()
			}
			if tt.record {
				if err := journalStart(journal, runRecord{Container: "serve", ContainerID: id, StartedAt: n.clk.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			setStored(t, n.st, "poison", func(p *api.Pod) {
				if tt.status != nil {
					tt.status(p, cs)
				}
				if tt.shutdown {
					p.Annotations = map[string]string{AnnotationNodeShutdown: "yes"}
				}
			})

			cur = newTestNode(t, rt, n.st, n.clk, dataDir)
			if !tt.crash {
				p := cur.waitPod("poison", "running again", func(p *api.Pod) bool {
					cs := containerStatus(p, "serve")
					return cs != nil && cs.State.Running != nil && cs.ContainerID != containerIDPrefix+id && rt.count() == 2
				})
				// Stopped by the shutdown, its exit not written (a node
				// of an older version): counted, started again at once.
				cs := containerStatus(p, "serve")
				last := cs.LastTerminationState.Terminated
				if cs.RestartCount != 1 || last == nil || last.Reason != ReasonUnknown || last.Message != messageShutdownUnrecorded ||
					isNodeCrash(last) || last.ContainerID != containerIDPrefix+id {
					t.Errorf("after a graceful shutdown: %s", describe(p))
				}
				return
			}
			p := cur.waitPod("poison", "crash-loop back-off", inCrashLoop("serve", tt.restarts, "10s"))
			last := containerStatus(p, "serve").LastTerminationState.Terminated
			if !isNodeCrash(last) || last.ContainerID != containerIDPrefix+id {
				t.Errorf("%s; want the end of %s", describe(p), id)
			}
			if rt.count() != 1 {
				t.Errorf("%d starts before the back-off ended", rt.count())
			}
			// The records go once the crash is written: just after the
			// write the test saw.
			for i := 0; len(readJournals(t, dataDir)) != 0 && i < 100; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			if got := len(readJournals(t, dataDir)); got != 0 {
				t.Errorf("%d run records left", got)
			}
			cur.clk.Advance(10 * time.Second)
			cur.waitPod("poison", "running again", func(p *api.Pod) bool {
				cs := containerStatus(p, "serve")
				return cs != nil && cs.State.Running != nil && cs.RestartCount == tt.restarts
			})
		})
	}
}

// TestJournalFollowsInstances: a running instance has its record, an
// ended one has none, and a node stopped by Shutdown leaves none.
func TestJournalFollowsInstances(t *testing.T) {
	dataDir := t.TempDir()
	rt := &capturingRuntime{}
	n := newTestNode(t, rt, nil, nil, dataDir)
	p := n.createPod("web", podSpec(api.RestartPolicyAlways, "serve.wasm"))
	n.createPod("hello", podSpec(api.RestartPolicyNever, "hello.wasm"))
	running := n.waitPod("web", "running", isRunning("serve"))
	n.waitPod("hello", "Succeeded", phaseIs(api.PodSucceeded))
	recs, _ := journalRead(filepath.Join(dataDir, "pods", string(p.UID)))
	want := strings.TrimPrefix(containerStatus(running, "serve").ContainerID, containerIDPrefix)
	if len(recs) != 1 || recs["serve"].ContainerID != want || recs["serve"].StartedAt.IsZero() {
		t.Errorf("records of the running pod: %+v, want one of %s", recs, want)
	}
	if got := readJournals(t, dataDir); len(got) != 1 {
		t.Errorf("records: %v, want the running instance's only", got)
	}
	done := make(chan error, 1)
	go func() { done <- n.h.Shutdown(context.Background()) }()
	rt.mu.Lock()
	var serve *fakeInstance
	for _, fi := range rt.insts {
		if fi.cfg.Args[0] == "serve" {
			serve = fi
		}
	}
	rt.mu.Unlock()
	<-serve.termed
	n.clk.Advance(20 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n.stop()
	if got := readJournals(t, dataDir); len(got) != 0 {
		t.Errorf("records after a shutdown: %v", got)
	}
}

// TestUnwritableJournalDoesNotStart: a container whose start the node
// cannot record is not started (CreateContainerError), rather than run
// unrecorded.
func TestUnwritableJournalDoesNotStart(t *testing.T) {
	dataDir := t.TempDir()
	rt := &capturingRuntime{}
	n := newTestNode(t, rt, nil, nil, dataDir)
	// Once the node has listed its pods (and removed the directories of
	// pods that are not its own)...
	n.createPod("hello", podSpec(api.RestartPolicyNever, "hello.wasm"))
	n.waitPod("hello", "Succeeded", phaseIs(api.PodSucceeded))
	// ...a pod bound to another node until the journal's directory is
	// blocked.
	p := n.createPod("web", api.PodSpec{NodeName: "elsewhere", Containers: []api.Container{{Name: "serve", Image: "serve.wasm"}}})
	podDir := filepath.Join(dataDir, "pods", string(p.UID))
	if err := os.MkdirAll(podDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runningDir(podDir), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	setStored(t, n.st, "web", func(p *api.Pod) { p.Spec.NodeName = "node1" })
	p = n.waitPod("web", "CreateContainerError", func(p *api.Pod) bool {
		cs := containerStatus(p, "serve")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CreateContainerError"
	})
	if msg := containerStatus(p, "serve").State.Waiting.Message; !strings.Contains(msg, "recording the container's start") {
		t.Errorf("message %q", msg)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.insts) != 1 {
		t.Error("a container whose start could not be recorded was started")
	}
}
