package api

import "time"

// Facts about a pod that the controllers and the CLI both order pods by.

// PodReadyTime is when the pod last became Ready; zero when it is not
// Ready.
func PodReadyTime(p *Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == PodReady && c.Status == ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// MaxContainerRestarts is the highest restart count of the pod's
// containers.
func MaxContainerRestarts(p *Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n = max(n, s.RestartCount)
	}
	return n
}
