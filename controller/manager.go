// Package controller is wasmlet's kube-controller-manager: the Deployment,
// ReplicaSet, ReplicationController and garbage-collector controllers, and the machinery
// they run on (informers over store watches, a deduplicating rate-limited
// work queue, level-triggered reconcilers).
//
// Controllers meet the host only in the store: they create and delete pod
// objects and never run anything. They create pods through the registry,
// the write path of every client, so that a pod of theirs is defaulted,
// validated and bound in its first version as one a user creates. They never call time.Now or sleep: every
// timer comes from the injected clock, so tests run in virtual time.
//
// Decisions worth knowing:
//   - Controllers read from informer caches, as Kubernetes' do, and write to
//     the store. Expectations (5 minutes) bridge the gap between a write and
//     the watch event that shows it, so that a sync that runs before the
//     cache caught up never creates or deletes twice. Adoption re-reads the
//     owner from the store (not the cache) and checks its UID.
//   - The ReplicationController is the ReplicaSet controller with an adapter
//     that views an RC as a ReplicaSet (its equality selector as
//     matchLabels), as Kubernetes does; events name "replication-controller".
//   - The garbage collector keeps a graph by UID from informers of every
//     kind; before it deletes a dependent whose owner the graph does not
//     know, it asks the store, so a watch that lags never costs a pod. After
//     a restart the first list of every kind is a full resync: dependents
//     whose owners went while the node was down are collected then.
//   - An ownerReference to a kind the node does not serve is never taken as
//     gone.
//   - The Deployment controller is Kubernetes' step by step. It writes a
//     ReplicaSet or a Deployment's status only over the version it read; a
//     newer one ends the sync quietly, as the watch brings it and another
//     sync. It counts a ReplicaSet's pods as max(spec, status) replicas and
//     its available ones as at most spec.replicas, so that a rollout stays
//     within maxSurge and maxUnavailable on the pods that exist, not only on
//     the specs (docs/RATIONALE.md, "Deployments").
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// DefaultResyncPeriod is how often every informer replays its cache to the
// controllers when Options.ResyncPeriod is 0.
const DefaultResyncPeriod = 5 * time.Minute

// DefaultWorkers is Kubernetes' ConcurrentRSSyncs / ConcurrentRCSyncs.
const DefaultWorkers = 5

// Options configures NewManager. The zero value is usable.
type Options struct {
	// Clock defaults to clock.Real().
	Clock clock.Clock
	// Workers per controller; 0 means DefaultWorkers.
	Workers int
	// ResyncPeriod of the informers; 0 means DefaultResyncPeriod, < 0
	// disables resync.
	ResyncPeriod time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registry is the write path pods are created through; it must be
	// over the same store. nil is a registry with the defaults of
	// registry.Options (pods created unbound, no hostPath volumes).
	Registry *registry.Registry
}

// Manager runs the ReplicaSet, ReplicationController and garbage-collector
// controllers over one store, sharing one informer per kind.
type Manager struct {
	informers   []*Informer
	replicaSets *ReplicaSetController
	rcs         *ReplicaSetController
	deployments *DeploymentController
	gc          *GarbageCollector
	endpoints   []func(context.Context) error

	mu      sync.Mutex
	started bool
}

// NewManager builds the controllers; nothing runs until Start.
func NewManager(st *store.Store, opts Options) (*Manager, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	switch {
	case opts.ResyncPeriod == 0:
		opts.ResyncPeriod = DefaultResyncPeriod
	case opts.ResyncPeriod < 0:
		opts.ResyncPeriod = 0
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = registry.New(st, registry.Options{Clock: opts.Clock})
	}
	if opts.Registry.Store() != st {
		return nil, fmt.Errorf("controller: the registry writes to another store")
	}
	m := &Manager{}
	byResource := map[*api.ResourceInfo]*Informer{}
	for _, r := range api.Resources() {
		inf := NewInformer(st, r, opts.Clock, opts.ResyncPeriod, opts.Logger)
		byResource[r] = inf
		m.informers = append(m.informers, inf)
	}
	informer := func(name string) (*Informer, error) {
		r, err := lookupResource(name)
		if err != nil {
			return nil, err
		}
		inf, ok := byResource[r]
		if !ok {
			return nil, fmt.Errorf("controller: %s is not among api.Resources()", name)
		}
		return inf, nil
	}
	pods, err := informer("pods")
	if err != nil {
		return nil, err
	}
	rsKind, err := replicaSetKindOf()
	if err != nil {
		return nil, err
	}
	rcKind, err := replicationControllerKindOf()
	if err != nil {
		return nil, err
	}
	rsInf, err := informer("replicasets.apps")
	if err != nil {
		return nil, err
	}
	rcInf, err := informer("replicationcontrollers")
	if err != nil {
		return nil, err
	}
	m.replicaSets = newReplicaSetController(rsKind, opts.Registry, rsInf, pods, opts.Clock, opts.Workers, opts.Logger)
	m.rcs = newReplicaSetController(rcKind, opts.Registry, rcInf, pods, opts.Clock, opts.Workers, opts.Logger)
	dInf, err := informer("deployments.apps")
	if err != nil {
		return nil, err
	}
	m.deployments = newDeploymentController(opts.Registry, dInf, rsInf, pods, opts.Clock, opts.Workers, opts.Logger)
	if m.endpoints, err = newEndpointsControllers(st, informer, opts.Clock, opts.Workers, opts.Logger); err != nil {
		return nil, err
	}
	m.gc = newGarbageCollector(st, m.informers, opts.Clock, opts.Workers, opts.Logger)
	return m, nil
}

// Start runs the informers and the controllers until ctx ends, then waits
// for all of them to stop and returns nil. A Manager starts once.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return fmt.Errorf("controller: manager already started")
	}
	m.started = true
	m.mu.Unlock()

	var wg sync.WaitGroup
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = f(ctx)
		}()
	}
	for _, inf := range m.informers {
		run(inf.Start)
	}
	run(m.replicaSets.Start)
	run(m.rcs.Start)
	run(m.deployments.Start)
	run(m.gc.Start)
	for _, start := range m.endpoints {
		run(start)
	}
	wg.Wait()
	return nil
}
