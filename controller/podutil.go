package controller

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// podDeletionCostAnnotation lowers (or raises) a pod's place in the
// scale-down order; it is an int32, 0 when absent or malformed.
const podDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// isPodActive: not Succeeded, not Failed, not being deleted.
func isPodActive(p *api.Pod) bool {
	return p.Status.Phase != api.PodSucceeded && p.Status.Phase != api.PodFailed && p.DeletionTimestamp == nil
}

// podReadyCondition returns the pod's Ready condition, or nil.
func podReadyCondition(p *api.Pod) *api.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == api.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func isPodReady(p *api.Pod) bool {
	c := podReadyCondition(p)
	return c != nil && c.Status == api.ConditionTrue
}

// isPodAvailable: Ready, and Ready for at least minReadySeconds.
func isPodAvailable(p *api.Pod, minReadySeconds int32, now time.Time) bool {
	c := podReadyCondition(p)
	if c == nil || c.Status != api.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	min := time.Duration(minReadySeconds) * time.Second
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(min).Before(now)
}

func podDeletionCost(p *api.Pod) int32 {
	v, ok := p.Annotations[podDeletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

var podPhaseOrdinal = map[api.PodPhase]int{api.PodPending: 0, api.PodUnknown: 1, api.PodRunning: 2}

// rankedPod is a pod with its rank: the number of active pods of the same
// owner on its node.
type rankedPod struct {
	pod  *api.Pod
	rank int
}

// podDeletedFirst is Kubernetes' ActivePodsWithRanks order with
// LogarithmicScaleDown (locked on): it reports whether a should be deleted
// before b. The first rule that tells them apart decides:
//  1. not yet on a node before on a node;
//  2. Pending before Unknown before Running;
//  3. not Ready before Ready;
//  4. lower pod-deletion-cost first;
//  5. higher rank (more pods of the owner on its node) first;
//  6. both Ready: Ready for less time first, in buckets of log2(ns);
//  7. more container restarts first;
//  8. newer first, in buckets of log2(ns);
//
// where times in the same bucket are ordered by UID, and a zero time counts
// as the newest.
func podDeletedFirst(a, b rankedPod, now time.Time) bool {
	pa, pb := a.pod, b.pod
	if pa.Spec.NodeName != pb.Spec.NodeName && (pa.Spec.NodeName == "" || pb.Spec.NodeName == "") {
		return pa.Spec.NodeName == ""
	}
	if oa, ob := podPhaseOrdinal[pa.Status.Phase], podPhaseOrdinal[pb.Status.Phase]; oa != ob {
		return oa < ob
	}
	if ra, rb := isPodReady(pa), isPodReady(pb); ra != rb {
		return !ra
	}
	if ca, cb := podDeletionCost(pa), podDeletionCost(pb); ca != cb {
		return ca < cb
	}
	if a.rank != b.rank {
		return a.rank > b.rank
	}
	if isPodReady(pa) && isPodReady(pb) {
		ta, tb := api.PodReadyTime(pa), api.PodReadyTime(pb)
		if !ta.Equal(tb) {
			return newerFirst(ta, tb, pa.UID, pb.UID, now)
		}
	}
	if ra, rb := api.MaxContainerRestarts(pa), api.MaxContainerRestarts(pb); ra != rb {
		return ra > rb
	}
	ta, tb := pa.CreationTimestamp.Time, pb.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return newerFirst(ta, tb, pa.UID, pb.UID, now)
	}
	return false
}

// newerFirst orders two different times: zero first, then by the log2 of
// their age in nanoseconds, then by UID.
func newerFirst(ta, tb time.Time, uidA, uidB string, now time.Time) bool {
	if now.IsZero() || ta.IsZero() || tb.IsZero() {
		if ta.IsZero() || tb.IsZero() {
			return ta.IsZero()
		}
		return ta.After(tb)
	}
	if d := logBucket(now.Sub(ta)) - logBucket(now.Sub(tb)); d != 0 {
		return d < 0
	}
	return uidA < uidB
}

func logBucket(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return int64(math.Log2(float64(d)))
}

// podsToDelete picks the n pods to delete first from pods, ranking each by
// the active pods of related on its node.
func podsToDelete(pods, related []*api.Pod, n int, now time.Time) []*api.Pod {
	if n >= len(pods) {
		return pods
	}
	onNode := map[string]int{}
	for _, p := range related {
		if isPodActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	ranked := make([]rankedPod, len(pods))
	for i, p := range pods {
		ranked[i] = rankedPod{pod: p, rank: onNode[p.Spec.NodeName]}
	}
	sort.SliceStable(ranked, func(i, j int) bool { return podDeletedFirst(ranked[i], ranked[j], now) })
	out := make([]*api.Pod, n)
	for i := range out {
		out[i] = ranked[i].pod
	}
	return out
}
