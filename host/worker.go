package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/internal/events"
	"github.com/wasmlet/wasmlet/store"
)

// podWorker runs one pod. Its goroutine (run) is the only one that starts
// or stops containers and writes the pod; other goroutines (the watch, the
// instances' waiters, probers) leave their news in the inbox under mu and
// kick it.
type podWorker struct {
	h              *Host
	uid, ns, name  string
	dir            string // DataDir/pods/<uid>
	kickCh         chan struct{}
	supervisionEnd chan struct{}
	stopOnce       sync.Once

	mu         sync.Mutex // guards the inbox
	pod        *api.Pod   // newest version seen
	isGone     bool
	exits      []instanceExit
	probeNews  []probeNews
	kills      []killRequest
	shutdownCh chan struct{} // closed when Shutdown asks the pod to stop
	shutdownAt time.Time
	// stoppedCh is closed by the worker once, shutting down, it has no
	// instance left.
	stoppedCh   chan struct{}
	stoppedOnce sync.Once
	// exited is closed when run has returned: a worker that ended because
	// its pod was gone never closes stoppedCh, and Shutdown must not wait
	// for it.
	exited chan struct{}
	instWG sync.WaitGroup // instance waiters

	liveMu sync.Mutex
	live   map[string]*containerLog // "<container>/<id>" -> open log of a running instance

	// Owned by run.
	containers   map[string]*containerRecord
	backoff      map[string]BackoffEntry
	startTime    time.Time
	podIP        string
	timer        clock.Timer
	timerAt      time.Time
	lastWritten  []byte // JSON of the status and annotation last written or read
	firstSync    bool
	shutdownSeen bool
	wasShutdown  bool // the pod carried AnnotationNodeShutdown at start
	// staleRuns are the run journal's records of instances that died with
	// the previous node process, removed once their crash is in the store.
	staleRuns []string
	// conditions are the pod's conditions as last written: a sync that
	// writes twice (before a pull, and after it) keeps their transition
	// times, as the kubelet's status manager compares with its own cache.
	conditions []api.PodCondition
	// configVolumes: the state of the pod's configMap and secret volumes.
	configVolumes configVolumeState
}

type instanceExit struct {
	container, id string
	code          int32
	oom, killed   bool
	message       string
	at            time.Time
}

type probeNews struct {
	container, id  string
	started, ready *bool
}

type killRequest struct {
	container, id, message string
	grace                  *int64
}

// containerRecord is the worker's knowledge of one container.
type containerRecord struct {
	name   string
	status api.ContainerStatus

	// The newest instance: running (inst != nil), or how it ended.
	inst      instance
	cancel    context.CancelFunc
	id        string
	log       *containerLog
	logFiles  []interface{ Close() error }
	lastState InstanceState
	lastCode  int32
	lastEnd   time.Time
	// restartCounted: restartCount already includes the next start (after
	// a lost container).
	restartCounted bool
	// stoppedByNode: the newest instance was stopped by a graceful node
	// shutdown; the next start follows at once, outside the back-off.
	stoppedByNode bool

	started, ready bool

	// spec is the container's definition the running instance started
	// from; a change (a new image) restarts it.
	spec         string
	forceRestart bool
	stopping     bool
	killAt       time.Time
	killTimer    clock.Timer
	backoffAt    time.Time // finishedAt whose BackOff event was recorded
}

func newPodWorker(h *Host, p *api.Pod) *podWorker {
	return &podWorker{
		h: h, uid: p.UID, ns: p.Namespace, name: p.Name,
		dir:            filepath.Join(h.podsDir, p.UID),
		kickCh:         make(chan struct{}, 1),
		supervisionEnd: make(chan struct{}),
		shutdownCh:     make(chan struct{}),
		stoppedCh:      make(chan struct{}),
		exited:         make(chan struct{}),
		containers:     map[string]*containerRecord{},
		backoff:        map[string]BackoffEntry{},
		live:           map[string]*containerLog{},
		firstSync:      true,
	}
}

func (w *podWorker) kick() {
	select {
	case w.kickCh <- struct{}{}:
	default:
	}
}

// update records the newest version of the pod. Like the kubelet, the
// worker syncs for a change of spec or of deletion, not for a status or
// metadata change (most of which are its own writes).
func (w *podWorker) update(p *api.Pod) {
	w.mu.Lock()
	old := w.pod
	w.pod = p
	w.mu.Unlock()
	if old == nil || old.Generation != p.Generation || !sameTime(old.DeletionTimestamp, p.DeletionTimestamp) ||
		!sameInt64(old.DeletionGracePeriodSeconds, p.DeletionGracePeriodSeconds) {
		w.kick()
	}
}

func sameTime(a, b *api.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b.Time)
}

