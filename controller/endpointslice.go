package controller

import (
	"context"
	"log/slog"
	"reflect"
	"sort"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

// EndpointSlice labels and limits, as Kubernetes' endpointslice
// controller sets them.
const (
	// EndpointSliceManagedByLabel names the controller that keeps a slice.
	EndpointSliceManagedByLabel = "endpointslice.kubernetes.io/managed-by"
	// EndpointSliceControllerName is this controller's value of it.
	EndpointSliceControllerName = "endpointslice-controller.k8s.io"
	// MaxEndpointsPerSlice is the controller's --max-endpoints-per-slice
	// default.
	MaxEndpointsPerSlice = 100
)

// EndpointSliceController keeps, for each Service with a selector, its
// discovery.k8s.io/v1 EndpointSlices: one endpoint per selected pod with
// an IP, with its ready, serving and terminating conditions, at most
// MaxEndpointsPerSlice to a slice, endpoints that resolve the Service's
// ports alike in the same slices (Kubernetes' pkg/controller/endpointslice).
// Slices are owned by their Service, and go with it through the garbage
// collector. A slice is written only when what it holds changes.
type EndpointSliceController struct {
	store    *store.Store
	services *Informer
	pods     *Informer
	slices   *Informer
	ctrl     *Controller
}

func newEndpointSliceController(st *store.Store, services, pods, slices *Informer, clk clock.Clock, workers int, log *slog.Logger) *EndpointSliceController {
	c := &EndpointSliceController{store: st, services: services, pods: pods, slices: slices}
	c.ctrl = NewController("endpointslice-controller", ReconcilerFunc(c.sync), clk, workers, log)
	c.ctrl.Watch(services, nil)
	watchPodsOfServices(c.ctrl, pods, services)
	c.ctrl.Watch(slices, func(o api.Object) []string {
		m := o.GetObjectMeta()
		if m.Labels[EndpointSliceManagedByLabel] != EndpointSliceControllerName || m.Labels[api.ServiceNameLabel] == "" {
			return nil
		}
		return []string{m.Namespace + "/" + m.Labels[api.ServiceNameLabel]}
	})
	return c
}

// Start runs the controller's workers until ctx ends.
func (c *EndpointSliceController) Start(ctx context.Context) error { return c.ctrl.Start(ctx) }

// sliceGroup is the endpoints that resolve the Service's ports to the same
// ports.
type sliceGroup struct {
	ports     []api.EndpointSlicePort
	endpoints []api.Endpoint
}

func (c *EndpointSliceController) sync(ctx context.Context, key string) (Result, error) {
	ns, name := SplitKey(key)
	res := c.slices.Resource()
	sel := api.SelectorFromSet(map[string]string{api.ServiceNameLabel: name, EndpointSliceManagedByLabel: EndpointSliceControllerName})
	var existing []*api.EndpointSlice
	for _, o := range c.slices.List(ns, sel) {
		if s, ok := o.(*api.EndpointSlice); ok && s.DeletionTimestamp == nil {
			existing = append(existing, s)
		}
	}
	so, ok := c.services.Get(ns, name)
	if !ok {
		return Result{}, nil // the garbage collector removes the slices with their owner
	}
	svc := so.(*api.Service)
	if len(svc.Spec.Selector) == 0 || svc.Spec.Type == api.ServiceTypeExternalName {
		return Result{}, nil
	}
	groups := c.desired(svc)
	if len(groups) == 0 {
		// A Service that selects nothing keeps one empty slice, as
		// Kubernetes' placeholder.
		groups = []sliceGroup{{ports: servicePortsOnly(svc)}}
	}

	// Each group's chunks go to the existing slices that already carry its
	// ports, in name order; the rest are created, and the slices left over
	// deleted.
	byPorts := map[string][]*api.EndpointSlice{}
	for _, s := range existing {
		k := slicePortsKey(s.Ports)
		byPorts[k] = append(byPorts[k], s)
	}
	labels := endpointsLabels(svc)
	labels[api.ServiceNameLabel] = svc.Name
	labels[EndpointSliceManagedByLabel] = EndpointSliceControllerName
	for _, g := range groups {
		k := slicePortsKey(g.ports)
		reuse := byPorts[k]
		delete(byPorts, k)
		for i := 0; i == 0 || i < len(g.endpoints); i += MaxEndpointsPerSlice {
			chunk := g.endpoints[i:min(i+MaxEndpointsPerSlice, len(g.endpoints))]
			if len(reuse) > 0 {
				s := reuse[0]
				reuse = reuse[1:]
				if err := c.update(ctx, res, s, svc, labels, g.ports, chunk); err != nil {
					return Result{}, err
				}
				continue
			}
			if err := c.create(ctx, res, svc, labels, g.ports, chunk); err != nil {
				return Result{}, err
			}
		}
		byPorts[k+"\x00left"] = reuse
	}
	for _, left := range byPorts {
		for _, s := range left {
			if _, _, err := c.store.Delete(ctx, res, s.Namespace, s.Name, store.DeleteOptions{}); err != nil && !api.IsNotFound(err) {
				return Result{}, err
			}
		}
	}
	return Result{}, nil
}

func (c *EndpointSliceController) update(ctx context.Context, res *api.ResourceInfo, cur *api.EndpointSlice, svc *api.Service, labels map[string]string, ports []api.EndpointSlicePort, eps []api.Endpoint) error {
	if reflect.DeepEqual(cur.Endpoints, eps) && reflect.DeepEqual(cur.Ports, ports) &&
		reflect.DeepEqual(cur.Labels, labels) && sliceOwnedBy(cur, svc) {
		return nil
	}
	_, err := c.store.GuaranteedUpdate(ctx, res, cur.Namespace, cur.Name, func(o api.Object) (api.Object, error) {
		s := o.DeepCopyObject().(*api.EndpointSlice)
		s.Endpoints, s.Ports, s.Labels = eps, ports, labels
		s.OwnerReferences = []api.OwnerReference{serviceOwnerRef(svc)}
		return s, nil
	})
	return err
}

func (c *EndpointSliceController) create(ctx context.Context, res *api.ResourceInfo, svc *api.Service, labels map[string]string, ports []api.EndpointSlicePort, eps []api.Endpoint) error {
	s := &api.EndpointSlice{
		TypeMeta: api.TypeMeta{Kind: res.Kind, APIVersion: res.APIVersion()},
		ObjectMeta: api.ObjectMeta{
			GenerateName:    svc.Name + "-",
			Namespace:       svc.Namespace,
			Labels:          labels,
			OwnerReferences: []api.OwnerReference{serviceOwnerRef(svc)},
		},
		AddressType: api.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       ports,
	}
	for attempt := 0; ; attempt++ {
		s.Name = store.GenerateName(s.GenerateName)
		_, err := c.store.Create(ctx, s)
		if err == nil || !api.IsAlreadyExists(err) || attempt >= 7 {
			return err
		}
	}
}

func sliceOwnedBy(s *api.EndpointSlice, svc *api.Service) bool {
	return len(s.OwnerReferences) == 1 && reflect.DeepEqual(s.OwnerReferences[0], serviceOwnerRef(svc))
}

func serviceOwnerRef(svc *api.Service) api.OwnerReference {
	yes := true
	return api.OwnerReference{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: &yes, BlockOwnerDeletion: &yes}
}

// servicePortsOnly are the ports of an empty slice: none resolved.
func servicePortsOnly(*api.Service) []api.EndpointSlicePort { return nil }

// desired groups the endpoints of the pods svc selects by the ports they
// resolve, endpoints sorted by address.
func (c *EndpointSliceController) desired(svc *api.Service) []sliceGroup {
	groups := map[string]*sliceGroup{}
	var order []string
	for _, p := range selectedPods(c.pods, svc) {
		if !shouldPodBeInEndpoints(p, true) {
			continue
		}
		var ports []api.EndpointSlicePort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, ok := podServicePort(p, sp)
			if !ok {
				continue
			}
			name, proto := sp.Name, sp.Protocol
			ports = append(ports, api.EndpointSlicePort{Name: &name, Protocol: &proto, Port: &n, AppProtocol: sp.AppProtocol})
		}
		k := slicePortsKey(ports)
		g := groups[k]
		if g == nil {
			g = &sliceGroup{ports: ports}
			groups[k] = g
			order = append(order, k)
		}
		terminating := p.DeletionTimestamp != nil
		serving := isPodReady(p)
		ready := serving && !terminating || svc.Spec.PublishNotReadyAddresses
		ep := api.Endpoint{
			Addresses:  []string{p.Status.PodIP},
			Conditions: api.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
			TargetRef:  &api.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		}
		if p.Spec.NodeName != "" {
			node := p.Spec.NodeName
			ep.NodeName = &node
		}
		if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name {
			h := p.Spec.Hostname
			ep.Hostname = &h
		}
		g.endpoints = append(g.endpoints, ep)
	}
	sort.Strings(order)
	out := make([]sliceGroup, 0, len(order))
	for _, k := range order {
		g := groups[k]
		sort.SliceStable(g.endpoints, func(i, j int) bool { return g.endpoints[i].Addresses[0] < g.endpoints[j].Addresses[0] })
		out = append(out, *g)
	}
	return out
}

func slicePortsKey(ports []api.EndpointSlicePort) string {
	eps := make([]api.EndpointPort, len(ports))
	for i, p := range ports {
		if p.Name != nil {
			eps[i].Name = *p.Name
		}
		if p.Protocol != nil {
			eps[i].Protocol = *p.Protocol
		}
		if p.Port != nil {
			eps[i].Port = *p.Port
		}
	}
	return portsKey(eps)
}
