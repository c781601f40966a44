package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

var web = map[string]string{"app": "web"}

func TestSlowStartBatch(t *testing.T) {
	tests := []struct {
		name      string
		count     int
		failAt    int // 1-based call that fails; 0 = none
		batches   []int
		successes int
	}{
		{"zero", 0, 0, nil, 0},
		{"one", 1, 0, []int{1}, 1},
		{"ten", 10, 0, []int{1, 2, 4, 3}, 10},
		{"100", 100, 0, []int{1, 2, 4, 8, 16, 32, 37}, 100},
		{"failure stops after its batch", 10, 2, []int{1, 2}, 2},
		{"first call fails", 10, 1, []int{1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan int, 1000)
			release := make(chan struct{})
			var mu sync.Mutex
			calls := 0
			type result struct {
				n   int
				err error
			}
			done := make(chan result, 1)
			go func() {
				n, err := slowStartBatch(tt.count, SlowStartInitialBatchSize, func() error {
					mu.Lock()
					calls++
					c := calls
					mu.Unlock()
					started <- c
					<-release
					if c == tt.failAt {
						return errors.New("boom")
					}
					return nil
				})
				done <- result{n, err}
			}()
			// Each batch runs all of its calls at once and the next starts
			// only when they all returned: count the calls that start
			// before any is released.
			var batches []int
			for {
				var b int
				select {
				case <-started:
					b = 1
				case r := <-done:
					if !slices.Equal(batches, tt.batches) {
						t.Errorf("batches %v, want %v", batches, tt.batches)
					}
					if r.n != tt.successes || (r.err != nil) != (tt.failAt != 0) {
						t.Errorf("slowStartBatch = %d, %v; want %d successes", r.n, r.err, tt.successes)
					}
					return
				}
			collect:
				for {
					select {
					case <-started:
						b++
					case <-time.After(5 * time.Millisecond):
						break collect
					}
				}
				batches = append(batches, b)
				for range b {
					release <- struct{}{}
				}
			}
		})
	}
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// rsHarness runs the informers of a ReplicaSet controller but not its
// workers, so that tests call sync themselves.
type rsHarness struct {
	*env
	rsc *ReplicaSetController
}

func newRSHarness(t *testing.T, startPods bool) *rsHarness {
	e := newEnv(t)
	kind, err := replicaSetKindOf()
	if err != nil {
		t.Fatal(err)
	}
	owners := NewInformer(e.store, resource(t, "replicasets.apps"), e.clock, 0, quiet)
	pods := NewInformer(e.store, resource(t, "pods"), e.clock, 0, quiet)
	rsc := newReplicaSetController(kind, registry.New(e.store, registry.Options{Clock: e.clock}), owners, pods, e.clock, 1, quiet)
	go owners.Start(e.ctx)
	<-owners.Synced()
	if startPods {
		go pods.Start(e.ctx)
		<-pods.Synced()
	}
	return &rsHarness{env: e, rsc: rsc}
}

func (h *rsHarness) waitCached(name string, check func(*api.ReplicaSet) bool) {
	h.eventually(func() bool {
		o, ok := h.rsc.owners.Get("default", name)
		return ok && check(o.(*api.ReplicaSet))
	}, func() string { return "the informer never saw " + name })
}