func sameInt64(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func (w *podWorker) gone() {
	w.mu.Lock()
	w.isGone = true
	w.mu.Unlock()
	w.kick()
}

func (w *podWorker) stopSupervising() {
	w.stopOnce.Do(func() { close(w.supervisionEnd) })
}

func (w *podWorker) waitInstances() { w.instWG.Wait() }

func (w *podWorker) probeResult(container, id string, started, ready *bool) {
	w.mu.Lock()
	w.probeNews = append(w.probeNews, probeNews{container, id, started, ready})
	w.mu.Unlock()
	w.kick()
}

func (w *podWorker) requestKill(container, id, message string, grace *int64) {
	w.mu.Lock()
	w.kills = append(w.kills, killRequest{container, id, message, grace})
	w.mu.Unlock()
	w.kick()
}

// shutdown stops the pod's containers for a node shutdown and returns when
// they are gone or ctx ended.
func (w *podWorker) shutdown(ctx context.Context) {
	w.mu.Lock()
	select {
	case <-w.shutdownCh:
	default:
		w.shutdownAt = w.h.clock.Now()
		close(w.shutdownCh)
	}
	w.mu.Unlock()
	w.kick()
	select {
	case <-w.stoppedCh:
	case <-w.supervisionEnd:
	case <-w.exited:
	case <-ctx.Done():
	}
}

// run is the worker's loop.
func (w *podWorker) run(ctx context.Context) {
	defer func() {
		if w.timer != nil {
			w.timer.Stop()
		}
	}()
	for {
		var timerC <-chan time.Time
		if w.timer != nil {
			timerC = w.timer.C()
		}
		select {
		case <-ctx.Done():
			return
		case <-w.supervisionEnd:
			return
		case <-w.kickCh:
		case <-timerC:
			w.timerAt = time.Time{}
		case <-w.shutdownCh:
			if w.shutdownSeen {
				// Already acted on; wait for the rest.
				select {
				case <-ctx.Done():
					return
				case <-w.supervisionEnd:
					return
				case <-w.kickCh:
				case <-timerC:
					w.timerAt = time.Time{}
				}
			}
		}
		if w.sync(ctx) {
			w.h.workerDone(w)
			w.h.probes.PodRemoved(w.uid)
			return
		}
	}
}

// wakeAt makes the worker sync again at t (the earliest of the wakes asked
// for since the last one fired).
func (w *podWorker) wakeAt(t time.Time) {
	if !w.timerAt.IsZero() && !t.Before(w.timerAt) {
		return
	}
	d := t.Sub(w.h.clock.Now())
	w.timerAt = t
	if w.timer == nil {
		w.timer = w.h.clock.NewTimer(d)
		return
	}
	w.timer.Stop()
	w.timer.Reset(d)
}

// sync does one level-triggered pass; it reports whether the worker is
// done (the pod is gone and so are its containers).
func (w *podWorker) sync(ctx context.Context) bool {
	w.mu.Lock()
	pod, isGone := w.pod, w.isGone
	exits, news, kills := w.exits, w.probeNews, w.kills
	w.exits, w.probeNews, w.kills = nil, nil, nil
	shuttingDown := false
	select {
	case <-w.shutdownCh:
		shuttingDown = true
	default:
	}
	w.mu.Unlock()
	now := w.h.clock.Now()

	if w.firstSync {
		w.firstSync = false
		w.restore(pod, now)
		w.initRecords(pod)
	}
	for _, e := range exits {
		w.applyExit(pod, e)
	}
	if len(exits) > 0 && !isGone && !shuttingDown {
		// Show the exit (Error, Completed, OOMKilled) before deciding on a
		// restart, as the kubelet's status does.
		w.writeStatus(ctx, pod, false)
	}
	for _, n := range news {
		if r := w.containers[n.container]; r != nil && r.inst != nil && r.id == n.id {
			if n.started != nil {
				r.started = *n.started
			}
			if n.ready != nil {
				r.ready = *n.ready
			}
		}
	}

	if isGone {
		// Removed from the store (force deletion): stop everything now,
		// then clean up once the instances are gone.
		// The kubelet's floor still applies: 2 s between SIGTERM and the kill.
		deadline := now.Add(minimumGracePeriod)
		for _, r := range w.containers {
			if r.inst != nil && (!r.stopping || r.killAt.After(deadline)) {
				w.stopContainer(pod, r, "", now, deadline, !r.stopping)
			}
		}
		if w.anyRunning() {
			return false
		}
		w.cleanup()
		return true
	}

	if shuttingDown {
		if !w.shutdownSeen {
			w.shutdownSeen = true
			w.markShutdown(ctx, pod)
		}
		grace := EffectiveGracePeriod(pod, nil)
		if cap := w.h.opts.ShutdownGracePeriod; cap > 0 && cap < grace {
			grace = max(cap, minimumGracePeriod)
		}
		deadline := KillDeadline(pod, now, grace)
		for _, r := range w.containers {
			if r.inst != nil && !r.stopping && !sidecarNamed(pod, r.name) {
				w.stopContainer(pod, r, "", now, deadline, true)
			}
		}
		w.stopInitContainers(pod, now, deadline)
		if !w.anyRunning() {
			w.stoppedOnce.Do(func() {
				// The containers' ends, as they exited, are the last
				// runs the next start shows in lastState.
				w.writeStatus(ctx, pod, false)
				close(w.stoppedCh)
			})
		}
		return false
	}

	for _, k := range kills {
		if r := w.containers[k.container]; r != nil && r.inst != nil && r.id == k.id && !r.stopping {
			w.stopContainer(pod, r, k.message, now, KillDeadline(pod, now, EffectiveGracePeriod(pod, k.grace)), true)
		}
	}

	if pod.DeletionTimestamp != nil {
		for _, c := range pod.Spec.Containers {
			if r := w.containers[c.Name]; r != nil && r.inst != nil && !r.stopping {
				w.stopContainer(pod, r, "", now, KillDeadline(pod, now, EffectiveGracePeriod(pod, nil)), true)
			}
		}
		w.stopInitContainers(pod, now, KillDeadline(pod, now, EffectiveGracePeriod(pod, nil)))
		if w.anyRunning() {
			w.writeStatus(ctx, pod, false)
			return false
		}
		// Every container is gone: record the terminal phase, then remove
		// the pod.
		w.writeStatus(ctx, pod, true)
		zero := int64(0)
		_, _, err := w.h.st.Delete(ctx, podsResource(), w.ns, w.name, store.DeleteOptions{GracePeriodSeconds: &zero, UID: w.uid})
		if err != nil && !api.IsNotFound(err) && !api.IsConflict(err) {
			if ctx.Err() == nil {
				w.h.log.Error("removing terminated pod", "pod", w.ns+"/"+w.name, "err", err)
				w.wakeAt(now.Add(10 * time.Second))
			}
			return false
		}
		w.cleanup()
		return true
	}

	if w.podIP == "" {
		ip, err := w.h.ips.Allocate(w.uid)
		if err != nil {
			w.h.recorder.Eventf(pod, events.Warning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			w.writeStatus(ctx, pod, false)
			w.wakeAt(now.Add(10 * time.Second))
			return false
		}
		w.podIP = ip
	}

	if !w.syncConfigVolumes(pod, now) {
		w.writeStatus(ctx, pod, false)
		return false
	}
	if !w.syncInitContainers(ctx, pod, now) {
		w.writeStatus(ctx, pod, false)
		return false
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		r := w.record(c)
		w.syncContainer(ctx, pod, c, r, ShouldContainerBeRestarted(pod, r.lastState, r.lastCode), now)
	}
	w.writeStatus(ctx, pod, false)
	return false
}

// syncContainer restarts a running container whose definition changed,
// and starts one that is not running when restart says it must run again,
// after its crash-loop back-off.
func (w *podWorker) syncContainer(ctx context.Context, pod *api.Pod, c *api.Container, r *containerRecord, restart bool, now time.Time) {
	if r.inst != nil && !r.stopping && r.spec != containerSpec(c) {
		// Restarted whatever the restart policy, as the kubelet does.
		w.stopContainer(pod, r, fmt.Sprintf("Container %s definition changed, will be restarted", c.Name), now, KillDeadline(pod, now, EffectiveGracePeriod(pod, nil)), true)
		r.forceRestart = true
	}
	if r.stopping || r.inst != nil {
		return
	}
	key := "container/" + c.Name
	if r.forceRestart {
		r.forceRestart = false
		w.startContainer(ctx, pod, c, r, now)
		return
	}
	if !restart {
		return
	}
	if r.lastState == InstanceExited && !r.stoppedByNode {
		entry := w.backoffEntry(key)
		if in, until := RestartBackoff.InBackoffSince(entry, r.lastEnd, now); in {
			msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", entry.Delay, c.Name, w.name, w.ns, w.uid)
			w.setWaiting(r, ReasonCrashLoopBackOff, msg)
			if !r.backoffAt.Equal(r.lastEnd) {
				r.backoffAt = r.lastEnd
				w.h.recorder.Eventf(pod, events.Warning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, w.name, w.ns, w.uid)
			}
			w.wakeAt(until)
			return
		}
		w.backoff[key] = RestartBackoff.Next(entry, r.lastEnd, now)
	}
	// A container the node stopped did not crash: it starts at once,
	// and the back-off stays as it was.
	r.stoppedByNode = false
	w.startContainer(ctx, pod, c, r, now)
}

func (w *podWorker) backoffEntry(key string) *BackoffEntry {
	if e, ok := w.backoff[key]; ok {
		return &e
	}
	return nil
}

func (w *podWorker) anyRunning() bool {
	for _, r := range w.containers {
		if r.inst != nil {
			return true
		}
	}
	return false
}

// record returns the record of a container, creating its default status.
func (w *podWorker) record(c *api.Container) *containerRecord {
	r := w.containers[c.Name]
	if r == nil {
		r = &containerRecord{name: c.Name, status: api.ContainerStatus{
			Name:  c.Name,
			Image: c.Image,
			State: api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: ReasonContainerCreating}},
		}}
		w.containers[c.Name] = r
	}
	return r
}

