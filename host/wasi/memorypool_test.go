package wasi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/internal/hostile"
)

// Guests share the node's memory pool: each under its own limit, together
// they cannot take more than the pool. When a growth does not fit, the
// guest holding the most is OOMKilled, as the kernel's OOM killer picks
// its victim, and the guest that asked goes on; a guest that holds the most
// itself is refused. Small guests run on throughout, and what a guest held
// returns to the pool when it ends.
func TestMemoryPoolBoundsGuestsTogether(t *testing.T) {
	ctx := context.Background()
	pool := wasi.NewMemoryPool(96 << 20)
	cfg := wasi.Config{MemoryLimitBytes: 512 << 20, MemoryPool: pool}
	start := func(wasm []byte) *wasi.Instance {
		t.Helper()
		mod, err := compile(ctx, testRT, wasm)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mod.Close(ctx) })
		inst, err := wasi.Start(ctx, testRT, mod, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return inst
	}
	small := start(hostile.MemoryAtStart(128, true)) // 8 MiB, held
	defer small.Kill()
	hog := start(hostile.MemoryAtStart(1024, true)) // 64 MiB, held
	grower := start(hostile.GrowMemory())

	st := hog.Wait()
	if !st.OOMKilled || !strings.Contains(st.Message, "killed to make room") {
		t.Fatalf("the guest holding the most: %+v, want OOMKilled to make room", st)
	}
	st = grower.Wait()
	if !st.OOMKilled || !strings.Contains(st.Message, "node's memory for guests") {
		t.Fatalf("grower: %+v, want OOMKilled once it held the most", st)
	}
	select {
	case <-small.Done():
		t.Fatalf("the small guest ended: %+v", small.Wait())
	default:
	}
	if used := pool.Used(); used < 8<<20 || used > 9<<20 {
		t.Fatalf("pool holds %d bytes with one 8 MiB guest left", used)
	}
	small.Kill()
	small.Wait()
	if used := pool.Used(); used != 0 {
		t.Fatalf("pool holds %d bytes with no guest left", used)
	}
}
