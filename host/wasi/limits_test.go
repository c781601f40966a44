package wasi_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/host/wasi"
)

// Hostile guests of the memory and CPU limits, written out in the binary
// format (see stopcheck_test.go for the builders).

// sleb is a signed LEB128 (i32.const's immediate).
func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func i32const(v int64) []byte { return append([]byte{0x41}, sleb(v)...) }

// bodyWithLocals is a function body declaring n i32 locals.
func bodyWithLocals(n int, code ...[]byte) []byte {
	b := []byte{0x01}
	b = append(b, leb(n)...)
	b = append(b, 0x7f)
	for _, c := range code {
		b = append(b, c...)
	}
	b = append(b, 0x0b)
	return append(leb(len(b)), b...)
}

// growTablesModule is the attack of issue 12 (292 bytes there): eight
// tables without a maximum, each grown by delta null references by
// _start, which traps if a grow succeeds.
func growTablesModule(delta int64) []byte {
	var tables [][]byte
	var code []byte
	for k := range 8 {
		tables = append(tables, []byte{0x70, 0x00, 0x00}) // funcref, min 0, no max
		code = append(code, 0xd0, 0x70)                   // ref.null func
		code = append(code, i32const(delta)...)
		code = append(code, 0xfc, 0x0f, byte(k))          // table.grow k
		code = append(code, i32const(-1)...)              //
		code = append(code, 0x47, 0x04, 0x40, 0x00, 0x0b) // i32.ne if unreachable end
	}
	return wasmModule(voidType, oneFunc, section(4, vec(tables...)), exportRun,
		section(10, vec(bodyWithLocals(0, code))))
}

// compilers are the node's two ways of compiling a module: with stop
// checks (wazero's compiler) and without (its interpreter). Both bound
// the tables.
var compilers = map[string]func(context.Context, wazero.Runtime, []byte) (wazero.CompiledModule, error){
	"Compile":                  wasi.Compile,
	"CompileWithoutStopChecks": wasi.CompileWithoutStopChecks,
}

// runToEnd starts the module under cfg and waits for its end.
func runToEnd(t *testing.T, mod wazero.CompiledModule, cfg wasi.Config) wasi.ExitStatus {
	t.Helper()
	inst, err := wasi.Start(context.Background(), testRT, mod, cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Done():
	case <-time.After(30 * time.Second):
		inst.Kill()
		t.Fatalf("still running after 30 s: %+v", inst.Wait())
	}
	return inst.Wait()
}

func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Eight tables grown by 50M funcrefs each took a node to 3 GB under a
// limit of 64Mi: each grow is now refused (-1), and the process allocates
// next to nothing for them.
func TestTableGrowthIsBounded(t *testing.T) {
	wasm := growTablesModule(50_000_000)
	for name, compile := range compilers {
		t.Run(name, func(t *testing.T) {
			mod, err := compile(context.Background(), testRT, wasm)
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(context.Background())
			before := heapAllocs()
			st := runToEnd(t, mod, wasi.Config{MemoryLimitBytes: 64 << 20})
			if grew := heapAllocs() - before; grew > 16<<20 {
				t.Errorf("the guest made the process allocate %d MiB", grew>>20)
			}
			if st.Code != 0 || st.OOMKilled {
				t.Errorf("status %+v, want exit 0 (every table.grow refused)", st)
			}
		})
	}
}

