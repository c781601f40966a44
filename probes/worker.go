package probes

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
)

// probeType is liveness, readiness or startup.
type probeType int

const (
	liveness probeType = iota
	readiness
	startup
)

// String is the type as the kubelet's messages write it.
func (t probeType) String() string {
	switch t {
	case liveness:
		return "Liveness"
	case readiness:
		return "Readiness"
	default:
		return "Startup"
	}
}

// Probe defaults ([k8s] SetDefaults_Probe).
const (
	defaultPeriod           = 10 * time.Second
	defaultSuccessThreshold = 1
	defaultFailureThreshold = 3
)

// instance is one started instance of a container and its probes.
type instance struct {
	m         *Manager
	pod       *api.Pod
	spec      *api.Container
	id        string
	startedAt time.Time

	// started is the startup verdict: true once the startup probe
	// succeeded (or from the start without one).
	started atomic.Bool

	// ctx ends when the instance stops being probed; cancel ends it.
	ctx    context.Context
	cancel context.CancelFunc
	// terminating is closed when the host stops the instance (PreStop):
	// the liveness and startup probes end quietly.
	terminating     chan struct{}
	terminatingOnce sync.Once

	workers [3]*worker
	alive   atomic.Int32
}

// probedPod is the pod as probes see it; ok is false while it has no IP.
// The host hands the probes a pod with its IP (docs/RATIONALE.md, "Hooks
// and probes get the pod with its IP"), so only a pod given without one,
// by another runtime, waits.
func (in *instance) probedPod() (*api.Pod, bool) {
	return in.pod, in.pod.Status.PodIP != ""
}

func newInstance(m *Manager, pod *api.Pod, c *api.Container, id string, now time.Time) *instance {
	in := &instance{m: m, pod: pod, spec: c, id: id, startedAt: now, terminating: make(chan struct{})}
	in.ctx, in.cancel = context.WithCancel(m.ctx)
	for t, p := range map[probeType]*api.Probe{liveness: c.LivenessProbe, readiness: c.ReadinessProbe, startup: c.StartupProbe} {
		if p != nil {
			in.workers[t] = &worker{in: in, typ: t, probe: p, trigger: make(chan time.Time, 1), published: t == liveness}
		}
	}
	return in
}

// startWorkers starts one goroutine per probe; the caller holds m.mu.
func (in *instance) startWorkers() {
	for _, w := range in.workers {
		if w == nil {
			continue
		}
		if w.typ == readiness {
			w.kick(in.startedAt) // the kubelet's sync right after the start
		}
		w.next = in.startedAt.Add(w.period())
		w.tick = in.m.clock.NewTimer(w.next.Sub(in.m.clock.Now()))
		in.alive.Add(1)
		in.m.wg.Add(1)
		go w.run()
	}
}

func (in *instance) stop() { in.cancel() }

func (in *instance) markTerminating() {
	in.terminatingOnce.Do(func() { close(in.terminating) })
}

func (in *instance) running() int { return int(in.alive.Load()) }

// worker runs one probe of one instance.
type worker struct {
	in      *instance
	typ     probeType
	probe   *api.Probe
	trigger chan time.Time // a run out of the ticks' order, asked for at that time
	tick    clock.Timer    // the next tick, at next
	next    time.Time

	// The kubelet's worker state: the last result, how many times in a row
	// it came, and the published verdict.
	lastResult bool
	resultRun  int
	published  bool // readiness starts as Failure, liveness as Success
}

// kick asks for a run, as of at (dropped when one is already asked for).
func (w *worker) kick(at time.Time) {
	select {
	case w.trigger <- at:
	default:
	}
}

func (w *worker) period() time.Duration {
	if w.probe.PeriodSeconds <= 0 {
		return defaultPeriod
	}
	return time.Duration(w.probe.PeriodSeconds) * time.Second
}