func (w *podWorker) setWaiting(r *containerRecord, reason, message string) {
	if t := r.status.State.Terminated; t != nil {
		r.status.LastTerminationState = api.ContainerState{Terminated: t}
	}
	r.status.State = api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: reason, Message: message}}
	r.status.Ready = false
	r.status.Started = boolPtr(false)
}

func boolPtr(b bool) *bool { return &b }

// restore reads what the store knows of the pod when the worker starts:
// back-off entries, the pod IP, the start time, and the containers'
// statuses. A container whose instance was alive when the previous node
// process died (its run journal record is left, or the store says Running
// without a graceful shutdown) crashed with the node; one that a graceful
// node shutdown stopped has its end in the store and starts again at once.
// Both count a restart when they start again, with the run that ended as
// lastState (and as the previous log).
func (w *podWorker) restore(pod *api.Pod, now time.Time) {
	if s := pod.Annotations[AnnotationBackoff]; s != "" {
		var m map[string]BackoffEntry
		if err := json.Unmarshal([]byte(s), &m); err == nil {
			w.backoff = m
		}
	}
	w.wasShutdown = pod.Annotations[AnnotationNodeShutdown] != ""
	if pod.Status.StartTime != nil {
		w.startTime = pod.Status.StartTime.Time
	}
	if ip := pod.Status.PodIP; ip != "" && w.h.ips.Reserve(w.uid, ip) {
		w.podIP = ip
	}
	alive, records := journalRead(w.dir)
	w.staleRuns = records
	for name, run := range alive {
		// A restart raises the back-off before it starts the instance; the
		// store may not have the raise yet, the record does.
		key := "container/" + name
		if cur, ok := w.backoff[key]; run.Backoff != nil && (!ok || run.Backoff.LastUpdate.After(cur.LastUpdate)) {
			w.backoff[key] = *run.Backoff
		}
	}
	for _, c := range allContainers(pod) {
		old := storedStatus(pod, c.Name)
		run, wasAlive := alive[c.Name]
		if old == nil && !wasAlive {
			continue
		}
		r := w.record(&c)
		if old != nil {
			r.status = clone(*old)
			r.status.Image = c.Image
		}
		switch {
		case wasAlive:
			w.crashedWithNode(pod, r, &run, now)
		case old.State.Running != nil && !w.wasShutdown:
			w.crashedWithNode(pod, r, nil, now)
		case old.State.Running != nil:
			// Stopped by the shutdown, but its exit was not written (a node
			// of an older version, or one killed right after the exit).
			w.stoppedWithNode(r, pod.Annotations[AnnotationNodeShutdown], now)
		case old.State.Terminated != nil:
			r.lastState = InstanceExited
			r.lastCode = old.State.Terminated.ExitCode
			r.lastEnd = old.State.Terminated.FinishedAt.Time
			r.stoppedByNode = w.wasShutdown && endedInShutdown(old.State.Terminated, pod.Annotations[AnnotationNodeShutdown])
		case old.LastTerminationState.Terminated != nil:
			t := old.LastTerminationState.Terminated
			r.lastState = InstanceExited
			r.lastCode = t.ExitCode
			r.lastEnd = t.FinishedAt.Time
			// A container lost with a node waits to start again with its
			// restart already counted.
			if isNodeCrash(t) || t.Reason == ReasonContainerStatusUnknown {
				r.restartCounted = true
			}
		}
	}
}

