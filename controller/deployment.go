package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/internal/events"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// DeploymentController rolls each Deployment's pods from one template to
// the next through a ReplicaSet per template (Kubernetes'
// pkg/controller/deployment): it creates the ReplicaSet of the current
// template, scales it up and the others down as the strategy allows,
// removes old ReplicaSets past revisionHistoryLimit and writes the
// Deployment's status and conditions.
type DeploymentController struct {
	store       *store.Store
	registry    *registry.Registry
	clock       clock.Clock
	log         *slog.Logger
	deployments *Informer
	replicaSets *Informer
	pods        *Informer
	recorder    *events.Recorder
	ctrl        *Controller
	dResource   *api.ResourceInfo
	rsResource  *api.ResourceInfo
}

func newDeploymentController(reg *registry.Registry, deployments, replicaSets, pods *Informer, clk clock.Clock, workers int, log *slog.Logger) *DeploymentController {
	st := reg.Store()
	c := &DeploymentController{
		store: st, registry: reg, clock: clk,
		deployments: deployments, replicaSets: replicaSets, pods: pods,
		recorder:   events.NewRecorder(st, "deployment-controller", "", clk).WithLogger(log),
		dResource:  deployments.Resource(),
		rsResource: replicaSets.Resource(),
	}
	c.ctrl = NewController("deployment-controller", ReconcilerFunc(c.sync), clk, workers, log)
	c.log = c.ctrl.log
	deployments.AddHandler(Handler{
		OnAdd:    func(o api.Object) { c.ctrl.queue.Add(KeyOf(o)) },
		OnUpdate: func(_, o api.Object) { c.ctrl.queue.Add(KeyOf(o)) },
		OnDelete: func(o api.Object) { c.ctrl.queue.Add(KeyOf(o)) },
	})
	replicaSets.AddHandler(Handler{
		OnAdd:    c.replicaSetChanged,
		OnUpdate: func(old, cur api.Object) { c.replicaSetChanged(old); c.replicaSetChanged(cur) },
		OnDelete: c.replicaSetChanged,
	})
	pods.AddHandler(Handler{OnDelete: c.podDeleted})
	c.ctrl.WaitFor(deployments)
	c.ctrl.WaitFor(replicaSets)
	c.ctrl.WaitFor(pods)
	return c
}

// Start runs the controller's workers until ctx ends.
func (c *DeploymentController) Start(ctx context.Context) error { return c.ctrl.Start(ctx) }

// replicaSetChanged queues the Deployment that owns rs or, for an orphan,
// every Deployment that could adopt it.
func (c *DeploymentController) replicaSetChanged(o api.Object) {
	rs, ok := o.(*api.ReplicaSet)
	if !ok {
		return
	}
	if ref := rs.ControllerRef(); ref != nil {
		if d := c.resolveControllerRef(rs.Namespace, ref); d != nil {
			c.ctrl.queue.Add(KeyOf(d))
		}
		return
	}
	for _, o := range c.deployments.List(rs.Namespace, nil) {
		d := o.(*api.Deployment)
		sel, err := api.LabelSelectorAsSelector(d.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(rs.Labels) {
			c.ctrl.queue.Add(KeyOf(d))
		}
	}
}

// podDeleted queues a Recreate Deployment whose old pods are going: the
// new ReplicaSet waits for the last of them.
func (c *DeploymentController) podDeleted(o api.Object) {
	pod, ok := o.(*api.Pod)
	if !ok {
		return
	}
	ref := pod.ControllerRef()
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	ro, ok := c.replicaSets.Get(pod.Namespace, ref.Name)
	if !ok || ro.GetObjectMeta().UID != ref.UID {
		return
	}
	rsRef := ro.(*api.ReplicaSet).ControllerRef()
	if rsRef == nil {
		return
	}
	if d := c.resolveControllerRef(pod.Namespace, rsRef); d != nil && d.Spec.Strategy.Type == api.RecreateDeploymentStrategyType {
		c.ctrl.queue.Add(KeyOf(d))
	}
}

func (c *DeploymentController) resolveControllerRef(namespace string, ref *api.OwnerReference) *api.Deployment {
	if ref.Kind != "Deployment" {
		return nil
	}
	o, ok := c.deployments.Get(namespace, ref.Name)
	if !ok || o.GetObjectMeta().UID != ref.UID {
		return nil
	}
	return o.(*api.Deployment)
}

// errStale ends a sync that wrote over a newer object than it read: the
// watch brings the newer one, and with it another sync.
var errStale = errors.New("stale cache")

// sync is syncDeployment.
func (c *DeploymentController) sync(ctx context.Context, key string) (Result, error) {
	res, err := c.syncDeployment(ctx, key)
	if errors.Is(err, errStale) {
		return Result{}, nil
	}
	return res, err
}

func (c *DeploymentController) syncDeployment(ctx context.Context, key string) (Result, error) {
	namespace, name := SplitKey(key)
	o, ok := c.deployments.Get(namespace, name)
	if !ok {
		return Result{}, nil
	}
	d := o.(*api.Deployment).DeepCopy()
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels)+len(d.Spec.Selector.MatchExpressions) == 0 {
		c.recorder.Eventf(d, events.Warning, ReasonSelectingAll, "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			st := d.Status
			st.ObservedGeneration = d.Generation
			_, err := c.writeStatus(ctx, d, st, nil)
			return Result{}, err
		}
		return Result{}, nil
	}
	rsList, err := c.claimReplicaSets(ctx, d)
	if err != nil {
		return Result{}, err
	}
	if d.DeletionTimestamp != nil {
		return Result{}, c.syncStatusOnly(ctx, d, rsList)
	}
	if d, err = c.checkPausedConditions(ctx, d); err != nil {
		return Result{}, err
	}
	if d.Spec.Paused {
		return Result{}, c.syncScale(ctx, d, rsList)
	}
	if c.isScalingEvent(d, rsList) {
		return Result{}, c.syncScale(ctx, d, rsList)
	}
	if d.Spec.Strategy.Type == api.RecreateDeploymentStrategyType {
		return c.rolloutRecreate(ctx, d, rsList)
	}
	return c.rolloutRolling(ctx, d, rsList)
}

