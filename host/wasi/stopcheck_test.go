package wasi_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmlet/wasmlet/host/wasi"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// A few modules written out in the binary format, small enough for wazero's
// compiler under the race detector.

func leb(v int) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func vec(items ...[]byte) []byte {
	b := leb(len(items))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func section(id byte, content []byte) []byte {
	return append(append([]byte{id}, leb(len(content))...), content...)
}

func str(s string) []byte { return append(leb(len(s)), s...) }

func wasmModule(sections ...[]byte) []byte {
	return append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Join(sections, nil)...)
}

// body is a function body without locals.
func body(code ...byte) []byte {
	b := append([]byte{0x00}, code...)
	return append(leb(len(b)), b...)
}

var (
	voidType  = section(1, vec([]byte{0x60, 0x00, 0x00}))
	oneFunc   = section(3, vec([]byte{0x00}))
	exportRun = section(7, vec(append(str("_start"), 0x00, 0x00)))
	// spinCode is "loop br 0 end": a guest that never calls the host.
	spinCode = section(10, vec(body(0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b)))
)

// compilerRuntime is a runtime on wazero's compiler without
// WithCloseOnContextDone, as a node's: only the stop checks end a busy
// guest there.
func compilerRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("wazero has no compiler for " + runtime.GOARCH)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { rt.Close(ctx) })
	if err := wasi.Instantiate(ctx, rt); err != nil {
		t.Fatal(err)
	}
	return rt
}

