package api

// Defaults of v1 Services (Kubernetes' SetDefaults_Service, and the
// family defaults its registry gives a Service on a single-stack IPv4
// cluster).

// DefaultClientIPServiceAffinitySeconds is how long a client stays with
// its endpoint under ClientIP affinity when the Service names no timeout.
const DefaultClientIPServiceAffinitySeconds int32 = 10800

func defaultService(s *Service) {
	sp := &s.Spec
	if sp.SessionAffinity == "" {
		sp.SessionAffinity = ServiceAffinityNone
	}
	if sp.SessionAffinity == ServiceAffinityClientIP {
		if sp.SessionAffinityConfig == nil {
			sp.SessionAffinityConfig = &SessionAffinityConfig{}
		}
		if sp.SessionAffinityConfig.ClientIP == nil {
			sp.SessionAffinityConfig.ClientIP = &ClientIPConfig{}
		}
		if sp.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			sp.SessionAffinityConfig.ClientIP.TimeoutSeconds = ptrTo(DefaultClientIPServiceAffinitySeconds)
		}
	}
	if sp.Type == "" {
		sp.Type = ServiceTypeClusterIP
	}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if p.TargetPort.Type == Int && p.TargetPort.IntVal == 0 {
			p.TargetPort = FromInt32(p.Port)
		}
	}
	if (sp.Type == ServiceTypeNodePort || sp.Type == ServiceTypeLoadBalancer) && sp.ExternalTrafficPolicy == "" {
		sp.ExternalTrafficPolicy = ServiceTrafficPolicyCluster
	}
	if sp.Type == ServiceTypeLoadBalancer && sp.AllocateLoadBalancerNodePorts == nil {
		sp.AllocateLoadBalancerNodePorts = ptrTo(true)
	}
	if sp.Type == ServiceTypeExternalName {
		return
	}
	if sp.InternalTrafficPolicy == nil {
		sp.InternalTrafficPolicy = ptrTo(ServiceTrafficPolicyCluster)
	}
	// clusterIP and clusterIPs name the same first address; a client may
	// set either.
	if sp.ClusterIP == "" && len(sp.ClusterIPs) > 0 && sp.ClusterIPs[0] != "" {
		sp.ClusterIP = sp.ClusterIPs[0]
	}
	if sp.ClusterIP != "" && len(sp.ClusterIPs) == 0 {
		sp.ClusterIPs = []string{sp.ClusterIP}
	}
	if sp.IPFamilyPolicy == nil {
		policy := IPFamilyPolicySingleStack
		if sp.ClusterIP == ClusterIPNone && len(sp.Selector) == 0 {
			policy = IPFamilyPolicyRequireDualStack
		}
		sp.IPFamilyPolicy = &policy
	}
	if len(sp.IPFamilies) == 0 {
		sp.IPFamilies = []IPFamily{IPv4Protocol}
	}
}