// claimReplicaSets adopts matching orphan ReplicaSets, releases owned ones
// that no longer match, and returns the ones the Deployment keeps, as the
// ReplicaSet controller claims pods.
func (c *DeploymentController) claimReplicaSets(ctx context.Context, d *api.Deployment) ([]*api.ReplicaSet, error) {
	sel, err := api.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has an invalid label selector: %w", d.Namespace, d.Name, err)
	}
	var (
		claimed  []*api.ReplicaSet
		errs     []error
		checked  bool
		adoptErr error
	)
	deleting := d.DeletionTimestamp != nil
	for _, o := range c.replicaSets.List(d.Namespace, nil) {
		rs := o.(*api.ReplicaSet)
		ref := rs.ControllerRef()
		matches := sel.Matches(rs.Labels)
		switch {
		case ref != nil && ref.UID != d.UID:
		case ref != nil && matches:
			claimed = append(claimed, rs.DeepCopy())
		case ref != nil:
			if !deleting {
				if err := c.releaseReplicaSet(ctx, d, rs); err != nil {
					errs = append(errs, err)
				}
			}
		case !matches || deleting || rs.DeletionTimestamp != nil:
		default:
			if !checked {
				checked = true
				adoptErr = c.recheckDeployment(ctx, d)
			}
			if adoptErr != nil {
				errs = append(errs, fmt.Errorf("can't adopt ReplicaSet %s/%s (%s): %w", rs.Namespace, rs.Name, rs.UID, adoptErr))
				continue
			}
			adopted, err := c.adoptReplicaSet(ctx, d, rs)
			if err != nil {
				errs = append(errs, err)
			} else if adopted != nil {
				claimed = append(claimed, adopted)
			}
		}
	}
	return claimed, errors.Join(errs...)
}

func (c *DeploymentController) recheckDeployment(ctx context.Context, d *api.Deployment) error {
	fresh, err := c.store.Get(ctx, c.dResource, d.Namespace, d.Name)
	if err != nil {
		return err
	}
	m := fresh.GetObjectMeta()
	if m.UID != d.UID {
		return fmt.Errorf("original Deployment %s/%s is gone: got uid %s, wanted %s", d.Namespace, d.Name, m.UID, d.UID)
	}
	if m.DeletionTimestamp != nil {
		return fmt.Errorf("Deployment %s/%s has just been deleted at %s", d.Namespace, d.Name, m.DeletionTimestamp.UTC().Format(time.RFC3339))
	}
	return nil
}

func (c *DeploymentController) controllerRef(d *api.Deployment) api.OwnerReference {
	yes := true
	return api.OwnerReference{
		APIVersion: c.dResource.APIVersion(), Kind: c.dResource.Kind,
		Name: d.Name, UID: d.UID, Controller: &yes, BlockOwnerDeletion: &yes,
	}
}

