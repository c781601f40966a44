package host

import "github.com/wasmlet/wasmlet/api"

// memoryLimits is a resources.limits with a memory quantity.
func memoryLimits(q string) api.ResourceList {
	return api.ResourceList{api.ResourceMemory: quantity(q)}
}