// crashedWithNode records the end of a container whose instance was alive
// when the node's process died (run is its journal record, nil when only the
// store says it ran). Nothing tells whether the guest caused the death, so
// the container is taken to have crashed: terminated Unknown with exit code
// 255 (the kubelet's report of a container its runtime lost in a node
// restart), restartCount+1, and a restart only at the end of the crash-loop
// back-off, counted from now. A guest that kills the node therefore runs at
// most once per back-off delay (10 s, then doubling to 300 s), and the API
// serves in between: the pod can be deleted.
func (w *podWorker) crashedWithNode(pod *api.Pod, r *containerRecord, run *runRecord, now time.Time) {
	id := strings.TrimPrefix(r.status.ContainerID, containerIDPrefix)
	var startedAt api.Time
	if s := r.status.State.Running; s != nil {
		startedAt = s.StartedAt
	}
	if run != nil {
		if run.ContainerID != id {
			// The node died before it wrote the instance's start.
			id = run.ContainerID
			startedAt = api.NewTime(run.StartedAt)
		}
		r.status.RestartCount = max(r.status.RestartCount, run.RestartCount)
	}
	r.id = id
	r.status.ContainerID = containerIDPrefix + id
	r.status.State = api.ContainerState{Terminated: &api.ContainerStateTerminated{
		ExitCode:    exitCodeNodeCrash,
		Reason:      ReasonUnknown,
		Message:     messageNodeCrash,
		StartedAt:   startedAt,
		FinishedAt:  api.NewTime(now),
		ContainerID: containerIDPrefix + id,
	}}
	r.status.Ready = false
	r.status.Started = boolPtr(false)
	r.lastState, r.lastCode, r.lastEnd = InstanceExited, exitCodeNodeCrash, now
	if !ShouldContainerBeRestarted(pod, InstanceExited, exitCodeNodeCrash) {
		return
	}
	r.status.RestartCount++
	r.restartCounted = true
	// The back-off is raised by the restart itself, as for any crash; a
	// first crash would restart at once, which a node death must not.
	key := "container/" + r.name
	if e := w.backoffEntry(key); RestartBackoff.expired(e, now) {
		w.backoff[key] = BackoffEntry{Delay: RestartBackoff.Initial, LastUpdate: now}
	}
}

