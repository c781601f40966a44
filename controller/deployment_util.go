package controller

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// The annotations, labels and condition reasons of Kubernetes' deployment
// controller (pkg/controller/deployment/util).
const (
	// RevisionAnnotation is the rollout sequence number of a ReplicaSet,
	// and of the Deployment its newest ReplicaSet's.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists the earlier revisions a ReplicaSet
	// served, when an old template became current again.
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// DesiredReplicasAnnotation is the Deployment's spec.replicas when the
	// ReplicaSet was last scaled by it.
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	// MaxReplicasAnnotation is spec.replicas + maxSurge at that time.
	MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
	// PodTemplateHashLabel tells the pods of one ReplicaSet of a Deployment
	// from those of its others.
	PodTemplateHashLabel = "pod-template-hash"

	ReasonReplicaSetUpdated          = "ReplicaSetUpdated"
	ReasonReplicaSetCreateError      = "ReplicaSetCreateError"
	ReasonNewReplicaSetCreated       = "NewReplicaSetCreated"
	ReasonFoundNewReplicaSet         = "FoundNewReplicaSet"
	ReasonNewReplicaSetAvailable     = "NewReplicaSetAvailable"
	ReasonProgressDeadlineExceeded   = "ProgressDeadlineExceeded"
	ReasonDeploymentPaused           = "DeploymentPaused"
	ReasonDeploymentResumed          = "DeploymentResumed"
	ReasonMinimumReplicasAvailable   = "MinimumReplicasAvailable"
	ReasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable"
	// ReasonScalingReplicaSet is the event of every scale of a ReplicaSet.
	ReasonScalingReplicaSet = "ScalingReplicaSet"
	// ReasonSelectingAll is the event of a Deployment with an empty selector.
	ReasonSelectingAll = "SelectingAll"

	// maxRevisionHistoryChars bounds the revision-history annotation.
	maxRevisionHistoryChars = 2000
)

// annotationsNotCopied are the Deployment's annotations its ReplicaSets do
// not inherit.
var annotationsNotCopied = map[string]bool{
	"kubectl.kubernetes.io/last-applied-configuration": true,
	RevisionAnnotation:        true,
	RevisionHistoryAnnotation: true,
	DesiredReplicasAnnotation: true,
	MaxReplicasAnnotation:     true,
	"deployment.kubernetes.io/error-selector-overlapping-with": true,
	"deployment.kubernetes.io/selector-updated-at":             true,
}

// safeEncodeAlphabet is Kubernetes' alphabet for generated names: no
// vowels, nor 0, 1 and 3, so that a name spells no word.
const safeEncodeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// ComputeHash is the pod-template-hash of a template: FNV-32a of the
// template, then of collisionCount as 8 little-endian bytes when set, its
// decimal digits written in the safe alphabet, as Kubernetes computes it.
// Kubernetes hashes a printing of its own Go structs, which wasmlet does
// not have; wasmlet hashes the template's JSON, so a value is stable for a
// template but not the one a cluster would give.
func ComputeHash(t *api.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	raw, err := json.Marshal(t)
	if err != nil {
		panic(fmt.Sprintf("controller: a pod template does not encode: %v", err))
	}
	h.Write(raw)
	if collisionCount != nil {
		var b [8]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	digits := strconv.FormatUint(uint64(h.Sum32()), 10)
	out := make([]byte, len(digits))
	for i := range len(digits) {
		out[i] = safeEncodeAlphabet[int(digits[i])%len(safeEncodeAlphabet)]
	}
	return string(out)
}

// equalIgnoreHash reports whether two templates are the same but for
// their pod-template-hash label.
func equalIgnoreHash(a, b *api.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, PodTemplateHashLabel)
	delete(b.Labels, PodTemplateHashLabel)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func deploymentReplicas(d *api.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func isRollingUpdate(d *api.Deployment) bool {
	return d.Spec.Strategy.Type == api.RollingUpdateDeploymentStrategyType
}

// resolveFenceposts is maxSurge (rounded up) and maxUnavailable (rounded
// down) of desired; both 0 makes maxUnavailable 1, so that a rollout can
// move at all.
func resolveFenceposts(ru *api.RollingUpdateDeployment, desired int32) (surge, unavailable int32) {
	zero := api.FromInt32(0)
	ms, mu := &zero, &zero
	if ru != nil {
		if ru.MaxSurge != nil {
			ms = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			mu = ru.MaxUnavailable
		}
	}
	s, _ := api.ScaledValueFromIntOrPercent(ms, int(desired), true)
	u, _ := api.ScaledValueFromIntOrPercent(mu, int(desired), false)
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u)
}

// maxSurge is how many pods a rolling update may add above spec.replicas.
func maxSurge(d *api.Deployment) int32 {
	if !isRollingUpdate(d) {
		return 0
	}
	s, _ := resolveFenceposts(d.Spec.Strategy.RollingUpdate, deploymentReplicas(d))
	return s
}

// maxUnavailable is how many pods below spec.replicas a rolling update may
// leave unavailable.
func maxUnavailable(d *api.Deployment) int32 {
	r := deploymentReplicas(d)
	if !isRollingUpdate(d) || r == 0 {
		return 0
	}
	_, u := resolveFenceposts(d.Spec.Strategy.RollingUpdate, r)
	return min(u, r)
}

// revisionOf is a ReplicaSet's revision annotation; 0 when unset or not a
// number.
func revisionOf(rs *api.ReplicaSet) int64 {
	v, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func maxRevision(rss []*api.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, revisionOf(rs))
	}
	return m
}