func TestReplicaSetCreatesPodsFromTemplate(t *testing.T) {
	h := newRSHarness(t, true)
	rs := h.create(newRS("myweb-rs", 3, &api.LabelSelector{MatchLabels: web}, map[string]string{"app": "web", "tier": "front"})).(*api.ReplicaSet)
	h.waitCached("myweb-rs", func(*api.ReplicaSet) bool { return true })
	if _, err := h.rsc.sync(h.ctx, "default/myweb-rs"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	pods := h.pods()
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3", len(pods))
	}
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, "myweb-rs-") || len(p.Name) != len("myweb-rs-")+5 {
			t.Errorf("pod name %q, want myweb-rs-xxxxx", p.Name)
		}
		if p.GenerateName != "myweb-rs-" || p.Namespace != "default" {
			t.Errorf("generateName %q namespace %q", p.GenerateName, p.Namespace)
		}
		if p.Labels["app"] != "web" || p.Labels["tier"] != "front" {
			t.Errorf("labels %v", p.Labels)
		}
		want := api.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "myweb-rs", UID: rs.UID}
		if len(p.OwnerReferences) != 1 {
			t.Fatalf("ownerReferences %+v", p.OwnerReferences)
		}
		got := p.OwnerReferences[0]
		if got.APIVersion != want.APIVersion || got.Kind != want.Kind || got.Name != want.Name || got.UID != want.UID ||
			got.Controller == nil || !*got.Controller || got.BlockOwnerDeletion == nil || !*got.BlockOwnerDeletion {
			t.Errorf("ownerReference %+v, want %+v with controller and blockOwnerDeletion", got, want)
		}
		if len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Image != "myweb.wasm" {
			t.Errorf("spec not from the template: %+v", p.Spec)
		}
	}
	// Events: one SuccessfulCreate per pod, naming it.
	evs, _, err := h.store.List(h.ctx, resource(t, "events"), "default", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string]bool{}
	for _, o := range evs {
		ev := o.(*api.Event)
		if ev.Reason != ReasonSuccessfulCreate || ev.Type != "Normal" || ev.Source.Component != "replicaset-controller" ||
			ev.InvolvedObject.Kind != "ReplicaSet" || ev.InvolvedObject.UID != rs.UID || ev.Count != 1 {
			t.Errorf("event %+v", ev)
		}
		msgs[ev.Message] = true
	}
	for _, p := range pods {
		if !msgs["Created pod: "+p.Name] {
			t.Errorf("no event %q in %v", "Created pod: "+p.Name, msgs)
		}
	}
}

// TestReplicaSetExpectations: a sync that runs before the watch has shown
// the pods it created creates nothing, until the expectations expire after
// 5 minutes.
func TestReplicaSetExpectations(t *testing.T) {
	h := newRSHarness(t, false) // the pod cache never fills
	h.create(newRS("rs", 3, &api.LabelSelector{MatchLabels: web}, web))
	h.waitCached("rs", func(*api.ReplicaSet) bool { return true })
	for i := range 3 {
		if _, err := h.rsc.sync(h.ctx, "default/rs"); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
		if n := len(h.pods()); n != 3 {
			t.Fatalf("after sync %d: %d pods, want 3", i+1, n)
		}
	}
	h.clock.Advance(ExpectationsTimeout)
	h.rsc.sync(h.ctx, "default/rs")
	if n := len(h.pods()); n != 3 {
		t.Fatalf("expectations expired early: %d pods", n)
	}
	h.clock.Advance(time.Second)
	h.rsc.sync(h.ctx, "default/rs")
	if n := len(h.pods()); n != 6 {
		t.Fatalf("after the expectations expired: %d pods, want 6 (the cache is blind)", n)
	}
}

func TestReplicaSetBurstLimit(t *testing.T) {
	h := newRSHarness(t, false)
	h.create(newRS("big", 600, &api.LabelSelector{MatchLabels: web}, web))
	h.waitCached("big", func(*api.ReplicaSet) bool { return true })
	if _, err := h.rsc.sync(h.ctx, "default/big"); err != nil {
		t.Fatal(err)
	}
	if n := len(h.pods()); n != BurstReplicas {
		t.Fatalf("%d pods after one sync, want %d", n, BurstReplicas)
	}
	if adds, _ := h.rsc.expectations.pending("default/big"); adds != BurstReplicas {
		t.Fatalf("expecting %d creations, want %d", adds, BurstReplicas)
	}
}

