package wasmlet

import (
	"fmt"

	"github.com/wasmlet/wasmlet/registry"
)

// serviceRanges are where Services' cluster IPs and node ports come from;
// empty strings are registry.DefaultServiceCIDR and
// registry.DefaultNodePortRange.
type serviceRanges struct {
	cidr      string
	nodePorts string
}

// WithServiceCIDR sets the loopback range Services' cluster IPs come from
// (default 127.43.0.0/16, beside the pods' 127.42.0.0/16), as
// kube-apiserver's --service-cluster-ip-range.
func (c Config) WithServiceCIDR(cidr string) Config { c.services.cidr = cidr; return c }

// WithServiceNodePortRange sets the ports NodePort Services' node ports
// come from ("30000-32767" by default), as kube-apiserver's
// --service-node-port-range.
func (c Config) WithServiceNodePortRange(r string) Config { c.services.nodePorts = r; return c }

// registryServiceRanges parses the ranges for the registry.
func (c Config) registryServiceRanges() (registry.ServiceRanges, error) {
	var r registry.ServiceRanges
	var err error
	cidr := c.services.cidr
	if cidr == "" {
		cidr = registry.DefaultServiceCIDR
	}
	if r.CIDR, err = registry.ParseServiceCIDR(cidr); err != nil {
		return r, fmt.Errorf("wasmlet: %w", err)
	}
	ports := c.services.nodePorts
	if ports == "" {
		ports = registry.DefaultNodePortRange
	}
	if r.NodePorts, err = registry.ParsePortRange(ports); err != nil {
		return r, fmt.Errorf("wasmlet: service node port range: %w", err)
	}
	return r, nil
}
