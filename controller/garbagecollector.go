package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

// The finalizers of cascading deletion, and the propagation policies.
const (
	FinalizerOrphan             = "orphan"
	FinalizerForegroundDeletion = "foregroundDeletion"

	PropagationBackground = "Background"
	PropagationForeground = "Foreground"
	PropagationOrphan     = "Orphan"
)

// GarbageCollector deletes the dependents of deleted owners, following
// ownerReferences by UID across every kind the node serves:
//
//   - an object none of whose owners exists any more is deleted
//     (background propagation, and start-up resync after a restart);
//   - an owner being deleted with the foregroundDeletion finalizer has its
//     dependents that block owner deletion deleted first, and loses the
//     finalizer (and so goes) once none is left;
//   - an owner being deleted with the orphan finalizer has its reference
//     removed from every dependent, then loses the finalizer.
//
// Its graph of owners and dependents is built from informers of every kind;
// an owner that the graph does not know is looked up in the store before
// anything is deleted, so that a lagging watch never makes it collect a
// dependent whose owner exists.
type GarbageCollector struct {
	store *store.Store
	log   *slog.Logger
	ctrl  *Controller
	// resources are the kinds of its informers: where dependents can be.
	resources []*api.ResourceInfo

	mu         sync.Mutex
	nodes      map[string]*gcNode         // uid → object
	dependents map[string]map[string]bool // owner uid → dependent uids
}

// gcNode is what the collector keeps of one object.
type gcNode struct {
	resource        *api.ResourceInfo
	namespace, name string
	uid             string
	owners          []api.OwnerReference
	deleting        bool
	finalizers      []string
}

func (n *gcNode) hasFinalizer(f string) bool { return slices.Contains(n.finalizers, f) }

// waitingForDependents: being deleted in the foreground.
func (n *gcNode) waitingForDependents() bool {
	return n.deleting && n.hasFinalizer(FinalizerForegroundDeletion)
}

func newGarbageCollector(st *store.Store, informers []*Informer, clk clock.Clock, workers int, log *slog.Logger) *GarbageCollector {
	gc := &GarbageCollector{
		store:      st,
		nodes:      map[string]*gcNode{},
		dependents: map[string]map[string]bool{},
	}
	gc.ctrl = NewController("garbage-collector", ReconcilerFunc(gc.reconcile), clk, workers, log)
	gc.log = gc.ctrl.log
	for _, inf := range informers {
		r := inf.Resource()
		gc.resources = append(gc.resources, r)
		inf.AddHandler(Handler{
			OnAdd:    func(o api.Object) { gc.observe(r, nil, o) },
			OnUpdate: func(old, o api.Object) { gc.observe(r, old, o) },
			OnDelete: func(o api.Object) { gc.forget(o) },
		})
		gc.ctrl.WaitFor(inf)
	}
	return gc
}

// Start runs the collector's workers until ctx ends.
func (gc *GarbageCollector) Start(ctx context.Context) error { return gc.ctrl.Start(ctx) }

// nodeOf is the graph's node for o, an object of r.
func nodeOf(r *api.ResourceInfo, o api.Object) *gcNode {
	m := o.GetObjectMeta()
	return &gcNode{
		resource: r, namespace: m.Namespace, name: m.Name, uid: m.UID,
		owners:     slices.Clone(m.OwnerReferences),
		deleting:   m.DeletionTimestamp != nil,
		finalizers: slices.Clone(m.Finalizers),
	}
}

