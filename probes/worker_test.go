package probes

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
)

// harness drives a Manager in virtual time. Exec probes go to the test:
// each run waits in calls until the test answers it with an exit code.
// Verdicts (started, ready, kills) are kept with their virtual time.
type harness struct {
	t   *testing.T
	m   *Manager
	clk *clock.Fake
	rec *fakeRecorder

	mu       sync.Mutex
	calls    []*execCall
	verdicts []string
	changed  chan struct{} // closed and replaced on every change
}

type execCall struct {
	at    time.Duration
	argv  string
	reply chan int32
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, changed: make(chan struct{})}
	rt := &fakeRuntime{
		setStarted: func(_, c, id string, v bool) { h.verdict(fmt.Sprintf("%v %s/%s started=%v", h.now(), c, id, v)) },
		setReady:   func(_, c, id string, v bool) { h.verdict(fmt.Sprintf("%v %s/%s ready=%v", h.now(), c, id, v)) },
		kill: func(_, c, id, msg string, grace *int64) {
			g := "nil"
			if grace != nil {
				g = fmt.Sprint(*grace)
			}
			h.verdict(fmt.Sprintf("%v %s/%s kill %q grace=%s", h.now(), c, id, msg, g))
		},
		run: func(ctx context.Context, pod *api.Pod, container string, argv []string, stdout, stderr io.Writer) (int32, error) {
			call := &execCall{at: h.now(), argv: strings.Join(argv, " "), reply: make(chan int32, 1)}
			h.mu.Lock()
			h.calls = append(h.calls, call)
			h.notifyLocked()
			h.mu.Unlock()
			select {
			case code := <-call.reply:
				if code != 0 {
					fmt.Fprint(stderr, "bad")
				}
				return code, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		},
	}
	h.m, h.clk, h.rec = newTestManager(t, rt)
	return h
}

func (h *harness) now() time.Duration { return h.clk.Since(t0) }

func (h *harness) notifyLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *harness) verdict(s string) {
	h.mu.Lock()
	h.verdicts = append(h.verdicts, s)
	h.notifyLocked()
	h.mu.Unlock()
}

// waitFor waits (in real time, at most 10 s) until cond holds under h.mu.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	watchdog := time.NewTimer(10 * time.Second)
	defer watchdog.Stop()
	for {
		h.mu.Lock()
		ok, ch := cond(), h.changed
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-time.After(time.Millisecond): // the clock's timers change too
		case <-watchdog.C:
			h.mu.Lock()
			defer h.mu.Unlock()
			h.t.Fatalf("at %v: waiting for %s; calls %v, verdicts %q, %d timers, %d workers", h.now(), what, h.pendingLocked(), h.verdicts, h.clk.Waiters(), h.m.activeWorkers())
		}
	}
}

func (h *harness) pendingLocked() []string {
	var s []string
	for _, c := range h.calls {
		s = append(s, fmt.Sprintf("%v %s", c.at, c.argv))
	}
	return s
}

// settle waits until every worker took the last tick: each waits on its
// next tick, and the only other timers are the timeouts of the calls the
// test has not answered.
func (h *harness) settle() {
	h.t.Helper()
	h.waitFor("the workers to settle", func() bool {
		return h.clk.Waiters() == h.m.activeWorkers()+len(h.calls) && h.m.pendingKicks() == 0
	})
}

// advance moves the clock to d after t0 a second at a time, letting the
// workers take every tick; an exec run the test did not answer is an
// error.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.settle()
	for h.now() < d {
		h.mu.Lock()
		pending := h.pendingLocked()
		h.mu.Unlock()
		if len(pending) > 0 {
			h.t.Fatalf("at %v: unexpected exec runs %q", h.now(), pending)
		}
		h.clk.Advance(time.Second)
		h.settle()
	}
}

// probe expects an exec run of argv at d and answers it with code.
func (h *harness) probe(d time.Duration, argv string, code int32) {
	h.t.Helper()
	h.advance(d)
	var call *execCall
	h.waitFor(fmt.Sprintf("%q at %v", argv, d), func() bool {
		for i, c := range h.calls {
			if c.argv == argv {
				call = c
				h.calls = slices.Delete(h.calls, i, i+1)
				return true
			}
		}
		return false
	})
	if call.at != d {
		h.t.Fatalf("%q ran at %v, want %v", argv, call.at, d)
	}
	call.reply <- code
}

