package host

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// Logs writes a container's log to w: the pod's log subresource. Its errors
// are *api.Status values with the kubelet's texts (a container that is
// waiting to start, no previous instance, ...).
func (h *Host) Logs(ctx context.Context, namespace, podName string, opts LogOptions, w io.Writer) error {
	o, err := h.st.Get(ctx, podsResource(), namespace, podName)
	if err != nil {
		return err
	}
	pod, ok := o.(*api.Pod)
	if !ok {
		return api.NewInternalError(fmt.Errorf("pods/%s is not a Pod", podName))
	}
	name := opts.Container
	if name == "" {
		if len(pod.Spec.Containers) != 1 {
			names := make([]string, len(pod.Spec.Containers))
			for i, c := range pod.Spec.Containers {
				names[i] = c.Name
			}
			return api.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", podName, strings.Join(names, " ")))
		}
		name = pod.Spec.Containers[0].Name
	}
	found := false
	for _, c := range allContainers(pod) {
		if c.Name == name {
			found = true
		}
	}
	if !found {
		return api.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, podName))
	}
	cs := storedStatus(pod, name)
	instanceNum, containerID, err := logInstance(cs, name, podName, opts.Previous)
	if err != nil {
		return api.NewBadRequest(err.Error())
	}
	path := instanceLogName(pod.UID, name, instanceNum)
	var live *containerLog
	if opts.Follow {
		if wk := h.worker(pod.UID); wk != nil {
			live = wk.liveLog(name, strings.TrimPrefix(containerID, containerIDPrefix))
		}
	}
	return readLog(ctx, h.podsDir, path, opts, h.clock.Now(), live, w)
}

// logInstance picks the instance whose log is read, by the kubelet's rules
// (validateContainerLogStatus): its number (the restartCount it ran with)
// and container ID.
func logInstance(cs *api.ContainerStatus, container, pod string, previous bool) (int32, string, error) {
	if cs == nil {
		return 0, "", fmt.Errorf("container %q in pod %q is waiting to start - no logs yet", container, pod)
	}
	state, last := cs.State, cs.LastTerminationState
	// The newest instance ran with restartCount; while a container waits
	// to run again, lastState is that newest instance.
	switch {
	case previous:
		if last.Terminated == nil || last.Terminated.ContainerID == "" {
			return 0, "", fmt.Errorf("previous terminated container %q in pod %q not found", container, pod)
		}
		if state.Waiting != nil {
			return waitingInstance(cs), last.Terminated.ContainerID, nil
		}
		return cs.RestartCount - 1, last.Terminated.ContainerID, nil
	case state.Running != nil:
		return cs.RestartCount, cs.ContainerID, nil
	case state.Terminated != nil:
		if state.Terminated.ContainerID == "" {
			if last.Terminated != nil && last.Terminated.ContainerID != "" {
				return cs.RestartCount - 1, last.Terminated.ContainerID, nil
			}
			return 0, "", fmt.Errorf("container %q in pod %q is terminated", container, pod)
		}
		return cs.RestartCount, state.Terminated.ContainerID, nil
	case last.Terminated != nil:
		if last.Terminated.ContainerID == "" {
			return 0, "", fmt.Errorf("container %q in pod %q is terminated", container, pod)
		}
		return waitingInstance(cs), last.Terminated.ContainerID, nil
	case state.Waiting != nil:
		switch reason := state.Waiting.Reason; reason {
		case ReasonErrImagePull:
			return 0, "", fmt.Errorf("container %q in pod %q is waiting to start: image can't be pulled", container, pod)
		case ReasonImagePullBackOff:
			return 0, "", fmt.Errorf("container %q in pod %q is waiting to start: trying and failing to pull image", container, pod)
		default:
			return 0, "", fmt.Errorf("container %q in pod %q is waiting to start: %v", container, pod, reason)
		}
	}
	return 0, "", fmt.Errorf("container %q in pod %q is waiting to start - no logs yet", container, pod)
}

// waitingInstance is the number of the newest instance of a container that
// waits to run again: its restartCount, less the restart already counted
// for a container lost with its node.
func waitingInstance(cs *api.ContainerStatus) int32 {
	if isNodeCrash(cs.LastTerminationState.Terminated) && cs.RestartCount > 0 {
		return cs.RestartCount - 1
	}
	return cs.RestartCount
}

// liveLog returns the open log of the running instance id of a container.
// It is called from outside the worker's goroutine, hence the lock.
func (w *podWorker) liveLog(container, id string) *containerLog {
	w.liveMu.Lock()
	defer w.liveMu.Unlock()
	return w.live[container+"/"+id]
}