// killSpinning starts the module, checks that it is still running a moment
// later, kills it and checks that it ends as killed.
func killSpinning(t *testing.T, rt wazero.Runtime, wasm []byte) {
	t.Helper()
	ctx := context.Background()
	mod, err := wasi.Compile(ctx, rt, wasm)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	inst, err := wasi.Start(ctx, rt, mod, wasi.Config{Args: []string{"spin"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Done():
		t.Fatalf("ended before Kill: %+v", inst.Wait())
	case <-time.After(50 * time.Millisecond):
	}
	inst.Kill()
	waitKilled(t, inst)
}

func TestStopChecksEndABusyLoop(t *testing.T) {
	rt := compilerRuntime(t)
	killSpinning(t, rt, wasmModule(voidType, oneFunc, exportRun, spinCode))
}

// A busy guest returns to Go often enough for a garbage collection to stop
// it: compiled code that never did would stop the whole process at the next
// collection, since a collection waits for every goroutine. The check runs
// in a child process (this test binary again), since a failure freezes the
// process, timers and all.
func TestBusyGuestLetsTheGarbageCollectorRun(t *testing.T) {
	if os.Getenv("WASMLET_TEST_GC_CHILD") == "1" {
		rt := compilerRuntime(t)
		ctx := context.Background()
		mod, err := wasi.Compile(ctx, rt, wasmModule(voidType, oneFunc, exportRun, spinCode))
		if err != nil {
			t.Fatal(err)
		}
		inst, err := wasi.Start(ctx, rt, mod, wasi.Config{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		for range 3 {
			runtime.GC()
		}
		fmt.Println("collected while the guest spun")
		inst.Kill()
		<-inst.Done()
		return
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("wazero has no compiler for " + runtime.GOARCH)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBusyGuestLetsTheGarbageCollectorRun$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WASMLET_TEST_GC_CHILD=1")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the child froze: a garbage collection waited for the busy guest for 60 s\n%s", out)
	}
	if err != nil || !bytes.Contains(out, []byte("collected while the guest spun")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// The stop flag's index comes after every imported and defined global. The
// guest loops while its own global is 7; a check reading that global would
// trap at once, and one reading the imported global (5) never.
func TestStopChecksReadTheirOwnGlobal(t *testing.T) {
	rt := compilerRuntime(t)
	ctx := context.Background()
	env := wasmModule(
		section(6, vec([]byte{0x7f, 0x00, 0x41, 0x05, 0x0b})), // const i32 5
		section(7, vec(append(str("g"), 0x03, 0x00))),
	)
	if _, err := rt.InstantiateWithConfig(ctx, env, wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	guest := wasmModule(voidType,
		section(2, vec(append(append(str("env"), str("g")...), 0x03, 0x7f, 0x00))), // import const i32
		oneFunc,
		section(6, vec([]byte{0x7f, 0x01, 0x41, 0x07, 0x0b})), // var i32 7
		section(7, vec(append(str("_start"), 0x00, 0x00), append(str("seven"), 0x03, 0x01))),
		// loop: global.get 1; i32.const 7; i32.ne; br_if 1; br 0; end
		section(10, vec(body(0x03, 0x40, 0x23, 0x01, 0x41, 0x07, 0x47, 0x0d, 0x01, 0x0c, 0x00, 0x0b, 0x0b))),
	)
	killSpinning(t, rt, guest)

	// The module's own exports are still there, beside the flag.
	out, err := wasi.Instrument(guest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := rt.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if g := m.ExportedGlobal("seven"); g == nil || g.Get() != 7 {
		t.Errorf("export seven = %v, want the global 7", g)
	}
	flag, ok := m.ExportedGlobal(wasi.StopGlobal).(api.MutableGlobal)
	if !ok || flag.Type() != api.ValueTypeI32 || flag.Get() != 0 {
		t.Errorf("export %s = %v, want a mutable i32 global of 0", wasi.StopGlobal, flag)
	}
}

// A module without global and export sections gets both, in the order the
// format requires; debug sections go, since the code they describe moves,
// and other custom sections stay.
func TestInstrumentAddsSectionsInOrder(t *testing.T) {
	rt := compilerRuntime(t)
	ctx := context.Background()
	custom := func(name string) []byte { return section(0, append(str(name), 1, 2, 3)) }
	guest := wasmModule(voidType, oneFunc, custom(".debug_info"), spinCode, custom("keep.me"), section(11, vec()))
	out, err := wasi.Instrument(guest)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(".debug_info")) || !bytes.Contains(out, []byte("keep.me")) {
		t.Errorf("custom sections: want .debug_info dropped and keep.me kept, got % x", out)
	}
	m, err := rt.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatalf("instrumented module does not instantiate: %v", err)
	}
	defer m.Close(ctx)
	if m.ExportedGlobal(wasi.StopGlobal) == nil {
		t.Errorf("no export %s", wasi.StopGlobal)
	}
}

// A malformed module gets wazero's error about the file as given.
func TestCompileReportsErrorsOfTheOriginal(t *testing.T) {
	rt := compilerRuntime(t)
	ctx := context.Background()
	whole := wasmModule(voidType, oneFunc, exportRun, spinCode)
	truncated := whole[:len(whole)-3]
	for name, wasm := range map[string][]byte{
		"truncated":      truncated,
		"unknown opcode": wasmModule(voidType, oneFunc, exportRun, section(10, vec(body(0xfb, 0x00, 0x0b)))),
		"not wasm":       []byte("#!/bin/sh\necho hello\n"),
	} {
		t.Run(name, func(t *testing.T) {
			_, want := rt.CompileModule(ctx, wasm)
			if want == nil {
				t.Fatal("wazero compiles it")
			}
			if _, err := wasi.Instrument(wasm); err == nil {
				t.Error("Instrument accepted it")
			}
			_, err := wasi.Compile(ctx, rt, wasm)
			if err == nil || err.Error() != want.Error() {
				t.Errorf("Compile: %v, want wazero's %v", err, want)
			}
		})
	}
}

// A module that exports the flag's name itself compiles as given, but not
// with the checks: the error names the clash.
func TestCompileRefusesAModuleThatExportsTheFlagsName(t *testing.T) {
	rt := compilerRuntime(t)
	wasm := wasmModule(voidType, oneFunc,
		section(6, vec([]byte{0x7f, 0x01, 0x41, 0x00, 0x0b})),
		section(7, vec(append(str("_start"), 0x00, 0x00), append(str(wasi.StopGlobal), 0x03, 0x00))),
		spinCode)
	_, err := wasi.Compile(context.Background(), rt, wasm)
	if err == nil || !strings.Contains(err.Error(), `exports "wasmlet.stop" itself`) {
		t.Errorf("Compile: %v, want the clash named", err)
	}
}

// Every guest the project has, and every module of the WASI test suite (C,
// Rust and AssemblyScript, with bulk memory, SIMD and the rest), is
// rewritten into a module wazero accepts. They run instrumented in the
// conformance test and the node's tests.
func TestInstrumentEveryModule(t *testing.T) {
	var paths []string
	for _, name := range []string{"tiny", "hello", "myweb"} {
		paths = append(paths, examples.MustBuild(t, name))
	}
	suite, err := filepath.Glob(filepath.Join(testsuiteDir, "*", "testsuite", "*", "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if len(suite) == 0 {
		t.Fatal("no module of the WASI test suite found")
	}
	paths = append(paths, suite...)
	ctx := context.Background()
	for _, p := range paths {
		wasm, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out, err := wasi.Instrument(wasm)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		m, err := testRT.CompileModule(ctx, out)
		if err != nil {
			t.Errorf("%s: the instrumented module does not compile: %v", p, err)
			continue
		}
		m.Close(ctx)
		if n := bytes.Count(out, []byte(wasi.StopGlobal)); n != 1 {
			t.Errorf("%s: %d exports named %s", p, n, wasi.StopGlobal)
		}
		if !strings.HasPrefix(string(out), "\x00asm") {
			t.Errorf("%s: no header", p)
		}
	}
}

// FuzzInstrument: any input is rewritten or refused, never a panic (sizes
// and counts are read from the input, and a 32-bit build must not wrap),
// by Instrument and by LimitTables.
func FuzzInstrument(f *testing.F) {
	f.Add(wasmModule(voidType, oneFunc, exportRun, spinCode))
	f.Add(wasmModule(voidType, oneFunc, section(10, vec(body(0x02, 0x40, 0x03, 0x7f, 0x41, 0x01, 0x0b, 0x1a, 0x0b, 0x0b)))))
	f.Add(wasmModule(voidType, oneFunc, section(10, vec(body(0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a, 0x0b)))))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		if out, err := wasi.LimitTables(wasm); err == nil && !bytes.HasPrefix(out, []byte("\x00asm\x01\x00\x00\x00")) {
			t.Fatalf("module with its tables bounded lost its header: % x", out)
		}
		out, err := wasi.Instrument(wasm)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(out, []byte("\x00asm\x01\x00\x00\x00")) {
			t.Fatalf("rewritten module without its header: % x", out)
		}
	})
}

// The import of wasmlet.yield moves every defined function's index up by
// one: calls, the table's elements (indices and expressions), a global's
// ref.func, the start function, exports and the names wazero prints in a
// trap's stack trace all still lead to the same functions.
func TestInstrumentRenumbersFunctions(t *testing.T) {
	rt := compilerRuntime(t)
	ctx := context.Background()
	check := func(want int64) []byte { // i32.ne want; if unreachable end
		return append(append([]byte{0x41}, sleb(want)...), 0x47, 0x04, 0x40, 0x00, 0x0b)
	}
	// Functions: 0 proc_exit (imported), 1 _start, 2 forty-two, 3 seven,
	// 4 the start function, 5 a trap under 6, which _start calls when its
	// argument says so.
	start := cat(
		[]byte{0x41, 0x00, 0x11, 0x01, 0x00}, check(42), // call_indirect table[0] (segment 0)
		[]byte{0x41, 0x01, 0x11, 0x01, 0x00}, check(7), // table[1] (segment 0)
		[]byte{0x41, 0x02, 0x11, 0x01, 0x00}, check(42), // table[2] (segment 1, an expression)
		[]byte{0x41, 0x00, 0x23, 0x00, 0x26, 0x00}, // table.set 0 (global 0: ref.func 3)
		[]byte{0x41, 0x00, 0x11, 0x01, 0x00}, check(7),
		[]byte{0x10, 0x02}, check(42), // call 2
		[]byte{0x23, 0x01, 0x45, 0x04, 0x40, 0x00, 0x0b}, // global 1 set by the start function
		[]byte{0x23, 0x02, 0x04, 0x40, 0x10, 0x06, 0x0b}, // global 2 (trap): call 6
		[]byte{0x41, 0x09, 0x10, 0x00},                   // proc_exit(9)
	)
	names := cat(str("name"), []byte{0x01}, func() []byte {
		m := vec(cat(leb(1), str("start")), cat(leb(5), str("inner")), cat(leb(6), str("outer")))
		return append(leb(len(m)), m...)
	}())
	module := func(trap bool) []byte {
		t := byte(0)
		if trap {
			t = 1
		}
		return wasmModule(
			section(1, vec([]byte{0x60, 0, 0}, []byte{0x60, 0, 1, 0x7f}, []byte{0x60, 1, 0x7f, 0})),
			section(2, vec(cat(str("wasi_snapshot_preview1"), str("proc_exit"), []byte{0x00, 0x02}))),
			section(3, vec([]byte{0}, []byte{1}, []byte{1}, []byte{0}, []byte{0}, []byte{0})),
			section(4, vec([]byte{0x70, 0x00, 0x03})),
			section(5, vec([]byte{0x00, 0x01})),
			section(6, vec(
				[]byte{0x70, 0x00, 0xd2, 0x03, 0x0b}, // funcref = ref.func 3
				[]byte{0x7f, 0x01, 0x41, 0x00, 0x0b}, // started
				[]byte{0x7f, 0x00, 0x41, t, 0x0b},    // trap
			)),
			section(7, vec(cat(str("_start"), []byte{0x00, 0x01}), cat(str("seven"), []byte{0x00, 0x03}))),
			section(8, []byte{0x04}),
			section(9, vec(
				cat([]byte{0x00, 0x41, 0x00, 0x0b}, vec([]byte{0x02}, []byte{0x03})),
				cat([]byte{0x04, 0x41, 0x02, 0x0b}, vec([]byte{0xd2, 0x02, 0x0b})),
			)),
			section(10, vec(
				bodyWithLocals(0, start),
				bodyWithLocals(0, []byte{0x41, 42}),
				bodyWithLocals(0, []byte{0x41, 7}),
				bodyWithLocals(0, []byte{0x41, 1, 0x24, 0x01}),
				bodyWithLocals(0, []byte{0x00}),
				bodyWithLocals(0, []byte{0x10, 0x05}),
			)),
			section(0, names),
		)
	}
	for _, trap := range []bool{false, true} {
		mod, err := wasi.Compile(ctx, rt, module(trap))
		if err != nil {
			t.Fatal(err)
		}
		inst, err := wasi.Start(ctx, rt, mod, wasi.Config{})
		if err != nil {
			t.Fatal(err)
		}
		st := inst.Wait()
		mod.Close(ctx)
		if !trap {
			if st.Code != 9 {
				t.Errorf("status %+v, want exit 9 (every call reached its function)", st)
			}
			continue
		}
		if st.Code != wasi.ExitCodeTrap || !strings.Contains(st.Message, ".inner()\n\t.outer()\n\t.start()") {
			t.Errorf("status %+v, want the trap in inner, called by outer, called by start", st)
		}
	}

	out, err := wasi.Instrument(module(false))
	if err != nil {
		t.Fatal(err)
	}
	m, err := rt.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if r, err := m.ExportedFunction("seven").Call(ctx); err != nil || r[0] != 7 {
		t.Errorf("export seven = %v, %v; want 7", r, err)
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
