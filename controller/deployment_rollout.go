package controller

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
)

// syncStatusOnly writes the status of a Deployment being deleted.
func (c *DeploymentController) syncStatusOnly(ctx context.Context, d *api.Deployment, rsList []*api.ReplicaSet) error {
	d, nrs, old, err := c.newAndOld(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	return c.syncDeploymentStatus(ctx, d, append(old, nrs), nrs)
}

// syncScale is Kubernetes' sync: a paused Deployment or a scaling event
// only resizes the ReplicaSets, with no rollout; a paused one also drops
// old ReplicaSets past its history limit.
func (c *DeploymentController) syncScale(ctx context.Context, d *api.Deployment, rsList []*api.ReplicaSet) error {
	d, nrs, old, err := c.newAndOld(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	nrs, old, err = c.scale(ctx, d, nrs, old)
	if err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanupDeployment(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncDeploymentStatus(ctx, d, append(old, nrs), nrs)
}

// findActiveOrLatest is the only active ReplicaSet, or the newest if none
// is active; nil when several are active.
func findActiveOrLatest(nrs *api.ReplicaSet, old []*api.ReplicaSet) *api.ReplicaSet {
	if nrs == nil && len(old) == 0 {
		return nil
	}
	sorted := slices.Clone(old)
	slices.SortFunc(sorted, func(a, b *api.ReplicaSet) int { return byCreation(b, a) })
	all := activeReplicaSets(append(sorted, nrs))
	switch len(all) {
	case 0:
		if nrs != nil {
			return nrs
		}
		return sorted[0]
	case 1:
		return all[0]
	}
	return nil
}

// isSaturated: rs is the Deployment's full size, all of it available.
func isSaturated(d *api.Deployment, rs *api.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	r := deploymentReplicas(d)
	return ok && desired == r && replicasOf(rs) == r && rs.Status.AvailableReplicas == r
}

// scale brings the ReplicaSets to the Deployment's size: the only active
// one directly; during a rollout, the difference is shared among the
// active ones in proportion to their sizes, the leftover going to the
// largest (newest on a tie) when adding, the smallest (oldest) when
// removing.
func (c *DeploymentController) scale(ctx context.Context, d *api.Deployment, nrs *api.ReplicaSet, old []*api.ReplicaSet) (*api.ReplicaSet, []*api.ReplicaSet, error) {
	replace := func(updated *api.ReplicaSet) {
		if nrs != nil && updated.UID == nrs.UID {
			nrs = updated
			return
		}
		for i := range old {
			if old[i].UID == updated.UID {
				old[i] = updated
			}
		}
	}
	if rs := findActiveOrLatest(nrs, old); rs != nil {
		if replicasOf(rs) == deploymentReplicas(d) {
			return nrs, old, nil
		}
		updated, _, err := c.scaleAndRecord(ctx, d, rs, deploymentReplicas(d))
		if err != nil {
			return nrs, old, err
		}
		replace(updated)
		return nrs, old, nil
	}
	if isSaturated(d, nrs) {
		for _, rs := range activeReplicaSets(old) {
			updated, _, err := c.scaleAndRecord(ctx, d, rs, 0)
			if err != nil {
				return nrs, old, err
			}
			replace(updated)
		}
		return nrs, old, nil
	}
	if !isRollingUpdate(d) {
		return nrs, old, nil
	}
	all := activeReplicaSets(append(slices.Clone(old), nrs))
	allowed := deploymentReplicas(d)
	if allowed > 0 {
		allowed += maxSurge(d)
	}
	toAdd := allowed - sumSpec(all)
	op := "up"
	switch {
	case toAdd > 0:
		slices.SortFunc(all, func(a, b *api.ReplicaSet) int {
			if replicasOf(a) != replicasOf(b) {
				return int(replicasOf(b) - replicasOf(a))
			}
			return byCreation(b, a)
		})
	case toAdd < 0:
		op = "down"
		slices.SortFunc(all, func(a, b *api.ReplicaSet) int {
			if replicasOf(a) != replicasOf(b) {
				return int(replicasOf(b) - replicasOf(a))
			}
			return byCreation(a, b)
		})
	}
	sizes := map[string]int32{}
	var added int32
	for _, rs := range all {
		if toAdd == 0 {
			sizes[rs.Name] = replicasOf(rs)
			continue
		}
		p := proportion(d, rs, toAdd, added)
		sizes[rs.Name] = replicasOf(rs) + p
		added += p
	}
	if len(all) > 0 && added != toAdd {
		first := all[0].Name
		sizes[first] = max(sizes[first]+toAdd-added, 0)
	}
	for _, rs := range all {
		updated, _, err := c.scaleReplicaSet(ctx, d, rs, sizes[rs.Name], op)
		if err != nil {
			return nrs, old, err
		}
		replace(updated)
	}
	return nrs, old, nil
}

// proportion is rs's share of toAdd, of which added are already given:
// its size scaled by the Deployment's new maximum over the one it was last
// scaled for (max-replicas), rounded, and never past what is left.
func proportion(d *api.Deployment, rs *api.ReplicaSet, toAdd, added int32) int32 {
	if rs == nil || replicasOf(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	var fraction int32
	if deploymentReplicas(d) == 0 {
		fraction = -replicasOf(rs)
	} else {
		total := deploymentReplicas(d) + maxSurge(d)
		annotated, ok := intAnnotation(rs, MaxReplicasAnnotation)
		if !ok || annotated == 0 {
			annotated = d.Status.Replicas
		}
		if annotated == 0 {
			return 0
		}
		size := float64(replicasOf(rs)) * float64(total) / float64(annotated)
		fraction = int32(math.Round(size)) - replicasOf(rs)
	}
	left := toAdd - added
	if toAdd > 0 {
		return min(fraction, left)
	}
	return max(fraction, left)
}

// rolloutRolling is one step of a RollingUpdate: scale the new ReplicaSet
// up as far as maxSurge allows, or else the old ones down as far as
// maxUnavailable allows, then write the status.
func (c *DeploymentController) rolloutRolling(ctx context.Context, d *api.Deployment, rsList []*api.ReplicaSet) (Result, error) {
	d, nrs, old, err := c.newAndOld(ctx, d, rsList, true)
	if err != nil {
		return Result{}, err
	}
	all := append(slices.Clone(old), nrs)
	updated, scaledUp, err := c.reconcileNewReplicaSet(ctx, d, all, nrs)
	if err != nil {
		return Result{}, err
	}
	nrs = updated
	all = append(slices.Clone(old), nrs)
	if scaledUp {
		return c.syncRolloutStatus(ctx, d, all, nrs)
	}
	old, scaledDown, err := c.reconcileOldReplicaSets(ctx, d, all, old, nrs)
	if err != nil {
		return Result{}, err
	}
	all = append(slices.Clone(old), nrs)
	if scaledDown {
		return c.syncRolloutStatus(ctx, d, all, nrs)
	}
	if st := calculateDeploymentStatus(d, all, nrs, c.clock.Now()); deploymentComplete(d, &st) {
		if err := c.cleanupDeployment(ctx, d, old); err != nil {
			return Result{}, err
		}
	}
	return c.syncRolloutStatus(ctx, d, all, nrs)
}

func (c *DeploymentController) reconcileNewReplicaSet(ctx context.Context, d *api.Deployment, all []*api.ReplicaSet, nrs *api.ReplicaSet) (*api.ReplicaSet, bool, error) {
	r := deploymentReplicas(d)
	switch {
	case replicasOf(nrs) == r:
		return nrs, false, nil
	case replicasOf(nrs) > r:
		return c.scaleAndRecord(ctx, d, nrs, r)
	}
	return c.scaleAndRecord(ctx, d, nrs, newRSNewReplicas(d, all, nrs))
}

// reconcileOldReplicaSets scales old ReplicaSets down: first their pods
// that are not available (they cost no availability), then available ones
// while more than replicas-maxUnavailable stay available.
func (c *DeploymentController) reconcileOldReplicaSets(ctx context.Context, d *api.Deployment, all, old []*api.ReplicaSet, nrs *api.ReplicaSet) ([]*api.ReplicaSet, bool, error) {
	old = slices.Clone(old)
	if sumSpec(activeReplicaSets(old)) == 0 {
		return old, false, nil
	}
	minAvailable := deploymentReplicas(d) - maxUnavailable(d)
	newUnavailable := replicasOf(nrs) - availableAtLeast([]*api.ReplicaSet{nrs})
	maxScaledDown := sumSpec(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return old, false, nil
	}
	slices.SortFunc(old, byCreation)
	var total int32
	// Unhealthy replicas first.
	for i, rs := range old {
		if total >= maxScaledDown {
			break
		}
		avail := availableAtLeast([]*api.ReplicaSet{rs})
		if replicasOf(rs) == 0 || replicasOf(rs) == avail {
			continue
		}
		n := min(maxScaledDown-total, replicasOf(rs)-avail)
		if n <= 0 {
			continue
		}
		updated, _, err := c.scaleAndRecord(ctx, d, rs, replicasOf(rs)-n)
		if err != nil {
			return old, total > 0, err
		}
		old[i] = updated
		total += n
	}
	// Then available ones, down to minAvailable.
	available := availableAtLeast(append(slices.Clone(old), nrs))
	if available > minAvailable {
		want := available - minAvailable
		var done int32
		for i, rs := range old {
			if done >= want {
				break
			}
			if replicasOf(rs) == 0 {
				continue
			}
			n := min(replicasOf(rs), want-done)
			updated, _, err := c.scaleAndRecord(ctx, d, rs, replicasOf(rs)-n)
			if err != nil {
				return old, total+done > 0, err
			}
			old[i] = updated
			done += n
		}
		total += done
	}
	return old, total > 0, nil
}

// rolloutRecreate scales every old ReplicaSet to 0, waits until none of
// their pods is left, then creates (or scales) the new one to full size.
func (c *DeploymentController) rolloutRecreate(ctx context.Context, d *api.Deployment, rsList []*api.ReplicaSet) (Result, error) {
	d, nrs, old, err := c.newAndOld(ctx, d, rsList, false)
	if err != nil {
		return Result{}, err
	}
	all := append(slices.Clone(old), nrs)
	scaledDown := false
	for i, rs := range old {
		if replicasOf(rs) == 0 {
			continue
		}
		updated, changed, err := c.scaleAndRecord(ctx, d, rs, 0)
		if err != nil {
			return Result{}, err
		}
		old[i] = updated
		scaledDown = scaledDown || changed
	}
	all = append(slices.Clone(old), nrs)
	if scaledDown || c.oldPodsRunning(d.Namespace, old) {
		return c.syncRolloutStatus(ctx, d, all, nrs)
	}
	if nrs == nil {
		if d, nrs, old, err = c.newAndOld(ctx, d, rsList, true); err != nil {
			return Result{}, err
		}
	}
	if replicasOf(nrs) != deploymentReplicas(d) {
		if nrs, _, err = c.scaleAndRecord(ctx, d, nrs, deploymentReplicas(d)); err != nil {
			return Result{}, err
		}
	}
	all = append(slices.Clone(old), nrs)
	if st := calculateDeploymentStatus(d, all, nrs, c.clock.Now()); deploymentComplete(d, &st) {
		if err := c.cleanupDeployment(ctx, d, old); err != nil {
			return Result{}, err
		}
	}
	return c.syncRolloutStatus(ctx, d, all, nrs)
}

// oldPodsRunning: an old ReplicaSet still counts pods, or a pod of one
// (the pod cache may be ahead of their status) has not ended.
func (c *DeploymentController) oldPodsRunning(namespace string, old []*api.ReplicaSet) bool {
	if sumStatus(old) > 0 {
		return true
	}
	owners := map[string]bool{}
	for _, rs := range old {
		owners[rs.UID] = true
	}
	for _, o := range c.pods.List(namespace, nil) {
		p := o.(*api.Pod)
		ref := p.ControllerRef()
		if ref == nil || !owners[ref.UID] {
			continue
		}
		if p.Status.Phase != api.PodSucceeded && p.Status.Phase != api.PodFailed {
			return true
		}
	}
	return false
}

// cleanupDeployment deletes the oldest old ReplicaSets past
// revisionHistoryLimit, those scaled to 0 with no pods left.
func (c *DeploymentController) cleanupDeployment(ctx context.Context, d *api.Deployment, old []*api.ReplicaSet) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var cleanable []*api.ReplicaSet
	for _, rs := range old {
		if rs != nil && rs.DeletionTimestamp == nil {
			cleanable = append(cleanable, rs)
		}
	}
	diff := len(cleanable) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return nil
	}
	slices.SortFunc(cleanable, func(a, b *api.ReplicaSet) int {
		if ra, rb := revisionOf(a), revisionOf(b); ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		return byCreation(a, b)
	})
	for _, rs := range cleanable[:diff] {
		if rs.Status.Replicas != 0 || replicasOf(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		_, _, err := c.store.Delete(ctx, c.rsResource, rs.Namespace, rs.Name, store.DeleteOptions{UID: rs.UID})
		if err != nil && !api.IsNotFound(err) && !api.IsConflict(err) {
			return err
		}
	}
	return nil
}

// calculateDeploymentStatus counts the ReplicaSets' replicas into the Deployment's
// status and sets its Available condition.
func calculateDeploymentStatus(d *api.Deployment, all []*api.ReplicaSet, nrs *api.ReplicaSet, now time.Time) api.DeploymentStatus {
	available := sumAvailable(all)
	unavailable := max(sumSpec(all)-available, 0)
	st := api.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sumStatus(all),
		UpdatedReplicas:     sumStatus([]*api.ReplicaSet{nrs}),
		ReadyReplicas:       sumReady(all),
		AvailableReplicas:   available,
		UnavailableReplicas: unavailable,
		CollisionCount:      d.Status.CollisionCount,
		Conditions:          slices.Clone(d.Status.Conditions),
	}
	if available >= deploymentReplicas(d)-maxUnavailable(d) {
		setCondition(&st, newCondition(api.DeploymentAvailable, api.ConditionTrue, ReasonMinimumReplicasAvailable, "Deployment has minimum availability.", now))
	} else {
		setCondition(&st, newCondition(api.DeploymentAvailable, api.ConditionFalse, ReasonMinimumReplicasUnavailable, "Deployment does not have minimum availability.", now))
	}
	return st
}

func (c *DeploymentController) syncDeploymentStatus(ctx context.Context, d *api.Deployment, all []*api.ReplicaSet, nrs *api.ReplicaSet) error {
	st := calculateDeploymentStatus(d, all, nrs, c.clock.Now())
	if reflect.DeepEqual(normalDeploymentStatus(d.Status), normalDeploymentStatus(st)) {
		return nil
	}
	_, err := c.writeStatus(ctx, d, st, nil)
	return err
}

func normalDeploymentStatus(s api.DeploymentStatus) api.DeploymentStatus {
	if len(s.Conditions) == 0 {
		s.Conditions = nil
	}
	return s
}

// syncRolloutStatus writes the status of a rollout with its Progressing
// condition: NewReplicaSetAvailable once complete, ReplicaSetUpdated on
// any progress, ProgressDeadlineExceeded after progressDeadlineSeconds
// without; and requeues the Deployment for the moment its deadline passes.
func (c *DeploymentController) syncRolloutStatus(ctx context.Context, d *api.Deployment, all []*api.ReplicaSet, nrs *api.ReplicaSet) (Result, error) {
	now := c.clock.Now()
	st := calculateDeploymentStatus(d, all, nrs, now)
	if !hasProgressDeadline(d) {
		removeCondition(&st, api.DeploymentProgressing)
	}
	cur := getCondition(&d.Status, api.DeploymentProgressing)
	complete := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewReplicaSetAvailable
	if hasProgressDeadline(d) && !complete {
		switch {
		case deploymentComplete(d, &st):
			msg := fmt.Sprintf("Deployment %q has successfully progressed.", d.Name)
			if nrs != nil {
				msg = fmt.Sprintf("ReplicaSet %q has successfully progressed.", nrs.Name)
			}
			setCondition(&st, newCondition(api.DeploymentProgressing, api.ConditionTrue, ReasonNewReplicaSetAvailable, msg, now))
		case deploymentProgressing(d, &st):
			msg := fmt.Sprintf("Deployment %q is progressing.", d.Name)
			if nrs != nil {
				msg = fmt.Sprintf("ReplicaSet %q is progressing.", nrs.Name)
			}
			cond := newCondition(api.DeploymentProgressing, api.ConditionTrue, ReasonReplicaSetUpdated, msg, now)
			// Progress moves lastUpdateTime, which the deadline counts
			// from; lastTransitionTime stays while the status does.
			if cur != nil && cur.Status == api.ConditionTrue {
				cond.LastTransitionTime = cur.LastTransitionTime
			}
			removeCondition(&st, api.DeploymentProgressing)
			setCondition(&st, cond)
		case deploymentTimedOut(d, &st, now):
			msg := fmt.Sprintf("Deployment %q has timed out progressing.", d.Name)
			if nrs != nil {
				msg = fmt.Sprintf("ReplicaSet %q has timed out progressing.", nrs.Name)
			}
			setCondition(&st, newCondition(api.DeploymentProgressing, api.ConditionFalse, ReasonProgressDeadlineExceeded, msg, now))
		}
	}
	if failure := replicaFailure(all, nrs); failure != nil {
		setCondition(&st, *failure)
	} else {
		removeCondition(&st, api.DeploymentReplicaFailure)
	}
	if reflect.DeepEqual(normalDeploymentStatus(d.Status), normalDeploymentStatus(st)) {
		return c.requeueStuck(d, &st, now), nil
	}
	_, err := c.writeStatus(ctx, d, st, nil)
	return Result{}, err
}

// requeueStuck is when to look again at a rollout that shows no progress:
// when its deadline passes.
func (c *DeploymentController) requeueStuck(d *api.Deployment, st *api.DeploymentStatus, now time.Time) Result {
	cur := getCondition(&d.Status, api.DeploymentProgressing)
	if !hasProgressDeadline(d) || cur == nil || deploymentComplete(d, st) || cur.Reason == ReasonProgressDeadlineExceeded {
		return Result{}
	}
	after := cur.LastUpdateTime.Add(progressDeadline(d)).Sub(now)
	if after < time.Second {
		return Result{RequeueAfter: time.Second}
	}
	return Result{RequeueAfter: after + time.Second}
}

// replicaFailure is the ReplicaFailure condition of the new ReplicaSet, or
// else of an old one, as the Deployment's.
func replicaFailure(all []*api.ReplicaSet, nrs *api.ReplicaSet) *api.DeploymentCondition {
	ordered := all
	if nrs != nil {
		ordered = append([]*api.ReplicaSet{nrs}, all...)
	}
	for _, rs := range ordered {
		if rs == nil {
			continue
		}
		for _, c := range rs.Status.Conditions {
			if c.Type == api.ReplicaSetReplicaFailure {
				return &api.DeploymentCondition{
					Type: api.DeploymentReplicaFailure, Status: c.Status,
					LastUpdateTime: c.LastTransitionTime, LastTransitionTime: c.LastTransitionTime,
					Reason: c.Reason, Message: c.Message,
				}
			}
		}
	}
	return nil
}