// setNewReplicaSetAnnotations gives the new ReplicaSet the Deployment's
// annotations and the revision newRevision (never lowering its own; an old
// revision is kept in the revision history), and, for one about to be
// created, the replicas annotations. It reports whether anything changed.
func setNewReplicaSetAnnotations(d *api.Deployment, rs *api.ReplicaSet, newRevision int64, exists bool) bool {
	changed := copyDeploymentAnnotations(d, rs)
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	oldText, had := rs.Annotations[RevisionAnnotation]
	old, err := strconv.ParseInt(oldText, 10, 64)
	if err != nil {
		if oldText != "" {
			return false
		}
		old = 0
	}
	if old < newRevision {
		rs.Annotations[RevisionAnnotation] = strconv.FormatInt(newRevision, 10)
		changed = true
		if had {
			appendRevisionHistory(rs, oldText)
		}
	}
	if !exists && setReplicasAnnotations(rs, deploymentReplicas(d), deploymentReplicas(d)+maxSurge(d)) {
		changed = true
	}
	return changed
}

// appendRevisionHistory adds rev to the revision history, dropping the
// oldest entries past maxRevisionHistoryChars.
func appendRevisionHistory(rs *api.ReplicaSet, rev string) {
	history := rs.Annotations[RevisionHistoryAnnotation]
	if history == "" {
		rs.Annotations[RevisionHistoryAnnotation] = rev
		return
	}
	revs := strings.Split(history, ",")
	total := len(history) + len(rev) + 1
	start := 0
	for total > maxRevisionHistoryChars && start < len(revs) {
		total -= len(revs[start]) + 1
		start++
	}
	if total <= maxRevisionHistoryChars {
		rs.Annotations[RevisionHistoryAnnotation] = strings.Join(append(revs[start:], rev), ",")
	}
}

func copyDeploymentAnnotations(d *api.Deployment, rs *api.ReplicaSet) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if annotationsNotCopied[k] {
			continue
		}
		if cur, ok := rs.Annotations[k]; ok && cur == v {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	return changed
}

func setReplicasAnnotations(rs *api.ReplicaSet, desired, maxReplicas int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	d, m := strconv.Itoa(int(desired)), strconv.Itoa(int(maxReplicas))
	if rs.Annotations[DesiredReplicasAnnotation] == d && rs.Annotations[MaxReplicasAnnotation] == m {
		return false
	}
	rs.Annotations[DesiredReplicasAnnotation] = d
	rs.Annotations[MaxReplicasAnnotation] = m
	return true
}

