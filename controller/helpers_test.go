package controller

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

// env is a store in memory on a fake clock.
type env struct {
	t     testing.TB
	ctx   context.Context
	clock *clock.Fake
	store *store.Store
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newEnv(t testing.TB) *env {
	t.Helper()
	clk := clock.NewFake(epoch)
	st, err := store.Open("", store.Options{InMemory: true, Now: clk.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		st.Close()
	})
	e := &env{t: t, ctx: ctx, clock: clk, store: st}
	ns, _ := api.LookupResource("namespaces")
	if ns != nil {
		o := ns.New()
		o.GetObjectMeta().Name = "default"
		if _, err := st.Create(ctx, o); err != nil && !api.IsAlreadyExists(err) {
			t.Fatalf("create namespace default: %v", err)
		}
	}
	return e
}

// startManager runs a Manager until the returned stop is called (or the test
// ends).
func (e *env) startManager() (stop func()) {
	e.t.Helper()
	m, err := NewManager(e.store, Options{Clock: e.clock, ResyncPeriod: -1, Logger: quiet})
	if err != nil {
		e.t.Fatalf("NewManager: %v", err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Start(ctx); err != nil {
			e.t.Errorf("Manager.Start: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	e.t.Cleanup(stop)
	return stop
}

func resource(t testing.TB, name string) *api.ResourceInfo {
	r, ok := api.LookupResource(name)
	if !ok {
		t.Fatalf("no resource %s", name)
	}
	return r
}

func (e *env) create(o api.Object) api.Object {
	e.t.Helper()
	out, err := e.store.Create(e.ctx, o)
	if err != nil {
		e.t.Fatalf("create %s: %v", o.GetObjectMeta().Name, err)
	}
	return out
}

func (e *env) pods() []*api.Pod {
	e.t.Helper()
	objs, _, err := e.store.List(e.ctx, resource(e.t, "pods"), "default", store.ListOptions{})
	if err != nil {
		e.t.Fatalf("list pods: %v", err)
	}
	out := make([]*api.Pod, len(objs))
	for i, o := range objs {
		out[i] = o.(*api.Pod)
	}
	return out
}

func (e *env) get(resourceName, name string) (api.Object, error) {
	return e.store.Get(e.ctx, resource(e.t, resourceName), "default", name)
}

// eventually waits (in real time) for cond, failing with what() after 10 s.
func (e *env) eventually(cond func() bool, what func() string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out: %s", what())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// consistently checks cond for a short while of real time.
func (e *env) consistently(cond func() bool, what func() string) {
	e.t.Helper()
	for range 25 {
		if !cond() {
			e.t.Fatalf("%s", what())
		}
		time.Sleep(4 * time.Millisecond)
	}
}

func ownedBy(p *api.Pod, uid string) bool {
	ref := p.ControllerRef()
	return ref != nil && ref.UID == uid
}

func countOwned(pods []*api.Pod, uid string) int {
	n := 0
	for _, p := range pods {
		if ownedBy(p, uid) {
			n++
		}
	}
	return n
}

func int32p(v int32) *int32 { return &v }

func webTemplate(labels map[string]string) api.PodTemplateSpec {
	return api.PodTemplateSpec{
		ObjectMeta: api.ObjectMeta{Labels: labels},
		Spec: api.PodSpec{
			RestartPolicy: "Always",
			Containers:    []api.Container{{Name: "myweb", Image: "myweb.wasm"}},
		},
	}
}

func newRS(name string, replicas int32, sel *api.LabelSelector, labels map[string]string) *api.ReplicaSet {
	return &api.ReplicaSet{
		TypeMeta:   api.TypeMeta{Kind: "ReplicaSet", APIVersion: "apps/v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.ReplicaSetSpec{
			Replicas: int32p(replicas),
			Selector: sel,
			Template: webTemplate(labels),
		},
	}
}

func newRC(name string, replicas int32, sel, labels map[string]string) *api.ReplicationController {
	t := webTemplate(labels)
	return &api.ReplicationController{
		TypeMeta:   api.TypeMeta{Kind: "ReplicationController", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.ReplicationControllerSpec{
			Replicas: int32p(replicas),
			Selector: sel,
			Template: &t,
		},
	}
}

func newPod(name string, labels map[string]string) *api.Pod {
	return &api.Pod{
		TypeMeta:   api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec:       webTemplate(nil).Spec,
	}
}

// setReady marks a pod Running and Ready since now, as the host would.
func (e *env) setReady(p *api.Pod) {
	e.t.Helper()
	_, err := e.store.GuaranteedUpdate(e.ctx, resource(e.t, "pods"), p.Namespace, p.Name, func(o api.Object) (api.Object, error) {
		q := o.(*api.Pod)
		q.Status.Phase = api.PodRunning
		q.Status.Conditions = []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: api.NewTime(e.clock.Now())}}
		return q, nil
	})
	if err != nil {
		e.t.Fatalf("set pod %s ready: %v", p.Name, err)
	}
}

func (e *env) relabel(p *api.Pod, labels map[string]string) {
	e.t.Helper()
	_, err := e.store.GuaranteedUpdate(e.ctx, resource(e.t, "pods"), p.Namespace, p.Name, func(o api.Object) (api.Object, error) {
		q := o.(*api.Pod)
		q.Labels = labels
		return q, nil
	})
	if err != nil {
		e.t.Fatalf("relabel pod %s: %v", p.Name, err)
	}
}
