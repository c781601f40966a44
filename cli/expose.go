package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) exposeCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "expose",
		Usage:     "take a Deployment, ReplicaSet, ReplicationController, pod or Service and expose it as a new Service",
		ArgsUsage: "(-f FILENAME | TYPE NAME | TYPE/NAME) [--port=port] [--protocol=TCP|UDP|SCTP] [--target-port=number-or-name] [--name=name] [--type=type]",
		Flags: append(clientFlags(),
			&ucli.StringFlag{Name: "port", Usage: "the port the service serves on (default: the object's ports)"},
			&ucli.StringFlag{Name: "target-port", Usage: "the name or number of the port on the pods that traffic goes to (default: --port)"},
			&ucli.StringFlag{Name: "name", Usage: "the name of the new Service (default: the object's)"},
			&ucli.StringFlag{Name: "type", Usage: "ClusterIP, NodePort, LoadBalancer or ExternalName (default ClusterIP)"},
			&ucli.StringFlag{Name: "protocol", Usage: "TCP, UDP or SCTP (default: the object's ports', else TCP)"},
			&ucli.StringFlag{Name: "selector", Usage: "the label selector of the Service (default: the object's)"},
			&ucli.StringFlag{Name: "labels", Aliases: []string{"l"}, Usage: "labels of the Service (default: the object's)"},
			&ucli.StringFlag{Name: "cluster-ip", Usage: "the Service's cluster IP, or None for a headless Service"},
			&ucli.StringFlag{Name: "session-affinity", Usage: "None or ClientIP"},
			&ucli.StringFlag{Name: "external-ip", Usage: "an external address the Service also answers on"},
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file naming the object to expose"},
			&ucli.StringFlag{Name: "dry-run", Value: "none", Usage: "none, client (print the object, send nothing) or server (the node checks it, stores nothing)"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "yaml, json or name"},
		),
		Action: e.expose,
	}
}

type exposeTarget struct {
	resource  *api.ResourceInfo
	namespace string
	name      string
}

