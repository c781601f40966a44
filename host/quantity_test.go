package host

import (
	"context"
	"sync"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
)

// memoryLimits is a resources.limits with a memory quantity.
func memoryLimits(q string) api.ResourceList {
	return api.ResourceList{api.ResourceMemory: quantity(q)}
}

// Every container runs under a memory and a CPU limit: its pod's, or the
// node's defaults.
func TestContainersGetTheNodesDefaultLimits(t *testing.T) {
	tests := []struct {
		name     string
		limits   api.ResourceList
		nodeCPU  int64
		mem      uint64
		cpuMilli int64
	}{
		{"no limits: the node's defaults", nil, 0, 96 << 20, DefaultCPULimitMilli},
		{"the pod's limits", api.ResourceList{api.ResourceMemory: quantity("64Mi"), api.ResourceCPU: quantity("250m")}, 0, 64 << 20, 250},
		{"a node without a default CPU limit", nil, NoCPULimit, 96 << 20, 0},
		{"a CPU limit of 0 is the default", api.ResourceList{api.ResourceCPU: quantity("0")}, 500, 96 << 20, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got *wasi.Config
			rt := &fakeRuntime{start: func(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error) {
				mu.Lock()
				got = &cfg
				mu.Unlock()
				return startScripted(ctx, mod.(string), cfg), nil
			}}
			n := newTestNodeWith(t, rt, func(o *Options) {
				o.Limits.Memory = 96 << 20
				o.Limits.CPUMilli = tt.nodeCPU
			})
			n.createPod("p", api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{
				Name: "c", Image: "hello.wasm", Resources: api.ResourceRequirements{Limits: tt.limits},
			}}})
			n.waitPod("p", "Succeeded", phaseIs(api.PodSucceeded))
			mu.Lock()
			defer mu.Unlock()
			if got == nil {
				t.Fatal("no container started")
			}
			if got.MemoryLimitBytes != tt.mem || got.CPUMilli != tt.cpuMilli {
				t.Errorf("memory limit %d, CPU %dm; want %d, %dm", got.MemoryLimitBytes, got.CPUMilli, tt.mem, tt.cpuMilli)
			}
		})
	}
}

// A guest whose pod sets no memory limit, growing its memory, is killed at
// the node's default: one such guest took a node down with every pod on
// it.
func TestRealOOMKilledAtTheNodeDefault(t *testing.T) {
	n := newTestNodeWith(t, realRuntime(t), func(o *Options) { o.Limits.Memory = 48 << 20 })
	n.createPod("hog", examplePod(t, "hog", api.RestartPolicyNever, api.EnvVar{Name: "INTERVAL", Value: "0s"}))
	p := n.waitPod("hog", "Failed", phaseIs(api.PodFailed))
	term := containerStatus(p, "hog").State.Terminated
	if term == nil || term.Reason != ReasonOOMKilled || term.ExitCode != 137 {
		t.Errorf("status: %s", describe(p))
	}
}