// stoppedWithNode records the end of a container that a graceful node
// shutdown stopped without its exit being written: terminated Unknown with
// exit code 255, as a lost container, ended when the shutdown began (mark,
// the value of AnnotationNodeShutdown), and started again at once.
func (w *podWorker) stoppedWithNode(r *containerRecord, mark string, now time.Time) {
	end := now
	if t, err := time.Parse(time.RFC3339, mark); err == nil && t.Before(now) {
		end = t
	}
	id := strings.TrimPrefix(r.status.ContainerID, containerIDPrefix)
	r.id = id
	r.status.State = api.ContainerState{Terminated: &api.ContainerStateTerminated{
		ExitCode:    exitCodeNodeCrash,
		Reason:      ReasonUnknown,
		Message:     messageShutdownUnrecorded,
		StartedAt:   r.status.State.Running.StartedAt,
		FinishedAt:  api.NewTime(end),
		ContainerID: containerIDPrefix + id,
	}}
	r.status.Ready = false
	r.status.Started = boolPtr(false)
	r.lastState, r.lastCode, r.lastEnd = InstanceExited, exitCodeNodeCrash, end
	r.stoppedByNode = true
}

// endedInShutdown reports whether a container's end is the one a graceful
// node shutdown that began at mark (AnnotationNodeShutdown) caused: it
// ended at or after mark, to the second the API's times keep.
func endedInShutdown(t *api.ContainerStateTerminated, mark string) bool {
	at, err := time.Parse(time.RFC3339, mark)
	if err != nil {
		return false
	}
	return !t.FinishedAt.Time.Before(at.Truncate(time.Second))
}

// dropStaleRuns removes the journal records of instances that died with the
// previous node process, once their crash is in the store.
func (w *podWorker) dropStaleRuns() {
	for _, p := range w.staleRuns {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.h.log.Warn("removing a run record", "pod", w.ns+"/"+w.name, "err", err)
		}
	}
	w.staleRuns = nil
}

// markShutdown writes AnnotationNodeShutdown before the containers are
// stopped, so that the next start does not take them for lost.
func (w *podWorker) markShutdown(ctx context.Context, pod *api.Pod) {
	if !w.anyRunning() {
		return
	}
	_, err := w.h.st.GuaranteedUpdate(ctx, podsResource(), w.ns, w.name, func(o api.Object) (api.Object, error) {
		p, ok := o.(*api.Pod)
		if !ok || p.UID != w.uid {
			return nil, errPodReplaced
		}
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[AnnotationNodeShutdown] = w.h.clock.Now().UTC().Format(time.RFC3339)
		return p, nil
	})
	// The mark of an earlier shutdown is replaced, not to be removed by
	// the status written once the containers stopped.
	w.wasShutdown = false
	if err != nil && ctx.Err() == nil {
		w.h.log.Warn("marking pod for node shutdown", "pod", w.ns+"/"+w.name, "err", err)
	}
}

// applyExit records the end of an instance.
func (w *podWorker) applyExit(pod *api.Pod, e instanceExit) {
	r := w.containers[e.container]
	if r == nil || r.id != e.id {
		return
	}
	reason := terminatedReason(e.code, e.oom)
	var startedAt api.Time
	if r.status.State.Running != nil {
		startedAt = r.status.State.Running.StartedAt
	}
	r.status.State = api.ContainerState{Terminated: &api.ContainerStateTerminated{
		ExitCode:    e.code,
		Reason:      reason,
		Message:     e.message,
		StartedAt:   startedAt,
		FinishedAt:  api.NewTime(e.at),
		ContainerID: containerIDPrefix + e.id,
	}}
	r.status.Ready = false
	r.status.Started = boolPtr(false)
	r.inst, r.cancel = nil, nil
	r.stopping = false
	r.killAt = time.Time{}
	if r.killTimer != nil {
		r.killTimer.Stop()
		r.killTimer = nil
	}
	r.lastState = InstanceExited
	r.lastCode = e.code
	r.lastEnd = e.at
	r.started, r.ready = false, false
	w.h.probes.ContainerStopped(w.uid, r.name, e.id)
	if pod != nil && pod.DeletionTimestamp == nil {
		// A container that ran past the reset window starts its back-off
		// over; Next does that from the entry's last update.
	}
}

const containerIDPrefix = "wasmlet://"

// podSyncRetryPeriod is when a pod whose sync failed (an image pull error)
// is synced again (the kubelet's backOffPeriod, without its jitter).
const podSyncRetryPeriod = 10 * time.Second

func newContainerID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withNetwork returns pod, or a shallow copy of it with the pod's IP and
// the node's IP in its status when the stored pod does not show them yet
// (a new pod's first start): probes, hooks and RunInContainer read the pod
// IP from the pod they are given. pod itself is shared and left alone.
func (w *podWorker) withNetwork(pod *api.Pod) *api.Pod {
	if pod == nil || w.podIP == "" || (pod.Status.PodIP == w.podIP && pod.Status.HostIP == nodeIP) {
		return pod
	}
	cp := *pod
	cp.Status.PodIP = w.podIP
	cp.Status.PodIPs = []api.PodIP{{IP: w.podIP}}
	cp.Status.HostIP = nodeIP
	cp.Status.HostIPs = []api.HostIP{{IP: nodeIP}}
	return &cp
}

// nodeIP is the node's address, the hostIP of its pods.
const nodeIP = "127.0.0.1"

