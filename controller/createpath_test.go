package controller

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// TestControllerPodsTakeTheAPIsCreatePath: a pod a ReplicationController
// creates is, in the first watch event that shows it, the pod the API's
// create would have stored: defaulted, Pending with its quality of service
// class, and bound to the node with its PodScheduled condition. Written to
// the store directly, its first version had no phase and no node, and `get
// pods -w` printed it with an empty STATUS.
func TestControllerPodsTakeTheAPIsCreatePath(t *testing.T) {
	e := newEnv(t)
	reg := registry.New(e.store, registry.Options{Clock: e.clock, NodeName: "vm"})
	w, err := e.store.Watch(e.ctx, resource(t, "pods"), "default", store.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	m, err := NewManager(e.store, Options{Clock: e.clock, ResyncPeriod: -1, Logger: quiet, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Start(e.ctx) }()

	rc := newRC("myweb-rc", 1, web, web)
	rc.Spec.Template.Spec.RestartPolicy = ""
	rc.Spec.Template.Spec.Containers[0].Resources.Limits = api.ResourceList{api.ResourceMemory: api.MustParseQuantity("64Mi")}
	created, err := reg.Create(e.ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	var ev store.Event
	select {
	case e, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch ended")
		}
		ev = e
	case <-time.After(10 * time.Second):
		t.Fatal("no pod created")
	}
	if ev.Type != store.Added {
		t.Fatalf("first event %s, want ADDED", ev.Type)
	}
	pod := ev.Object.(*api.Pod)
	if pod.Spec.NodeName != "vm" || pod.Status.Phase != api.PodPending || pod.Status.QOSClass != api.PodQOSBurstable {
		t.Errorf("first version: node %q, phase %q, qosClass %q; want vm, Pending, Burstable", pod.Spec.NodeName, pod.Status.Phase, pod.Status.QOSClass)
	}
	if c := pod.Status.Conditions; len(c) != 1 || c[0].Type != api.PodScheduled || c[0].Status != api.ConditionTrue {
		t.Errorf("conditions %+v, want PodScheduled True", c)
	}
	if pod.ControllerRef() == nil || pod.ControllerRef().UID != created.GetObjectMeta().UID {
		t.Errorf("controllerRef %+v", pod.OwnerReferences)
	}

	// The API's create of the same pod, as a dry run, gives the same spec
	// and status.
	want := &api.Pod{ObjectMeta: api.ObjectMeta{Name: "same", Namespace: "default", Labels: pod.Labels}, Spec: rc.Spec.Template.Spec}
	out, err := reg.CreateWith(e.ctx, want, registry.WriteOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := specJSON(t, pod.Spec), specJSON(t, out.(*api.Pod).Spec); got != want {
		t.Errorf("spec\n%s\nwant the API's\n%s", got, want)
	}
	if got, want := specJSON(t, pod.Status), specJSON(t, out.(*api.Pod).Status); got != want {
		t.Errorf("status\n%s\nwant the API's\n%s", got, want)
	}
	if pod.Spec.RestartPolicy != api.RestartPolicyAlways || pod.Spec.DNSPolicy == "" ||
		pod.Spec.TerminationGracePeriodSeconds == nil || *pod.Spec.TerminationGracePeriodSeconds != 30 {
		t.Errorf("not defaulted: restartPolicy %q, dnsPolicy %q, terminationGracePeriodSeconds %v",
			pod.Spec.RestartPolicy, pod.Spec.DNSPolicy, pod.Spec.TerminationGracePeriodSeconds)
	}
}

func specJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