func (c *DeploymentController) adoptReplicaSet(ctx context.Context, d *api.Deployment, rs *api.ReplicaSet) (*api.ReplicaSet, error) {
	ref := c.controllerRef(d)
	o, err := c.store.GuaranteedUpdate(ctx, c.rsResource, rs.Namespace, rs.Name, func(o api.Object) (api.Object, error) {
		cur := o.(*api.ReplicaSet)
		if cur.UID != rs.UID || cur.ControllerRef() != nil || cur.DeletionTimestamp != nil {
			return nil, errSkip
		}
		cur.OwnerReferences = append(cur.OwnerReferences, ref)
		return cur, nil
	})
	switch {
	case errors.Is(err, errSkip) || api.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("adopting ReplicaSet %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return o.(*api.ReplicaSet), nil
}

func (c *DeploymentController) releaseReplicaSet(ctx context.Context, d *api.Deployment, rs *api.ReplicaSet) error {
	_, err := c.store.GuaranteedUpdate(ctx, c.rsResource, rs.Namespace, rs.Name, func(o api.Object) (api.Object, error) {
		cur := o.(*api.ReplicaSet)
		if cur.UID != rs.UID {
			return nil, errSkip
		}
		refs := slices.DeleteFunc(slices.Clone(cur.OwnerReferences), func(r api.OwnerReference) bool { return r.UID == d.UID })
		if len(refs) == len(cur.OwnerReferences) {
			return nil, errSkip
		}
		if len(refs) == 0 {
			refs = nil
		}
		cur.OwnerReferences = refs
		return cur, nil
	})
	if errors.Is(err, errSkip) || api.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("releasing ReplicaSet %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return nil
}

// checkPausedConditions says in the Progressing condition that a
// Deployment was paused or resumed, so that the time it spent paused does
// not count against its progress deadline.
func (c *DeploymentController) checkPausedConditions(ctx context.Context, d *api.Deployment) (*api.Deployment, error) {
	if !hasProgressDeadline(d) {
		return d, nil
	}
	cond := getCondition(&d.Status, api.DeploymentProgressing)
	if cond != nil && cond.Reason == ReasonProgressDeadlineExceeded {
		// A rollout that timed out stays so until it is changed.
		return d, nil
	}
	pausedShown := cond != nil && cond.Reason == ReasonDeploymentPaused
	st := d.Status
	st.Conditions = slices.Clone(d.Status.Conditions)
	now := c.clock.Now()
	switch {
	case d.Spec.Paused && !pausedShown:
		setCondition(&st, newCondition(api.DeploymentProgressing, api.ConditionUnknown, ReasonDeploymentPaused, "Deployment is paused", now))
	case !d.Spec.Paused && pausedShown:
		setCondition(&st, newCondition(api.DeploymentProgressing, api.ConditionUnknown, ReasonDeploymentResumed, "Deployment is resumed", now))
	default:
		return d, nil
	}
	return c.writeStatus(ctx, d, st, nil)
}

// writeStatus stores st (and, if not nil, the revision annotation) as the
// Deployment's, if d is still the stored version; it returns errStale
// otherwise.
func (c *DeploymentController) writeStatus(ctx context.Context, d *api.Deployment, st api.DeploymentStatus, revision *string) (*api.Deployment, error) {
	o, err := c.store.GuaranteedUpdate(ctx, c.dResource, d.Namespace, d.Name, func(o api.Object) (api.Object, error) {
		cur := o.(*api.Deployment)
		if cur.UID != d.UID || cur.ResourceVersion != d.ResourceVersion {
			return nil, errStale
		}
		cur.Status = st
		if revision != nil {
			if cur.Annotations == nil {
				cur.Annotations = map[string]string{}
			}
			cur.Annotations[RevisionAnnotation] = *revision
		}
		return cur, nil
	})
	if api.IsNotFound(err) {
		return nil, errStale
	}
	if err != nil {
		return nil, err
	}
	return o.(*api.Deployment), nil
}

// isScalingEvent: an active ReplicaSet was last scaled for another
// spec.replicas than the Deployment's now.
func (c *DeploymentController) isScalingEvent(d *api.Deployment, rsList []*api.ReplicaSet) bool {
	for _, rs := range activeReplicaSets(rsList) {
		if desired, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && desired != deploymentReplicas(d) {
			return true
		}
	}
	return false
}

// newAndOld finds the new ReplicaSet (creating it if create is set) and
// the old ones, and gives the Deployment the new one's revision.
func (c *DeploymentController) newAndOld(ctx context.Context, d *api.Deployment, rsList []*api.ReplicaSet, create bool) (*api.Deployment, *api.ReplicaSet, []*api.ReplicaSet, error) {
	old := oldReplicaSets(d, rsList)
	d, nrs, err := c.getNewReplicaSet(ctx, d, rsList, old, create)
	return d, nrs, old, err
}

// getNewReplicaSet returns the ReplicaSet of the Deployment's template,
// its annotations and minReadySeconds brought up to date, or creates it
// when create is set: named <deployment>-<pod-template-hash>, the hash
// label added to its selector, labels and template, scaled as far as the
// strategy allows at once.
func (c *DeploymentController) getNewReplicaSet(ctx context.Context, d *api.Deployment, rsList, old []*api.ReplicaSet, create bool) (*api.Deployment, *api.ReplicaSet, error) {
	existing := findNewReplicaSet(d, rsList)
	newRevision := maxRevision(old) + 1
	now := c.clock.Now()
	if existing != nil {
		rs := existing.DeepCopy()
		annotationsChanged := setNewReplicaSetAnnotations(d, rs, newRevision, true)
		if annotationsChanged || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			updated, err := c.updateReplicaSet(ctx, existing, rs)
			if err != nil {
				return d, nil, err
			}
			return d, updated, nil
		}
		st := d.Status
		st.Conditions = slices.Clone(d.Status.Conditions)
		needsUpdate := d.Annotations[RevisionAnnotation] != rs.Annotations[RevisionAnnotation]
		if hasProgressDeadline(d) && getCondition(&st, api.DeploymentProgressing) == nil {
			setCondition(&st, newCondition(api.DeploymentProgressing, api.ConditionTrue, ReasonFoundNewReplicaSet,
				fmt.Sprintf("Found new replica set %q", rs.Name), now))
			needsUpdate = true
		}
		if needsUpdate {
			rev := rs.Annotations[RevisionAnnotation]
			nd, err := c.writeStatus(ctx, d, st, &rev)
			if err != nil {
				return d, nil, err
			}
			d = nd
		}
		return d, rs, nil
	}
	if !create {
		return d, nil, nil
	}

	template := *d.Spec.Template.DeepCopy()
	hash := ComputeHash(&template, d.Status.CollisionCount)
	template.Labels = cloneWithLabel(d.Spec.Template.Labels, PodTemplateHashLabel, hash)
	selector := d.Spec.Selector.DeepCopy()
	selector.MatchLabels = cloneWithLabel(selector.MatchLabels, PodTemplateHashLabel, hash)
	zero := int32(0)
	nrs := &api.ReplicaSet{
		TypeMeta: api.TypeMeta{Kind: "ReplicaSet", APIVersion: "apps/v1"},
		ObjectMeta: api.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []api.OwnerReference{c.controllerRef(d)},
			Labels:          maps.Clone(template.Labels),
		},
		Spec: api.ReplicaSetSpec{
			Replicas:        &zero,
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        template,
		},
	}
	count := newRSNewReplicas(d, append(slices.Clone(old), nrs), nrs)
	nrs.Spec.Replicas = &count
	setNewReplicaSetAnnotations(d, nrs, newRevision, false)

	// The ReplicaSet takes the write path of every client: defaulted and
	// validated as one a user creates.
	o, err := c.registry.Create(ctx, nrs)
	alreadyExists := false
	var created *api.ReplicaSet
	switch {
	case api.IsAlreadyExists(err):
		alreadyExists = true
		fresh, gerr := c.store.Get(ctx, c.rsResource, nrs.Namespace, nrs.Name)
		if gerr != nil {
			return d, nil, gerr
		}
		rs := fresh.(*api.ReplicaSet)
		if ref := rs.ControllerRef(); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &rs.Spec.Template) {
			created = rs
			break
		}
		// Another template (or another owner) has this name: a hash
		// collision. The next hash includes a higher collisionCount.
		st := d.Status
		cc := int32(0)
		if st.CollisionCount != nil {
			cc = *st.CollisionCount
		}
		cc++
		st.CollisionCount = &cc
		if _, werr := c.writeStatus(ctx, d, st, nil); werr != nil && !errors.Is(werr, errStale) {
			return d, nil, werr
		}
		return d, nil, fmt.Errorf("replica set %s/%s exists with another template: collision count now %d", nrs.Namespace, nrs.Name, cc)
	case err != nil && api.ReasonOf(err) == api.StatusReasonForbidden:
		return d, nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", nrs.Name, err)
		if hasProgressDeadline(d) {
			st := d.Status
			st.Conditions = slices.Clone(d.Status.Conditions)
			setCondition(&st, newCondition(api.DeploymentProgressing, api.ConditionFalse, ReasonReplicaSetCreateError, msg, now))
			if _, werr := c.writeStatus(ctx, d, st, nil); werr != nil && !errors.Is(werr, errStale) {
				err = errors.Join(err, werr)
			}
		}
		c.recorder.Eventf(d, events.Warning, ReasonReplicaSetCreateError, "%s", msg)
		return d, nil, err
	default:
		created = o.(*api.ReplicaSet)
	}
	if !alreadyExists && count > 0 {
		c.recorder.Eventf(d, events.Normal, ReasonScalingReplicaSet, "Scaled up replica set %s from 0 to %d", created.Name, count)
	}
	st := d.Status
	st.Conditions = slices.Clone(d.Status.Conditions)
	needsUpdate := d.Annotations[RevisionAnnotation] != fmt.Sprint(newRevision)
	if !alreadyExists && hasProgressDeadline(d) {
		setCondition(&st, newCondition(api.DeploymentProgressing, api.ConditionTrue, ReasonNewReplicaSetCreated,
			fmt.Sprintf("Created new replica set %q", created.Name), now))
		needsUpdate = true
	}
	if needsUpdate {
		rev := fmt.Sprint(newRevision)
		nd, err := c.writeStatus(ctx, d, st, &rev)
		if err != nil {
			return d, created, err
		}
		d = nd
	}
	return d, created, nil
}

