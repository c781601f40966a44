package controller

import (
	"context"
	"log/slog"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

// EndpointsController keeps, for each Service with a selector, the v1
// Endpoints of the same name: the addresses of the pods it selects that
// have an IP, ready ones in addresses and the others in notReadyAddresses,
// with each service port resolved against the pod (Kubernetes'
// pkg/controller/endpoint). A pod's status change is one watch event away
// from its Endpoints: the pod's update queues its Services at once.
type EndpointsController struct {
	store     *store.Store
	services  *Informer
	pods      *Informer
	endpoints *Informer
	ctrl      *Controller
}

// headlessServiceLabel marks the Endpoints and EndpointSlices of a
// headless Service, as Kubernetes' controllers do.
const headlessServiceLabel = "service.kubernetes.io/headless"

func newEndpointsController(st *store.Store, services, pods, endpoints *Informer, clk clock.Clock, workers int, log *slog.Logger) *EndpointsController {
	c := &EndpointsController{store: st, services: services, pods: pods, endpoints: endpoints}
	c.ctrl = NewController("endpoint-controller", ReconcilerFunc(c.sync), clk, workers, log)
	c.ctrl.Watch(services, nil)
	watchPodsOfServices(c.ctrl, pods, services)
	// An Endpoints deleted or changed by a client is written again; one of
	// a Service without a selector is the client's.
	c.ctrl.Watch(endpoints, func(o api.Object) []string {
		m := o.GetObjectMeta()
		if so, ok := services.Get(m.Namespace, m.Name); ok && len(so.(*api.Service).Spec.Selector) > 0 {
			return []string{KeyOf(o)}
		}
		return nil
	})
	return c
}

// Start runs the controller's workers until ctx ends.
func (c *EndpointsController) Start(ctx context.Context) error { return c.ctrl.Start(ctx) }

// watchPodsOfServices queues, for each change of a pod, the Services of
// its namespace that select it, before and after the change.
func watchPodsOfServices(ctrl *Controller, pods, services *Informer) {
	enqueue := func(o api.Object) {
		p, ok := o.(*api.Pod)
		if !ok {
			return
		}
		for _, so := range services.List(p.Namespace, nil) {
			s := so.(*api.Service)
			if len(s.Spec.Selector) > 0 && api.SelectorFromSet(s.Spec.Selector).Matches(p.Labels) {
				ctrl.queue.Add(KeyOf(s))
			}
		}
	}
	pods.AddHandler(Handler{
		OnAdd:    enqueue,
		OnUpdate: func(old, cur api.Object) { enqueue(old); enqueue(cur) },
		OnDelete: enqueue,
	})
	ctrl.WaitFor(pods)
}

// shouldPodBeInEndpoints is Kubernetes' rule: a pod with an IP that has
// not ended for good, and, unless terminating ones are wanted, is not
// being deleted.
func shouldPodBeInEndpoints(p *api.Pod, includeTerminating bool) bool {
	switch p.Spec.RestartPolicy {
	case api.RestartPolicyNever:
		if p.Status.Phase == api.PodFailed || p.Status.Phase == api.PodSucceeded {
			return false
		}
	case api.RestartPolicyOnFailure:
		if p.Status.Phase == api.PodSucceeded {
			return false
		}
	}
	if p.Status.PodIP == "" {
		return false
	}
	return includeTerminating || p.DeletionTimestamp == nil
}

// podServicePort is the port of p that sp leads to: its targetPort, or
// the port of the container port its name names; false when p has none.
func podServicePort(p *api.Pod, sp *api.ServicePort) (int32, bool) {
	if sp.TargetPort.Type == api.Int {
		return sp.TargetPort.IntVal, true
	}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			proto := cp.Protocol
			if proto == "" {
				proto = api.ProtocolTCP
			}
			if cp.Name == sp.TargetPort.StrVal && proto == sp.Protocol {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// selectedPods are the pods of s's namespace that its selector selects.
func selectedPods(pods *Informer, s *api.Service) []*api.Pod {
	var out []*api.Pod
	for _, o := range pods.List(s.Namespace, api.SelectorFromSet(s.Spec.Selector)) {
		if p, ok := o.(*api.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

// endpointsLabels are a Service's labels, as its endpoints carry them.
func endpointsLabels(s *api.Service) map[string]string {
	l := map[string]string{}
	for k, v := range s.Labels {
		l[k] = v
	}
	if api.IsHeadlessService(s) {
		l[headlessServiceLabel] = ""
	}
	return l
}

func (c *EndpointsController) sync(ctx context.Context, key string) (Result, error) {
	ns, name := SplitKey(key)
	res := c.endpoints.Resource()
	so, ok := c.services.Get(ns, name)
	if !ok {
		// Kubernetes deletes a Service's Endpoints by name.
		if _, ok := c.endpoints.Get(ns, name); ok {
			if _, _, err := c.store.Delete(ctx, res, ns, name, store.DeleteOptions{}); err != nil && !api.IsNotFound(err) {
				return Result{}, err
			}
		}
		return Result{}, nil
	}
	svc := so.(*api.Service)
	if len(svc.Spec.Selector) == 0 || svc.Spec.Type == api.ServiceTypeExternalName {
		return Result{}, nil // Endpoints of a Service without a selector are the user's
	}
	subsets := c.subsets(svc)
	labels := endpointsLabels(svc)
	if cur, ok := c.endpoints.Get(ns, name); ok {
		e := cur.(*api.Endpoints)
		if reflect.DeepEqual(e.Subsets, subsets) && reflect.DeepEqual(nonNil(e.Labels), labels) {
			return Result{}, nil
		}
		_, err := c.store.GuaranteedUpdate(ctx, res, ns, name, func(o api.Object) (api.Object, error) {
			e := o.DeepCopyObject().(*api.Endpoints)
			e.Subsets = subsets
			e.Labels = labels
			return e, nil
		})
		return Result{}, err
	}
	e := &api.Endpoints{
		TypeMeta:   api.TypeMeta{Kind: res.Kind, APIVersion: res.APIVersion()},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Subsets:    subsets,
	}
	_, err := c.store.Create(ctx, e)
	return Result{}, err
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// subsets are the Endpoints' subsets of svc: the addresses that share a
// set of resolved ports together, addresses sorted by IP, as Kubernetes
// repacks them.
func (c *EndpointsController) subsets(svc *api.Service) []api.EndpointSubset {
	type group struct {
		ports           []api.EndpointPort
		ready, notReady []api.EndpointAddress
	}
	groups := map[string]*group{}
	var order []string
	for _, p := range selectedPods(c.pods, svc) {
		if !shouldPodBeInEndpoints(p, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		var ports []api.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, ok := podServicePort(p, sp)
			if !ok {
				continue
			}
			ports = append(ports, api.EndpointPort{Name: sp.Name, Port: n, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
		}
		if len(svc.Spec.Ports) > 0 && len(ports) == 0 {
			continue
		}
		k := portsKey(ports)
		g := groups[k]
		if g == nil {
			g = &group{ports: ports}
			groups[k] = g
			order = append(order, k)
		}
		addr := api.EndpointAddress{IP: p.Status.PodIP, TargetRef: &api.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID}}
		if p.Spec.NodeName != "" {
			node := p.Spec.NodeName
			addr.NodeName = &node
		}
		if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name {
			addr.Hostname = p.Spec.Hostname
		}
		if isPodReady(p) || svc.Spec.PublishNotReadyAddresses {
			g.ready = append(g.ready, addr)
		} else {
			g.notReady = append(g.notReady, addr)
		}
	}
	sort.Strings(order)
	var out []api.EndpointSubset
	for _, k := range order {
		g := groups[k]
		sortAddresses(g.ready)
		sortAddresses(g.notReady)
		out = append(out, api.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: g.ports})
	}
	return out
}

func portsKey(ports []api.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		b.WriteString(p.Name + "/" + string(p.Protocol) + "/" + strconv.Itoa(int(p.Port)) + ";")
	}
	return b.String()
}

func sortAddresses(a []api.EndpointAddress) {
	sort.Slice(a, func(i, j int) bool {
		if a[i].IP != a[j].IP {
			return a[i].IP < a[j].IP
		}
		return a[i].TargetRef.UID < a[j].TargetRef.UID
	})
}

// newEndpointsControllers are the Endpoints and EndpointSlice
// controllers, as the manager runs them.
func newEndpointsControllers(st *store.Store, informer func(string) (*Informer, error), clk clock.Clock, workers int, log *slog.Logger) ([]func(context.Context) error, error) {
	var infs []*Informer
	for _, name := range []string{"services", "pods", "endpoints", "endpointslices.discovery.k8s.io"} {
		inf, err := informer(name)
		if err != nil {
			return nil, err
		}
		infs = append(infs, inf)
	}
	e := newEndpointsController(st, infs[0], infs[1], infs[2], clk, workers, log)
	s := newEndpointSliceController(st, infs[0], infs[1], infs[3], clk, workers, log)
	return []func(context.Context) error{e.Start, s.Start}, nil
}
