package wasi_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmlet/wasmlet/host/wasi"
	h "github.com/wasmlet/wasmlet/internal/hostile"
)

// stackPaths are the node's two ways to run a guest, each with its
// compile function: the compiler with the stop checks, and the interpreter
// (the race detector's, and other architectures').
func stackPaths(t *testing.T, run func(t *testing.T, rt wazero.Runtime, compile func(context.Context, wazero.Runtime, []byte) (wazero.CompiledModule, error))) {
	t.Run("compiler", func(t *testing.T) { run(t, compilerRuntime(t), wasi.Compile) })
	t.Run("interpreter", func(t *testing.T) {
		ctx := context.Background()
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true))
		t.Cleanup(func() { rt.Close(ctx) })
		if err := wasi.Instantiate(ctx, rt); err != nil {
			t.Fatal(err)
		}
		run(t, rt, wasi.CompileWithoutStopChecks)
	})
}

// runGuest compiles and starts wasm with the memory limit and returns how
// it ended and what the process allocated while it ran.
func runGuest(t *testing.T, rt wazero.Runtime, compile func(context.Context, wazero.Runtime, []byte) (wazero.CompiledModule, error), wasm []byte, limit uint64) (wasi.ExitStatus, uint64) {
	t.Helper()
	ctx := context.Background()
	mod, err := compile(ctx, rt, wasm)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	inst, err := wasi.Start(ctx, rt, mod, wasi.Config{MemoryLimitBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	st := inst.Wait()
	runtime.ReadMemStats(&after)
	return st, after.TotalAlloc - before.TotalAlloc
}

// A guest recursing without end, with frames of 1,000 live i64 locals or
// of nothing, ends with a trap that names its call stack's budget, having
// made the node allocate a few MiB: wazero's compiler grew its stack on the
// node's heap to its own ceiling first, 161 MB allocated for a guest
// limited to 16Mi, and the interpreter to 2,000 frames of 1,000 locals.
// (The interpreter's own 2,000 frames end the recursion of empty frames
// before the budget does.)
func TestCallStackBudgetEndsDeepRecursion(t *testing.T) {
	stackPaths(t, func(t *testing.T, rt wazero.Runtime, compile func(context.Context, wazero.Runtime, []byte) (wazero.CompiledModule, error)) {
		sizes := []int{0, h.DeepRecursionLocals}
		if strings.HasSuffix(t.Name(), "interpreter") {
			sizes = sizes[1:]
		}
		for _, locals := range sizes {
			st, alloc := runGuest(t, rt, compile, h.DeepRecursion(locals), 16<<20)
			t.Logf("%d locals: %d MiB allocated while it ran; %d: %.120s", locals, alloc>>20, st.Code, st.Message)
			if st.Code != wasi.ExitCodeTrap || !strings.Contains(st.Message, "call stack exhausted") || !strings.Contains(st.Message, "4194304 bytes") {
				t.Errorf("%d locals: status %+v, want a trap for the call stack's budget of 4 MiB", locals, st)
			}
			if alloc > 32<<20 {
				t.Errorf("%d locals: the node allocated %d MiB while a guest limited to 16Mi recursed", locals, alloc>>20)
			}
		}
	})
}

// Every way out of a function gives its frame back (return, its end, br,
// br_if and br_table to its label, recursion and its return), and so does
// a tail call: a guest that calls such functions half a million times
// under a budget of 256 KiB, a few thousand frames, ends normally.
func TestCallStackBudgetIsGivenBack(t *testing.T) {
	var m h.Module
	m.Memory(1)
	flag := m.Global(1)
	count := m.Global(0)
	callees := []uint32{
		m.Func(nil, nil, nil, h.I32Const(1), h.If, []byte{0x0f}, h.End, h.Unreachable), // return
		m.Func(nil, nil, nil, h.Block, h.Br(1), h.End, h.Unreachable),                  // br to the function
		m.Func(nil, nil, nil, h.GlobalGet(flag), h.BrIf(0), h.Unreachable),             // br_if to the function
		m.Func(nil, nil, nil, h.I32Const(0), h.BrTable([]uint32{0}, 0)),                // br_table to the function
		m.Func(nil, nil, nil), // its end
	}
	// rec recurses count deep.
	rec := uint32(len(callees))
	m.Func(nil, nil, nil,
		h.GlobalGet(count), h.I32Eqz, h.BrIf(0),
		h.GlobalGet(count), h.I32Const(1), h.I32Sub, h.GlobalSet(count),
		h.Call(rec))
	const i = 0
	body := [][]byte{h.Loop}
	for _, f := range callees {
		body = append(body, h.Call(f))
	}
	body = append(body, h.I32Const(50), h.GlobalSet(count), h.Call(rec),
		h.LocalGet(i), h.I32Const(1), h.I32Add, h.LocalTee(i), h.I32Const(5_000), h.I32LtU, h.BrIf(0), h.End)
	m.ExportFunc("_start", m.Func(nil, nil, []h.ValType{h.I32}, body...))
	wasm := m.Bytes()
	stackPaths(t, func(t *testing.T, rt wazero.Runtime, compile func(context.Context, wazero.Runtime, []byte) (wazero.CompiledModule, error)) {
		if st, _ := runGuest(t, rt, compile, wasm, 1<<20); st.Code != 0 {
			t.Errorf("status %+v, want 0", st)
		}
	})

	// Tail calls: f(n) is return_call f(n-1), a million times.
	t.Run("tail calls", func(t *testing.T) {
		if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
			t.Skip("wazero has no compiler for " + runtime.GOARCH)
		}
		ctx := context.Background()
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesTailCall))
		t.Cleanup(func() { rt.Close(ctx) })
		if err := wasi.Instantiate(ctx, rt); err != nil {
			t.Fatal(err)
		}
		var m h.Module
		m.Memory(1)
		f := m.Func([]h.ValType{h.I32}, nil, nil,
			h.LocalGet(0), h.I32Eqz, h.BrIf(0),
			h.LocalGet(0), h.I32Const(1), h.I32Sub, []byte{0x12, 0x00}) // return_call f
		m.ExportFunc("_start", m.Func(nil, nil, nil, h.I32Const(1_000_000), h.Call(f)))
		if st, _ := runGuest(t, rt, wasi.Compile, m.Bytes(), 1<<20); st.Code != 0 {
			t.Errorf("status %+v, want 0", st)
		}
	})
}

// StackBudget: a quarter of the limit, within its bounds.
func TestStackBudget(t *testing.T) {
	for limit, want := range map[uint64]int32{
		0:        wasi.DefaultStackBudget,
		16 << 20: 4 << 20,
		1 << 10:  64 << 10,
		1 << 40:  1 << 30,
	} {
		if got := wasi.StackBudget(limit); got != want {
			t.Errorf("StackBudget(%d) = %d, want %d", limit, got, want)
		}
	}
}
