package controller

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
)

func TestGarbageCollectorPropagation(t *testing.T) {
	tests := []struct {
		policy   string
		podsLeft int
	}{
		{PropagationBackground, 0},
		{PropagationForeground, 0},
		{PropagationOrphan, 3},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			e := newEnv(t)
			e.startManager()
			rs := e.create(newRS("rs", 3, &api.LabelSelector{MatchLabels: web}, web)).(*api.ReplicaSet)
			e.eventually(func() bool { return countOwned(e.pods(), rs.UID) == 3 }, func() string { return "never 3 pods" })
			// An unrelated pod stays whatever happens.
			e.create(newPod("bystander", map[string]string{"app": "db"}))
			_, _, err := e.store.Delete(e.ctx, resource(t, "replicasets.apps"), "default", "rs", store.DeleteOptions{PropagationPolicy: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			e.eventually(func() bool {
				_, err := e.get("replicasets.apps", "rs")
				return api.IsNotFound(err) && len(e.pods()) == tt.podsLeft+1
			}, func() string {
				_, err := e.get("replicasets.apps", "rs")
				return fmt.Sprintf("%d pods left, rs: %v", len(e.pods()), err)
			})
			for _, p := range e.pods() {
				if len(p.OwnerReferences) != 0 {
					t.Errorf("pod %s keeps owner references %+v", p.Name, p.OwnerReferences)
				}
			}
		})
	}
}

