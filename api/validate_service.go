package api

import (
	"fmt"
	"net/netip"
	"regexp"
)

// Validation of v1 Services, Endpoints and discovery.k8s.io/v1
// EndpointSlices, with Kubernetes' messages (ValidateService,
// ValidateServiceUpdate, ValidateEndpoints, ValidateEndpointSlice).

const (
	dns1035LabelFmt = "[a-z]([-a-z0-9]*[a-z0-9])?"
	// MaxClientIPServiceAffinitySeconds bounds ClientIP affinity's timeout.
	MaxClientIPServiceAffinitySeconds int32 = 86400
)

var dns1035LabelRe = regexp.MustCompile("^" + dns1035LabelFmt + "$")

// IsDNS1035Label checks a DNS-1035 label (a Service's name).
func IsDNS1035Label(s string) []string {
	var errs []string
	if len(s) > dns1123LabelMaxLen {
		errs = append(errs, maxLenError(dns1123LabelMaxLen))
	}
	if !dns1035LabelRe.MatchString(s) {
		errs = append(errs, regexError("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character", dns1035LabelFmt, "my-name", "abc-123"))
	}
	return errs
}

func nameIsDNS1035Label(name string, prefix bool) []string {
	return IsDNS1035Label(maskTrailingDash(name, prefix))
}

// IsHeadlessService reports whether s has no virtual address.
func IsHeadlessService(s *Service) bool { return s.Spec.ClusterIP == ClusterIPNone }

