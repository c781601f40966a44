package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/internal/events"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// Kubernetes' numbers for the ReplicaSet controller.
const (
	// BurstReplicas is the most pods created or deleted in one sync.
	BurstReplicas = 500
	// SlowStartInitialBatchSize is the first batch of creations; each
	// batch that fully succeeds doubles the next.
	SlowStartInitialBatchSize = 1
)

// Event reasons of the ReplicaSet and ReplicationController controllers.
const (
	ReasonSuccessfulCreate = "SuccessfulCreate"
	ReasonFailedCreate     = "FailedCreate"
	ReasonSuccessfulDelete = "SuccessfulDelete"
	ReasonFailedDelete     = "FailedDelete"
)

// replicaSetKind adapts one owner kind to the ReplicaSet controller. The
// ReplicationController is served by the same code as if it were an older
// version of ReplicaSet: its objects are viewed as ReplicaSets (the equality
// selector becoming matchLabels) and the status is written back in its own
// shape.
type replicaSetKind struct {
	resource  *api.ResourceInfo
	component string // the events' source
	// view returns obj as a ReplicaSet; it may share obj's memory and must
	// be treated as read only.
	view func(obj api.Object) (*api.ReplicaSet, error)
	// setStatus writes status into obj, a copy of the stored owner.
	setStatus func(obj api.Object, status *api.ReplicaSetStatus) error
}

// ReplicaSetController keeps the number of pods of each ReplicaSet (or
// ReplicationController) at spec.replicas, adopting matching orphans,
// releasing pods that stop matching, and writes the owner's status.
type ReplicaSetController struct {
	kind         *replicaSetKind
	store        *store.Store
	registry     *registry.Registry
	clock        clock.Clock
	log          *slog.Logger
	owners       *Informer
	pods         *Informer
	expectations *Expectations
	recorder     *events.Recorder
	ctrl         *Controller
	burst        int
}

func newReplicaSetController(kind *replicaSetKind, reg *registry.Registry, owners, pods *Informer, clk clock.Clock, workers int, log *slog.Logger) *ReplicaSetController {
	st := reg.Store()
	c := &ReplicaSetController{
		kind: kind, store: st, registry: reg, clock: clk, owners: owners, pods: pods,
		expectations: NewExpectations(clk),
		recorder:     events.NewRecorder(st, kind.component, "", clk).WithLogger(log),
		burst:        BurstReplicas,
	}
	c.ctrl = NewController(kind.component, ReconcilerFunc(c.sync), clk, workers, log)
	c.log = c.ctrl.log
	owners.AddHandler(Handler{
		OnAdd:    func(o api.Object) { c.ctrl.queue.Add(KeyOf(o)) },
		OnUpdate: func(_, o api.Object) { c.ctrl.queue.Add(KeyOf(o)) },
		OnDelete: func(o api.Object) {
			c.expectations.Delete(KeyOf(o))
			c.ctrl.queue.Add(KeyOf(o))
		},
	})
	pods.AddHandler(Handler{OnAdd: c.addPod, OnUpdate: c.updatePod, OnDelete: c.deletePod})
	c.ctrl.WaitFor(owners)
	c.ctrl.WaitFor(pods)
	return c
}

// Start runs the controller's workers until ctx ends.
func (c *ReplicaSetController) Start(ctx context.Context) error { return c.ctrl.Start(ctx) }

// resolveControllerRef returns the owner that ref names, if it is of this
// controller's kind and still the same object (UID).
func (c *ReplicaSetController) resolveControllerRef(namespace string, ref *api.OwnerReference) api.Object {
	if ref.Kind != c.kind.resource.Kind {
		return nil
	}
	o, ok := c.owners.Get(namespace, ref.Name)
	if !ok || o.GetObjectMeta().UID != ref.UID {
		return nil
	}
	return o
}

