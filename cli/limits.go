package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host"
)

// podLimitFlags are the node's per-container defaults and caps, shared by
// serve and up.
func podLimitFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "default-memory-limit", Value: "512Mi",
			Usage: "memory limit of a container whose pod sets no resources.limits.memory"},
		&ucli.StringFlag{Name: "default-cpu-limit", Value: "1",
			Usage: "CPU limit of a container whose pod sets no resources.limits.cpu (0: none)"},
		&ucli.StringFlag{Name: "default-emptydir-size-limit", Value: "1Gi",
			Usage: "sizeLimit of an emptyDir volume that sets none"},
		&ucli.StringFlag{Name: "pods-memory",
			Usage: "memory every container of the node may use together (default: three quarters of the machine's)"},
		&ucli.IntFlag{Name: "max-open-files", Value: host.DefaultOpenFiles,
			Usage: "descriptors one container may hold open"},
	}
}

// podLimits reads podLimitFlags.
func podLimits(c *ucli.Context) (host.Limits, error) {
	var l host.Limits
	quantity := func(flag string) (api.Quantity, error) {
		q, err := api.ParseQuantity(c.String(flag))
		if err != nil {
			return q, fmt.Errorf("--%s: %w", flag, err)
		}
		if q.MilliValue() < 0 {
			return q, fmt.Errorf("--%s: %s is negative", flag, q)
		}
		return q, nil
	}
	mem, err := quantity("default-memory-limit")
	if err != nil {
		return l, err
	}
	cpu, err := quantity("default-cpu-limit")
	if err != nil {
		return l, err
	}
	dir, err := quantity("default-emptydir-size-limit")
	if err != nil {
		return l, err
	}
	if c.String("pods-memory") != "" {
		q, err := quantity("pods-memory")
		if err != nil {
			return l, err
		}
		l.PodsMemory = q.Value()
	}
	if c.Int("max-open-files") < 16 {
		return l, fmt.Errorf("--max-open-files: %d is fewer than a guest needs (16)", c.Int("max-open-files"))
	}
	l.Memory = mem.Value()
	l.CPUMilli = cpu.MilliValue()
	if l.CPUMilli == 0 {
		l.CPUMilli = host.NoCPULimit
	}
	l.EmptyDir = dir.Value()
	l.OpenFiles = c.Int("max-open-files")
	return l, nil
}
