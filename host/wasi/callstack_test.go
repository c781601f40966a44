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
// (directly and through a table) under a budget of 256 KiB, a few
// thousand frames, ends normally; so does one whose exceptions, thrown 50
// frames deep, are caught 10,000 times.
func TestCallStackBudgetIsGivenBack(t *testing.T) {
	var m h.Module
	m.Memory(1)
	flag := m.Global(1)
	count := m.Global(0)
	callees := []uint32{
		m.Func(nil, nil, nil, h.I32Const(1), h.If, h.Return, h.End, h.Unreachable), // return
		m.Func(nil, nil, nil, h.Block, h.Br(1), h.End, h.Unreachable),              // br to the function
		m.Func(nil, nil, nil, h.GlobalGet(flag), h.BrIf(0), h.Unreachable),         // br_if to the function
		m.Func(nil, nil, nil, h.I32Const(0), h.BrTable([]uint32{0}, 0)),            // br_table to the function
		m.Func(nil, nil, nil), // its end
	}
	// rec recurses count deep.
	rec := uint32(len(callees))
	m.Func(nil, nil, nil,
		h.GlobalGet(count), h.I32Eqz, h.BrIf(0),
		h.GlobalGet(count), h.I32Const(1), h.I32Sub, h.GlobalSet(count),
		h.Call(rec))
	// The last callee is also called through a table (exported, so that
	// ref.func may name it), in a loop of its own: a restore after any call
	// makes up for a call that missed one.
	table := m.Table(1)
	m.ExportFunc("callee", callees[len(callees)-1])
	const i = 0
	body := [][]byte{h.I32Const(0), h.RefFunc(callees[len(callees)-1]), h.TableSet(table),
		h.Loop, h.I32Const(0), h.CallIndirect(0, table),
		h.LocalGet(i), h.I32Const(1), h.I32Add, h.LocalTee(i), h.I32Const(5_000), h.I32LtU, h.BrIf(0), h.End,
		h.I32Const(0), h.LocalSet(i), h.Loop}
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
			h.LocalGet(0), h.I32Const(1), h.I32Sub, h.ReturnCall(0))
		m.ExportFunc("_start", m.Func(nil, nil, nil, h.I32Const(1_000_000), h.Call(f)))
		if st, _ := runGuest(t, rt, wasi.Compile, m.Bytes(), 1<<20); st.Code != 0 {
			t.Errorf("status %+v, want 0", st)
		}
	})

	// Exceptions: thrower recurses 50 deep and throws; catcher catches it
	// in a try_table, where the frames between were never given back.
	t.Run("exceptions", func(t *testing.T) {
		if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
			t.Skip("wazero has no compiler for " + runtime.GOARCH)
		}
		ctx := context.Background()
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesExceptionHandling))
		t.Cleanup(func() { rt.Close(ctx) })
		if err := wasi.Instantiate(ctx, rt); err != nil {
			t.Fatal(err)
		}
		var m h.Module
		m.Memory(1)
		tag := m.Tag()
		count := m.Global(0)
		thrower := m.Func(nil, nil, nil,
			h.GlobalGet(count), h.I32Eqz, h.If, h.Throw(tag), h.End,
			h.GlobalGet(count), h.I32Const(1), h.I32Sub, h.GlobalSet(count),
			h.Call(0))
		// catcher catches 200 of them one after the other, with no loop
		// head between (where the budget is restored too).
		var catches [][]byte
		for range 200 {
			catches = append(catches, h.I32Const(50), h.GlobalSet(count), h.Block, h.TryTableCatchAll(0), h.Call(thrower), h.End, h.End)
		}
		catcher := m.Func(nil, nil, nil, catches...)
		const i = 0
		m.ExportFunc("_start", m.Func(nil, nil, []h.ValType{h.I32}, h.Loop, h.Call(catcher),
			h.LocalGet(i), h.I32Const(1), h.I32Add, h.LocalTee(i), h.I32Const(50), h.I32LtU, h.BrIf(0), h.End))
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

// BenchmarkCallStackBudget: fib(25), 243,000 calls and nothing else, as
// written and rewritten by Instrument (a debit and a check at every entry,
// a restore after every call; fib has no loop, so no stop check): the
// budget's worst case: a third to a half longer (1.48 and 2.01 ms, 2.06
// and 3.04 ms under load, on the 2-core machine).
func BenchmarkCallStackBudget(b *testing.B) {
	var m h.Module
	fib := m.Func([]h.ValType{h.I32}, []h.ValType{h.I32}, nil,
		h.LocalGet(0), h.I32Const(2), h.I32LtU, h.If, h.LocalGet(0), h.Return, h.End,
		h.LocalGet(0), h.I32Const(1), h.I32Sub, h.Call(0),
		h.LocalGet(0), h.I32Const(2), h.I32Sub, h.Call(0), h.I32Add)
	m.ExportFunc("fib", fib)
	raw := m.Bytes()
	rewritten, err := wasi.Instrument(raw)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name string
		wasm []byte
	}{{"as written", raw}, {"rewritten", rewritten}} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			rt := compilerRuntime(b)
			mod, err := rt.InstantiateWithConfig(ctx, v.wasm, wazero.NewModuleConfig().WithStartFunctions())
			if err != nil {
				b.Fatal(err)
			}
			if g, ok := mod.ExportedGlobal(wasi.StackGlobal).(api.MutableGlobal); ok {
				g.Set(api.EncodeI32(1 << 30))
			}
			f := mod.ExportedFunction("fib")
			for b.Loop() {
				if _, err := f.Call(ctx, 25); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A module that names a global or local past its own is invalid as
// written, and is refused as wazero refuses it: rewritten, the index would
// name the stop flag, the call stack's budget or a frame's own local, and
// the guest could unset the flag or refill its budget.
func TestRewriteRefusesIndicesPastTheModules(t *testing.T) {
	ctx := context.Background()
	rt := compilerRuntime(t)
	for name, code := range map[string][]byte{
		"the stop flag":           h.Ops(h.I32Const(0), h.GlobalSet(0)),
		"the call stack's budget": h.Ops(h.I32Const(1<<30), h.GlobalSet(3)),
		"the budget, read":        h.Ops(h.GlobalGet(3), h.Drop),
		"the frame's local":       h.Ops(h.I32Const(1<<30), h.LocalSet(0)),
	} {
		var m h.Module
		m.Memory(1)
		m.Command(code)
		wasm := m.Bytes()
		if _, err := rt.CompileModule(ctx, wasm); err == nil {
			t.Fatalf("%s: wazero compiles the module as written", name)
		}
		for _, compile := range []func(context.Context, wazero.Runtime, []byte) (wazero.CompiledModule, error){wasi.Compile, wasi.CompileWithoutStopChecks} {
			if mod, err := compile(ctx, rt, wasm); err == nil {
				mod.Close(ctx)
				t.Errorf("%s: the rewritten module compiles", name)
			}
		}
	}
}