// The tables' most is counted against the memory limit: with eight
// growable tables (65,536 elements each, 4 MiB on a 64-bit node), a guest
// limited to 64Mi cannot grow its memory to 63 MiB, which it could before.
func TestTablesCountAgainstTheMemoryLimit(t *testing.T) {
	var tables [][]byte
	for range 8 {
		tables = append(tables, []byte{0x70, 0x00, 0x00})
	}
	grow := append(i32const(63<<20/65536), 0x40, 0x00, 0x1a) // memory.grow, drop
	wasm := wasmModule(voidType, oneFunc, section(4, vec(tables...)),
		section(5, vec([]byte{0x00, 0x00})), exportRun, section(10, vec(bodyWithLocals(0, grow))))
	for name, compile := range compilers {
		t.Run(name, func(t *testing.T) {
			mod, err := compile(context.Background(), testRT, wasm)
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(context.Background())
			st := runToEnd(t, mod, wasi.Config{MemoryLimitBytes: 64 << 20})
			if !st.OOMKilled || st.Code != wasi.ExitCodeKilled {
				t.Errorf("status %+v, want OOMKilled", st)
			}
			// Without a limit the same guest runs to its end.
			if st := runToEnd(t, mod, wasi.Config{}); st.Code != 0 {
				t.Errorf("without a limit: status %+v, want exit 0", st)
			}
		})
	}
}

// The rewrite's rules: maxima lowered so that they sum to at most
// MaxTableElements, a maximum given to a table without one, the sum
// exported, and a module whose tables start over the limit refused.
func TestLimitTables(t *testing.T) {
	ctx := context.Background()
	table := func(min, max int) []byte {
		if max < 0 {
			return append([]byte{0x70, 0x00}, leb(min)...)
		}
		return append(append([]byte{0x70, 0x01}, leb(min)...), leb(max)...)
	}
	// _start grows a table by delta and traps when the grow's result
	// differs from want.
	growsTo := func(tableIdx byte, delta, want int64) []byte {
		code := []byte{0xd0, 0x70}
		code = append(code, i32const(delta)...)
		code = append(code, 0xfc, 0x0f, tableIdx)
		code = append(code, i32const(want)...)
		code = append(code, 0x47, 0x04, 0x40, 0x00, 0x0b)
		return code
	}
	tests := []struct {
		name   string
		tables [][]byte
		code   []byte
		most   uint64
	}{
		{"declared maximum kept", [][]byte{table(2, 100)}, growsTo(0, 98, 2), 100},
		{"declared maximum kept, grow past it refused", [][]byte{table(2, 100)}, growsTo(0, 99, -1), 100},
		{"no maximum: 65,536", [][]byte{table(10, -1)}, growsTo(0, 65536-10+1, -1), 65536},
		{"no maximum, started larger: its size", [][]byte{table(100000, -1)}, growsTo(0, 1, -1), 100000},
		{"maximum over the limit lowered", [][]byte{table(1, 1<<30)}, growsTo(0, wasi.MaxTableElements-1, 1), wasi.MaxTableElements},
		{"later tables get what is left", [][]byte{table(10, 1<<21), table(5, -1)}, growsTo(1, 1, -1), wasi.MaxTableElements},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wasm := wasmModule(voidType, oneFunc, section(4, vec(tt.tables...)), exportRun, section(10, vec(bodyWithLocals(0, tt.code))))
			out, err := wasi.LimitTables(wasm)
			if err != nil {
				t.Fatal(err)
			}
			m, err := testRT.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName("").WithStartFunctions())
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(ctx)
			if g := m.ExportedGlobal(wasi.TablesGlobal); g == nil || g.Get() != tt.most {
				t.Errorf("%s = %v, want %d", wasi.TablesGlobal, g, tt.most)
			}
			if _, err := m.ExportedFunction("_start").Call(ctx); err != nil {
				t.Errorf("table.grow did not give the result wanted: %v", err)
			}
		})
	}

	t.Run("tables starting over the limit", func(t *testing.T) {
		for _, tables := range [][][]byte{
			{table(wasi.MaxTableElements+1, -1)},
			{table(wasi.MaxTableElements/2+1, -1), table(wasi.MaxTableElements/2, -1)},
		} {
			wasm := wasmModule(voidType, oneFunc, section(4, vec(tables...)), exportRun, section(10, vec(bodyWithLocals(0, nil))))
			if _, err := wasi.LimitTables(wasm); !errors.Is(err, wasi.ErrTables) {
				t.Errorf("LimitTables: %v, want ErrTables", err)
			}
			if _, err := wasi.Compile(ctx, testRT, wasm); !errors.Is(err, wasi.ErrTables) {
				t.Errorf("Compile: %v, want ErrTables", err)
			}
		}
	})
}