// newRSNewReplicas is the size the new ReplicaSet may have now: under
// RollingUpdate as many more as keep every ReplicaSet's pods within
// replicas+maxSurge, under Recreate all of them.
func newRSNewReplicas(d *api.Deployment, all []*api.ReplicaSet, nrs *api.ReplicaSet) int32 {
	if !isRollingUpdate(d) {
		return deploymentReplicas(d)
	}
	cur := specReplicas(nrs)
	current := podsAtMost(all)
	maxTotal := deploymentReplicas(d) + maxSurge(d)
	if current >= maxTotal {
		return cur
	}
	up := min(maxTotal-current, deploymentReplicas(d)-cur)
	return cur + max(up, 0)
}

// updateReplicaSet writes next over rs, if rs is still the stored version.
func (c *DeploymentController) updateReplicaSet(ctx context.Context, rs, next *api.ReplicaSet) (*api.ReplicaSet, error) {
	o, err := c.store.GuaranteedUpdate(ctx, c.rsResource, rs.Namespace, rs.Name, func(o api.Object) (api.Object, error) {
		cur := o.(*api.ReplicaSet)
		if cur.UID != rs.UID || cur.ResourceVersion != rs.ResourceVersion {
			return nil, errStale
		}
		out := next.DeepCopy()
		out.ResourceVersion = cur.ResourceVersion
		out.Status = cur.Status
		return out, nil
	})
	if api.IsNotFound(err) {
		return nil, errStale
	}
	if err != nil {
		return nil, err
	}
	return o.(*api.ReplicaSet), nil
}