// expect waits for the verdicts, in any order, and fails on any other.
func (h *harness) expect(want ...string) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("verdicts %q", want), func() bool { return len(h.verdicts) >= len(want) })
	h.settle()
	h.mu.Lock()
	got := h.verdicts
	h.verdicts = nil
	h.mu.Unlock()
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		h.t.Fatalf("verdicts %q, want %q", got, want)
	}
}

// quiet checks that no verdict came.
func (h *harness) quiet() {
	h.t.Helper()
	h.settle()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.verdicts) > 0 {
		h.t.Fatalf("at %v: unexpected verdicts %q", h.now(), h.verdicts)
	}
}

func execProbe(argv ...string) api.ProbeHandler {
	return api.ProbeHandler{Exec: &api.ExecAction{Command: argv}}
}

func i64(n int64) *int64 { return &n }

// TestSlowStarterRunsOutOfStartup: a container whose startup probe
// (30 x 10 s) never succeeds is killed at 300 s with the probe's grace
// period; its liveness and readiness probes never run meanwhile.
func TestSlowStarterRunsOutOfStartup(t *testing.T) {
	h := newHarness(t)
	pod := newTestPod(api.Container{
		Name:           "app",
		StartupProbe:   &api.Probe{ProbeHandler: execProbe("check", "startup"), PeriodSeconds: 10, FailureThreshold: 30, TerminationGracePeriodSeconds: i64(7)},
		LivenessProbe:  &api.Probe{ProbeHandler: execProbe("check", "live"), PeriodSeconds: 10, FailureThreshold: 1},
		ReadinessProbe: &api.Probe{ProbeHandler: execProbe("check", "ready"), PeriodSeconds: 5},
	}, "127.0.0.1")
	started, ready := h.m.ContainerStarted(pod, "app", "c1")
	if started || ready {
		t.Fatalf("started %v ready %v at the start", started, ready)
	}
	for s := 10; s < 300; s += 10 {
		h.probe(time.Duration(s)*time.Second, "check startup", 1)
		h.quiet()
	}
	h.probe(300*time.Second, "check startup", 1)
	h.expect(`5m0s app/c1 kill "Container app failed startup probe, will be restarted" grace=7`)
	if n := h.rec.count("Warning Unhealthy Startup probe failed: bad"); n != 30 {
		t.Errorf("%d Unhealthy events, want 30: %q", n, h.rec.list())
	}
	// The host stops it: preStop, then the instance ends.
	h.m.PreStop(context.Background(), pod, "app", "c1")
	h.advance(400 * time.Second)
	h.quiet()
	h.m.ContainerStopped(pod.UID, "app", "c1")
	h.waitFor("no workers", func() bool { return h.m.activeWorkers() == 0 })
}