func (gc *GarbageCollector) observe(r *api.ResourceInfo, old, o api.Object) {
	m := o.GetObjectMeta()
	if m.UID == "" {
		return
	}
	n := nodeOf(r, o)
	var removedOwners []string
	gc.mu.Lock()
	if prev, ok := gc.nodes[m.UID]; ok {
		for _, ref := range prev.owners {
			if !slices.ContainsFunc(n.owners, func(r api.OwnerReference) bool { return r.UID == ref.UID }) {
				removedOwners = append(removedOwners, ref.UID)
				gc.unlinkLocked(ref.UID, m.UID)
			}
		}
	}
	gc.nodes[m.UID] = n
	for _, ref := range n.owners {
		if gc.dependents[ref.UID] == nil {
			gc.dependents[ref.UID] = map[string]bool{}
		}
		gc.dependents[ref.UID][m.UID] = true
	}
	gc.mu.Unlock()

	q := gc.ctrl.queue
	if len(n.owners) > 0 || (n.deleting && (n.hasFinalizer(FinalizerOrphan) || n.hasFinalizer(FinalizerForegroundDeletion))) {
		q.Add(m.UID)
	}
	// An owner waiting in the foreground for a dependent that left it.
	for _, uid := range removedOwners {
		q.Add(uid)
	}
}

func (gc *GarbageCollector) unlinkLocked(owner, dependent string) {
	if deps := gc.dependents[owner]; deps != nil {
		delete(deps, dependent)
		if len(deps) == 0 {
			delete(gc.dependents, owner)
		}
	}
}

func (gc *GarbageCollector) forget(o api.Object) {
	m := o.GetObjectMeta()
	gc.mu.Lock()
	n, ok := gc.nodes[m.UID]
	if ok {
		delete(gc.nodes, m.UID)
		for _, ref := range n.owners {
			gc.unlinkLocked(ref.UID, m.UID)
		}
	}
	var deps []string
	for uid := range gc.dependents[m.UID] {
		deps = append(deps, uid)
	}
	gc.mu.Unlock()
	q := gc.ctrl.queue
	for _, uid := range deps {
		q.Add(uid)
	}
	for _, ref := range m.OwnerReferences {
		q.Add(ref.UID)
	}
}

// reconcile handles the object with uid: first its own cascading deletion
// (orphan or foreground), then its owners.
func (gc *GarbageCollector) reconcile(ctx context.Context, uid string) (Result, error) {
	gc.mu.Lock()
	n, ok := gc.nodes[uid]
	if ok {
		c := *n
		n = &c
	}
	gc.mu.Unlock()
	if !ok {
		return Result{}, nil
	}
	if n.deleting {
		switch {
		case n.hasFinalizer(FinalizerOrphan):
			return Result{}, gc.orphanDependents(ctx, n)
		case n.hasFinalizer(FinalizerForegroundDeletion):
			return Result{}, gc.deleteDependentsFirst(ctx, n)
		}
		return Result{}, nil // already going
	}
	return Result{}, gc.collectIfOwnersGone(ctx, n)
}

