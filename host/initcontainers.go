package host

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// Init containers run as the kubelet runs them (k8s-semantics.md sections
// 1.2 to 1.4, 6.1): one after the other, each to a successful end, before
// any container starts. A failed one is started again under the pod's
// restart policy, with the containers' crash-loop back-off; under Never the
// pod fails. Their records are the containers' records (names are unique
// across both lists), kept in the store's initContainerStatuses: a node
// that starts again does not run again one that completed, nor any once a
// container has run.
//
// A sidecar (an init container with restartPolicy Always) is done once it
// has started (its startup probe passed, if it has one); it keeps running
// beside the containers, is restarted whatever the pod's policy, and is
// stopped after the containers, last one first, when the pod is deleted,
// when the node shuts down, or when the containers have ended for good.

// ReasonPodInitializing is the waiting reason of the containers of a pod
// with init containers until they run, and of init containers that have
// not run yet.
const ReasonPodInitializing = "PodInitializing"

// isSidecar reports whether an init container keeps running beside the
// containers (restartPolicy: Always).
func isSidecar(c *api.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == api.ContainerRestartPolicyAlways
}

// sidecarNamed reports whether the pod's container name is a sidecar.
func sidecarNamed(pod *api.Pod, name string) bool {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return isSidecar(&pod.Spec.InitContainers[i])
		}
	}
	return false
}

// sidecars returns the pod's sidecar init containers, in order.
func sidecars(pod *api.Pod) []api.Container {
	var out []api.Container
	for _, c := range pod.Spec.InitContainers {
		if isSidecar(&c) {
			out = append(out, c)
		}
	}
	return out
}

// allContainers returns the pod's init containers, then its containers.
func allContainers(pod *api.Pod) []api.Container {
	out := make([]api.Container, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	return append(append(out, pod.Spec.InitContainers...), pod.Spec.Containers...)
}

// storedStatus is the stored status of the container or init container
// name.
func storedStatus(pod *api.Pod, name string) *api.ContainerStatus {
	if cs := findStatus(pod.Status.InitContainerStatuses, name); cs != nil {
		return cs
	}
	return findStatus(pod.Status.ContainerStatuses, name)
}

// initRecords makes the records not restored from the store of a pod with
// init containers: every container waits with reason PodInitializing
// until it runs, as the kubelet shows them.
func (w *podWorker) initRecords(pod *api.Pod) {
	if len(pod.Spec.InitContainers) == 0 {
		return
	}
	for _, c := range allContainers(pod) {
		if w.containers[c.Name] == nil {
			r := w.record(&c)
			r.status.State.Waiting.Reason = ReasonPodInitializing
		}
	}
}

// appStarted reports whether a container of the pod has had an instance:
// the pod has initialized, and its regular init containers never run
// again.
func (w *podWorker) appStarted(pod *api.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if r := w.containers[c.Name]; r != nil && r.lastState != InstanceNone {
			return true
		}
	}
	return false
}

// initCompleted reports whether a regular init container's newest run
// ended with exit code 0 by itself (not stopped by a node shutdown, after
// which it runs again).
func initCompleted(r *containerRecord) bool {
	return r.inst == nil && r.lastState == InstanceExited && r.lastCode == 0 && !r.stoppedByNode
}

// appsDone reports whether every container of the pod has ended and will
// not run again: its sidecars are stopped and not restarted.
func (w *podWorker) appsDone(pod *api.Pod) bool {
	for _, c := range pod.Spec.Containers {
		r := w.containers[c.Name]
		if r == nil || r.inst != nil || r.lastState != InstanceExited || r.forceRestart ||
			ShouldContainerBeRestarted(pod, r.lastState, r.lastCode) {
			return false
		}
	}
	return true
}

// initFailed reports whether a regular init container failed and will not
// run again (restartPolicy Never): the pod fails.
func (w *podWorker) initFailed(pod *api.Pod) bool {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := w.containers[c.Name]
		if !isSidecar(c) && r != nil && r.inst == nil && r.lastState == InstanceExited && r.lastCode != 0 &&
			!r.forceRestart && !ShouldContainerBeRestarted(pod, r.lastState, r.lastCode) {
			return true
		}
	}
	return false
}

// syncInitContainers starts, restarts and stops the init containers, and
// reports whether the containers may run: every regular init container
// completed and every sidecar started, now or before.
func (w *podWorker) syncInitContainers(ctx context.Context, pod *api.Pod, now time.Time) bool {
	if len(pod.Spec.InitContainers) == 0 {
		return true
	}
	initialized := w.appStarted(pod)
	if w.appsDone(pod) || !initialized && w.initFailed(pod) {
		w.stopSidecars(pod, now, KillDeadline(pod, now, EffectiveGracePeriod(pod, nil)))
		return false
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := w.record(c)
		if !isSidecar(c) {
			if initialized || initCompleted(r) {
				continue
			}
			w.syncContainer(ctx, pod, c, r, true, now)
			return false
		}
		// Restarted whatever the pod's restart policy.
		w.syncContainer(ctx, pod, c, r, true, now)
		if !initialized && (r.inst == nil || r.stopping || !r.started) {
			return false
		}
	}
	return true
}