// startContainer pulls the image and starts an instance of c.
func (w *podWorker) startContainer(ctx context.Context, pod *api.Pod, c *api.Container, r *containerRecord, now time.Time) {
	h := w.h
	pod = w.withNetwork(pod)
	image := c.Image
	key := "image/" + image
	if in, until := ImageBackoff.InBackoffSinceUpdate(w.backoffEntry(key), now); in {
		msg := fmt.Sprintf("Back-off pulling image %q", image)
		if r.status.State.Waiting == nil || r.status.State.Waiting.Reason != ReasonImagePullBackOff {
			h.recorder.Eventf(pod, events.Normal, "BackOff", "%s", msg)
			h.recorder.Eventf(pod, events.Warning, "Failed", "Error: %s", ReasonImagePullBackOff)
		}
		w.setWaiting(r, ReasonImagePullBackOff, msg)
		w.wakeAt(until)
		return
	}
	present := h.images.Present(image)
	// onNode: nothing to download ("already present"). A registry image in
	// the node's store is, also before its module is compiled again after a
	// node restart; one under Always is asked of the registry at each start.
	onNode := (present && !h.images.AsksRegistry(image, c.ImagePullPolicy)) || h.images.Stored(image, c.ImagePullPolicy)
	pullStart := h.clock.Now()
	if !present {
		// Reading and compiling a module takes seconds (15 for a Go guest
		// on a new node): the pod shows what it waits for meanwhile, as a
		// cluster's shows ContainerCreating while its image is pulled.
		w.writeStatus(ctx, pod, false)
	}
	if !onNode {
		h.recorder.Eventf(pod, events.Normal, "Pulling", "Pulling image %q", image)
	}
	img, err := h.images.PullAs(ctx, image, c.ImagePullPolicy, w.pullCredentials(ctx, pod, image))
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		h.recorder.Eventf(pod, events.Warning, "Failed", "Failed to pull image %q: %v", image, err)
		h.recorder.Eventf(pod, events.Warning, "Failed", "Error: %s", ReasonErrImagePull)
		next := ImageBackoff.Next(w.backoffEntry(key), now, now)
		w.backoff[key] = next
		w.setWaiting(r, ReasonErrImagePull, err.Error())
		// The kubelet retries a failed sync after its 10 s back-off period;
		// inside the image back-off that sync shows ImagePullBackOff.
		w.wakeAt(now.Add(podSyncRetryPeriod))
		return
	}
	delete(w.backoff, key)
	if onNode {
		h.recorder.Eventf(pod, events.Normal, "Pulled", "Container image %q already present on machine", image)
	} else {
		d := h.clock.Since(pullStart).Truncate(time.Millisecond)
		h.recorder.Eventf(pod, events.Normal, "Pulled", "Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.", image, d, d, img.Size)
	}

	// Configured before it counts as a restart: a container that waits for
	// its configuration is not created yet, and the kubelet counts a
	// restart when it creates the container.
	cfg, err := h.containerConfig(pod, c, w.podIP)
	if err != nil {
		h.recorder.Eventf(pod, events.Warning, "Failed", "Error: %v", err)
		w.setWaiting(r, "CreateContainerConfigError", err.Error())
		w.wakeAt(now.Add(10 * time.Second))
		return
	}

	// A new instance: the previous one becomes lastState, and counts.
	if r.lastState != InstanceNone {
		if t := r.status.State.Terminated; t != nil {
			r.status.LastTerminationState = api.ContainerState{Terminated: t}
		}
		if !r.restartCounted {
			r.status.RestartCount++
		}
	}
	r.restartCounted = false
	r.status.Image = image
	r.status.ImageID = img.ImageID()

	id := newContainerID()
	logName := instanceLogName(w.uid, c.Name, r.status.RestartCount)
	pruneInstanceLogs(h.podsDir, w.uid, c.Name, r.status.RestartCount)
	clog, err := openContainerLog(h.podsDir, logName, h.opts.MaxLogSize, h.clock)
	if err != nil {
		cfg.Release()
		h.recorder.Eventf(pod, events.Warning, "Failed", "Error: %v", err)
		w.setWaiting(r, "CreateContainerError", err.Error())
		w.wakeAt(now.Add(10 * time.Second))
		return
	}
	// Recorded before any guest code runs (a start section runs inside
	// rt.Start): if the guest takes the node down, the next start knows it
	// was running.
	if err := journalStart(w.dir, runRecord{Container: c.Name, ContainerID: id, RestartCount: r.status.RestartCount,
		StartedAt: h.clock.Now(), Backoff: w.backoffEntry("container/" + c.Name)}); err != nil {
		cfg.Release()
		clog.Close()
		h.recorder.Eventf(pod, events.Warning, "Failed", "Error: %v", err)
		w.setWaiting(r, "CreateContainerError", err.Error())
		w.wakeAt(now.Add(10 * time.Second))
		return
	}
	stdout, stderr := clog.Stream("stdout"), clog.Stream("stderr")
	cfg.Stdout, cfg.Stderr = stdout, stderr
	h.recorder.Eventf(pod, events.Normal, "Created", "Created container: %s", c.Name)

	startErr := func(err error) {
		cfg.Release() // a failed Start released it already; twice is harmless
		stdout.Close()
		stderr.Close()
		clog.Close()
		w.journalEnd(c.Name, id)
		msg := err.Error()
		h.recorder.Eventf(pod, events.Warning, "Failed", "Error: %s", msg)
		r.id = id
		r.status.ContainerID = containerIDPrefix + id
		r.status.State = api.ContainerState{Terminated: &api.ContainerStateTerminated{
			ExitCode: exitCodeStartError, Reason: ReasonStartError, Message: msg,
			FinishedAt: api.NewTime(now), ContainerID: containerIDPrefix + id,
		}}
		w.setWaiting(r, ReasonRunContainerError, msg)
		r.lastState, r.lastCode, r.lastEnd = InstanceExited, exitCodeStartError, now
		if e := w.backoffEntry("container/" + c.Name); e != nil {
			w.wakeAt(now.Add(e.Delay))
		} else {
			w.wakeAt(now.Add(RestartBackoff.Initial))
		}
	}
	listeners, err := bindListeners(c, w.podIP)
	if err != nil {
		startErr(err)
		return
	}
	cfg.Listeners = listeners
	instCtx, cancel := context.WithCancel(h.workloads)
	inst, err := h.rt.Start(instCtx, img.Module, cfg)
	if err != nil {
		cancel()
		startErr(err)
		return
	}
	exitIfTestPoison(image)
	startedAt := h.clock.Now()
	r.inst, r.cancel, r.id, r.log = inst, cancel, id, clog
	r.spec = containerSpec(c)
	r.status.ContainerID = containerIDPrefix + id
	r.status.State = api.ContainerState{Running: &api.ContainerStateRunning{StartedAt: api.NewTime(startedAt)}}
	r.lastState = InstanceRunning
	r.stopping = false
	h.recorder.Eventf(pod, events.Normal, "Started", "Started container %s", c.Name)
	w.liveMu.Lock()
	w.live[c.Name+"/"+id] = clog
	w.liveMu.Unlock()

	w.instWG.Add(1)
	go func() {
		defer w.instWG.Done()
		<-inst.Done()
		st := inst.Wait()
		// The process outlived the instance: whatever ends the node later,
		// this instance did not.
		w.journalEnd(c.Name, id)
		stdout.Close()
		stderr.Close()
		clog.Close()
		cancel()
		w.liveMu.Lock()
		delete(w.live, c.Name+"/"+id)
		w.liveMu.Unlock()
		w.mu.Lock()
		w.exits = append(w.exits, instanceExit{
			container: c.Name, id: id, code: int32(st.Code), oom: st.OOMKilled, killed: st.Killed,
			message: st.Message, at: w.h.clock.Now(),
		})
		w.mu.Unlock()
		w.kick()
	}()

	if err := h.probes.PostStart(ctx, pod, c.Name, id); err != nil {
		h.recorder.Eventf(pod, events.Warning, "FailedPostStartHook", "PostStartHook failed")
		stopAt := h.clock.Now()
		w.stopContainer(pod, r, "FailedPostStartHook", stopAt, KillDeadline(pod, stopAt, EffectiveGracePeriod(pod, nil)), false)
		return
	}
	r.started, r.ready = h.probes.ContainerStarted(pod, c.Name, id)
}

