package host

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

// The tests below restart a node on its data dir, with the store on disk
// and the graceful example guest, by each of the two ways a node stops: its
// shutdown, and a death that runs none of it (kill -9). Both end the same
// way: the container that was running is a new instance, counted, with the
// end of the first run as its last state and the first run's log as its
// previous log.

// openDiskStore opens the store of dataDir on disk, as serve does.
func openDiskStore(t *testing.T, dataDir string, clk *clock.Fake) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(dataDir, "store"), store.Options{Now: clk.Now})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "not implemented") {
			t.Skipf("store: %v", err)
		}
		t.Fatal(err)
	}
	return st
}

// startGraceful starts a node on dataDir with a pod of the graceful guest,
// and returns it with the pod once the guest runs and has said so.
func startGraceful(t *testing.T, dataDir string, clk *clock.Fake) (*testNode, *store.Store, *api.Pod) {
	t.Helper()
	st := openDiskStore(t, dataDir, clk)
	n := newTestNode(t, realRuntime(t), st, clk, dataDir)
	n.createPod("graceful", examplePod(t, "graceful", api.RestartPolicyAlways, api.EnvVar{Name: "DRAIN", Value: "10ms"}))
	p := n.waitPod("graceful", "running", isRunning("graceful"))
	waitLog(t, n, "graceful", LogOptions{}, "running, waiting for SIGTERM")
	return n, st, p
}

// waitLog waits (in real time, as a guard only) until the pod's log as
// opts say contains want, and returns it.
func waitLog(t *testing.T, n *testNode, pod string, opts LogOptions, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := n.logs(pod, opts)
		if err == nil && strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("log (previous=%v): %q, %v; want it to contain %q", opts.Previous, out, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkSecondRun checks the pod once the node started again: the second
// instance runs, counted once, its last state is the first run (ended as
// want says), `logs --previous` prints the first run's log and `logs` the
// second's only.
func checkSecondRun(t *testing.T, n *testNode, first *api.Pod, want api.ContainerStateTerminated) {
	t.Helper()
	p := n.waitPod("graceful", "running again", func(p *api.Pod) bool {
		cs := containerStatus(p, "graceful")
		return cs != nil && cs.State.Running != nil && cs.ContainerID != containerStatus(first, "graceful").ContainerID
	})
	was := containerStatus(first, "graceful")
	cs := containerStatus(p, "graceful")
	last := cs.LastTerminationState.Terminated
	if cs.RestartCount != 1 || last == nil || last.ContainerID != was.ContainerID ||
		!last.StartedAt.Equal(was.State.Running.StartedAt.Time) || !last.FinishedAt.Equal(want.FinishedAt.Time) ||
		last.ExitCode != want.ExitCode || last.Reason != want.Reason || last.Message != want.Message {
		t.Errorf("after the restart: %s, last state %+v; want restarts=1 and last state %+v started at %v",
			describe(p), last, want, was.State.Running.StartedAt)
	}
	prev := waitLog(t, n, "graceful", LogOptions{Previous: true}, "running, waiting for SIGTERM")
	if strings.Count(prev, "running, waiting for SIGTERM") != 1 {
		t.Errorf("logs --previous: %q, want the first run's only", prev)
	}
	cur := waitLog(t, n, "graceful", LogOptions{}, "running, waiting for SIGTERM")
	if strings.Count(cur, "running, waiting for SIGTERM") != 1 || strings.Contains(cur, "got SIGTERM") {
		t.Errorf("logs: %q, want the second run's only", cur)
	}
}

// TestRealNodeRestartAfterShutdown: the node's shutdown stops the guest
// with SIGTERM, and writes how it ended (exit 0 after its drain). The next
// start runs it again at once, counts the restart and shows the first run
// in lastState and in `logs --previous`.
func TestRealNodeRestartAfterShutdown(t *testing.T) {
	dataDir := t.TempDir()
	clk := clock.NewFake(t0)
	n, st, first := startGraceful(t, dataDir, clk)
	clk.Advance(time.Minute)
	stoppedAt := clk.Now()
	// The guest drains for 10 ms of real time; the fake clock stays.
	if err := n.h.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	n.stop()
	st.Close()
	if out, _ := os.ReadDir(filepath.Join(dataDir, "pods", string(first.UID), "running")); len(out) != 0 {
		t.Errorf("run records left after the shutdown: %v", out)
	}

	clk.Advance(time.Minute)
	st = openDiskStore(t, dataDir, clk)
	defer st.Close()
	n2 := newTestNode(t, realRuntime(t), st, clk, dataDir)
	checkSecondRun(t, n2, first, api.ContainerStateTerminated{ExitCode: 0, Reason: ReasonCompleted, FinishedAt: api.NewTime(stoppedAt)})
	prev, _ := n2.logs("graceful", LogOptions{Previous: true})
	if !strings.Contains(prev, "got SIGTERM, exiting") {
		t.Errorf("logs --previous: %q, want the first run's end", prev)
	}
	n2.stop()
}

// TestRealNodeRestartAfterKill: the node dies without its shutdown (as
// with kill -9: the run journal's record and the stored Running status are
// left). The next start finds the container lost with the node: Unknown,
// exit code 255, ended when the node came back, counted at once; it runs
// again after the crash-loop back-off, with the first run in lastState and
// in `logs --previous`, which shows it during the back-off too.
func TestRealNodeRestartAfterKill(t *testing.T) {
	dataDir := t.TempDir()
	clk := clock.NewFake(t0)
	n, st, first := startGraceful(t, dataDir, clk)
	journal := readJournals(t, dataDir)
	if len(journal) != 1 {
		t.Fatalf("run records of the running guest: %v", journal)
	}
	// Abandoned: the instances go with the process, nothing is written.
	n.stop()
	st.Close()
	for p, b := range journal {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	clk.Advance(time.Minute)
	cameBack := clk.Now()
	st = openDiskStore(t, dataDir, clk)
	defer st.Close()
	n2 := newTestNode(t, realRuntime(t), st, clk, dataDir)
	n2.waitPod("graceful", "crash-loop back-off", inCrashLoop("graceful", 1, "10s"))
	for _, previous := range []bool{false, true} {
		out := waitLog(t, n2, "graceful", LogOptions{Previous: previous}, "running, waiting for SIGTERM")
		if strings.Count(out, "running") != 1 {
			t.Errorf("logs (previous=%v) during the back-off: %q, want the first run's", previous, out)
		}
	}
	clk.Advance(10 * time.Second)
	checkSecondRun(t, n2, first, api.ContainerStateTerminated{ExitCode: exitCodeNodeCrash, Reason: ReasonUnknown,
		Message: messageNodeCrash, FinishedAt: api.NewTime(cameBack)})
	n2.stop()
}
