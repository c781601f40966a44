package wasmlet

import (
	"fmt"

	"github.com/wasmlet/wasmlet/proxy"
)

// WithServiceProxy turns the service proxy (the node's kube-proxy: cluster
// IPs and node ports of Services reaching their ready endpoints) on or
// off; it is on by default.
func (c Config) WithServiceProxy(on bool) Config { c.serviceProxy = on; return c }

// WithNodePortAddresses sets the IPv4 addresses NodePort Services listen
// on (default 127.0.0.1, this machine only). New refuses an address that is
// not an IPv4 address.
func (c Config) WithNodePortAddresses(addrs ...string) Config {
	c.nodePortAddresses = append([]string(nil), addrs...)
	return c
}

func (n *Node) buildProxy() error {
	if !n.cfg.serviceProxy {
		return nil
	}
	var err error
	n.proxy, err = proxy.New(n.st, proxy.Options{
		NodeName:          n.cfg.nodeName,
		NodePortAddresses: n.cfg.nodePortAddresses,
		PodCIDR:           n.cfg.podCIDR,
		Clock:             n.clock,
		Logger:            n.log,
	})
	if err != nil {
		return fmt.Errorf("wasmlet: %w", err)
	}
	return nil
}
