package api

import (
	"strings"
	"testing"
)

func TestValidateService(t *testing.T) {
	base := func() *Service {
		s := &Service{ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"}, Spec: ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []ServicePort{{Port: 80}},
		}}
		return s
	}
	for _, tc := range []struct {
		name   string
		change func(*Service)
		want   string // the errors, joined by "; "; "" for none
	}{
		{"valid", func(*Service) {}, ""},
		{"name", func(s *Service) { s.Name = "1web" }, `metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`},
		{"no ports", func(s *Service) { s.Spec.Ports = nil }, "spec.ports: Required value"},
		{"headless without ports", func(s *Service) { s.Spec.Ports = nil; s.Spec.ClusterIP = "None" }, ""},
		{"port 0", func(s *Service) { s.Spec.Ports[0].Port = 0; s.Spec.Ports[0].TargetPort = FromInt32(80) }, "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"},
		{"port too big", func(s *Service) { s.Spec.Ports[0].Port = 65536 }, "spec.ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive; spec.ports[0].targetPort: Invalid value: 65536: must be between 1 and 65535, inclusive"},
		{"unnamed of two", func(s *Service) { s.Spec.Ports = append(s.Spec.Ports, ServicePort{Name: "b", Port: 81}) }, "spec.ports[0].name: Required value"},
		{"duplicate names", func(s *Service) {
			s.Spec.Ports = []ServicePort{{Name: "a", Port: 80}, {Name: "a", Port: 81}}
		}, `spec.ports[1].name: Duplicate value: "a"`},
		{"nodePort on ClusterIP", func(s *Service) { s.Spec.Ports[0].NodePort = 30080 }, "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
		{"type", func(s *Service) { s.Spec.Type = "Elsewhere" }, `spec.type: Unsupported value: "Elsewhere": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`},
		{"selector", func(s *Service) { s.Spec.Selector = map[string]string{"app": "a b"} }, `spec.selector: Invalid value: "a b"`},
		{"clusterIPs disagree", func(s *Service) { s.Spec.ClusterIP = "127.43.0.1"; s.Spec.ClusterIPs = []string{"127.43.0.2"} }, "spec.clusterIPs: Invalid value: []string{\"127.43.0.2\"}: first value must match `clusterIP`"},
		{"bad clusterIP", func(s *Service) { s.Spec.ClusterIP = "nope" }, `spec.clusterIPs[0]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`},
		{"None not alone", func(s *Service) { s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = []string{"None", "127.43.0.1"} }, `spec.clusterIPs: Invalid value: []string{"None", "127.43.0.1"}: 'None' must be the first and only value`},
		{"affinity timeout", func(s *Service) {
			s.Spec.SessionAffinity = ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &SessionAffinityConfig{ClientIP: &ClientIPConfig{TimeoutSeconds: ptrTo(int32(0))}}
		}, "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"},
		{"protocol", func(s *Service) { s.Spec.Ports[0].Protocol = "HTTP" }, `spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.change(s)
			Default(s)
			var got []string
			for _, e := range Validate(s) {
				got = append(got, e.Error())
			}
			g := strings.Join(got, "; ")
			if tc.want == "" && g != "" || tc.want != "" && !strings.Contains(g, tc.want) {
				t.Errorf("got %q\nwant %q", g, tc.want)
			}
		})
	}
}

func TestDefaultService(t *testing.T) {
	s := &Service{Spec: ServiceSpec{Type: ServiceTypeNodePort, SessionAffinity: ServiceAffinityClientIP, Ports: []ServicePort{{Port: 80}}}}
	Default(s)
	if s.Spec.ExternalTrafficPolicy != ServiceTrafficPolicyCluster || *s.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds != 10800 ||
		s.Spec.Ports[0].Protocol != ProtocolTCP || s.Spec.Ports[0].TargetPort != FromInt32(80) ||
		*s.Spec.IPFamilyPolicy != IPFamilyPolicySingleStack || len(s.Spec.IPFamilies) != 1 || s.Spec.IPFamilies[0] != IPv4Protocol ||
		*s.Spec.InternalTrafficPolicy != ServiceTrafficPolicyCluster {
		t.Errorf("defaults: %+v", s.Spec)
	}
	h := &Service{Spec: ServiceSpec{ClusterIP: ClusterIPNone}}
	Default(h)
	if *h.Spec.IPFamilyPolicy != IPFamilyPolicyRequireDualStack || h.Spec.ClusterIPs[0] != ClusterIPNone || h.Spec.Type != ServiceTypeClusterIP {
		t.Errorf("headless defaults: %+v", h.Spec)
	}
}
