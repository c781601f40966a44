package host

import (
	"fmt"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// Reasons and messages the kubelet and the runtime put in container
// statuses (k8s-semantics.md sections 1.3 and 2).
const (
	ReasonContainerCreating      = "ContainerCreating"
	ReasonCrashLoopBackOff       = "CrashLoopBackOff"
	ReasonErrImagePull           = "ErrImagePull"
	ReasonImagePullBackOff       = "ImagePullBackOff"
	ReasonRunContainerError      = "RunContainerError"
	ReasonCompleted              = "Completed"
	ReasonError                  = "Error"
	ReasonOOMKilled              = "OOMKilled"
	ReasonStartError             = "StartError"
	ReasonContainerStatusUnknown = "ContainerStatusUnknown"
	// ReasonUnknown: the container's instance was alive when the node's
	// process died (the reason the kubelet shows for a container its
	// runtime lost in a node restart).
	ReasonUnknown = "Unknown"

	// exitCodeStartError is containerd's exit code for a container that
	// could not start.
	exitCodeStartError = 128
	// exitCodeKilled is 128+SIGKILL.
	exitCodeKilled = 137
	// exitCodeNodeCrash is the exit code of a container that died with its
	// node: its real end is unknown (containerd's 255 after a node restart).
	exitCodeNodeCrash = 255

	messageStatusUnknown = "The container could not be located when the pod was deleted.  The container used to be Running"
	// messageStatusUnknownTerminal is the state of a container of a terminal
	// pod that never ran (again).
	messageStatusUnknownTerminal = "The container could not be located when the pod was terminated"
	// messageNodeCrash is the message of a container that died with its
	// node.
	messageNodeCrash = "The node stopped without shutting down (killed, out of memory or crashed) while the container was running"
	// messageShutdownUnrecorded is the message of a container that a
	// graceful node shutdown stopped without its exit being recorded.
	messageShutdownUnrecorded = "The node stopped the container when it shut down; its exit was not recorded"
)

// isNodeCrash reports whether a terminated state is that of a container
// that died with its node.
func isNodeCrash(t *api.ContainerStateTerminated) bool {
	return t != nil && t.Reason == ReasonUnknown && t.ExitCode == exitCodeNodeCrash && t.Message == messageNodeCrash
}

// Grace periods (k8s-semantics.md section 4).
const (
	defaultTerminationGracePeriod = 30 * time.Second
	// minimumGracePeriod is killContainer's floor: a stop signal is always
	// followed by at least this much time before the kill.
	minimumGracePeriod = 2 * time.Second
)

// GetPhase is the kubelet's getPhase for a pod without init containers:
// the pod phase from its containers' statuses. podIsTerminal is set while
// the pod is being deleted and every container has stopped.
func GetPhase(spec *api.PodSpec, statuses []api.ContainerStatus, podIsTerminal bool) api.PodPhase {
	return getPhase(spec, nil, statuses, podIsTerminal, true)
}

// getPhase is the kubelet's getPhase: the pod phase from the statuses of
// its init containers and containers. podHasInitialized: an app container
// has run.
func getPhase(spec *api.PodSpec, initStatuses, statuses []api.ContainerStatus, podIsTerminal, podHasInitialized bool) api.PodPhase {
	var unknown, running, waiting, stopped, succeeded int
	pendingInit, failedInit, pendingSidecar := countInit(spec, initStatuses, &unknown, &running, &waiting)
	for _, c := range spec.Containers {
		st := findStatus(statuses, c.Name)
		switch {
		case st == nil:
			unknown++
		case st.State.Running != nil:
			running++
		case st.State.Terminated != nil:
			stopped++
			if st.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case st.State.Waiting != nil:
			if st.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	if failedInit > 0 && restartPolicy(spec) == api.RestartPolicyNever {
		return api.PodFailed
	}
	switch {
	case pendingInit > 0, pendingSidecar > 0 && !podHasInitialized:
		return api.PodPending
	case waiting > 0:
		return api.PodPending
	case running > 0 && unknown == 0:
		return api.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if podIsTerminal {
			if stopped == succeeded {
				return api.PodSucceeded
			}
			return api.PodFailed
		}
		if restartPolicy(spec) == api.RestartPolicyAlways {
			return api.PodRunning
		}
		if stopped == succeeded {
			return api.PodSucceeded
		}
		if restartPolicy(spec) == api.RestartPolicyNever {
			return api.PodFailed
		}
		return api.PodRunning
	default:
		return api.PodPending
	}
}

func restartPolicy(spec *api.PodSpec) api.RestartPolicy {
	if spec.RestartPolicy == "" {
		return api.RestartPolicyAlways
	}
	return spec.RestartPolicy
}

func findStatus(statuses []api.ContainerStatus, name string) *api.ContainerStatus {
	for i := range statuses {
		if statuses[i].Name == name {
			return &statuses[i]
		}
	}
	return nil
}

// InstanceState is what the runtime knows of a container's newest
// instance, the kubelet's view in ShouldContainerBeRestarted.
type InstanceState int

const (
	// InstanceNone: the container never had an instance (on this node's
	// record).
	InstanceNone InstanceState = iota
	InstanceRunning
	// InstanceExited: it ended (a container that died with its node is
	// one, with exit code 255).
	InstanceExited
)

// ShouldContainerBeRestarted is the kubelet's rule: whether a container
// whose newest instance is in state (with exitCode when it exited) must be
// started again.
func ShouldContainerBeRestarted(pod *api.Pod, state InstanceState, exitCode int32) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	switch state {
	case InstanceNone:
		return true
	case InstanceRunning:
		return false
	}
	switch restartPolicy(&pod.Spec) {
	case api.RestartPolicyNever:
		return false
	case api.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// terminatedReason is the runtime's reason for an exit.
func terminatedReason(code int32, oom bool) string {
	switch {
	case oom:
		return ReasonOOMKilled
	case code == 0:
		return ReasonCompleted
	default:
		return ReasonError
	}
}

// EffectiveGracePeriod is the grace period a pod's containers get when they
// are stopped: the deletion's grace if the pod is being deleted, else the
// override (a probe's, the node's shutdown cap) or the spec's, never below
// the kubelet's floor of 2 s between the stop signal and the kill.
func EffectiveGracePeriod(pod *api.Pod, override *int64) time.Duration {
	var g time.Duration
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		g = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case override != nil:
		g = time.Duration(*override) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		g = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	default:
		g = defaultTerminationGracePeriod
	}
	return max(g, minimumGracePeriod)
}

// KillDeadline is when a container sent SIGTERM at stopAt is killed: at the
// pod's deletionTimestamp (stored, so that a restarted node keeps it) when
// the pod is being deleted, else grace after stopAt; never sooner than the
// minimum grace period after stopAt.
func KillDeadline(pod *api.Pod, stopAt time.Time, grace time.Duration) time.Time {
	d := stopAt.Add(grace)
	if pod.DeletionTimestamp != nil {
		d = pod.DeletionTimestamp.Time
	}
	if floor := stopAt.Add(minimumGracePeriod); d.Before(floor) {
		d = floor
	}
	return d
}

// podConditions generates the kubelet-owned conditions in the kubelet's
// order (PodReadyToStartContainers, Initialized, Ready, ContainersReady,
// PodScheduled), keeping lastTransitionTime of conditions whose status did
// not change. statuses are those of the init containers and the
// containers.
func podConditions(pod *api.Pod, phase api.PodPhase, statuses []api.ContainerStatus, sandboxReady bool, now time.Time) []api.PodCondition {
	old := pod.Status.Conditions
	cond := func(t api.PodConditionType, ok bool, reason, message string) api.PodCondition {
		s := api.ConditionFalse
		if ok {
			s = api.ConditionTrue
		}
		c := api.PodCondition{Type: t, Status: s, Reason: reason, Message: message, LastTransitionTime: api.NewTime(now)}
		for _, o := range old {
			if o.Type == t && o.Status == s {
				c.LastTransitionTime = o.LastTransitionTime
				c.LastProbeTime = o.LastProbeTime
			}
		}
		return c
	}

	var conds []api.PodCondition
	conds = append(conds, cond(api.PodReadyToStartContainers, sandboxReady, "", ""))
	initialized, reason, message := initializedCondition(pod, phase, statuses)
	conds = append(conds, cond(api.PodInitialized, initialized, reason, message))

	var unready, unknown []string
	for _, c := range append(sidecars(pod), pod.Spec.Containers...) {
		st := findStatus(statuses, c.Name)
		switch {
		case st == nil:
			unknown = append(unknown, c.Name)
		case !st.Ready:
			unready = append(unready, c.Name)
		}
	}
	var ready api.PodCondition
	switch {
	case phase == api.PodSucceeded:
		ready = cond(api.ContainersReady, false, "PodCompleted", "")
	case phase == api.PodFailed:
		ready = cond(api.ContainersReady, false, "PodFailed", "")
	case len(unready) > 0 || len(unknown) > 0:
		var msgs []string
		if len(unknown) > 0 {
			msgs = append(msgs, fmt.Sprintf("containers with unknown status: %s", nameList(unknown)))
		}
		if len(unready) > 0 {
			msgs = append(msgs, fmt.Sprintf("containers with unready status: %s", nameList(unready)))
		}
		ready = cond(api.ContainersReady, false, "ContainersNotReady", strings.Join(msgs, ", "))
	default:
		ready = cond(api.ContainersReady, true, "", "")
	}
	podReady := cond(api.PodReady, ready.Status == api.ConditionTrue, ready.Reason, ready.Message)
	conds = append(conds, podReady, ready)

	scheduled := cond(api.PodScheduled, true, "", "")
	conds = append(conds, scheduled)
	return conds
}

// nameList formats names as Go prints a []string, in spec order: [a b].
func nameList(names []string) string {
	return "[" + strings.Join(names, " ") + "]"
}