// TestGarbageCollectorForegroundWaitsForDependents: the owner stays, marked
// deleted, while a blocking dependent is still there.
func TestGarbageCollectorForegroundWaitsForDependents(t *testing.T) {
	e := newEnv(t)
	rs := e.create(newRS("rs", 0, &api.LabelSelector{MatchLabels: web}, web)).(*api.ReplicaSet)
	yes := true
	held := newPod("held", map[string]string{"app": "other"})
	held.Finalizers = []string{"example.com/hold"} // keeps the pod while deleted
	held.OwnerReferences = []api.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: rs.UID, BlockOwnerDeletion: &yes}}
	e.create(held)
	e.startManager()
	if _, _, err := e.store.Delete(e.ctx, resource(t, "replicasets.apps"), "default", "rs", store.DeleteOptions{PropagationPolicy: PropagationForeground}); err != nil {
		t.Fatal(err)
	}
	e.eventually(func() bool {
		o, err := e.get("pods", "held")
		return err == nil && o.GetObjectMeta().DeletionTimestamp != nil
	}, func() string { return "the blocking dependent was never deleted" })
	e.consistently(func() bool {
		o, err := e.get("replicasets.apps", "rs")
		return err == nil && o.GetObjectMeta().DeletionTimestamp != nil
	}, func() string { return "the owner went before its blocking dependent" })
	_, err := e.store.GuaranteedUpdate(e.ctx, resource(t, "pods"), "default", "held", func(o api.Object) (api.Object, error) {
		o.GetObjectMeta().Finalizers = nil
		return o, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually(func() bool {
		_, err := e.get("replicasets.apps", "rs")
		return api.IsNotFound(err)
	}, func() string { return "the owner stayed after its dependents went" })
}

// TestGarbageCollectorKeepsDependentsOfLiveOwners: a pod with one gone and
// one live owner loses only the reference to the gone one.
func TestGarbageCollectorKeepsDependentsOfLiveOwners(t *testing.T) {
	e := newEnv(t)
	live := e.create(newRS("live", 0, &api.LabelSelector{MatchLabels: map[string]string{"x": "y"}}, map[string]string{"x": "y"})).(*api.ReplicaSet)
	p := newPod("shared", map[string]string{"app": "other"})
	p.OwnerReferences = []api.OwnerReference{
		{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "gone", UID: "uid-gone"},
		{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "live", UID: live.UID},
	}
	e.create(p)
	e.startManager()
	e.eventually(func() bool {
		o, err := e.get("pods", "shared")
		return err == nil && len(o.GetObjectMeta().OwnerReferences) == 1 && o.GetObjectMeta().OwnerReferences[0].UID == live.UID
	}, func() string { return "the reference to the gone owner stayed" })
}

// TestManagerRestartCollectsOrphansAndConverges: what happened while no
// manager ran is healed by the next one.
func TestManagerRestartCollectsOrphansAndConverges(t *testing.T) {
	e := newEnv(t)
	stop := e.startManager()
	doomed := e.create(newRS("doomed", 4, &api.LabelSelector{MatchLabels: map[string]string{"app": "doomed"}}, map[string]string{"app": "doomed"})).(*api.ReplicaSet)
	e.eventually(func() bool { return countOwned(e.pods(), doomed.UID) == 4 }, func() string { return "never 4 pods" })
	keep := e.create(newRS("keep", 30, &api.LabelSelector{MatchLabels: web}, web)).(*api.ReplicaSet)
	e.eventually(func() bool { return countOwned(e.pods(), keep.UID) > 0 }, func() string { return "keep never started" })
	stop() // in the middle of scaling up

	// While the manager is down the owner goes (as a removal straight
	// from the store would), and a pod of keep goes too.
	if _, _, err := e.store.Delete(e.ctx, resource(t, "replicasets.apps"), "default", "doomed", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(func() bool { return countOwned(e.pods(), doomed.UID) == 4 }, func() string { return "pods went with no manager running" })

	e.startManager()
	e.eventually(func() bool {
		pods := e.pods()
		return len(pods) == 30 && countOwned(pods, keep.UID) == 30 && countOwned(pods, doomed.UID) == 0
	}, func() string { return fmt.Sprint(len(e.pods()), " pods after the restart") })
	e.consistently(func() bool { return len(e.pods()) == 30 }, func() string { return "pod count moved after converging" })
}

// The graph can lag the store: right after the collector orphaned a pod for
// an owner that is then removed, the graph may still list that owner. The
// collector decides on the pod as stored, and keeps it.
func TestGarbageCollectorDecidesOnTheStoredObject(t *testing.T) {
	e := newEnv(t)
	gc := newGarbageCollector(e.store, nil, e.clock, 1, slog.New(slog.DiscardHandler))
	pod := e.create(newPod("orphaned", web)).(*api.Pod)
	yes := true
	stale := &gcNode{resource: podsResource(), namespace: pod.Namespace, name: pod.Name, uid: pod.UID,
		owners: []api.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController", Name: "gone", UID: "gone-uid", Controller: &yes}}}
	if err := gc.collectIfOwnersGone(e.ctx, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := e.get("pods", "orphaned"); err != nil {
		t.Fatalf("the orphaned pod was deleted for an owner it no longer has: %v", err)
	}
}

// The last step of an orphan or a foreground deletion reads the dependents
// from the store: one the graph has not seen yet (here, a graph whose
// informers never ran) is orphaned too, and still holds a foreground
// deletion. Before, the orphaned RS went while such a pod kept its
// reference, and the pod was then collected as an orphan.
func TestGarbageCollectorFinishesDeletionsOnTheStore(t *testing.T) {
	e := newEnv(t)
	var informers []*Informer
	for _, r := range api.Resources() {
		informers = append(informers, NewInformer(e.store, r, e.clock, 0, quiet))
	}
	gc := newGarbageCollector(e.store, informers, e.clock, 1, quiet)
	rsResource := resource(t, "replicasets.apps")
	yes := true
	for _, policy := range []string{PropagationOrphan, PropagationForeground} {
		rs := e.create(newRS("rs-"+strings.ToLower(policy), 0, &api.LabelSelector{MatchLabels: web}, web)).(*api.ReplicaSet)
		pod := newPod("dependent-"+strings.ToLower(policy), map[string]string{"app": "other"})
		pod.OwnerReferences = []api.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, BlockOwnerDeletion: &yes}}
		e.create(pod)
		if _, _, err := e.store.Delete(e.ctx, rsResource, "default", rs.Name, store.DeleteOptions{PropagationPolicy: policy}); err != nil {
			t.Fatal(err)
		}
		deleting, err := e.get("replicasets.apps", rs.Name)
		if err != nil {
			t.Fatal(err)
		}
		owner := nodeOf(rsResource, deleting)
		switch policy {
		case PropagationOrphan:
			if err := gc.orphanDependents(e.ctx, owner); err != nil {
				t.Fatal(err)
			}
			p, err := e.get("pods", pod.Name)
			if err != nil || len(p.GetObjectMeta().OwnerReferences) != 0 {
				t.Errorf("orphan: the dependent the graph did not know: %v, owner references %+v", err, p.GetObjectMeta().OwnerReferences)
			}
			if _, err := e.get("replicasets.apps", rs.Name); !api.IsNotFound(err) {
				t.Errorf("orphan: the owner is still there: %v", err)
			}
		case PropagationForeground:
			if err := gc.deleteDependentsFirst(e.ctx, owner); err != nil {
				t.Fatal(err)
			}
			if o, err := e.get("replicasets.apps", rs.Name); err != nil || !slices.Contains(o.GetObjectMeta().Finalizers, FinalizerForegroundDeletion) {
				t.Errorf("foreground: the owner went before a blocking dependent the graph did not know: %v", err)
			}
		}
	}
}