func validateService(s *Service) ErrorList {
	errs := validateObjectMeta(&s.ObjectMeta, true, nameIsDNS1035Label)
	sp := &s.Spec
	headless := IsHeadlessService(s)

	switch sp.Type {
	case ServiceTypeClusterIP, ServiceTypeNodePort, ServiceTypeLoadBalancer:
	case ServiceTypeExternalName:
		if sp.ClusterIP != "" || len(sp.ClusterIPs) > 0 {
			errs = append(errs, Forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
		}
		for _, msg := range IsDNS1123Subdomain(sp.ExternalName) {
			errs = append(errs, Invalid("spec.externalName", sp.ExternalName, msg))
		}
	case "":
		errs = append(errs, Required("spec.type", ""))
	default:
		errs = append(errs, NotSupported("spec.type", sp.Type, []string{"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}))
	}

	if len(sp.Ports) == 0 && !headless && sp.Type != ServiceTypeExternalName {
		errs = append(errs, Required("spec.ports", ""))
	}
	names := map[string]bool{}
	type portKey struct {
		port  int32
		proto Protocol
	}
	seen := map[portKey]bool{}
	nodePorts := map[portKey]bool{}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		path := fmt.Sprintf("spec.ports[%d]", i)
		errs = append(errs, validateServicePort(p, len(sp.Ports) > 1, names, path)...)
		k := portKey{p.Port, p.Protocol}
		if seen[k] {
			errs = append(errs, Duplicate(path, fmt.Sprintf("%d/%s", p.Port, p.Protocol)))
		}
		seen[k] = true
		if p.NodePort != 0 {
			switch sp.Type {
			case ServiceTypeClusterIP:
				errs = append(errs, Forbidden(path+".nodePort", "may not be used when `type` is 'ClusterIP'"))
			case ServiceTypeExternalName:
				errs = append(errs, Forbidden(path+".nodePort", "may not be used when `type` is 'ExternalName'"))
			default:
				for _, msg := range isValidPortNum(p.NodePort) {
					errs = append(errs, Invalid(path+".nodePort", p.NodePort, msg))
				}
				k := portKey{p.NodePort, p.Protocol}
				if nodePorts[k] {
					errs = append(errs, Duplicate(path+".nodePort", p.NodePort))
				}
				nodePorts[k] = true
			}
		}
	}

	errs = append(errs, ValidateLabels(sp.Selector, "spec.selector")...)

	switch sp.SessionAffinity {
	case ServiceAffinityNone:
		if sp.SessionAffinityConfig != nil {
			errs = append(errs, Forbidden("spec.sessionAffinityConfig", fmt.Sprintf("must not be set when session affinity is %s", ServiceAffinityNone)))
		}
	case ServiceAffinityClientIP:
		if c := sp.SessionAffinityConfig; c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			errs = append(errs, Required("spec.sessionAffinityConfig", fmt.Sprintf("when session affinity type is %s", ServiceAffinityClientIP)))
		} else if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > MaxClientIPServiceAffinitySeconds {
			errs = append(errs, Invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t, fmt.Sprintf("must be greater than 0 and less than %d", MaxClientIPServiceAffinitySeconds)))
		}
	case "":
		errs = append(errs, Required("spec.sessionAffinity", ""))
	default:
		errs = append(errs, NotSupported("spec.sessionAffinity", sp.SessionAffinity, []string{"ClientIP", "None"}))
	}

	for i, ip := range sp.ExternalIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			errs = append(errs, Invalid(fmt.Sprintf("spec.externalIPs[%d]", i), ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
		}
	}
	if sp.Type != ServiceTypeExternalName {
		errs = append(errs, validateClusterIPs(sp)...)
	}
	if p := sp.ExternalTrafficPolicy; p != "" {
		if sp.Type != ServiceTypeNodePort && sp.Type != ServiceTypeLoadBalancer {
			errs = append(errs, Invalid("spec.externalTrafficPolicy", p, "may only be set for externally-accessible services"))
		} else if p != ServiceTrafficPolicyCluster && p != ServiceTrafficPolicyLocal {
			errs = append(errs, NotSupported("spec.externalTrafficPolicy", p, []string{"Cluster", "Local"}))
		}
	} else if sp.Type == ServiceTypeNodePort || sp.Type == ServiceTypeLoadBalancer {
		errs = append(errs, Required("spec.externalTrafficPolicy", ""))
	}
	if p := sp.InternalTrafficPolicy; p != nil && *p != ServiceTrafficPolicyCluster && *p != ServiceTrafficPolicyLocal {
		errs = append(errs, NotSupported("spec.internalTrafficPolicy", *p, []string{"Cluster", "Local"}))
	}
	return errs
}

func validateServicePort(p *ServicePort, requireName bool, names map[string]bool, path string) ErrorList {
	var errs ErrorList
	if requireName && p.Name == "" {
		errs = append(errs, Required(path+".name", ""))
	} else if p.Name != "" {
		for _, msg := range IsDNS1123Label(p.Name) {
			errs = append(errs, Invalid(path+".name", p.Name, msg))
		}
		if names[p.Name] {
			errs = append(errs, Duplicate(path+".name", p.Name))
		}
		names[p.Name] = true
	}
	for _, msg := range isValidPortNum(p.Port) {
		errs = append(errs, Invalid(path+".port", p.Port, msg))
	}
	switch p.Protocol {
	case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
	case "":
		errs = append(errs, Required(path+".protocol", ""))
	default:
		errs = append(errs, NotSupported(path+".protocol", p.Protocol, []string{"SCTP", "TCP", "UDP"}))
	}
	if p.TargetPort.Type == Int {
		for _, msg := range isValidPortNum(p.TargetPort.IntVal) {
			errs = append(errs, Invalid(path+".targetPort", p.TargetPort.IntVal, msg))
		}
	} else {
		for _, msg := range IsValidPortName(p.TargetPort.StrVal) {
			errs = append(errs, Invalid(path+".targetPort", p.TargetPort.StrVal, msg))
		}
	}
	return errs
}

// validateClusterIPs checks that clusterIP and clusterIPs agree, that each
// is an address (or None, alone) of a family the Service names.
func validateClusterIPs(sp *ServiceSpec) ErrorList {
	var errs ErrorList
	if sp.ClusterIP != "" {
		if len(sp.ClusterIPs) == 0 {
			errs = append(errs, Required("spec.clusterIPs", ""))
		} else if sp.ClusterIPs[0] != sp.ClusterIP {
			errs = append(errs, Invalid("spec.clusterIPs", sp.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(sp.ClusterIPs) != 0 {
		errs = append(errs, Invalid("spec.clusterIPs", sp.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}
	seen := map[IPFamily]bool{}
	for i, f := range sp.IPFamilies {
		path := fmt.Sprintf("spec.ipFamilies[%d]", i)
		if f != IPv4Protocol && f != IPv6Protocol {
			errs = append(errs, NotSupported(path, f, []string{"IPv4", "IPv6"}))
		}
		if seen[f] {
			errs = append(errs, Duplicate(path, f))
		}
		seen[f] = true
	}
	if p := sp.IPFamilyPolicy; p != nil {
		switch *p {
		case IPFamilyPolicySingleStack, IPFamilyPolicyPreferDualStack, IPFamilyPolicyRequireDualStack:
		default:
			errs = append(errs, NotSupported("spec.ipFamilyPolicy", *p, []string{"PreferDualStack", "RequireDualStack", "SingleStack"}))
		}
		if *p == IPFamilyPolicySingleStack && len(sp.ClusterIPs) > 1 {
			errs = append(errs, Invalid("spec.ipFamilyPolicy", *p, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"))
		}
	}
	if len(sp.ClusterIPs) > 2 {
		errs = append(errs, Invalid("spec.clusterIPs", sp.ClusterIPs, "may only hold up to 2 values"))
	}
	for i, ip := range sp.ClusterIPs {
		path := fmt.Sprintf("spec.clusterIPs[%d]", i)
		if i == 0 && ip == ClusterIPNone {
			if len(sp.ClusterIPs) > 1 {
				errs = append(errs, Invalid("spec.clusterIPs", sp.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			errs = append(errs, Invalid(path, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
			continue
		}
		if a.Is4() && len(sp.IPFamilies) > i && sp.IPFamilies[i] != IPv4Protocol ||
			!a.Is4() && len(sp.IPFamilies) > i && sp.IPFamilies[i] != IPv6Protocol {
			errs = append(errs, Invalid("spec.ipFamilies", sp.IPFamilies[i], "must match the ip family of `clusterIPs`"))
		}
	}
	return errs
}

// validateServiceUpdate adds what an update may not change: the cluster
// addresses, once given, except to or from ExternalName.
func validateServiceUpdate(n, o *Service) ErrorList {
	var errs ErrorList
	if n.Spec.Type == ServiceTypeExternalName || o.Spec.Type == ServiceTypeExternalName {
		return errs
	}
	for i, ip := range o.Spec.ClusterIPs {
		if i >= len(n.Spec.ClusterIPs) {
			errs = append(errs, Invalid("spec.clusterIPs", n.Spec.ClusterIPs, "may not be removed once set"))
			break
		}
		if n.Spec.ClusterIPs[i] != ip {
			errs = append(errs, Invalid(fmt.Sprintf("spec.clusterIPs[%d]", i), n.Spec.ClusterIPs, "may not change once set"))
		}
	}
	return errs
}

func validateEndpoints(e *Endpoints) ErrorList {
	errs := validateObjectMeta(&e.ObjectMeta, true, nameIsDNSSubdomain)
	for i, ss := range e.Subsets {
		path := fmt.Sprintf("subsets[%d]", i)
		for j, a := range ss.Addresses {
			errs = append(errs, validateEndpointIP(a.IP, fmt.Sprintf("%s.addresses[%d].ip", path, j))...)
		}
		for j, a := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointIP(a.IP, fmt.Sprintf("%s.notReadyAddresses[%d].ip", path, j))...)
		}
		for j, p := range ss.Ports {
			errs = append(errs, validateEndpointPort(p.Name, p.Port, p.Protocol, len(ss.Ports) > 1, fmt.Sprintf("%s.ports[%d]", path, j))...)
		}
	}
	return errs
}

func validateEndpointIP(ip, path string) ErrorList {
	if _, err := netip.ParseAddr(ip); err != nil {
		return ErrorList{Invalid(path, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")}
	}
	return nil
}

func validateEndpointPort(name string, port int32, proto Protocol, requireName bool, path string) ErrorList {
	var errs ErrorList
	if requireName && name == "" {
		errs = append(errs, Required(path+".name", ""))
	} else if name != "" {
		for _, msg := range IsDNS1123Label(name) {
			errs = append(errs, Invalid(path+".name", name, msg))
		}
	}
	for _, msg := range isValidPortNum(port) {
		errs = append(errs, Invalid(path+".port", port, msg))
	}
	switch proto {
	case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
	case "":
		errs = append(errs, Required(path+".protocol", ""))
	default:
		errs = append(errs, NotSupported(path+".protocol", proto, []string{"SCTP", "TCP", "UDP"}))
	}
	return errs
}

func validateEndpointSlice(s *EndpointSlice) ErrorList {
	errs := validateObjectMeta(&s.ObjectMeta, true, nameIsDNSSubdomain)
	switch s.AddressType {
	case AddressTypeIPv4, AddressTypeIPv6, AddressTypeFQDN:
	case "":
		errs = append(errs, Required("addressType", ""))
	default:
		errs = append(errs, NotSupported("addressType", s.AddressType, []string{"FQDN", "IPv4", "IPv6"}))
	}
	if len(s.Endpoints) > 1000 {
		errs = append(errs, &FieldError{Type: ErrorTypeTooMany, Field: "endpoints", BadValue: len(s.Endpoints), Detail: "must have at most 1000 items"})
	}
	for i, ep := range s.Endpoints {
		path := fmt.Sprintf("endpoints[%d]", i)
		if len(ep.Addresses) == 0 {
			errs = append(errs, Required(path+".addresses", "must contain at least 1 address"))
		}
		for j, a := range ep.Addresses {
			ap := fmt.Sprintf("%s.addresses[%d]", path, j)
			switch s.AddressType {
			case AddressTypeIPv4:
				if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
					errs = append(errs, Invalid(ap, a, "must be a valid IPv4 address"))
				}
			case AddressTypeIPv6:
				if ip, err := netip.ParseAddr(a); err != nil || ip.Is4() {
					errs = append(errs, Invalid(ap, a, "must be a valid IPv6 address"))
				}
			}
		}
	}
	names := map[string]bool{}
	for i, p := range s.Ports {
		path := fmt.Sprintf("ports[%d]", i)
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if name != "" {
			for _, msg := range IsDNS1123Label(name) {
				errs = append(errs, Invalid(path+".name", name, msg))
			}
		}
		if names[name] {
			errs = append(errs, Duplicate(path+".name", name))
		}
		names[name] = true
		if p.Protocol == nil {
			errs = append(errs, Required(path+".protocol", ""))
		}
		if p.Port != nil {
			for _, msg := range isValidPortNum(*p.Port) {
				errs = append(errs, Invalid(path+".port", *p.Port, msg))
			}
		}
	}
	return errs
}

func validateServiceKinds(obj Object) ErrorList {
	switch o := obj.(type) {
	case *Service:
		return validateService(o)
	case *Endpoints:
		return validateEndpoints(o)
	case *EndpointSlice:
		return validateEndpointSlice(o)
	}
	return nil
}

func validateServiceKindsUpdate(newObj, oldObj Object) ErrorList {
	switch n := newObj.(type) {
	case *Service:
		if o, ok := oldObj.(*Service); ok {
			return validateServiceUpdate(n, o)
		}
	case *EndpointSlice:
		if o, ok := oldObj.(*EndpointSlice); ok && n.AddressType != o.AddressType {
			return ErrorList{Invalid("addressType", n.AddressType, "field is immutable")}
		}
	}
	return nil
}
