package controller

import (
	"fmt"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
)

func endpointsPod(name, ip string, ready bool) *api.Pod {
	status := api.ConditionFalse
	if ready {
		status = api.ConditionTrue
	}
	return &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", UID: "uid-" + name, Labels: map[string]string{"app": "web"}},
		Spec: api.PodSpec{NodeName: "n1", RestartPolicy: api.RestartPolicyAlways, Containers: []api.Container{{
			Name: "web", Image: "web.wasm",
			Ports: []api.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: api.ProtocolTCP}},
		}}},
		Status: api.PodStatus{Phase: api.PodRunning, PodIP: ip, Conditions: []api.PodCondition{{Type: api.PodReady, Status: status}}},
	}
}

func (e *env) endpoints(name string) *api.Endpoints {
	o, err := e.get("endpoints", name)
	if err != nil {
		return nil
	}
	return o.(*api.Endpoints)
}

func (e *env) slices(svc string) []*api.EndpointSlice {
	objs, _, err := e.store.List(e.ctx, resource(e.t, "endpointslices.discovery.k8s.io"), "default",
		store.ListOptions{LabelSelector: api.SelectorFromSet(map[string]string{api.ServiceNameLabel: svc})})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*api.EndpointSlice
	for _, o := range objs {
		out = append(out, o.(*api.EndpointSlice))
	}
	return out
}

// addrs prints an Endpoints' subsets as "ready|notready|ports".
func addrs(ep *api.Endpoints) string {
	if ep == nil {
		return "<none>"
	}
	s := ""
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			s += a.IP + " "
		}
		s += "|"
		for _, a := range ss.NotReadyAddresses {
			s += a.IP + " "
		}
		s += "|"
		for _, p := range ss.Ports {
			s += fmt.Sprintf("%s:%d ", p.Name, p.Port)
		}
	}
	return s
}

func sliceState(ss []*api.EndpointSlice) string {
	s := ""
	for _, sl := range ss {
		for _, ep := range sl.Endpoints {
			s += fmt.Sprintf("%s r=%v s=%v t=%v; ", ep.Addresses[0], *ep.Conditions.Ready, *ep.Conditions.Serving, *ep.Conditions.Terminating)
		}
		for _, p := range sl.Ports {
			s += fmt.Sprintf("%s:%d ", *p.Name, *p.Port)
		}
	}
	return s
}