// vmRSS is the process's resident memory.
func vmRSS(t *testing.T) uint64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}

// dataAt0 is a data section of one segment, b at address 0.
func dataAt0(b []byte) []byte {
	seg := append([]byte{0x00}, i32const(0)...)
	seg = append(seg, 0x0b)
	seg = append(seg, leb(len(b))...)
	return section(11, vec(append(seg, b...)))
}

// touchModule grows its memory a page at a time to pages pages, writing a
// byte into every 4 KiB of each new page, then writes "done\n" to stdout
// and spins until it is killed.
func touchModule(pages int) []byte {
	types := section(1, vec(
		[]byte{0x60, 0x00, 0x00},                               // _start
		[]byte{0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f}, // fd_write
	))
	imports := section(2, vec(append(append(str("wasi_snapshot_preview1"), str("fd_write")...), 0x00, 0x01)))
	funcs := section(3, vec([]byte{0x00}))
	memory := section(5, vec([]byte{0x00, 0x01}))
	export := section(7, vec(append(str("_start"), 0x00, 0x01)))
	const a = 0 // local: the address touched
	code := [][]byte{
		{0x03, 0x40},                                                            // loop $grow
		i32const(1), {0x40, 0x00}, i32const(-1), {0x46, 0x04, 0x40, 0x00, 0x0b}, // memory.grow 1; trap on -1
		{0x3f, 0x00}, i32const(1), {0x6b}, i32const(16), {0x74, 0x21, a}, // a = (memory.size-1) << 16
		{0x03, 0x40},                               // loop $touch
		{0x20, a}, i32const(1), {0x3a, 0x00, 0x00}, // i32.store8 a, 1
		{0x20, a}, i32const(4096), {0x6a, 0x22, a}, // a += 4096
		i32const(0xffff), {0x71, 0x0d, 0x00}, // br_if $touch while a % 64Ki != 0
		{0x0b},
		{0x3f, 0x00}, i32const(int64(pages)), {0x49, 0x0d, 0x00}, // br_if $grow while memory.size < pages
		{0x0b},
		i32const(1), i32const(0), i32const(1), i32const(32), {0x10, 0x00, 0x1a}, // fd_write(1, iov at 0, 1, n at 32)
		{0x03, 0x40, 0x0c, 0x00, 0x0b}, // loop br 0 end
	}
	codeSec := section(10, vec(bodyWithLocals(1, code...)))
	// The iovec at 0 points at "done\n" at 16.
	data := dataAt0([]byte{16, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'd', 'o', 'n', 'e', '\n'})
	return wasmModule(types, imports, funcs, memory, export, codeSec, data)
}