// TestStartupThenLivenessAndReadiness walks 300 s of one instance: the
// startup probe succeeds on its third run, the readiness probe runs at once
// then every 5 s with its thresholds, and the liveness probe kills the
// container after three failures in a row.
func TestStartupThenLivenessAndReadiness(t *testing.T) {
	h := newHarness(t)
	pod := newTestPod(api.Container{
		Name:           "app",
		StartupProbe:   &api.Probe{ProbeHandler: execProbe("check", "startup"), PeriodSeconds: 10, FailureThreshold: 30},
		LivenessProbe:  &api.Probe{ProbeHandler: execProbe("check", "live"), PeriodSeconds: 10, FailureThreshold: 3, SuccessThreshold: 1},
		ReadinessProbe: &api.Probe{ProbeHandler: execProbe("check", "ready"), PeriodSeconds: 5, FailureThreshold: 3, SuccessThreshold: 2},
	}, "127.0.0.1")
	h.m.ContainerStarted(pod, "app", "c1")

	h.probe(10*time.Second, "check startup", 1)
	h.probe(20*time.Second, "check startup", 1)
	h.probe(30*time.Second, "check startup", 0)
	h.expect("30s app/c1 started=true")
	// The readiness probe runs right away; two successes make it ready.
	h.probe(30*time.Second, "check ready", 0)
	h.quiet()
	h.probe(35*time.Second, "check ready", 0)
	h.expect("35s app/c1 ready=true")

	liveFails := map[int]bool{200: true, 210: true, 220: true, 150: true, 170: true} // 150 and 170: not in a row
	readyCode := func(s int) int32 {
		switch {
		case s == 105 || s == 110: // two failures: below the threshold
			return 1
		case s >= 130 && s <= 145: // three: unready at 140
			return 1
		case s == 150: // one success: below successThreshold 2
			return 0
		case s == 155: // a failure resets the run
			return 1
		}
		return 0
	}
	for s := 40; s <= 220; s += 5 {
		d := time.Duration(s) * time.Second
		h.probe(d, "check ready", readyCode(s))
		if s%10 == 0 {
			code := int32(0)
			if liveFails[s] {
				code = 1
			}
			h.probe(d, "check live", code)
		}
		switch s {
		case 140:
			h.expect("2m20s app/c1 ready=false")
		case 165:
			h.expect("2m45s app/c1 ready=true")
		case 220:
			h.expect(`3m40s app/c1 kill "Container app failed liveness probe, will be restarted" grace=nil`)
		default:
			h.quiet()
		}
	}
	// The liveness probe is done with this instance; the readiness probe
	// goes on until the host stops it.
	h.m.PreStop(context.Background(), pod, "app", "c1")
	h.probe(225*time.Second, "check ready", 0)
	h.probe(230*time.Second, "check ready", 0)
	h.m.ContainerStopped(pod.UID, "app", "c1")
	h.advance(300 * time.Second)
	h.quiet()

	for _, e := range []string{"Warning Unhealthy Liveness probe failed: bad", "Warning Unhealthy Readiness probe failed: bad", "Warning Unhealthy Startup probe failed: bad"} {
		want := map[string]int{"Liveness": 5, "Readiness": 7, "Startup": 2}[strings.Fields(e)[2]]
		if n := h.rec.count(e); n != want {
			t.Errorf("%d x %q, want %d", n, e, want)
		}
	}

	// A new instance starts over: readiness Failure, liveness Success.
	started, ready := h.m.ContainerStarted(pod, "app", "c2")
	if started || ready {
		t.Errorf("second instance: started %v ready %v", started, ready)
	}
	h.probe(310*time.Second, "check startup", 0)
	h.expect("5m10s app/c2 started=true")
	h.probe(310*time.Second, "check ready", 0)
	h.quiet()
	h.m.PodRemoved(pod.UID)
	h.waitFor("no workers", func() bool { return h.m.activeWorkers() == 0 })
}

// TestInitialDelay: ticks before initialDelaySeconds are skipped; the
// first probe is the first tick after it.
func TestInitialDelay(t *testing.T) {
	h := newHarness(t)
	pod := newTestPod(api.Container{
		Name:           "app",
		LivenessProbe:  &api.Probe{ProbeHandler: execProbe("check", "live"), InitialDelaySeconds: 15, PeriodSeconds: 10},
		ReadinessProbe: &api.Probe{ProbeHandler: execProbe("check", "ready"), InitialDelaySeconds: 3, PeriodSeconds: 5},
	}, "127.0.0.1")
	if started, ready := h.m.ContainerStarted(pod, "app", "c1"); !started || ready {
		t.Fatalf("started %v ready %v", started, ready)
	}
	h.probe(5*time.Second, "check ready", 0)
	h.expect("5s app/c1 ready=true")
	h.probe(10*time.Second, "check ready", 0)
	h.probe(15*time.Second, "check ready", 0)
	h.probe(20*time.Second, "check live", 0)
	h.probe(20*time.Second, "check ready", 0)
	h.quiet()
}

// TestNoRestartMessage: with restartPolicy Never the kill's message does
// not promise a restart; defaults apply to zero fields (period 10 s,
// failureThreshold 3).
func TestNoRestartMessage(t *testing.T) {
	h := newHarness(t)
	pod := newTestPod(api.Container{Name: "job", LivenessProbe: &api.Probe{ProbeHandler: execProbe("check")}}, "127.0.0.1")
	pod.Spec.RestartPolicy = api.RestartPolicyNever
	h.m.ContainerStarted(pod, "job", "c1")
	h.probe(10*time.Second, "check", 1)
	h.probe(20*time.Second, "check", 1)
	h.quiet()
	h.probe(30*time.Second, "check", 1)
	h.expect(`30s job/c1 kill "Container job failed liveness probe" grace=nil`)
}