// expose is kubectl's expose: a Service whose selector, labels, ports and
// protocols are the object's unless flags say otherwise.
func (e *environment) expose(c *ucli.Context) error {
	out := c.String("output")
	switch out {
	case "", "yaml", "json", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", out)
	}
	ns := namespace(c)
	var targets []exposeTarget
	if files := c.StringSlice("filename"); len(files) > 0 {
		manifests, err := e.loadManifests(files, false, false)
		if err != nil {
			return err
		}
		for _, m := range manifests {
			targets = append(targets, exposeTarget{m.resource, objectNamespace(m.resource, m.object, ns), m.object.GetObjectMeta().Name})
		}
	} else {
		refs, err := parseResourceArgs(c.Args().Slice())
		if err != nil {
			return err
		}
		if len(refs) == 0 {
			return errors.New("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
		}
		for _, ref := range refs {
			if len(ref.names) == 0 {
				return errors.New("resource(s) were provided, but no name was specified")
			}
			for _, name := range ref.names {
				targets = append(targets, exposeTarget{ref.resource, scopedNamespace(ref.resource, ns), name})
			}
		}
	}
	var wo client.WriteOptions
	switch c.String("dry-run") {
	case "none", "", "client":
	case "server":
		wo.DryRun = true
	default:
		return fmt.Errorf(`Invalid dry-run value (%s). Must be "none", "server", or "client".`, c.String("dry-run"))
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	services, _ := api.LookupResource("services")
	for _, t := range targets {
		obj, err := cl.Get(c.Context, t.resource, t.namespace, t.name)
		if err != nil {
			return err
		}
		switch t.resource.Kind {
		case "Pod", "Service", "ReplicationController", "Deployment", "ReplicaSet":
		default:
			return fmt.Errorf("cannot expose a %s", t.resource.Kind)
		}
		svc, err := exposedService(c, obj)
		if err != nil {
			return err
		}
		if c.String("dry-run") == "client" {
			if err := e.printGenerated(services, svc, out, "exposed (dry run)"); err != nil {
				return err
			}
			continue
		}
		body, err := json.Marshal(svc)
		if err != nil {
			return err
		}
		created, err := cl.CreateJSON(c.Context, services, t.namespace, body, wo)
		if err != nil {
			return err
		}
		word := "exposed"
		if wo.DryRun {
			word = "exposed (server dry run)"
		}
		if err := e.printGenerated(services, created, out, word); err != nil {
			return err
		}
	}
	return nil
}

// exposedService builds the Service kubectl's expose builds for obj.
func exposedService(c *ucli.Context, obj api.Object) (*api.Service, error) {
	selector, err := exposeSelector(c, obj)
	if err != nil {
		return nil, err
	}
	m := obj.GetObjectMeta()
	svc := &api.Service{TypeMeta: api.TypeMeta{Kind: "Service", APIVersion: "v1"}}
	svc.Name = m.Name
	if n := c.String("name"); n != "" {
		svc.Name = n
	}
	svc.Labels = maps.Clone(m.Labels)
	if l := c.String("labels"); l != "" {
		if svc.Labels, err = parseLabelPairs(l); err != nil {
			return nil, err
		}
	}
	svc.Spec.Selector = selector

	ports, protocols := objectPorts(obj)
	portList := ports
	if p := c.String("port"); p != "" {
		portList = strings.Split(p, ",")
	}
	if len(portList) == 0 {
		return nil, errors.New("couldn't find port via --port flag or introspection")
	}
	for i, ps := range portList {
		n, err := strconv.Atoi(ps)
		if err != nil {
			return nil, fmt.Errorf("strconv.Atoi: parsing %q: invalid syntax", ps)
		}
		sp := api.ServicePort{Port: int32(n), Protocol: api.ProtocolTCP}
		if len(portList) > 1 {
			sp.Name = fmt.Sprintf("port-%d", i+1)
		}
		if proto := c.String("protocol"); proto != "" {
			sp.Protocol = api.Protocol(proto)
		} else if proto, ok := protocols[ps]; ok {
			sp.Protocol = proto
		}
		sp.TargetPort = api.FromInt32(sp.Port)
		if tp := c.String("target-port"); tp != "" {
			if n, err := strconv.Atoi(tp); err == nil {
				sp.TargetPort = api.FromInt32(int32(n))
			} else {
				sp.TargetPort = api.FromString(tp)
			}
		}
		svc.Spec.Ports = append(svc.Spec.Ports, sp)
	}
	if t := c.String("type"); t != "" {
		svc.Spec.Type = api.ServiceType(t)
	}
	if ip := c.String("cluster-ip"); ip != "" {
		svc.Spec.ClusterIP = ip
	}
	if a := c.String("session-affinity"); a != "" {
		svc.Spec.SessionAffinity = api.ServiceAffinity(a)
	}
	if ip := c.String("external-ip"); ip != "" {
		svc.Spec.ExternalIPs = []string{ip}
	}
	return svc, nil
}

// exposeSelector is --selector, else the object's selector as a map
// (kubectl refuses set-based selectors here).
func exposeSelector(c *ucli.Context, obj api.Object) (map[string]string, error) {
	if s := c.String("selector"); s != "" {
		return parseLabelPairs(s)
	}
	var sel map[string]string
	switch o := obj.(type) {
	case *api.Pod:
		if len(o.Labels) == 0 {
			return nil, errors.New("the pod has no labels and cannot be exposed")
		}
		sel = o.Labels
	case *api.Service:
		if len(o.Spec.Selector) == 0 {
			return nil, errors.New("the service has no pod selector set")
		}
		sel = o.Spec.Selector
	case *api.ReplicationController:
		sel = o.Spec.Selector
	case *api.ReplicaSet:
		if o.Spec.Selector != nil && len(o.Spec.Selector.MatchExpressions) > 0 {
			return nil, fmt.Errorf("couldn't convert expressions - %q to map-based selector format", api.FormatLabelSelector(o.Spec.Selector))
		}
		if o.Spec.Selector != nil {
			sel = o.Spec.Selector.MatchLabels
		}
	case *api.Deployment:
		if o.Spec.Selector != nil && len(o.Spec.Selector.MatchExpressions) > 0 {
			return nil, fmt.Errorf("couldn't convert expressions - %q to map-based selector format", api.FormatLabelSelector(o.Spec.Selector))
		}
		if o.Spec.Selector != nil {
			sel = o.Spec.Selector.MatchLabels
		}
	}
	if len(sel) == 0 {
		return nil, errors.New("couldn't retrieve selectors via --selector flag or introspection")
	}
	return maps.Clone(sel), nil
}

// objectPorts are the ports of obj's containers (of its pod template), or
// a Service's ports, with their protocols by number.
func objectPorts(obj api.Object) ([]string, map[string]api.Protocol) {
	var ports []string
	protocols := map[string]api.Protocol{}
	add := func(n int32, p api.Protocol) {
		s := strconv.Itoa(int(n))
		if !slices.Contains(ports, s) {
			ports = append(ports, s)
		}
		if p == "" {
			p = api.ProtocolTCP
		}
		protocols[s] = p
	}
	var spec *api.PodSpec
	switch o := obj.(type) {
	case *api.Pod:
		spec = &o.Spec
	case *api.ReplicaSet:
		spec = &o.Spec.Template.Spec
	case *api.Deployment:
		spec = &o.Spec.Template.Spec
	case *api.ReplicationController:
		if o.Spec.Template != nil {
			spec = &o.Spec.Template.Spec
		}
	case *api.Service:
		for _, p := range o.Spec.Ports {
			add(p.Port, p.Protocol)
		}
	}
	if spec != nil {
		for _, ctr := range spec.Containers {
			for _, p := range ctr.Ports {
				add(p.ContainerPort, p.Protocol)
			}
		}
	}
	return ports, protocols
}

// parseLabelPairs parses "a=b,c=d".
func parseLabelPairs(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid label spec: %v", kv)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}
