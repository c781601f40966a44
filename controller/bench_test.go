package controller

import (
	"sync/atomic"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
)

// podCounter follows the pods of the default namespace through a watch.
func podCounter(b *testing.B, e *env) (count func() int) {
	b.Helper()
	_, rv, err := e.store.List(e.ctx, resource(b, "pods"), "default", store.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	w, err := e.store.Watch(e.ctx, resource(b, "pods"), "default", store.ListOptions{ResourceVersion: rv})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)
	var n atomic.Int64
	go func() {
		for ev := range w.ResultChan() {
			switch ev.Type {
			case store.Added:
				n.Add(1)
			case store.Deleted:
				n.Add(-1)
			}
		}
	}()
	return func() int { return int(n.Load()) }
}

func scale(b testing.TB, e *env, name string, n int32) {
	_, err := e.store.GuaranteedUpdate(e.ctx, resource(b, "replicasets.apps"), "default", name, func(o api.Object) (api.Object, error) {
		o.(*api.ReplicaSet).Spec.Replicas = int32p(n)
		return o, nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScaleUp1000: a ReplicaSet from 0 to 1000 pods in the store.
func BenchmarkScaleUp1000(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b)
		e.startManager()
		e.create(newRS("rs", 0, &api.LabelSelector{MatchLabels: web}, web))
		count := podCounter(b, e)
		b.StartTimer()
		scale(b, e, "rs", 1000)
		e.eventually(func() bool { return count() == 1000 }, func() string { return "never 1000 pods" })
	}
}

// BenchmarkScaleDown1000: a ReplicaSet from 1000 to 0 pods in the store.
func BenchmarkScaleDown1000(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b)
		e.startManager()
		e.create(newRS("rs", 1000, &api.LabelSelector{MatchLabels: web}, web))
		e.eventually(func() bool { return len(e.pods()) == 1000 }, func() string { return "never 1000 pods" })
		count := podCounter(b, e)
		b.StartTimer()
		scale(b, e, "rs", 0)
		e.eventually(func() bool { return count() == -1000 }, func() string { return "never 0 pods" })
	}
}