// stopInitContainers stops, for the pod's deletion or the node's shutdown,
// its running regular init containers at once, and its sidecars once the
// containers stopped; each is killed at deadline.
func (w *podWorker) stopInitContainers(pod *api.Pod, now, deadline time.Time) {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if r := w.containers[c.Name]; r != nil && !isSidecar(c) && r.inst != nil && !r.stopping {
			w.stopContainer(pod, r, "", now, deadline, true)
		}
	}
	for _, c := range pod.Spec.Containers {
		if r := w.containers[c.Name]; r != nil && r.inst != nil {
			return
		}
	}
	w.stopSidecars(pod, now, deadline)
}

// stopSidecars stops the running sidecars in the reverse of their order,
// each once the ones after it have stopped, as the kubelet does; each is
// killed at deadline.
func (w *podWorker) stopSidecars(pod *api.Pod, now, deadline time.Time) {
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		c := &pod.Spec.InitContainers[i]
		r := w.containers[c.Name]
		if !isSidecar(c) || r == nil || r.inst == nil {
			continue
		}
		if !r.stopping {
			w.stopContainer(pod, r, "", now, deadline, true)
		}
		return
	}
}

// initStatuses are the init containers' statuses from the worker's
// records. A regular init container is ready once it completed; a sidecar
// is started and ready as a container is.
func (w *podWorker) initStatuses(pod *api.Pod) []api.ContainerStatus {
	var out []api.ContainerStatus
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := w.record(c)
		cs := clone(r.status)
		switch {
		case r.inst != nil && isSidecar(c):
			cs.Started = boolPtr(r.started)
			cs.Ready = r.started && r.ready
		case r.inst != nil:
			cs.Started = boolPtr(true)
			cs.Ready = false
		default:
			cs.Started = boolPtr(false)
			t := cs.State.Terminated
			cs.Ready = !isSidecar(c) && t != nil && t.ExitCode == 0
		}
		out = append(out, cs)
	}
	return out
}

// countInit counts the init containers' statuses as the kubelet's getPhase
// does: regular ones still to complete and failed ones, sidecars not
// started yet; sidecars also count in the containers' unknown, running
// and waiting.
func countInit(spec *api.PodSpec, statuses []api.ContainerStatus, unknown, running, waiting *int) (pendingInit, failedInit, pendingSidecar int) {
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		st := findStatus(statuses, c.Name)
		if !isSidecar(c) {
			switch {
			case st == nil, st.State.Running != nil:
				pendingInit++
			case st.State.Terminated != nil:
				if st.State.Terminated.ExitCode != 0 {
					failedInit++
				}
			case st.LastTerminationState.Terminated != nil && st.LastTerminationState.Terminated.ExitCode != 0:
				failedInit++
			default:
				pendingInit++
			}
			continue
		}
		switch {
		case st == nil:
			*unknown++
		case st.State.Running != nil:
			if st.Started == nil || !*st.Started {
				pendingSidecar++
			}
			*running++
		case st.State.Terminated != nil, st.LastTerminationState.Terminated != nil:
		default:
			pendingSidecar++
			*waiting++
		}
	}
	return pendingInit, failedInit, pendingSidecar
}

// initializedCondition is the status, reason and message of the pod's
// Initialized condition (the kubelet's GeneratePodInitializedCondition):
// true once every regular init container completed and every sidecar
// started, or once a container has run. statuses are those of the init
// containers and the containers.
func initializedCondition(pod *api.Pod, phase api.PodPhase, statuses []api.ContainerStatus) (bool, string, string) {
	var unknown, incomplete []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		st := findStatus(statuses, c.Name)
		switch {
		case st == nil:
			unknown = append(unknown, c.Name)
		case isSidecar(c) && (st.Started == nil || !*st.Started):
			incomplete = append(incomplete, c.Name)
		case !isSidecar(c) && !st.Ready:
			incomplete = append(incomplete, c.Name)
		}
	}
	if phase == api.PodSucceeded && len(unknown) == 0 {
		return true, "PodCompleted", ""
	}
	for _, c := range pod.Spec.Containers {
		// A container has started: it runs, or ended after it ran (a
		// terminal pod's container that never ran has no ID).
		if st := findStatus(statuses, c.Name); st != nil && (st.State.Running != nil || st.State.Terminated != nil && st.ContainerID != "") {
			return true, "", ""
		}
	}
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unknown status: %s", nameList(unknown)))
	}
	if len(incomplete) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with incomplete status: %s", nameList(incomplete)))
	}
	if len(msgs) > 0 {
		return false, "ContainersNotInitialized", strings.Join(msgs, ", ")
	}
	return true, "", ""
}
