package cli

import (
	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet"
)

// serviceFlags are serve's flags of the ranges Services' addresses come
// from, named as kube-apiserver's.
func serviceFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "service-cidr", Value: "127.43.0.0/16", Usage: "loopback range Services' cluster IPs come from"},
		&ucli.StringFlag{Name: "service-node-port-range", Value: "30000-32767", Usage: "ports NodePort Services' node ports come from"},
	}
}

func withServiceFlags(cfg wasmlet.Config, c *ucli.Context) wasmlet.Config {
	return cfg.WithServiceCIDR(c.String("service-cidr")).WithServiceNodePortRange(c.String("service-node-port-range"))
}