// journalEnd removes the run record of an instance that ended.
func (w *podWorker) journalEnd(container, id string) {
	if err := journalEnd(w.dir, container, id); err != nil {
		w.h.log.Warn("removing a run record", "pod", w.ns+"/"+w.name, "container", container, "err", err)
	}
}

// stopContainer sends SIGTERM to a running instance (after its preStop
// hook when hook is set) and kills it at deadline. message is the Killing
// event's text ("": "Stopping container <name>").
func (w *podWorker) stopContainer(pod *api.Pod, r *containerRecord, message string, now, deadline time.Time, hook bool) {
	h := w.h
	pod = w.withNetwork(pod)
	if message == "" {
		message = "Stopping container " + r.name
	}
	if !r.stopping {
		h.recorder.Eventf(pod, events.Normal, "Killing", "%s", message)
	}
	r.stopping = true
	r.killAt = deadline
	inst, id := r.inst, r.id
	// The kill is armed first, on the absolute deadline: whatever the hook
	// and the guest do, the instance ends then.
	if r.killTimer != nil {
		r.killTimer.Stop()
	}
	r.killTimer = h.clock.AfterFunc(deadline.Sub(h.clock.Now()), func() {
		select {
		case <-inst.Done():
		default:
			inst.Kill()
		}
	})
	if !hook {
		inst.Terminate()
		return
	}
	hookCtx, cancel := context.WithCancel(h.workloads)
	hookTimer := h.clock.AfterFunc(deadline.Sub(h.clock.Now()), cancel)
	// The hook runs beside the worker; SIGTERM follows it.
	go func() {
		defer cancel()
		h.probes.PreStop(hookCtx, pod, r.name, id)
		hookTimer.Stop()
		inst.Terminate()
	}()
}

// cleanup releases what the pod held on the node.
func (w *podWorker) cleanup() {
	w.h.ips.Release(w.uid)
	w.h.volumes.forget(w.uid)
	if err := os.RemoveAll(w.dir); err != nil {
		w.h.log.Warn("removing pod directory", "dir", w.dir, "err", err)
	}
}