// A guest that grows its memory near its limit and touches all of it adds
// about that much to the node's resident memory: linear memory is mapped,
// not copied from slice to slice on the Go heap, where the old copies
// stayed until a collection (a guest at its 64Mi limit grew the node by
// 2.3 times its limit).
func TestResidentMemoryFollowsTheGuest(t *testing.T) {
	const pages = 1536 // 96 MiB
	const limit = 128 << 20
	wasm := touchModule(pages)
	mod, err := compile(context.Background(), testRT, wasm)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(context.Background())
	runtime.GC()
	debug.FreeOSMemory()
	before := vmRSS(t)
	var out syncBuffer
	inst, err := wasi.Start(context.Background(), testRT, mod, wasi.Config{MemoryLimitBytes: limit, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { inst.Kill(); <-inst.Done() }()
	waitFor(t, func() bool { return out.String() == "done\n" || isDone(inst) })
	if isDone(inst) {
		t.Fatalf("ended: %+v", inst.Wait())
	}
	grew := int64(vmRSS(t)) - int64(before)
	touched := int64(pages) << 16
	t.Logf("resident memory grew by %d MiB for %d MiB of guest memory", grew>>20, touched>>20)
	if grew > touched+touched/4 {
		t.Errorf("resident memory grew by %d MiB for a guest of %d MiB", grew>>20, touched>>20)
	}
	if grew < touched/2 {
		t.Errorf("resident memory grew by %d MiB only: the guest did not touch its %d MiB?", grew>>20, touched>>20)
	}
}

func isDone(inst *wasi.Instance) bool {
	select {
	case <-inst.Done():
		return true
	default:
		return false
	}
}

// processCPU is the process's CPU time (user and system).
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A spinning guest limited to 100m gets about a tenth of a core, and is
// still killed at once while it is throttled. The wide bounds allow for
// a loaded machine; unthrottled, the guest takes a whole core.
func TestCPULimitThrottlesABusyGuest(t *testing.T) {
	rt := compilerRuntime(t)
	ctx := context.Background()
	mod, err := wasi.Compile(ctx, rt, wasmModule(voidType, oneFunc, exportRun, spinCode))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	inst, err := wasi.Start(ctx, rt, mod, wasi.Config{CPUMilli: 100})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // past the first period's burst
	const window = 1500 * time.Millisecond
	cpu0, wall0 := processCPU(t), time.Now()
	time.Sleep(window)
	share := float64(processCPU(t)-cpu0) / float64(time.Since(wall0))
	t.Logf("a guest of 100m took %.3f of a core", share)
	if share > 0.3 || share < 0.02 {
		t.Errorf("a guest limited to 100m took %.3f of a core", share)
	}
	inst.Kill()
	waitKilled(t, inst)
}

// countingSpinModule spins, and calls random_get once it has passed 2^24
// loop heads: a call that never gives the run slot up.
func countingSpinModule() []byte {
	types := section(1, vec(
		[]byte{0x60, 0x00, 0x00},
		[]byte{0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f},
	))
	imports := section(2, vec(append(append(str("wasi_snapshot_preview1"), str("random_get")...), 0x00, 0x01)))
	funcs := section(3, vec([]byte{0x00}))
	memory := section(5, vec([]byte{0x00, 0x01}))
	export := section(7, vec(append(str("_start"), 0x00, 0x01)))
	code := [][]byte{
		{0x03, 0x40},                                  // loop
		{0x20, 0x00}, i32const(1), {0x6a, 0x22, 0x00}, // n++
		i32const(1 << 24), {0x47, 0x0d, 0x00}, // br_if 0 while n != 2^24
		{0x0b},
		i32const(0), i32const(1), {0x10, 0x00, 0x1a}, // random_get(0, 1)
		{0x03, 0x40, 0x0c, 0x00, 0x0b}, // loop br 0 end
	}
	return wasmModule(types, imports, funcs, memory, export, section(10, vec(bodyWithLocals(1, code...))))
}

// calledReader records that it was read.
type calledReader struct{ called atomic.Bool }

func (r *calledReader) Read(p []byte) (int, error) {
	r.called.Store(true)
	return len(p), nil
}

// Busy guests share one run slot: each gets its turn, though none ever
// waits for anything nor makes a call that would give the slot up.
func TestBusyGuestsShareARunSlot(t *testing.T) {
	rt := compilerRuntime(t)
	ctx := context.Background()
	mod, err := wasi.Compile(ctx, rt, countingSpinModule())
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	slots := wasi.NewRunSlots(1)
	var called [3]calledReader
	for k := range called {
		inst, err := wasi.Start(ctx, rt, mod, wasi.Config{RunSlots: slots, Rand: &called[k]})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { inst.Kill(); waitKilled(t, inst) }()
	}
	waitFor(t, func() bool {
		for k := range called {
			if !called[k].called.Load() {
				return false
			}
		}
		return true
	})
}
