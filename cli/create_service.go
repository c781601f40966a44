package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// createServiceFlags are the flags of `create service`, added to create's.
func createServiceFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringSliceFlag{Name: "tcp", Usage: "create service: port pairs port:targetPort (repeatable)"},
		&ucli.StringFlag{Name: "clusterip", Usage: "create service clusterip: the cluster IP, or None for a headless Service"},
		&ucli.IntFlag{Name: "node-port", Usage: "create service nodeport: the node port of every port"},
	}
}

// createService is kubectl's `create service clusterip|nodeport|loadbalancer NAME
// --tcp=port[:targetPort]...`: selector and labels app=NAME, one port
// named "port-targetPort" per --tcp.
func (e *environment) createService(c *ucli.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("must specify one of: clusterip, loadbalancer, nodeport")
	}
	var typ api.ServiceType
	switch args[0] {
	case "clusterip":
		typ = api.ServiceTypeClusterIP
	case "nodeport":
		typ = api.ServiceTypeNodePort
	case "loadbalancer":
		typ = api.ServiceTypeLoadBalancer
	default:
		return fmt.Errorf("unknown command %q for \"wasmlet create service\"", args[0])
	}
	if len(args) != 2 {
		return fmt.Errorf("exactly one NAME is required, got %d\nSee 'wasmlet create service %s -h' for help and examples", len(args)-1, args[0])
	}
	name := args[1]
	clusterIP := ""
	if typ == api.ServiceTypeClusterIP {
		clusterIP = c.String("clusterip")
	}
	tcp := c.StringSlice("tcp")
	if clusterIP != api.ClusterIPNone && len(tcp) == 0 {
		return errors.New("at least one tcp port specifier must be provided")
	}
	out := c.String("output")
	switch out {
	case "", "yaml", "json", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", out)
	}
	svc := &api.Service{TypeMeta: api.TypeMeta{Kind: "Service", APIVersion: "v1"}}
	svc.Name = name
	if c.IsSet("namespace") {
		svc.Namespace = c.String("namespace")
	}
	svc.Labels = map[string]string{"app": name}
	svc.Spec.Selector = map[string]string{"app": name}
	svc.Spec.Type = typ
	svc.Spec.ClusterIP = clusterIP
	svc.Spec.Ports = []api.ServicePort{}
	for _, spec := range tcp {
		ps, ts, hasTarget := strings.Cut(spec, ":")
		port, err := strconv.Atoi(ps)
		if err != nil {
			return fmt.Errorf("strconv.Atoi: parsing %q: invalid syntax", ps)
		}
		target := api.FromInt32(int32(port))
		if hasTarget {
			if n, err := strconv.Atoi(ts); err == nil {
				target = api.FromInt32(int32(n))
			} else {
				target = api.FromString(ts)
			}
		}
		svc.Spec.Ports = append(svc.Spec.Ports, api.ServicePort{
			Name: strings.ReplaceAll(spec, ":", "-"), Port: int32(port), TargetPort: target,
			Protocol: api.ProtocolTCP, NodePort: int32(c.Int("node-port")),
		})
	}
	services, _ := api.LookupResource("services")
	var o client.WriteOptions
	switch c.String("dry-run") {
	case "none", "":
	case "client":
		return e.printGenerated(services, svc, out, "created (dry run)")
	case "server":
		o.DryRun = true
	default:
		return fmt.Errorf(`Invalid dry-run value (%s). Must be "none", "server", or "client".`, c.String("dry-run"))
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	body, err := json.Marshal(svc)
	if err != nil {
		return err
	}
	created, err := cl.CreateJSON(c.Context, services, namespace(c), body, o)
	if err != nil {
		return err
	}
	word := "created"
	if o.DryRun {
		word = "created (server dry run)"
	}
	return e.printGenerated(services, created, out, word)
}