// dependentsOf returns copies of the known dependents of uid.
func (gc *GarbageCollector) dependentsOf(uid string) []*gcNode {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	var out []*gcNode
	for d := range gc.dependents[uid] {
		if n, ok := gc.nodes[d]; ok {
			c := *n
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *gcNode) int { return compareStrings(a.uid, b.uid) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// orphanDependents removes owner's references from its dependents, then
// the orphan finalizer from owner. The dependents are read from the store:
// one the graph does not know yet (created a moment before its owner's
// deletion) would keep its reference to an owner that is then gone, and be
// collected as an orphan, the opposite of what was asked.
func (gc *GarbageCollector) orphanDependents(ctx context.Context, owner *gcNode) error {
	deps, err := gc.storedDependents(ctx, owner)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range deps {
		if err := gc.removeOwnerRefs(ctx, d, []string{owner.uid}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return gc.removeFinalizer(ctx, owner, FinalizerOrphan)
}

// deleteDependentsFirst deletes owner's dependents that block its deletion,
// and removes the foregroundDeletion finalizer once none is left.
func (gc *GarbageCollector) deleteDependentsFirst(ctx context.Context, owner *gcNode) error {
	var blocking []*gcNode
	for _, d := range gc.dependentsOf(owner.uid) {
		if blocks(d, owner) {
			blocking = append(blocking, d)
		}
	}
	if len(blocking) == 0 {
		// The graph can lag the store: the owner goes only when the store
		// has no blocking dependent either. One the graph does not know
		// yet is deleted when it arrives (its owner is waiting), and its
		// removal brings the owner back here.
		deps, err := gc.storedDependents(ctx, owner)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(deps, func(d *gcNode) bool { return blocks(d, owner) }) {
			return nil
		}
		return gc.removeFinalizer(ctx, owner, FinalizerForegroundDeletion)
	}
	for _, d := range blocking {
		if !d.deleting {
			// The dependent's own reconcile deletes it: its owner is
			// waiting for its dependents.
			gc.ctrl.queue.Add(d.uid)
		}
	}
	return nil
}

// blocks: d's reference to owner blocks owner's deletion.
func blocks(d, owner *gcNode) bool {
	return slices.ContainsFunc(d.owners, func(ref api.OwnerReference) bool {
		return ref.UID == owner.uid && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
	})
}

// storedDependents lists the objects that reference owner as the store has
// them, in owner's namespace (in every namespace for a cluster-scoped
// owner). It reads every kind, so the collector asks it only for the last
// step of an orphan or foreground deletion.
func (gc *GarbageCollector) storedDependents(ctx context.Context, owner *gcNode) ([]*gcNode, error) {
	var out []*gcNode
	for _, r := range gc.resources {
		ns := owner.namespace
		if !r.Namespaced {
			ns = ""
		}
		objs, _, err := gc.store.List(ctx, r, ns, store.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing %s for the dependents of %s %s/%s: %w", r.Resource, owner.resource.Kind, owner.namespace, owner.name, err)
		}
		for _, o := range objs {
			if slices.ContainsFunc(o.GetObjectMeta().OwnerReferences, func(ref api.OwnerReference) bool { return ref.UID == owner.uid }) {
				out = append(out, nodeOf(r, o))
			}
		}
	}
	return out, nil
}

// ownerState is what an ownerReference points at.
type ownerState int

const (
	ownerSolid   ownerState = iota // exists, not waiting for its dependents
	ownerGone                      // absent, or another object of that name
	ownerWaiting                   // being deleted in the foreground
)

// resolveOwner tells what ref points at, asking the store when the graph
// does not know the owner.
func (gc *GarbageCollector) resolveOwner(ctx context.Context, dependent *gcNode, ref api.OwnerReference) (ownerState, error) {
	gc.mu.Lock()
	n, ok := gc.nodes[ref.UID]
	waiting := ok && n.waitingForDependents()
	gc.mu.Unlock()
	if ok {
		if waiting {
			return ownerWaiting, nil
		}
		return ownerSolid, nil
	}
	r, found := api.LookupKind(ref.APIVersion, ref.Kind)
	if !found {
		// A kind this node does not serve: never collect on its account.
		return ownerSolid, nil
	}
	ns := ""
	if r.Namespaced {
		ns = dependent.namespace
	}
	o, err := gc.store.Get(ctx, r, ns, ref.Name)
	switch {
	case api.IsNotFound(err):
		return ownerGone, nil
	case err != nil:
		return ownerSolid, err
	}
	m := o.GetObjectMeta()
	if m.UID != ref.UID {
		return ownerGone, nil
	}
	if m.DeletionTimestamp != nil && slices.Contains(m.Finalizers, FinalizerForegroundDeletion) {
		return ownerWaiting, nil
	}
	return ownerSolid, nil
}

// collectIfOwnersGone deletes n when none of its owners is left, drops its
// references to gone or foreground-deleting owners when another owner
// stays, and deletes it in the foreground when an owner waits for it and
// it has dependents of its own.
func (gc *GarbageCollector) collectIfOwnersGone(ctx context.Context, n *gcNode) error {
	if len(n.owners) == 0 {
		return nil
	}
	_, gone, waiting, err := gc.ownerStates(ctx, n)
	if err != nil || len(gone) == 0 && len(waiting) == 0 {
		return err
	}
	// About to act: decide again on n as stored, as Kubernetes' collector
	// does. The graph can lag the store: right after the collector orphaned
	// n for an owner that is now gone, the graph may still list that owner,
	// and n would be deleted for it.
	o, err := gc.store.Get(ctx, n.resource, n.namespace, n.name)
	switch {
	case api.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	if o.GetObjectMeta().UID != n.uid {
		return nil
	}
	n = nodeOf(n.resource, o)
	solid, gone, waiting, err := gc.ownerStates(ctx, n)
	if err != nil {
		return err
	}
	switch {
	case len(gone) == 0 && len(waiting) == 0:
		return nil
	case len(solid) > 0:
		return gc.removeOwnerRefs(ctx, n, append(gone, waiting...))
	}
	policy := PropagationBackground
	switch {
	case len(waiting) > 0 && len(gc.dependentsOf(n.uid)) > 0:
		policy = PropagationForeground
	case n.hasFinalizer(FinalizerOrphan):
		policy = PropagationOrphan
	case n.hasFinalizer(FinalizerForegroundDeletion):
		policy = PropagationForeground
	}
	gc.log.Info("deleting dependent whose owners are gone", "kind", n.resource.Kind,
		"namespace", n.namespace, "name", n.name, "uid", n.uid, "propagation", policy)
	_, _, err = gc.store.Delete(ctx, n.resource, n.namespace, n.name, store.DeleteOptions{PropagationPolicy: policy, UID: n.uid})
	if err != nil && !api.IsNotFound(err) && !api.IsConflict(err) {
		return fmt.Errorf("deleting %s %s/%s: %w", n.resource.Kind, n.namespace, n.name, err)
	}
	return nil
}

// ownerStates sorts n's owners into those that stay, those that are gone
// and those deleted in the foreground, which wait for n.
func (gc *GarbageCollector) ownerStates(ctx context.Context, n *gcNode) (solid, gone, waiting []string, err error) {
	for _, ref := range n.owners {
		s, err := gc.resolveOwner(ctx, n, ref)
		if err != nil {
			return nil, nil, nil, err
		}
		switch s {
		case ownerSolid:
			solid = append(solid, ref.UID)
		case ownerGone:
			gone = append(gone, ref.UID)
		case ownerWaiting:
			waiting = append(waiting, ref.UID)
		}
	}
	return solid, gone, waiting, nil
}

// removeOwnerRefs removes the references to owners from n.
func (gc *GarbageCollector) removeOwnerRefs(ctx context.Context, n *gcNode, owners []string) error {
	_, err := gc.store.GuaranteedUpdate(ctx, n.resource, n.namespace, n.name, func(o api.Object) (api.Object, error) {
		m := o.GetObjectMeta()
		if m.UID != n.uid {
			return nil, errSkip
		}
		refs := slices.DeleteFunc(slices.Clone(m.OwnerReferences), func(r api.OwnerReference) bool { return slices.Contains(owners, r.UID) })
		if len(refs) == len(m.OwnerReferences) {
			return nil, errSkip
		}
		if len(refs) == 0 {
			refs = nil
		}
		m.OwnerReferences = refs
		return o, nil
	})
	if err == nil || errors.Is(err, errSkip) || api.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("removing owner references from %s %s/%s: %w", n.resource.Kind, n.namespace, n.name, err)
}

// removeFinalizer removes f from n; the store deletes n when it was the
// last finalizer of an object being deleted.
func (gc *GarbageCollector) removeFinalizer(ctx context.Context, n *gcNode, f string) error {
	_, err := gc.store.GuaranteedUpdate(ctx, n.resource, n.namespace, n.name, func(o api.Object) (api.Object, error) {
		m := o.GetObjectMeta()
		if m.UID != n.uid || !slices.Contains(m.Finalizers, f) {
			return nil, errSkip
		}
		m.Finalizers = slices.DeleteFunc(slices.Clone(m.Finalizers), func(s string) bool { return s == f })
		if len(m.Finalizers) == 0 {
			m.Finalizers = nil
		}
		return o, nil
	})
	if err == nil || errors.Is(err, errSkip) || api.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("removing finalizer %s from %s %s/%s: %w", f, n.resource.Kind, n.namespace, n.name, err)
}
