package host

import (
	"fmt"

	"github.com/wasmlet/wasmlet/api"
)

// The host's only uses of resource quantities.

// quantity is a well-formed quantity literal (the node's capacity).
func quantity(s string) api.Quantity { return api.MustParseQuantity(s) }

// memoryLimit is resources.limits.memory in bytes (0: none).
func memoryLimit(c *api.Container) (uint64, error) {
	q, ok := c.Resources.Limits[api.ResourceMemory]
	if !ok {
		return 0, nil
	}
	v := q.Value()
	if v <= 0 {
		return 0, fmt.Errorf("resources.limits.memory: %v is not a positive amount", q)
	}
	return uint64(v), nil
}