// matchingOwners are the owners in pod's namespace whose selector matches
// it: the candidates for adopting an orphan.
func (c *ReplicaSetController) matchingOwners(pod *api.Pod) []api.Object {
	var out []api.Object
	for _, o := range c.owners.List(pod.Namespace, nil) {
		rs, err := c.kind.view(o)
		if err != nil {
			continue
		}
		sel, err := api.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(pod.Labels) {
			continue
		}
		out = append(out, o)
	}
	if len(out) > 1 {
		c.log.Info("user error! more than one "+c.kind.resource.Kind+" is selecting pods with labels",
			"pod", KeyOf(pod), "labels", pod.Labels)
	}
	return out
}

func (c *ReplicaSetController) addPod(o api.Object) {
	pod, ok := o.(*api.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := pod.ControllerRef(); ref != nil {
		if owner := c.resolveControllerRef(pod.Namespace, ref); owner != nil {
			key := KeyOf(owner)
			c.expectations.CreationObserved(key)
			c.ctrl.queue.Add(key)
		}
		return
	}
	for _, owner := range c.matchingOwners(pod) {
		c.ctrl.queue.Add(KeyOf(owner))
	}
}

func (c *ReplicaSetController) updatePod(oldObj, curObj api.Object) {
	old, ok1 := oldObj.(*api.Pod)
	cur, ok2 := curObj.(*api.Pod)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		// A resync: the owners' own resync covers it.
		return
	}
	labelChanged := !maps.Equal(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		c.deletePod(cur)
		if labelChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := cur.ControllerRef(), old.ControllerRef()
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if owner := c.resolveControllerRef(old.Namespace, oldRef); owner != nil {
			c.ctrl.queue.Add(KeyOf(owner))
		}
	}
	if curRef != nil {
		owner := c.resolveControllerRef(cur.Namespace, curRef)
		if owner == nil {
			return
		}
		key := KeyOf(owner)
		c.ctrl.queue.Add(key)
		if rs, err := c.kind.view(owner); err == nil && rs.Spec.MinReadySeconds > 0 && !isPodReady(old) && isPodReady(cur) {
			c.ctrl.queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelChanged || refChanged {
		for _, owner := range c.matchingOwners(cur) {
			c.ctrl.queue.Add(KeyOf(owner))
		}
	}
}

func (c *ReplicaSetController) deletePod(o api.Object) {
	pod, ok := o.(*api.Pod)
	if !ok {
		return
	}
	ref := pod.ControllerRef()
	if ref == nil {
		return
	}
	owner := c.resolveControllerRef(pod.Namespace, ref)
	if owner == nil {
		return
	}
	key := KeyOf(owner)
	c.expectations.DeletionObserved(key, KeyOf(pod))
	c.ctrl.queue.Add(key)
}

// sync is syncReplicaSet: claim the pods, act if the expectations allow it
// and the owner is not being deleted, then write the status, whatever
// happened.
func (c *ReplicaSetController) sync(ctx context.Context, key string) (Result, error) {
	namespace, name := SplitKey(key)
	owner, ok := c.owners.Get(namespace, name)
	if !ok {
		c.expectations.Delete(key)
		return Result{}, nil
	}
	rs, err := c.kind.view(owner)
	if err != nil {
		c.log.Error("cannot read owner", "key", key, "err", err)
		return Result{}, nil
	}
	selector, err := api.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		c.log.Error("invalid selector", "key", key, "err", err)
		return Result{}, nil
	}
	needsSync := c.expectations.Satisfied(key)

	var active []*api.Pod
	for _, o := range c.pods.List(namespace, nil) {
		if p, ok := o.(*api.Pod); ok && isPodActive(p) {
			active = append(active, p)
		}
	}
	claimed, err := c.claimPods(ctx, owner, rs, selector, active)
	if err != nil {
		return Result{}, err
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, owner, rs, claimed)
	}
	status := calculateStatus(rs, claimed, manageErr, c.clock.Now())
	updated, err := c.updateStatus(ctx, owner, rs, status)
	if err != nil {
		return Result{}, errors.Join(manageErr, err)
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == replicasOf(updated) &&
		updated.Status.AvailableReplicas != replicasOf(updated) {
		return Result{RequeueAfter: untilAvailable(claimed, updated.Spec.MinReadySeconds, c.clock.Now())}, nil
	}
	return Result{}, manageErr
}

// untilAvailable is how long until the next of pods that is ready but not
// yet available becomes available: minReadySeconds after its Ready
// transition, and a moment, since availability starts strictly after.
// Kubernetes requeues after the whole minReadySeconds from the sync; from
// the transition, a sync that ran late (on a busy node, or after the clock
// moved) still reports the pods available on time.
func untilAvailable(pods []*api.Pod, minReadySeconds int32, now time.Time) time.Duration {
	period := time.Duration(minReadySeconds) * time.Second
	next := period
	for _, p := range pods {
		ready := api.PodReadyTime(p)
		if ready.IsZero() || isPodAvailable(p, minReadySeconds, now) {
			continue
		}
		next = min(next, ready.Add(period).Sub(now)+time.Millisecond)
	}
	return max(next, time.Millisecond)
}

func replicasOf(rs *api.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// errSkip aborts a GuaranteedUpdate that has nothing (more) to do.
var errSkip = errors.New("nothing to change")

// claimPods adopts matching orphans and releases owned pods that no longer
// match, and returns the pods the owner keeps (Kubernetes' ClaimPods).
func (c *ReplicaSetController) claimPods(ctx context.Context, owner api.Object, rs *api.ReplicaSet, sel api.Selector, pods []*api.Pod) ([]*api.Pod, error) {
	var (
		claimed  []*api.Pod
		errs     []error
		adoptErr error
		checked  bool
	)
	canAdopt := func() error {
		if !checked {
			checked = true
			adoptErr = c.recheckOwner(ctx, rs)
		}
		return adoptErr
	}
	deleting := rs.DeletionTimestamp != nil
	for _, pod := range pods {
		ref := pod.ControllerRef()
		matches := !sel.Empty() && sel.Matches(pod.Labels)
		switch {
		case ref != nil && ref.UID != rs.UID:
			// Another controller's pod.
		case ref != nil && matches:
			claimed = append(claimed, pod)
		case ref != nil:
			if deleting {
				continue
			}
			if err := c.releasePod(ctx, rs, pod); err != nil {
				errs = append(errs, err)
			}
		case !matches || deleting || pod.DeletionTimestamp != nil:
		default:
			if err := canAdopt(); err != nil {
				errs = append(errs, fmt.Errorf("can't adopt Pod %s/%s (%s): %w", pod.Namespace, pod.Name, pod.UID, err))
				continue
			}
			adopted, err := c.adoptPod(ctx, owner, rs, pod)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if adopted != nil {
				claimed = append(claimed, adopted)
			}
		}
	}
	return claimed, errors.Join(errs...)
}

// recheckOwner reads the owner from the store, bypassing the cache, so that
// a pod is never adopted by an owner that was deleted (or replaced by one of
// the same name) since the cache saw it.
func (c *ReplicaSetController) recheckOwner(ctx context.Context, rs *api.ReplicaSet) error {
	fresh, err := c.store.Get(ctx, c.kind.resource, rs.Namespace, rs.Name)
	if err != nil {
		return err
	}
	m := fresh.GetObjectMeta()
	if m.UID != rs.UID {
		return fmt.Errorf("original %s %s/%s is gone: got uid %s, wanted %s", c.kind.resource.Kind, rs.Namespace, rs.Name, m.UID, rs.UID)
	}
	if m.DeletionTimestamp != nil {
		return fmt.Errorf("%s %s/%s has just been deleted at %s", c.kind.resource.Kind, rs.Namespace, rs.Name, m.DeletionTimestamp.UTC().Format(time.RFC3339))
	}
	return nil
}

func (c *ReplicaSetController) controllerRef(rs *api.ReplicaSet) api.OwnerReference {
	yes := true
	return api.OwnerReference{
		APIVersion: c.kind.resource.APIVersion(), Kind: c.kind.resource.Kind,
		Name: rs.Name, UID: rs.UID, Controller: &yes, BlockOwnerDeletion: &yes,
	}
}

func podsResource() *api.ResourceInfo {
	r, ok := api.LookupResource("pods")
	if !ok {
		panic("controller: the api package serves no pods")
	}
	return r
}

// adoptPod adds the owner's controllerRef to an orphan, unless it changed
// meanwhile (another owner adopted it, it is being deleted, or it is another
// pod of the same name). It returns nil, nil when the pod was not adopted.
func (c *ReplicaSetController) adoptPod(ctx context.Context, owner api.Object, rs *api.ReplicaSet, pod *api.Pod) (*api.Pod, error) {
	ref := c.controllerRef(rs)
	o, err := c.store.GuaranteedUpdate(ctx, podsResource(), pod.Namespace, pod.Name, func(o api.Object) (api.Object, error) {
		p, ok := o.(*api.Pod)
		if !ok || p.UID != pod.UID || p.ControllerRef() != nil || p.DeletionTimestamp != nil {
			return nil, errSkip
		}
		p.OwnerReferences = append(p.OwnerReferences, ref)
		return p, nil
	})
	switch {
	case errors.Is(err, errSkip) || api.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("adopting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	p, _ := o.(*api.Pod)
	return p, nil
}

// releasePod removes the owner's references from a pod that stopped
// matching its selector.
func (c *ReplicaSetController) releasePod(ctx context.Context, rs *api.ReplicaSet, pod *api.Pod) error {
	_, err := c.store.GuaranteedUpdate(ctx, podsResource(), pod.Namespace, pod.Name, func(o api.Object) (api.Object, error) {
		p, ok := o.(*api.Pod)
		if !ok || p.UID != pod.UID {
			return nil, errSkip
		}
		refs := slices.DeleteFunc(slices.Clone(p.OwnerReferences), func(r api.OwnerReference) bool { return r.UID == rs.UID })
		if len(refs) == len(p.OwnerReferences) {
			return nil, errSkip
		}
		if len(refs) == 0 {
			refs = nil
		}
		p.OwnerReferences = refs
		return p, nil
	})
	if errors.Is(err, errSkip) || api.IsNotFound(err) || api.IsInvalid(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("releasing pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// manageReplicas creates or deletes pods to reach spec.replicas, at most
// BurstReplicas at a time, creating in slow-start batches.
func (c *ReplicaSetController) manageReplicas(ctx context.Context, owner api.Object, rs *api.ReplicaSet, pods []*api.Pod) error {
	key := KeyOf(owner)
	diff := len(pods) - int(replicasOf(rs))
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		c.expectations.ExpectCreations(key, n)
		created, err := slowStartBatch(n, SlowStartInitialBatchSize, func() error { return c.createPod(ctx, owner) })
		// Creations that were skipped or failed will never be observed.
		for range n - created {
			c.expectations.CreationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, c.burst)
		victims := podsToDelete(pods, pods, n, c.clock.Now())
		podKeys := make([]string, len(victims))
		for i, p := range victims {
			podKeys[i] = KeyOf(p)
		}
		c.expectations.ExpectDeletions(key, podKeys)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		for i, p := range victims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.deleteOwnedPod(ctx, owner, p); err != nil {
					c.expectations.DeletionObserved(key, podKeys[i])
					if !api.IsNotFound(err) {
						errs[i] = err
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// slowStartBatch calls fn count times, in batches of initial, then twice as
// many each time, each batch in parallel; it stops after the first batch
// with an error, and returns how many calls succeeded and that error.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		successes += batch - len(errs)
		if err, ok := <-errs; ok {
			return successes, err
		}
		remaining -= batch
	}
	return successes, nil
}

// createPod creates one pod from the owner's template: its labels,
// annotations, finalizers and spec, generateName "<owner>-", the owner's
// namespace and controllerRef.
func (c *ReplicaSetController) createPod(ctx context.Context, owner api.Object) error {
	rs, err := c.kind.view(owner.DeepCopyObject())
	if err != nil {
		return err
	}
	t := rs.Spec.Template
	pod := &api.Pod{
		TypeMeta: api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{
			GenerateName:    rs.Name + "-",
			Namespace:       rs.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []api.OwnerReference{c.controllerRef(rs)},
		},
		Spec: t.Spec,
	}
	if len(pod.Labels) == 0 {
		return fmt.Errorf("unable to create pods, no labels")
	}
	// The pod takes the write path of every client: named, defaulted,
	// validated, given its first status and bound as the API creates one,
	// so that a template the owner's validation let through cannot store
	// a pod the API would refuse, and no watcher sees a pod half made.
	created, err := c.registry.Create(ctx, pod)
	if err != nil {
		c.recorder.Eventf(owner, events.Warning, ReasonFailedCreate, "Error creating: %v", err)
		return err
	}
	c.recorder.Eventf(owner, events.Normal, ReasonSuccessfulCreate, "Created pod: %s", created.GetObjectMeta().Name)
	return nil
}

func (c *ReplicaSetController) deleteOwnedPod(ctx context.Context, owner api.Object, pod *api.Pod) error {
	_, _, err := c.store.Delete(ctx, podsResource(), pod.Namespace, pod.Name, store.DeleteOptions{UID: pod.UID})
	if err != nil {
		if !api.IsNotFound(err) {
			c.recorder.Eventf(owner, events.Warning, ReasonFailedDelete, "Error deleting: %v", err)
		}
		return err
	}
	c.recorder.Eventf(owner, events.Normal, ReasonSuccessfulDelete, "Deleted pod: %s", pod.Name)
	return nil
}

// calculateStatus counts the owner's pods and sets or clears the
// ReplicaFailure condition after manageReplicas.
func calculateStatus(rs *api.ReplicaSet, pods []*api.Pod, manageErr error, now time.Time) api.ReplicaSetStatus {
	st := rs.Status
	st.Conditions = slices.Clone(rs.Status.Conditions)
	var fully, ready, available int32
	for _, p := range pods {
		if labelsContain(p.Labels, rs.Spec.Template.Labels) {
			fully++
		}
		if isPodReady(p) {
			ready++
			if isPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	i := slices.IndexFunc(st.Conditions, func(c api.ReplicaSetCondition) bool { return c.Type == api.ReplicaSetReplicaFailure })
	switch {
	case manageErr != nil && i < 0:
		reason := ""
		if diff := len(pods) - int(replicasOf(rs)); diff < 0 {
			reason = ReasonFailedCreate
		} else if diff > 0 {
			reason = ReasonFailedDelete
		}
		st.Conditions = append(st.Conditions, api.ReplicaSetCondition{
			Type: api.ReplicaSetReplicaFailure, Status: api.ConditionTrue,
			LastTransitionTime: api.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && i >= 0:
		st.Conditions = slices.Delete(st.Conditions, i, i+1)
	}
	if len(st.Conditions) == 0 {
		st.Conditions = nil
	}
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas = fully
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	return st
}

// labelsContain reports whether every label of want is in have.
func labelsContain(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// updateStatus writes status unless nothing changed, with observedGeneration
// the generation this sync acted on. It returns the owner as a ReplicaSet
// with the new status.
func (c *ReplicaSetController) updateStatus(ctx context.Context, owner api.Object, rs *api.ReplicaSet, status api.ReplicaSetStatus) (*api.ReplicaSet, error) {
	status.ObservedGeneration = rs.Generation
	if rs.Status.ObservedGeneration == rs.Generation && reflect.DeepEqual(normalStatus(rs.Status), normalStatus(status)) {
		return rs, nil
	}
	o, err := c.store.GuaranteedUpdate(ctx, c.kind.resource, rs.Namespace, rs.Name, func(o api.Object) (api.Object, error) {
		if o.GetObjectMeta().UID != rs.UID {
			return nil, errSkip
		}
		if err := c.kind.setStatus(o, &status); err != nil {
			return nil, err
		}
		return o, nil
	})
	if errors.Is(err, errSkip) || api.IsNotFound(err) {
		return rs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("updating status of %s %s: %w", c.kind.resource.Kind, KeyOf(owner), err)
	}
	return c.kind.view(o)
}

func normalStatus(s api.ReplicaSetStatus) api.ReplicaSetStatus {
	if len(s.Conditions) == 0 {
		s.Conditions = nil
	}
	return s
}