// scaleReplicaSet sets rs's size and replicas annotations; an event says
// so when the size changed.
func (c *DeploymentController) scaleReplicaSet(ctx context.Context, d *api.Deployment, rs *api.ReplicaSet, size int32, operation string) (*api.ReplicaSet, bool, error) {
	sizeChanged := replicasOf(rs) != size
	desired, maxTotal := deploymentReplicas(d), deploymentReplicas(d)+maxSurge(d)
	if !sizeChanged && !replicasAnnotationsNeedUpdate(rs, desired, maxTotal) {
		return rs, false, nil
	}
	next := rs.DeepCopy()
	from := replicasOf(rs)
	next.Spec.Replicas = &size
	setReplicasAnnotations(next, desired, maxTotal)
	updated, err := c.updateReplicaSet(ctx, rs, next)
	if err != nil {
		return rs, false, err
	}
	if sizeChanged {
		c.recorder.Eventf(d, events.Normal, ReasonScalingReplicaSet, "Scaled %s replica set %s from %d to %d", operation, rs.Name, from, size)
	}
	return updated, sizeChanged, nil
}

func (c *DeploymentController) scaleAndRecord(ctx context.Context, d *api.Deployment, rs *api.ReplicaSet, size int32) (*api.ReplicaSet, bool, error) {
	if replicasOf(rs) == size {
		return rs, false, nil
	}
	op := "down"
	if replicasOf(rs) < size {
		op = "up"
	}
	return c.scaleReplicaSet(ctx, d, rs, size, op)
}