// buildStatus is the pod status from the worker's records.
func (w *podWorker) buildStatus(pod *api.Pod, podIsTerminal bool) api.PodStatus {
	now := w.h.clock.Now()
	// The class was set when the pod was created and never changes; a pod
	// stored before it was set gets it now.
	st := api.PodStatus{QOSClass: api.GetPodQOS(pod)}
	st.InitContainerStatuses = w.initStatuses(pod)
	for _, c := range pod.Spec.Containers {
		r := w.containers[c.Name]
		if r == nil {
			r = w.record(&c)
		}
		cs := clone(r.status)
		if r.inst != nil {
			cs.Started = boolPtr(r.started)
			cs.Ready = r.started && r.ready // a terminating container stays ready until it stops, as on a cluster
		} else {
			cs.Started = boolPtr(false)
			cs.Ready = false
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	phase := getPhase(&pod.Spec, st.InitContainerStatuses, st.ContainerStatuses, podIsTerminal, w.appStarted(pod))
	if old := pod.Status.Phase; old == api.PodSucceeded || old == api.PodFailed {
		phase = old // terminal phases are sticky
	}
	st.Phase = phase
	if phase == api.PodSucceeded || phase == api.PodFailed {
		// A terminal pod has no waiting containers: one that will not run
		// again is terminated, as the kubelet reports it: as its last
		// attempt ended (a start error of a Never pod keeps its reason and
		// message), or as unknown when it never ran.
		for _, list := range [][]api.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses} {
			for i := range list {
				cs := &list[i]
				if cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil {
					cs.State, cs.LastTerminationState = cs.LastTerminationState, api.ContainerState{}
				}
				if cs.State.Waiting != nil {
					cs.State = api.ContainerState{Terminated: &api.ContainerStateTerminated{
						ExitCode: exitCodeKilled,
						Reason:   ReasonContainerStatusUnknown,
						Message:  messageStatusUnknownTerminal,
					}}
				}
			}
		}
	}
	if w.startTime.IsZero() {
		w.startTime = now
	}
	st.StartTime = api.NewTimePtr(w.startTime)
	st.HostIP = nodeIP
	st.HostIPs = []api.HostIP{{IP: nodeIP}}
	if w.podIP != "" {
		st.PodIP = w.podIP
		st.PodIPs = []api.PodIP{{IP: w.podIP}}
	}
	condPod := pod
	if w.conditions != nil {
		cp := *pod
		cp.Status.Conditions = w.conditions
		condPod = &cp
	}
	st.Conditions = podConditions(condPod, phase, append(slices.Clone(st.InitContainerStatuses), st.ContainerStatuses...), w.podIP != "" && !podIsTerminal, now)
	return st
}

// writeStatus writes the pod's status and the worker's annotation when
// they changed.
func (w *podWorker) writeStatus(ctx context.Context, pod *api.Pod, podIsTerminal bool) {
	st := w.buildStatus(pod, podIsTerminal)
	backoff := ""
	if len(w.backoff) > 0 {
		b, _ := json.Marshal(w.backoff)
		backoff = string(b)
	}
	dropShutdown := w.wasShutdown
	want, _ := json.Marshal(struct {
		S api.PodStatus
		B string
		D bool
	}{st, backoff, dropShutdown})
	stored, _ := json.Marshal(struct {
		S api.PodStatus
		B string
		D bool
	}{pod.Status, pod.Annotations[AnnotationBackoff], pod.Annotations[AnnotationNodeShutdown] != ""})
	if bytes.Equal(want, stored) || bytes.Equal(want, w.lastWritten) {
		w.dropStaleRuns()
		return
	}
	_, err := w.h.st.GuaranteedUpdate(ctx, podsResource(), w.ns, w.name, func(o api.Object) (api.Object, error) {
		p, ok := o.(*api.Pod)
		if !ok || p.UID != w.uid {
			return nil, errPodReplaced
		}
		p.Status = clone(st)
		if backoff != "" {
			if p.Annotations == nil {
				p.Annotations = map[string]string{}
			}
			p.Annotations[AnnotationBackoff] = backoff
		} else {
			delete(p.Annotations, AnnotationBackoff)
		}
		if dropShutdown {
			delete(p.Annotations, AnnotationNodeShutdown)
		}
		return p, nil
	})
	switch {
	case err == nil:
		w.lastWritten = want
		w.conditions = st.Conditions
		w.wasShutdown = false
		w.dropStaleRuns()
	case errors.Is(err, errPodReplaced), api.IsNotFound(err):
	default:
		if ctx.Err() == nil {
			w.h.log.Error("writing pod status", "pod", w.ns+"/"+w.name, "err", err)
			w.wakeAt(w.h.clock.Now().Add(10 * time.Second))
		}
	}
}

// containerSpec is the identity of a container's definition (the
// kubelet's container hash).
func containerSpec(c *api.Container) string {
	b, _ := json.Marshal(c)
	return string(b)
}

// clone deep-copies an API value through its JSON form, the form the store
// keeps.
func clone[T any](v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("host: cloning %T: %v", v, err))
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("host: cloning %T: %v", v, err))
	}
	return out
}