func (w *worker) run() {
	in, clk := w.in, w.in.m.clock
	defer in.m.wg.Done()
	defer in.alive.Add(-1)
	defer w.tick.Stop()

	period := w.period()
	var terminating <-chan struct{}
	if w.typ != readiness {
		terminating = in.terminating
	}
	for {
		var now time.Time
		select {
		case <-in.ctx.Done():
			return
		case <-terminating:
			return
		case now = <-w.trigger:
		case at := <-w.tick.C():
			// A ticker's phase: ticks missed while a probe ran are dropped.
			now = at
			for !w.next.After(at) {
				w.next = w.next.Add(period)
			}
			w.tick.Reset(w.next.Sub(clk.Now()))
		}
		if !w.doProbe(now) {
			return
		}
	}
}

// doProbe is one tick of the kubelet's worker, at now; it reports whether
// the worker goes on.
func (w *worker) doProbe(now time.Time) bool {
	in := w.in
	elapsed := now.Sub(in.startedAt)
	if int32(elapsed/time.Second) < w.probe.InitialDelaySeconds {
		return true
	}
	if in.started.Load() {
		if w.typ == startup {
			return false // done for this instance
		}
	} else if w.typ != startup {
		return true // held back until the startup probe succeeds
	}

	if _, ok := in.probedPod(); !ok && needsPodIP(w.probe) {
		return true // the kubelet's "no status yet": wait for more information
	}
	success, err := in.m.probe(in.ctx, w.typ, w.probe, in)
	if err != nil || in.ctx.Err() != nil {
		return true // an error is thrown away
	}
	if w.lastResult == success && w.resultRun > 0 {
		w.resultRun++
	} else {
		w.lastResult, w.resultRun = success, 1
	}
	threshold := w.probe.FailureThreshold
	if threshold <= 0 {
		threshold = defaultFailureThreshold
	}
	if success {
		threshold = w.probe.SuccessThreshold
		if threshold <= 0 {
			threshold = defaultSuccessThreshold
		}
	}
	if w.resultRun < int(threshold) {
		return true
	}
	return w.publish(now, success)
}

// needsPodIP reports whether a probe goes to the pod's IP.
func needsPodIP(p *api.Probe) bool {
	switch {
	case p.HTTPGet != nil:
		return p.HTTPGet.Host == ""
	case p.TCPSocket != nil:
		return p.TCPSocket.Host == ""
	default:
		return p.GRPC != nil
	}
}

// publish acts on a verdict that crossed its threshold; it reports whether
// the worker goes on.
func (w *worker) publish(now time.Time, success bool) bool {
	in := w.in
	changed := w.published != success
	w.published = success
	rt := in.m.runtime()
	if rt == nil {
		in.m.log.Error("probe verdict without a runtime", "pod", in.pod.Namespace+"/"+in.pod.Name, "container", in.spec.Name)
		return true
	}
	switch w.typ {
	case readiness:
		if changed {
			rt.SetContainerReady(in.pod.UID, in.spec.Name, in.id, success)
		}
		return true
	case startup:
		if success {
			in.started.Store(true)
			rt.SetContainerStarted(in.pod.UID, in.spec.Name, in.id, true)
			if r := in.workers[readiness]; r != nil {
				r.kick(now)
			}
			return false
		}
		rt.KillContainer(in.pod.UID, in.spec.Name, in.id, w.killMessage(), w.probe.TerminationGracePeriodSeconds)
		return false
	default: // liveness
		if success {
			return true
		}
		rt.KillContainer(in.pod.UID, in.spec.Name, in.id, w.killMessage(), w.probe.TerminationGracePeriodSeconds)
		return false
	}
}

// killMessage is the Killing event's message of a failed liveness or
// startup probe ([k8s] computePodActions).
func (w *worker) killMessage() string {
	kind := "liveness"
	if w.typ == startup {
		kind = "startup"
	}
	msg := fmt.Sprintf("Container %s failed %s probe", w.in.spec.Name, kind)
	if w.in.pod.Spec.RestartPolicy != api.RestartPolicyNever {
		msg += ", will be restarted"
	}
	return msg
}