func replicasAnnotationsNeedUpdate(rs *api.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[DesiredReplicasAnnotation] != strconv.Itoa(int(desired)) ||
		rs.Annotations[MaxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

func intAnnotation(rs *api.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// byCreation orders ReplicaSets oldest first, then by name.
func byCreation(a, b *api.ReplicaSet) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// findNewReplicaSet is the oldest ReplicaSet whose template is the
// Deployment's.
func findNewReplicaSet(d *api.Deployment, rss []*api.ReplicaSet) *api.ReplicaSet {
	sorted := slices.Clone(rss)
	slices.SortFunc(sorted, byCreation)
	for _, rs := range sorted {
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

// oldReplicaSets are all ReplicaSets but the new one.
func oldReplicaSets(d *api.Deployment, rss []*api.ReplicaSet) []*api.ReplicaSet {
	nrs := findNewReplicaSet(d, rss)
	var out []*api.ReplicaSet
	for _, rs := range rss {
		if nrs != nil && rs.UID == nrs.UID {
			continue
		}
		out = append(out, rs)
	}
	return out
}

func specReplicas(rs *api.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return replicasOf(rs)
}

func activeReplicaSets(rss []*api.ReplicaSet) []*api.ReplicaSet {
	var out []*api.ReplicaSet
	for _, rs := range rss {
		if rs != nil && replicasOf(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// sumSpec, sumStatus, sumReady and sumAvailable add up the ReplicaSets'
// spec.replicas and status counts; nil ReplicaSets count 0.
func sumSpec(rss []*api.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += specReplicas(rs)
	}
	return n
}

func sumStatus(rss []*api.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += rs.Status.Replicas
		}
	}
	return n
}

func sumReady(rss []*api.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += rs.Status.ReadyReplicas
		}
	}
	return n
}

func sumAvailable(rss []*api.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += rs.Status.AvailableReplicas
		}
	}
	return n
}

// availableAtLeast is how many of the ReplicaSets' pods stay available:
// status.availableReplicas, but no more than spec.replicas, since a
// ReplicaSet just scaled down still counts the pods it is deleting.
func availableAtLeast(rss []*api.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += min(rs.Status.AvailableReplicas, replicasOf(rs))
		}
	}
	return n
}

// podsAtMost is how many pods the ReplicaSets may have now: the larger of
// spec.replicas and status.replicas of each, since a ReplicaSet scaled
// down keeps its pods until its controller deleted them.
func podsAtMost(rss []*api.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += max(replicasOf(rs), rs.Status.Replicas)
		}
	}
	return n
}

// deploymentComplete: every replica updated and available, and the
// current generation observed.
func deploymentComplete(d *api.Deployment, st *api.DeploymentStatus) bool {
	r := deploymentReplicas(d)
	return st.UpdatedReplicas == r && st.Replicas == r && st.AvailableReplicas == r &&
		st.ObservedGeneration >= d.Generation
}

// deploymentProgressing: more pods updated, ready or available, or fewer
// old ones, than the last status said.
func deploymentProgressing(d *api.Deployment, st *api.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas ||
		st.AvailableReplicas > old.AvailableReplicas
}

func hasProgressDeadline(d *api.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

func progressDeadline(d *api.Deployment) time.Duration {
	return time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
}

// deploymentTimedOut: the Progressing condition was last updated longer
// than progressDeadlineSeconds ago, and the rollout is not complete.
func deploymentTimedOut(d *api.Deployment, st *api.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := getCondition(st, api.DeploymentProgressing)
	switch {
	case c == nil || c.Reason == ReasonNewReplicaSetAvailable:
		return false
	case c.Reason == ReasonProgressDeadlineExceeded:
		return true
	}
	return c.LastUpdateTime.Add(progressDeadline(d)).Before(now)
}

func getCondition(st *api.DeploymentStatus, t api.DeploymentConditionType) *api.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func newCondition(t api.DeploymentConditionType, status api.ConditionStatus, reason, message string, now time.Time) api.DeploymentCondition {
	return api.DeploymentCondition{
		Type: t, Status: status, Reason: reason, Message: message,
		LastUpdateTime: api.NewTime(now), LastTransitionTime: api.NewTime(now),
	}
}

// setCondition puts c in st, unless a condition of its type has its status
// and reason already; a condition whose status stays keeps its
// lastTransitionTime. The changed condition goes last, as in Kubernetes.
func setCondition(st *api.DeploymentStatus, c api.DeploymentCondition) {
	if cur := getCondition(st, c.Type); cur != nil {
		if cur.Status == c.Status && cur.Reason == c.Reason {
			return
		}
		if cur.Status == c.Status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
	}
	removeCondition(st, c.Type)
	st.Conditions = append(st.Conditions, c)
}

func removeCondition(st *api.DeploymentStatus, t api.DeploymentConditionType) {
	st.Conditions = slices.DeleteFunc(slices.Clone(st.Conditions), func(c api.DeploymentCondition) bool { return c.Type == t })
	if len(st.Conditions) == 0 {
		st.Conditions = nil
	}
}

// cloneWithLabel is m with key=value added.
func cloneWithLabel(m map[string]string, key, value string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[key] = value
	return out
}