// TestPreStopStopsLivenessQuietly: once the host stops an instance (a
// deletion), its liveness probe no longer runs, so it cannot be killed a
// second time; readiness keeps reporting until the instance ends.
func TestPreStopStopsLivenessQuietly(t *testing.T) {
	h := newHarness(t)
	pod := newTestPod(api.Container{
		Name:           "app",
		LivenessProbe:  &api.Probe{ProbeHandler: execProbe("check", "live"), FailureThreshold: 1},
		ReadinessProbe: &api.Probe{ProbeHandler: execProbe("check", "ready"), PeriodSeconds: 10},
	}, "127.0.0.1")
	h.m.ContainerStarted(pod, "app", "c1")
	h.probe(0, "check ready", 0)
	h.expect("0s app/c1 ready=true")
	h.probe(10*time.Second, "check live", 0)
	h.probe(10*time.Second, "check ready", 0)
	h.m.PreStop(context.Background(), pod, "app", "c1")
	h.probe(20*time.Second, "check ready", 1)
	h.probe(30*time.Second, "check ready", 1)
	h.probe(40*time.Second, "check ready", 1)
	h.expect("40s app/c1 ready=false")
	h.m.ContainerStopped(pod.UID, "app", "c1")
	h.advance(60 * time.Second)
	h.quiet()
}

// TestProbeErrorsAreThrownAway: a probe that cannot run is tried three
// times, leaves an "errored" event, and does not count as a failure.
func TestProbeErrorsAreThrownAway(t *testing.T) {
	var mu sync.Mutex
	runs, kills := 0, 0
	rt := &fakeRuntime{
		run: func(context.Context, *api.Pod, string, []string, io.Writer, io.Writer) (int32, error) {
			mu.Lock()
			runs++
			mu.Unlock()
			return 0, fmt.Errorf("no such module")
		},
		kill: func(string, string, string, string, *int64) { mu.Lock(); kills++; mu.Unlock() },
	}
	m, clk, rec := newTestManager(t, rt)
	pod := newTestPod(api.Container{Name: "app", LivenessProbe: &api.Probe{ProbeHandler: execProbe("check"), FailureThreshold: 1, PeriodSeconds: 1}}, "127.0.0.1")
	m.ContainerStarted(pod, "app", "c1")
	waitRuns := func(want int) {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			mu.Lock()
			n := runs
			mu.Unlock()
			if n == want {
				return
			}
		}
		t.Fatalf("runs did not reach %d", want)
	}
	for i := range 5 {
		// One tick at a time: the clock must not pass a run's timeout.
		clk.BlockUntil(1)
		clk.Advance(time.Second)
		waitRuns(3 * (i + 1))
	}
	m.ContainerStopped(pod.UID, "app", "c1")
	m.Close()
	mu.Lock()
	defer mu.Unlock()
	if kills != 0 || runs != 15 {
		t.Errorf("%d runs, %d kills", runs, kills)
	}
	if n := rec.count("Warning Unhealthy Liveness probe errored and resulted in unknown state: no such module"); n != runs/3 {
		t.Errorf("%d errored events for %d runs: %q", n, runs, rec.list())
	}
}

// TestWorkersDoNotLeak: every worker ends with its instance, its pod or
// the Manager.
func TestWorkersDoNotLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	m, clk, _ := newTestManager(t, &fakeRuntime{})
	probe := &api.Probe{ProbeHandler: execProbe("check"), PeriodSeconds: 1}
	for i := range 60 {
		pod := newTestPod(api.Container{Name: "app", LivenessProbe: probe, ReadinessProbe: probe, StartupProbe: probe}, "127.0.0.1")
		pod.UID = fmt.Sprint("uid-", i)
		m.ContainerStarted(pod, "app", "c1")
		m.ContainerStarted(pod, "app", "c2") // replaces c1's workers
		switch i % 3 {
		case 0:
			m.ContainerStopped(pod.UID, "app", "c2")
		case 1:
			m.PodRemoved(pod.UID)
		}
	}
	clk.Advance(5 * time.Second)
	m.Close()
	if n := m.activeWorkers(); n != 0 {
		t.Errorf("%d workers after Close", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines, %d before", n, before)
	}
	// A Manager that was closed starts no more workers.
	pod := newTestPod(api.Container{Name: "app", LivenessProbe: probe}, "127.0.0.1")
	m.ContainerStarted(pod, "app", "c9")
	if n := m.activeWorkers(); n != 0 {
		t.Errorf("%d workers after Close", n)
	}
}
