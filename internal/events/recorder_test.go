package events

import (
	"context"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

func TestRecorderAggregatesRepeats(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st, err := store.Open("", store.Options{InMemory: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if r, ok := api.LookupResource("namespaces"); ok {
		ns := r.New()
		ns.GetObjectMeta().Name = "default"
		if _, err := st.Create(ctx, ns); err != nil && !api.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	pods, _ := api.LookupResource("pods")
	pod := pods.New()
	pod.GetObjectMeta().Name, pod.GetObjectMeta().Namespace = "web", "default"
	pod, err = st.Create(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}

	rec := NewRecorder(st, "kubelet", "node-1", clk)
	rec.Eventf(pod, Warning, "BackOff", "Back-off restarting failed container %s", "c")
	clk.Advance(10 * time.Second)
	rec.Eventf(pod, Warning, "BackOff", "Back-off restarting failed container %s", "c")
	rec.Eventf(pod, Normal, "Pulled", "pulled")

	evr, _ := api.LookupResource("events")
	objs, _, err := st.List(ctx, evr, "default", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("%d events, want 2", len(objs))
	}
	byReason := map[string]*api.Event{}
	for _, o := range objs {
		e := o.(*api.Event)
		byReason[e.Reason] = e
	}
	b := byReason["BackOff"]
	if b == nil || b.Count != 2 || b.Type != Warning || b.Message != "Back-off restarting failed container c" {
		t.Fatalf("BackOff event %+v", b)
	}
	if !b.LastTimestamp.Time.Equal(b.FirstTimestamp.Add(10 * time.Second)) {
		t.Errorf("first %v last %v", b.FirstTimestamp, b.LastTimestamp)
	}
	want := api.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "default", Name: "web", UID: pod.GetObjectMeta().UID, ResourceVersion: pod.GetObjectMeta().ResourceVersion}
	if b.InvolvedObject != want {
		t.Errorf("involvedObject %+v, want %+v", b.InvolvedObject, want)
	}
	if b.Source.Component != "kubelet" || b.Source.Host != "node-1" || b.Namespace != "default" {
		t.Errorf("source %+v namespace %q", b.Source, b.Namespace)
	}
	if p := byReason["Pulled"]; p == nil || p.Count != 1 {
		t.Errorf("Pulled event %+v", p)
	}
}
