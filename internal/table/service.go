package table

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// Services, Endpoints and EndpointSlices print as kubectl prints them
// from a cluster's Tables.

type servicePrinter struct{}

func (servicePrinter) columns(wide bool) []string {
	c := []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"}
	if wide {
		c = append(c, "SELECTOR")
	}
	return c
}

func (servicePrinter) row(obj api.Object, now time.Time, wide bool) []string {
	s := obj.(*api.Service)
	clusterIP := "<none>"
	if len(s.Spec.ClusterIPs) > 0 {
		clusterIP = s.Spec.ClusterIPs[0]
	}
	row := []string{s.Name, string(s.Spec.Type), clusterIP, serviceExternalIP(s), ServicePorts(s.Spec.Ports), age(s.CreationTimestamp, now)}
	if wide {
		row = append(row, FormatLabels(s.Spec.Selector))
	}
	return row
}

func serviceExternalIP(s *api.Service) string {
	switch s.Spec.Type {
	case api.ServiceTypeClusterIP, api.ServiceTypeNodePort:
		if len(s.Spec.ExternalIPs) > 0 {
			return strings.Join(s.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case api.ServiceTypeLoadBalancer:
		var ips []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				ips = append(ips, in.IP)
			} else if in.Hostname != "" {
				ips = append(ips, in.Hostname)
			}
		}
		ips = append(ips, s.Spec.ExternalIPs...)
		if len(ips) > 0 {
			return strings.Join(ips, ",")
		}
		return "<pending>"
	case api.ServiceTypeExternalName:
		return s.Spec.ExternalName
	}
	return "<unknown>"
}

// ServicePorts is the PORT(S) cell: port[:nodePort]/protocol, comma
// separated, or <none>.
func ServicePorts(ports []api.ServicePort) string {
	if len(ports) == 0 {
		return "<none>"
	}
	parts := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			parts[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			parts[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(parts, ",")
}

type endpointsPrinter struct{}

func (endpointsPrinter) columns(bool) []string { return []string{"NAME", "ENDPOINTS", "AGE"} }

func (endpointsPrinter) row(obj api.Object, now time.Time, _ bool) []string {
	e := obj.(*api.Endpoints)
	return []string{e.Name, FormatEndpoints(e, nil), age(e.CreationTimestamp, now)}
}

// FormatEndpoints is the ENDPOINTS cell: the first three ready
// address:port pairs (of the ports named in ports, nil for all), then
// "+ N more...", or <none> without subsets.
func FormatEndpoints(e *api.Endpoints, ports map[string]bool) string {
	if len(e.Subsets) == 0 {
		return "<none>"
	}
	const most = 3
	var list []string
	count := 0
	more := false
	add := func(s string) {
		if len(list) == most {
			more = true
			return
		}
		list = append(list, s)
	}
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			if ports != nil && !ports[p.Name] {
				continue
			}
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	s := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", s, count-most)
	}
	return s
}

type endpointSlicePrinter struct{}

func (endpointSlicePrinter) columns(bool) []string {
	return []string{"NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"}
}

func (endpointSlicePrinter) row(obj api.Object, now time.Time, _ bool) []string {
	s := obj.(*api.EndpointSlice)
	var ports, addrs []string
	for _, p := range s.Ports {
		switch {
		case p.Port != nil:
			ports = append(ports, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			ports = append(ports, *p.Name)
		default:
			ports = append(ports, "*")
		}
	}
	for _, ep := range s.Endpoints {
		addrs = append(addrs, ep.Addresses...)
	}
	return []string{s.Name, string(s.AddressType), listWithMore(ports), listWithMore(addrs), age(s.CreationTimestamp, now)}
}

// listWithMore is the first three items, then "+ N more...", or <unset>.
func listWithMore(items []string) string {
	const most = 3
	if len(items) == 0 {
		return "<unset>"
	}
	if len(items) > most {
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:most], ","), len(items)-most)
	}
	return strings.Join(items, ",")
}