func TestReplicaSetScalesUpAndDown(t *testing.T) {
	e := newEnv(t)
	e.startManager()
	rs := e.create(newRS("rs", 5, &api.LabelSelector{MatchLabels: web}, web)).(*api.ReplicaSet)
	e.eventually(func() bool { return countOwned(e.pods(), rs.UID) == 5 }, func() string { return fmt.Sprint(len(e.pods()), " pods") })
	e.eventually(func() bool {
		o, _ := e.get("replicasets.apps", "rs")
		s := o.(*api.ReplicaSet).Status
		return s.Replicas == 5 && s.FullyLabeledReplicas == 5 && s.ObservedGeneration == 1
	}, func() string {
		o, _ := e.get("replicasets.apps", "rs")
		return fmt.Sprintf("status %+v", o.(*api.ReplicaSet).Status)
	})

	_, err := e.store.GuaranteedUpdate(e.ctx, resource(t, "replicasets.apps"), "default", "rs", func(o api.Object) (api.Object, error) {
		o.(*api.ReplicaSet).Spec.Replicas = int32p(2)
		return o, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually(func() bool { return len(e.pods()) == 2 }, func() string { return fmt.Sprint(len(e.pods()), " pods") })
	e.eventually(func() bool {
		o, _ := e.get("replicasets.apps", "rs")
		s := o.(*api.ReplicaSet).Status
		return s.Replicas == 2 && s.ObservedGeneration == 2
	}, func() string { return "status never showed 2 replicas of generation 2" })
	e.consistently(func() bool { return len(e.pods()) == 2 }, func() string { return "pod count moved" })
}

func TestReplicaSetAdoptsOrphans(t *testing.T) {
	e := newEnv(t)
	orphan := e.create(newPod("orphan", web)).(*api.Pod)
	other := e.create(newPod("other", map[string]string{"app": "db"})).(*api.Pod)
	e.startManager()
	rs := e.create(newRS("rs", 2, &api.LabelSelector{MatchLabels: web}, web)).(*api.ReplicaSet)
	e.eventually(func() bool { return countOwned(e.pods(), rs.UID) == 2 }, func() string { return "never 2 owned pods" })
	e.consistently(func() bool { return len(e.pods()) == 3 }, func() string { return fmt.Sprint(len(e.pods()), " pods, want 3") })
	o, _ := e.get("pods", orphan.Name)
	if !ownedBy(o.(*api.Pod), rs.UID) {
		t.Errorf("orphan not adopted: %+v", o.GetObjectMeta().OwnerReferences)
	}
	o, _ = e.get("pods", other.Name)
	if len(o.GetObjectMeta().OwnerReferences) != 0 {
		t.Errorf("non-matching pod adopted: %+v", o.GetObjectMeta().OwnerReferences)
	}
}

func TestReplicaSetReleasesRelabeledPod(t *testing.T) {
	e := newEnv(t)
	e.startManager()
	rs := e.create(newRS("rs", 3, &api.LabelSelector{MatchLabels: web}, web)).(*api.ReplicaSet)
	e.eventually(func() bool { return countOwned(e.pods(), rs.UID) == 3 }, func() string { return "never 3 pods" })
	victim := e.pods()[0]
	e.relabel(victim, map[string]string{"app": "database"})
	e.eventually(func() bool {
		pods := e.pods()
		o, _ := e.get("pods", victim.Name)
		return len(pods) == 4 && countOwned(pods, rs.UID) == 3 && len(o.GetObjectMeta().OwnerReferences) == 0
	}, func() string {
		return fmt.Sprint(len(e.pods()), " pods; the relabeled one was not released and replaced")
	})

	// Label it back: adopted again, and one pod goes.
	e.relabel(victim, web)
	e.eventually(func() bool {
		pods := e.pods()
		return len(pods) == 3 && countOwned(pods, rs.UID) == 3
	}, func() string { return fmt.Sprint(len(e.pods()), " pods after labeling back") })
}

func TestReplicaSetTemplateChangeLeavesPods(t *testing.T) {
	e := newEnv(t)
	e.startManager()
	rs := e.create(newRS("rs", 2, &api.LabelSelector{MatchLabels: web}, web)).(*api.ReplicaSet)
	e.eventually(func() bool { return countOwned(e.pods(), rs.UID) == 2 }, func() string { return "never 2 pods" })
	before := e.pods()
	_, err := e.store.GuaranteedUpdate(e.ctx, resource(t, "replicasets.apps"), "default", "rs", func(o api.Object) (api.Object, error) {
		o.(*api.ReplicaSet).Spec.Template.Spec.Containers[0].Image = "other.wasm"
		return o, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually(func() bool {
		o, _ := e.get("replicasets.apps", "rs")
		return o.(*api.ReplicaSet).Status.ObservedGeneration == 2
	}, func() string { return "generation 2 never observed" })
	after := e.pods()
	if len(after) != 2 {
		t.Fatalf("%d pods", len(after))
	}
	for i := range after {
		if after[i].UID != before[i].UID || after[i].ResourceVersion != before[i].ResourceVersion || after[i].Spec.Containers[0].Image != "myweb.wasm" {
			t.Errorf("pod %s changed with the template", after[i].Name)
		}
	}
}

func TestReplicaSetStatusAvailableAfterMinReadySeconds(t *testing.T) {
	e := newEnv(t)
	e.startManager()
	r := newRS("rs", 3, &api.LabelSelector{MatchLabels: web}, map[string]string{"app": "web", "v": "1"})
	r.Spec.MinReadySeconds = 10
	rs := e.create(r).(*api.ReplicaSet)
	e.eventually(func() bool { return countOwned(e.pods(), rs.UID) == 3 }, func() string { return "never 3 pods" })
	// A pod that only carries the selector's labels is not fully labeled.
	e.relabel(e.pods()[0], web)
	// The Ready condition's time is kept to the second, as Kubernetes keeps
	// it: pods become Ready at 0.5 s, recorded as 0 s.
	e.clock.Advance(500 * time.Millisecond)
	for _, p := range e.pods() {
		e.setReady(p)
	}
	status := func() api.ReplicaSetStatus {
		o, _ := e.get("replicasets.apps", "rs")
		return o.(*api.ReplicaSet).Status
	}
	e.eventually(func() bool {
		s := status()
		return s.Replicas == 3 && s.ReadyReplicas == 3 && s.AvailableReplicas == 0 && s.FullyLabeledReplicas == 2
	}, func() string { return fmt.Sprintf("status %+v", status()) })
	e.clock.Advance(9 * time.Second)
	e.consistently(func() bool { return status().AvailableReplicas == 0 }, func() string { return fmt.Sprintf("available after 9.5s: %+v", status()) })
	e.clock.Advance(time.Second) // 10.5 s: the requeue after minReadySeconds
	e.eventually(func() bool { return status().AvailableReplicas == 3 }, func() string { return fmt.Sprintf("status %+v", status()) })
}

func TestReplicationControllerWithEqualitySelector(t *testing.T) {
	e := newEnv(t)
	e.startManager()
	rc := newRC("myweb-rc", 3, nil, web)
	api.Default(rc)
	if got := rc.Spec.Selector; len(got) != 1 || got["app"] != "web" {
		t.Fatalf("selector not defaulted from the template: %v", got)
	}
	created := e.create(rc).(*api.ReplicationController)
	e.eventually(func() bool { return countOwned(e.pods(), created.UID) == 3 }, func() string { return "never 3 pods" })
	for _, p := range e.pods() {
		ref := p.ControllerRef()
		if ref.Kind != "ReplicationController" || ref.APIVersion != "v1" || !strings.HasPrefix(p.Name, "myweb-rc-") {
			t.Errorf("pod %s ref %+v", p.Name, ref)
		}
	}
	e.eventually(func() bool {
		o, _ := e.get("replicationcontrollers", "myweb-rc")
		s := o.(*api.ReplicationController).Status
		return s.Replicas == 3 && s.FullyLabeledReplicas == 3 && s.ObservedGeneration == 1
	}, func() string { return "RC status never 3" })
	evs, _, _ := e.store.List(e.ctx, resource(t, "events"), "default", store.ListOptions{})
	for _, o := range evs {
		if ev := o.(*api.Event); ev.Source.Component != "replication-controller" || ev.InvolvedObject.Kind != "ReplicationController" {
			t.Errorf("event %+v", ev)
		}
	}
}

func TestReplicaSetAndReplicationControllerKeepTheirOwnPods(t *testing.T) {
	e := newEnv(t)
	e.startManager()
	rs := e.create(newRS("rs", 2, &api.LabelSelector{
		MatchExpressions: []api.LabelSelectorRequirement{{Key: "app", Operator: "In", Values: []string{"web", "api"}}},
	}, web)).(*api.ReplicaSet)
	rc := e.create(newRC("rc", 3, web, web)).(*api.ReplicationController)
	settled := func() bool {
		pods := e.pods()
		return len(pods) == 5 && countOwned(pods, rs.UID) == 2 && countOwned(pods, rc.UID) == 3
	}
	e.eventually(settled, func() string { return fmt.Sprint(len(e.pods()), " pods") })
	e.consistently(settled, func() string { return "the two controllers fought over pods" })
}

func TestReplicaSetReplicaFailureCondition(t *testing.T) {
	tests := []struct {
		name   string
		pods   int
		err    error
		want   string
		before []api.ReplicaSetCondition
	}{
		{"short of pods", 1, errors.New("quota"), ReasonFailedCreate, nil},
		{"too many", 5, errors.New("denied"), ReasonFailedDelete, nil},
		{"cleared on success", 3, nil, "", []api.ReplicaSetCondition{{Type: api.ReplicaSetReplicaFailure, Status: api.ConditionTrue}}},
		{"kept while failing", 1, errors.New("again"), "FailedCreate-old", []api.ReplicaSetCondition{{Type: api.ReplicaSetReplicaFailure, Status: api.ConditionTrue, Reason: "FailedCreate-old"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := newRS("rs", 3, &api.LabelSelector{MatchLabels: web}, web)
			rs.Status.Conditions = tt.before
			var pods []*api.Pod
			for i := range tt.pods {
				pods = append(pods, newPod(fmt.Sprint("p", i), web))
			}
			st := calculateStatus(rs, pods, tt.err, epoch)
			if st.Replicas != int32(tt.pods) {
				t.Errorf("replicas %d", st.Replicas)
			}
			if tt.want == "" {
				if len(st.Conditions) != 0 {
					t.Errorf("conditions %+v, want none", st.Conditions)
				}
				return
			}
			if len(st.Conditions) != 1 || st.Conditions[0].Reason != tt.want || st.Conditions[0].Status != api.ConditionTrue {
				t.Errorf("conditions %+v, want ReplicaFailure %s", st.Conditions, tt.want)
			}
			if tt.before == nil && st.Conditions[0].Message != tt.err.Error() {
				t.Errorf("message %q", st.Conditions[0].Message)
			}
		})
	}
}

func TestReplicaSetIgnoresOwnerBeingDeleted(t *testing.T) {
	h := newRSHarness(t, true)
	r := newRS("rs", 3, &api.LabelSelector{MatchLabels: web}, web)
	r.Finalizers = []string{"example.com/hold"}
	h.create(r)
	if _, _, err := h.store.Delete(h.ctx, resource(t, "replicasets.apps"), "default", "rs", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitCached("rs", func(rs *api.ReplicaSet) bool { return rs.DeletionTimestamp != nil })
	if _, err := h.rsc.sync(context.Background(), "default/rs"); err != nil {
		t.Fatal(err)
	}
	if n := len(h.pods()); n != 0 {
		t.Fatalf("a ReplicaSet being deleted created %d pods", n)
	}
}
