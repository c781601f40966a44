package host

import (
	"fmt"

	"github.com/wasmlet/wasmlet/api"
)

// The host's only uses of resource quantities.

// quantity is a well-formed quantity literal (the node's capacity).
func quantity(s string) api.Quantity { return api.MustParseQuantity(s) }

// memoryLimit is the container's memory limit in bytes:
// resources.limits.memory, or the node's default for a container without
// one. Every container runs under a limit, since a guest without one could
// take the memory of every pod of the node.
func (h *Host) memoryLimit(c *api.Container) (uint64, error) {
	q, ok := c.Resources.Limits[api.ResourceMemory]
	if !ok {
		return uint64(h.opts.Limits.Memory), nil
	}
	v := q.Value()
	if v <= 0 {
		return 0, fmt.Errorf("resources.limits.memory: %v is not a positive amount", q)
	}
	return uint64(v), nil
}

// cpuLimit is the container's CPU limit in millicores:
// resources.limits.cpu, or the node's default for a container without one
// (0: none). Kubernetes reads a limit of 0 as none; here it takes the
// default, as a pod cannot lift the default by asking for nothing.
func (h *Host) cpuLimit(c *api.Container) int64 {
	if q, ok := c.Resources.Limits[api.ResourceCPU]; ok && q.MilliValue() > 0 {
		return q.MilliValue()
	}
	if h.opts.Limits.CPUMilli == NoCPULimit {
		return 0
	}
	return h.opts.Limits.CPUMilli
}
