package wasi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/internal/hostile"
)

// A memory the module does not export, over the limit at its initial size,
// ends the container OOMKilled before it is allocated, on both of the
// node's compile paths. wazero only tells the sizes of exported memories,
// and its instantiation panicked, taking the node down, when the allocator
// refused the first allocation of a memory the check had not seen.
func TestHiddenMemoryOverTheLimitAtStart(t *testing.T) {
	ctx := context.Background()
	wasm := hostile.MemoryAtStart(16384, false) // 1 GiB, kept to itself
	for _, path := range []string{"without stop checks", "compiler"} {
		t.Run(path, func(t *testing.T) {
			rt := testRT
			compileFn := wasi.CompileWithoutStopChecks
			if path == "compiler" {
				rt = compilerRuntime(t)
				compileFn = wasi.Compile
			}
			mod, err := compileFn(ctx, rt, wasm)
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(ctx)
			inst, err := wasi.Start(ctx, rt, mod, wasi.Config{MemoryLimitBytes: 64 << 20})
			if err != nil {
				t.Fatal(err)
			}
			st := inst.Wait()
			if !st.OOMKilled || st.Code != wasi.ExitCodeKilled || !strings.Contains(st.Message, "over its limit") {
				t.Fatalf("status %+v, want OOMKilled 137 at start", st)
			}
		})
	}
}
