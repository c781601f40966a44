package table

import (
	"fmt"
	"strconv"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

type podPrinter struct{}

func (podPrinter) columns(wide bool) []string {
	c := []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}
	if wide {
		c = append(c, "IP", "NODE", "NOMINATED NODE", "READINESS GATES")
	}
	return c
}

func (podPrinter) row(obj api.Object, now time.Time, wide bool) []string {
	pod := obj.(*api.Pod)
	s := PodStatus(pod)
	restarts := strconv.Itoa(s.Restarts)
	if s.Restarts != 0 && !s.LastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.Restarts, HumanDuration(now.Sub(s.LastRestart)))
	}
	row := []string{pod.Name, fmt.Sprintf("%d/%d", s.Ready, s.Total), s.Status, restarts,
		age(pod.CreationTimestamp, now)}
	if wide {
		ip := pod.Status.PodIP
		if len(pod.Status.PodIPs) > 0 {
			ip = pod.Status.PodIPs[0].IP
		}
		row = append(row, orNone(ip), orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName),
			readinessGates(pod))
	}
	return row
}

// PodSummary is what the pod table shows of a pod's state.
type PodSummary struct {
	// Ready and Total are the READY column: ready containers of all app
	// containers and sidecars.
	Ready, Total int
	// Status is the STATUS column: the phase, or the reason that says more
	// (CrashLoopBackOff, Completed, Init:0/1, Terminating, ...).
	Status string
	// Restarts is the RESTARTS column; LastRestart is when the newest
	// counted container last ended (zero when unknown).
	Restarts    int
	LastRestart time.Time
}

// PodStatus computes the READY, STATUS and RESTARTS columns of a pod, by
// kubectl's rules: init containers first (the first unfinished one names
// the status), then the app containers, the first with a waiting or
// terminated reason winning; a pod being deleted is Terminating.
func PodStatus(pod *api.Pod) PodSummary {
	var s PodSummary
	s.Total = len(pod.Spec.Containers)
	s.Status = string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		s.Status = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == api.PodScheduled && c.Reason == "SchedulingGated" {
			s.Status = "SchedulingGated"
		}
	}

	sidecar := map[string]bool{}
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			sidecar[pod.Spec.InitContainers[i].Name] = true
			s.Total++
		}
	}

	// Restarts of init containers count while the pod initializes; after
	// that only sidecars' restarts count with the app containers'.
	var restarts, sidecarRestarts int
	var lastRestart, lastSidecarRestart time.Time
	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		restarts += int(cs.RestartCount)
		lastRestart = later(lastRestart, cs.LastTerminationState.Terminated)
		if sidecar[cs.Name] {
			sidecarRestarts += int(cs.RestartCount)
			lastSidecarRestart = later(lastSidecarRestart, cs.LastTerminationState.Terminated)
		}
		t, w := cs.State.Terminated, cs.State.Waiting
		switch {
		case t != nil && t.ExitCode == 0:
			continue
		case sidecar[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				s.Ready++
			}
			continue
		case t != nil:
			s.Status = "Init:" + terminatedReason(t)
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			s.Status = "Init:" + w.Reason
		default:
			s.Status = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || conditionTrue(pod, api.PodInitialized) {
		restarts, lastRestart = sidecarRestarts, lastSidecarRestart
		running := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			restarts += int(cs.RestartCount)
			lastRestart = later(lastRestart, cs.LastTerminationState.Terminated)
			t, w := cs.State.Terminated, cs.State.Waiting
			switch {
			case w != nil && w.Reason != "":
				s.Status = w.Reason
			case t != nil:
				s.Status = terminatedReason(t)
			case cs.Ready && cs.State.Running != nil:
				running = true
				s.Ready++
			}
		}
		if s.Status == "Completed" && running {
			if conditionTrue(pod, api.PodReady) {
				s.Status = "Running"
			} else {
				s.Status = "NotReady"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == "NodeLost":
			s.Status = "Unknown"
		case pod.Status.Phase != api.PodSucceeded && pod.Status.Phase != api.PodFailed:
			s.Status = "Terminating"
		}
	}
	s.Restarts, s.LastRestart = restarts, lastRestart
	return s
}

// terminatedReason is the reason of a terminated container, or
// `Signal:N` / `ExitCode:N` when it has none.
func terminatedReason(t *api.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	default:
		return fmt.Sprintf("ExitCode:%d", t.ExitCode)
	}
}

func later(t time.Time, term *api.ContainerStateTerminated) time.Time {
	if term != nil && term.FinishedAt.After(t) {
		return term.FinishedAt.Time
	}
	return t
}

func conditionTrue(pod *api.Pod, typ api.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == typ {
			return c.Status == api.ConditionTrue
		}
	}
	return false
}

// isSidecar reports whether an init container keeps running beside the app
// containers (restartPolicy: Always).
func isSidecar(c *api.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == api.ContainerRestartPolicyAlways
}

// readinessGates is `true/total` of the pod's readiness gates, or `<none>`.
func readinessGates(pod *api.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	n := 0
	for _, g := range pod.Spec.ReadinessGates {
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType {
				if c.Status == api.ConditionTrue {
					n++
				}
				break
			}
		}
	}
	return fmt.Sprintf("%d/%d", n, len(pod.Spec.ReadinessGates))
}