func TestEndpointsFollowPodReadiness(t *testing.T) {
	e := newEnv(t)
	e.startManager()
	svc := &api.Service{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-uid", Labels: map[string]string{"tier": "front"}},
		Spec: api.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []api.ServicePort{
			{Name: "http", Port: 80, Protocol: api.ProtocolTCP, TargetPort: api.FromString("http")},
			{Name: "alt", Port: 81, Protocol: api.ProtocolTCP, TargetPort: api.FromInt32(9090)},
		}},
	}
	api.Default(svc)
	svc = e.create(svc).(*api.Service)
	// A Service that selects nothing has an empty Endpoints and one empty
	// slice.
	e.eventually(func() bool { return e.endpoints("web") != nil && len(e.slices("web")) == 1 },
		func() string { return "no empty endpoints and placeholder slice" })

	e.create(endpointsPod("a", "127.42.0.2", true))
	e.create(endpointsPod("b", "127.42.0.3", false))
	e.create(endpointsPod("c", "", true)) // no IP yet: not an endpoint
	want := "127.42.0.2 |127.42.0.3 |http:8080 alt:9090 "
	e.eventually(func() bool { return addrs(e.endpoints("web")) == want },
		func() string { return "endpoints " + addrs(e.endpoints("web")) + ", want " + want })
	wantSlices := "127.42.0.2 r=true s=true t=false; 127.42.0.3 r=false s=false t=false; http:8080 alt:9090 "
	e.eventually(func() bool { return sliceState(e.slices("web")) == wantSlices },
		func() string { return "slices " + sliceState(e.slices("web")) + ", want " + wantSlices })
	sl := e.slices("web")[0]
	if sl.Labels[EndpointSliceManagedByLabel] != EndpointSliceControllerName || sl.Labels["tier"] != "front" ||
		len(sl.OwnerReferences) != 1 || sl.OwnerReferences[0].UID != svc.UID || sl.AddressType != api.AddressTypeIPv4 || len(sl.Name) != len("web-")+5 {
		t.Errorf("slice metadata: %+v", sl.ObjectMeta)
	}
	rv := sl.ResourceVersion

	// a turns unready: it leaves the ready set.
	pods := resource(t, "pods")
	if _, err := e.store.GuaranteedUpdate(e.ctx, pods, "default", "a", func(o api.Object) (api.Object, error) {
		p := o.DeepCopyObject().(*api.Pod)
		p.Status.Conditions[0].Status = api.ConditionFalse
		return p, nil
	}); err != nil {
		t.Fatal(err)
	}
	want = "|127.42.0.2 127.42.0.3 |http:8080 alt:9090 "
	e.eventually(func() bool { return addrs(e.endpoints("web")) == want },
		func() string { return "endpoints " + addrs(e.endpoints("web")) + ", want " + want })
	e.eventually(func() bool { return e.slices("web")[0].ResourceVersion != rv }, func() string { return "slice not rewritten" })
	if got := sliceState(e.slices("web")); got != "127.42.0.2 r=false s=false t=false; 127.42.0.3 r=false s=false t=false; http:8080 alt:9090 " {
		t.Errorf("slices after a turned unready: %s", got)
	}

	// A pod being deleted stays in the slice as terminating, not in the
	// Endpoints.
	if _, err := e.store.GuaranteedUpdate(e.ctx, pods, "default", "b", func(o api.Object) (api.Object, error) {
		p := o.DeepCopyObject().(*api.Pod)
		p.Status.Conditions[0].Status = api.ConditionTrue
		return p, nil
	}); err != nil {
		t.Fatal(err)
	}
	grace := int64(30)
	if _, _, err := e.store.Delete(e.ctx, pods, "default", "b", store.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	want = "|127.42.0.2 |http:8080 alt:9090 "
	e.eventually(func() bool { return addrs(e.endpoints("web")) == want },
		func() string { return "endpoints " + addrs(e.endpoints("web")) + ", want " + want })
	wantSlices = "127.42.0.2 r=false s=false t=false; 127.42.0.3 r=false s=true t=true; http:8080 alt:9090 "
	e.eventually(func() bool { return sliceState(e.slices("web")) == wantSlices },
		func() string { return "slices " + sliceState(e.slices("web")) + ", want " + wantSlices })

	// Nothing changes: nothing is written.
	rv = e.slices("web")[0].ResourceVersion
	erv := e.endpoints("web").ResourceVersion
	e.create(&api.Pod{ObjectMeta: api.ObjectMeta{Name: "other", Namespace: "default", Labels: map[string]string{"app": "other"}}})
	e.consistently(func() bool {
		return e.slices("web")[0].ResourceVersion == rv && e.endpoints("web").ResourceVersion == erv
	}, func() string { return "endpoints rewritten without a change" })

	// The Service goes: its Endpoints go by name.
	if _, _, err := e.store.Delete(e.ctx, resource(t, "services"), "default", "web", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(func() bool { return e.endpoints("web") == nil }, func() string { return "endpoints left after the service" })
	e.eventually(func() bool { return len(e.slices("web")) == 0 }, func() string { return "slices left after the service" })
}

func TestEndpointSlicesHoldAtMost100(t *testing.T) {
	e := newEnv(t)
	e.startManager()
	svc := &api.Service{
		ObjectMeta: api.ObjectMeta{Name: "many", Namespace: "default", UID: "svc-many"},
		Spec:       api.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "web"}},
	}
	api.Default(svc)
	e.create(svc)
	for i := range 150 {
		e.create(endpointsPod(fmt.Sprintf("p%03d", i), fmt.Sprintf("127.42.%d.%d", i/200, i%200+2), true))
	}
	count := func() (int, []int) {
		n, sizes := 0, []int{}
		for _, s := range e.slices("many") {
			n += len(s.Endpoints)
			sizes = append(sizes, len(s.Endpoints))
		}
		return n, sizes
	}
	e.eventually(func() bool { n, _ := count(); return n == 150 }, func() string { n, s := count(); return fmt.Sprint(n, s) })
	_, sizes := count()
	if len(sizes) != 2 || max(sizes[0], sizes[1]) != 100 {
		t.Errorf("slice sizes %v, want 100 and 50", sizes)
	}
	e.eventually(func() bool {
		ep := e.endpoints("many")
		return ep != nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 150
	}, func() string { return "endpoints of 150 pods" })
	ep := e.endpoints("many")
	if ep == nil || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 150 || len(ep.Subsets[0].Ports) != 0 || ep.Labels[headlessServiceLabel] != "" {
		t.Errorf("headless endpoints: %+v", ep)
	}
	if _, ok := ep.Labels[headlessServiceLabel]; !ok {
		t.Errorf("headless endpoints lack %s", headlessServiceLabel)
	}
}
