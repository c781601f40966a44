package wasi_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmlet/wasmlet/host/wasi"
	h "github.com/wasmlet/wasmlet/internal/hostile"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// interpreterRuntime is a runtime on wazero's interpreter as a node on an
// architecture without wazero's compiler has it: without
// WithCloseOnContextDone, its modules compiled by CompileWithYields.
func interpreterRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { rt.Close(ctx) })
	if err := wasi.Instantiate(ctx, rt); err != nil {
		t.Fatal(err)
	}
	return rt
}

type compileFunc func(context.Context, wazero.Runtime, []byte) (wazero.CompiledModule, error)

// The two ways a node runs guests: the compiler with the stop checks, the
// interpreter with the yields only.
func eachPath(t *testing.T, test func(t *testing.T, rt wazero.Runtime, compile compileFunc)) {
	t.Run("interpreter", func(t *testing.T) { test(t, interpreterRuntime(t), wasi.CompileWithYields) })
	t.Run("compiler", func(t *testing.T) {
		if raceEnabled {
			t.Skip("the compiler's checks are read by compiled code, which the race detector does not see")
		}
		test(t, compilerRuntime(t), wasi.Compile)
	})
}

func startGuest(t *testing.T, rt wazero.Runtime, compile compileFunc, wasm []byte, cfg wasi.Config) *wasi.Instance {
	t.Helper()
	ctx := context.Background()
	mod, err := compile(ctx, rt, wasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	inst, err := wasi.Start(ctx, rt, mod, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Kill(); <-inst.Done() })
	return inst
}

// A busy guest on the interpreter limited to 100m gets about a tenth of a
// core, as on the compiler (TestCPULimitThrottlesABusyGuest): its yields
// carry the limit. Before, the interpreter ran modules without yields, and
// the guest took a whole core. The bounds allow for a loaded machine.
func TestInterpreterCPULimitThrottlesABusyGuest(t *testing.T) {
	inst := startGuest(t, interpreterRuntime(t), wasi.CompileWithYields,
		wasmModule(voidType, oneFunc, exportRun, spinCode), wasi.Config{CPUMilli: 100})
	time.Sleep(200 * time.Millisecond) // past the first period's burst
	const window = 1500 * time.Millisecond
	cpu0, wall0 := processCPU(t), time.Now()
	time.Sleep(window)
	share := float64(processCPU(t)-cpu0) / float64(time.Since(wall0))
	t.Logf("a guest of 100m on the interpreter took %.3f of a core", share)
	if share > 0.3 || share < 0.02 {
		t.Errorf("a guest limited to 100m took %.3f of a core", share)
	}
	inst.Kill()
	waitKilled(t, inst)
}

// Kill ends a busy loop that never calls the host, on the interpreter by
// its yields alone (the runtime does not close modules on a context's
// end), and a guest waiting for a run slot there.
func TestInterpreterKillEndsABusyLoop(t *testing.T) {
	rt := interpreterRuntime(t)
	wasm := wasmModule(voidType, oneFunc, exportRun, spinCode)
	slots := wasi.NewRunSlots(1)
	busy := startGuest(t, rt, wasi.CompileWithYields, wasm, wasi.Config{RunSlots: slots})
	waiting := startGuest(t, rt, wasi.CompileWithYields, wasm, wasi.Config{RunSlots: slots})
	time.Sleep(100 * time.Millisecond)
	if isDone(busy) || isDone(waiting) {
		t.Fatal("a spinning guest ended by itself")
	}
	busy.Kill()
	waitKilled(t, busy)
	waiting.Kill()
	waitKilled(t, waiting)
}

// A guest that calls itself twice, 60 deep, runs 2^60 calls without a
// loop head, where the stop checks were: Kill did not end it on either
// path (nor would wazero's WithCloseOnContextDone), and compiled, it never
// returned to Go, so a garbage collection would have waited for it for
// ever. Functions that call count their entries towards a yield.
func TestKillEndsRecursionWithoutLoops(t *testing.T) {
	eachPath(t, func(t *testing.T, rt wazero.Runtime, compile compileFunc) {
		var m h.Module
		m.Memory(1)
		f := m.Func([]h.ValType{h.I32}, nil, nil,
			h.LocalGet(0), h.I32Eqz, h.If, h.Return, h.End,
			h.LocalGet(0), h.I32Const(1), h.I32Sub, h.Call(0),
			h.LocalGet(0), h.I32Const(1), h.I32Sub, h.Call(0))
		m.Command(h.I32Const(60), h.Call(f))
		inst := startGuest(t, rt, compile, m.Bytes(), wasi.Config{})
		time.Sleep(100 * time.Millisecond)
		if isDone(inst) {
			t.Fatalf("the recursion ended by itself: %+v", inst.Wait())
		}
		inst.Kill()
		waitKilled(t, inst)
	})
}

