package printers

import (
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/table"
)

// service is kubectl's description of a Service, with its Endpoints' ready
// addresses under each port.
func (d *describer) service(s *api.Service, ep *api.Endpoints) {
	found := ep != nil
	d.line(0, "Name:\t%s\n", s.Name)
	d.line(0, "Namespace:\t%s\n", s.Namespace)
	d.labels("Labels", s.Labels)
	d.annotations("Annotations", s.Annotations)
	d.line(0, "Selector:\t%s\n", table.FormatLabels(s.Spec.Selector))
	d.line(0, "Type:\t%s\n", s.Spec.Type)
	if s.Spec.IPFamilyPolicy != nil {
		d.line(0, "IP Family Policy:\t%s\n", *s.Spec.IPFamilyPolicy)
	}
	if len(s.Spec.IPFamilies) > 0 {
		fams := make([]string, len(s.Spec.IPFamilies))
		for i, f := range s.Spec.IPFamilies {
			fams[i] = string(f)
		}
		d.line(0, "IP Families:\t%s\n", strings.Join(fams, ","))
	} else {
		d.line(0, "IP Families:\t<none>\n")
	}
	d.line(0, "IP:\t%s\n", s.Spec.ClusterIP)
	if len(s.Spec.ClusterIPs) > 0 {
		d.line(0, "IPs:\t%s\n", strings.Join(s.Spec.ClusterIPs, ","))
	} else {
		d.line(0, "IPs:\t<none>\n")
	}
	if len(s.Spec.ExternalIPs) > 0 {
		d.line(0, "External IPs:\t%s\n", strings.Join(s.Spec.ExternalIPs, ","))
	}
	if s.Spec.Type == api.ServiceTypeExternalName {
		d.line(0, "External Name:\t%s\n", s.Spec.ExternalName)
	}
	if len(s.Status.LoadBalancer.Ingress) > 0 {
		var list []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				list = append(list, in.IP)
			} else {
				list = append(list, in.Hostname)
			}
		}
		d.line(0, "LoadBalancer Ingress:\t%s\n", strings.Join(list, ", "))
	}
	for _, sp := range s.Spec.Ports {
		name := sp.Name
		if name == "" {
			name = "<unset>"
		}
		d.line(0, "Port:\t%s\t%d/%s\n", name, sp.Port, sp.Protocol)
		if sp.TargetPort.Type == api.Int {
			d.line(0, "TargetPort:\t%d/%s\n", sp.TargetPort.IntVal, sp.Protocol)
		} else {
			d.line(0, "TargetPort:\t%s/%s\n", sp.TargetPort.StrVal, sp.Protocol)
		}
		if sp.NodePort != 0 {
			d.line(0, "NodePort:\t%s\t%d/%s\n", name, sp.NodePort, sp.Protocol)
		}
		// kubectl reads the Service's EndpointSlices here: none is
		// <none>, the empty placeholder slice an empty cell.
		addrs := "<none>"
		if found {
			addrs = ""
			if len(ep.Subsets) > 0 {
				addrs = table.FormatEndpoints(ep, map[string]bool{sp.Name: true})
			}
		}
		d.line(0, "Endpoints:\t%s\n", addrs)
	}
	d.line(0, "Session Affinity:\t%s\n", s.Spec.SessionAffinity)
	if s.Spec.ExternalTrafficPolicy != "" {
		d.line(0, "External Traffic Policy:\t%s\n", s.Spec.ExternalTrafficPolicy)
	}
	if s.Spec.InternalTrafficPolicy != nil {
		d.line(0, "Internal Traffic Policy:\t%s\n", *s.Spec.InternalTrafficPolicy)
	}
}

// endpoints is kubectl's description of an Endpoints: each subset's ready
// and not-ready addresses and its ports.
func (d *describer) endpoints(ep *api.Endpoints) {
	d.line(0, "Name:\t%s\n", ep.Name)
	d.line(0, "Namespace:\t%s\n", ep.Namespace)
	d.labels("Labels", ep.Labels)
	d.annotations("Annotations", ep.Annotations)
	d.line(0, "Subsets:\n")
	ips := func(as []api.EndpointAddress) string {
		s := make([]string, len(as))
		for i, a := range as {
			s[i] = a.IP
		}
		return orNone(strings.Join(s, ","))
	}
	for _, ss := range ep.Subsets {
		d.line(1, "Addresses:\t%s\n", ips(ss.Addresses))
		d.line(1, "NotReadyAddresses:\t%s\n", ips(ss.NotReadyAddresses))
		if len(ss.Ports) > 0 {
			d.line(1, "Ports:\n")
			d.line(2, "Name\tPort\tProtocol\n")
			d.line(2, "----\t----\t--------\n")
			for _, p := range ss.Ports {
				name := p.Name
				if name == "" {
					name = "<unset>"
				}
				d.line(2, "%s\t%d\t%s\n", name, p.Port, p.Protocol)
			}
		}
		d.line(0, "\n")
	}
}