// The CPU limit holds a recursion without loops to its share too.
func TestCPULimitThrottlesRecursionWithoutLoops(t *testing.T) {
	eachPath(t, func(t *testing.T, rt wazero.Runtime, compile compileFunc) {
		var m h.Module
		m.Memory(1)
		f := m.Func([]h.ValType{h.I32}, nil, nil,
			h.LocalGet(0), h.I32Eqz, h.If, h.Return, h.End,
			h.LocalGet(0), h.I32Const(1), h.I32Sub, h.Call(0),
			h.LocalGet(0), h.I32Const(1), h.I32Sub, h.Call(0))
		m.Command(h.I32Const(60), h.Call(f))
		inst := startGuest(t, rt, compile, m.Bytes(), wasi.Config{CPUMilli: 100})
		time.Sleep(200 * time.Millisecond)
		cpu0, wall0 := processCPU(t), time.Now()
		time.Sleep(1500 * time.Millisecond)
		share := float64(processCPU(t)-cpu0) / float64(time.Since(wall0))
		t.Logf("a recursion of 100m took %.3f of a core", share)
		if share > 0.3 || share < 0.02 {
			t.Errorf("a recursion limited to 100m took %.3f of a core", share)
		}
		inst.Kill()
		waitKilled(t, inst)
	})
}

// BenchmarkYields measures what the yields cost a guest:
//
//   - fib: fib(25), 243,000 calls and nothing else, each non-leaf entry
//     counted: on the compiler, Instrument against LimitTables (the call
//     stack's budget only); on the interpreter, InstrumentYields against
//     CompileWithoutStopChecks under WithCloseOnContextDone (wazero's own
//     check, how the interpreter ran guests before);
//   - loop: a loop of 1,000,000 iterations, on the interpreter, the same
//     two ways (on the compiler the stop checks were there before);
//   - hello: a Go guest's start, its runtime's initialisation and one
//     line printed, the same four ways.
func BenchmarkYields(b *testing.B) {
	ctx := context.Background()
	var fm h.Module
	fib := fm.Func([]h.ValType{h.I32}, []h.ValType{h.I32}, nil,
		h.LocalGet(0), h.I32Const(2), h.I32LtU, h.If, h.LocalGet(0), h.Return, h.End,
		h.LocalGet(0), h.I32Const(1), h.I32Sub, h.Call(0),
		h.LocalGet(0), h.I32Const(2), h.I32Sub, h.Call(0), h.I32Add)
	fm.ExportFunc("fib", fib)
	var lm h.Module
	const i = 0
	lm.ExportFunc("loop", lm.Func(nil, nil, []h.ValType{h.I32}, h.Loop,
		h.LocalGet(i), h.I32Const(1), h.I32Add, h.LocalTee(i), h.I32Const(1000000), h.I32LtU, h.BrIf(0), h.End))
	hello, err := os.ReadFile(examples.MustBuild(b, "hello"))
	if err != nil {
		b.Fatal(err)
	}
	interpreter := func(b *testing.B, closeOnDone bool) wazero.Runtime {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(closeOnDone))
		b.Cleanup(func() { rt.Close(ctx) })
		if err := wasi.Instantiate(ctx, rt); err != nil {
			b.Fatal(err)
		}
		return rt
	}
	paths := []struct {
		name    string
		rt      func(b *testing.B) wazero.Runtime
		compile compileFunc
	}{
		{"compiler/without-yields", func(b *testing.B) wazero.Runtime { return compilerRuntime(b) }, wasi.CompileWithoutStopChecks},
		{"compiler/yields", func(b *testing.B) wazero.Runtime { return compilerRuntime(b) }, wasi.Compile},
		{"interpreter/context", func(b *testing.B) wazero.Runtime { return interpreter(b, true) }, wasi.CompileWithoutStopChecks},
		{"interpreter/yields", func(b *testing.B) wazero.Runtime { return interpreter(b, false) }, wasi.CompileWithYields},
	}
	for _, p := range paths {
		call := func(b *testing.B, wasm []byte, name string, arg ...uint64) {
			rt := p.rt(b)
			mod, err := p.compile(ctx, rt, wasm)
			if err != nil {
				b.Fatal(err)
			}
			m, err := rt.InstantiateModule(ctx, mod, wazero.NewModuleConfig().WithStartFunctions())
			if err != nil {
				b.Fatal(err)
			}
			if g, ok := m.ExportedGlobal(wasi.StackGlobal).(api.MutableGlobal); ok {
				g.Set(api.EncodeI32(1 << 30))
			}
			f := m.ExportedFunction(name)
			for b.Loop() {
				if _, err := f.Call(ctx, arg...); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run("fib/"+p.name, func(b *testing.B) { call(b, fm.Bytes(), "fib", 25) })
		if strings.HasPrefix(p.name, "interpreter") {
			b.Run("loop/"+p.name, func(b *testing.B) { call(b, lm.Bytes(), "loop") })
		}
		b.Run("hello/"+p.name, func(b *testing.B) {
			rt := p.rt(b)
			mod, err := p.compile(ctx, rt, hello)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				inst, err := wasi.Start(ctx, rt, mod, wasi.Config{Args: []string{"hello"}, Stdout: io.Discard})
				if err != nil {
					b.Fatal(err)
				}
				if st := inst.Wait(); st.Code != 0 {
					b.Fatal(st)
				}
			}
		})
	}
}
