package wasi_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/internal/hostile"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// Compile bombs: modules whose compilation alone would take the node's
// memory or minutes of a core. Without the module limits each of these
// takes the test process down (16 GiB of locals, over 2 GiB for the
// code) or past its timeout.

// nestedFuncs is a module of funcs functions, each depth nested blocks.
func nestedFuncs(depth, funcs int) []byte {
	body := append(bytes.Repeat(hostile.Block, depth), bytes.Repeat(hostile.End, depth)...)
	return sameFuncs(funcs, body)
}

// brTableFuncs is a module of funcs functions, each one br_table of labels
// labels.
func brTableFuncs(labels, funcs int) []byte {
	return sameFuncs(funcs, hostile.Ops(hostile.Block, hostile.I32Const(0), hostile.BrTable(make([]uint32, labels), 0), hostile.End))
}

// flatFuncs is a module of funcs functions, each pairs (i32.const 0, drop).
func flatFuncs(pairs, funcs int) []byte {
	return sameFuncs(funcs, bytes.Repeat(hostile.Ops(hostile.I32Const(0), hostile.Drop), pairs))
}

func sameFuncs(funcs int, body []byte) []byte {
	var m hostile.Module
	m.Memory(1)
	var f uint32
	for range funcs {
		f = m.Func(nil, nil, nil, body)
	}
	m.ExportFunc("_start", f)
	return m.Bytes()
}

// elementSegments is a module of n empty passive element segments.
func elementSegments(n int) []byte {
	elems := leb(n)
	for range n {
		elems = append(elems, 0x01, 0x00, 0x00) // passive, function indices, none
	}
	return wasmModule(voidType, oneFunc, exportRun, section(9, elems), section(10, vec(body(0x0b))))
}

type compileBomb struct {
	name  string
	wasm  []byte
	limit string // in the error
}

func compileBombs() []compileBomb {
	return []compileBomb{
		{"locals", hostile.CompileLocals(0x7fffffff), "locals 2147483647, over the limit of 50000"},
		{"locals over by one", hostile.CompileLocals(wasi.MaxLocals + 1), "locals 50001"},
		{"nesting", hostile.CompileNesting(200_000), "nesting depth 10001, over the limit of 10000"},
		{"nesting in many functions", nestedFuncs(wasi.MaxNesting, 40), "sum of the nesting depths"},
		{"br_table", hostile.CompileBrTable(1_000_000), "br_table labels 1000000, over the limit of 16384"},
		{"br_tables in many functions", brTableFuncs(wasi.MaxBrTableLabels, 62), "br_table labels of the module"},
		{"function size", hostile.CompileSize(2_600_000), "body size 7800002, over the limit of 7654321"},
		{"code size", hostile.CompileSize(12_000_000), "code section: bytes 36000007, over the limit of 33554432"},
		{"code size in many functions", flatFuncs(2_500_000, 5), "code section: bytes 37500031"},
		{"element segments", elementSegments(wasi.MaxElementSegments + 1), "element segments 100001, over the limit of 100000"},
	}
}

// TestModuleLimitsRefuseCompileBombs: each bomb is refused before wazero
// compiles it, on both of the node's compile paths, with an error naming
// the limit and the module's value.
func TestModuleLimitsRefuseCompileBombs(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	for _, b := range compileBombs() {
		t.Run(b.name, func(t *testing.T) {
			start := time.Now()
			err := wasi.CheckLimits(b.wasm)
			took := time.Since(start)
			if !errors.Is(err, wasi.ErrModuleLimits) || !strings.Contains(err.Error(), b.limit) {
				t.Fatalf("CheckLimits: %v, want ErrModuleLimits naming %q", err, b.limit)
			}
			t.Logf("%d bytes refused in %v: %v", len(b.wasm), took, err)
			for what, compile := range map[string]func(context.Context, wazero.Runtime, []byte) (wazero.CompiledModule, error){
				"Compile": wasi.Compile, "CompileWithoutStopChecks": wasi.CompileWithoutStopChecks,
			} {
				m, err := compile(ctx, rt, b.wasm)
				if err == nil {
					m.Close(ctx)
				}
				if !errors.Is(err, wasi.ErrModuleLimits) || !strings.Contains(err.Error(), b.limit) {
					t.Errorf("%s: %v, want ErrModuleLimits naming %q", what, err, b.limit)
				}
			}
		})
	}
}

// TestModuleLimitsHoldAtTheLimit: a module at each limit compiles.
func TestModuleLimitsHoldAtTheLimit(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	for name, wasm := range map[string][]byte{
		"locals":   hostile.CompileLocals(wasi.MaxLocals),
		"nesting":  hostile.CompileNesting(wasi.MaxNesting),
		"br_table": hostile.CompileBrTable(wasi.MaxBrTableLabels),
	} {
		if err := wasi.CheckLimits(wasm); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		m, err := wasi.CompileWithoutStopChecks(ctx, rt, wasm)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		m.Close(ctx)
	}
}

// TestModuleLimitsCountParameters: a function's parameters count among
// its locals, as the JS API counts them.
func TestModuleLimitsCountParameters(t *testing.T) {
	var m hostile.Module
	m.Memory(1)
	params := make([]hostile.ValType, 10)
	for i := range params {
		params[i] = hostile.I32
	}
	m.ExportFunc("_start", m.Func(params, nil, []hostile.ValType{hostile.I64}))
	if err := wasi.CheckLimits(m.Bytes()); err != nil {
		t.Fatal(err)
	}
	var big hostile.Module
	big.Memory(1)
	params = make([]hostile.ValType, wasi.MaxParams+1)
	for i := range params {
		params[i] = hostile.I32
	}
	big.ExportFunc("_start", big.Func(params, nil, nil))
	if err := wasi.CheckLimits(big.Bytes()); !errors.Is(err, wasi.ErrModuleLimits) || !strings.Contains(err.Error(), "parameters 1001") {
		t.Errorf("%d parameters: %v", len(params), err)
	}
}

// TestModuleLimitsPassEveryModule: every example and every module of the
// WASI test suite is within the limits.
func TestModuleLimitsPassEveryModule(t *testing.T) {
	var paths []string
	for _, name := range examples.Names() {
		paths = append(paths, examples.MustBuild(t, name))
	}
	suite, err := filepath.Glob(filepath.Join(testsuiteDir, "*", "testsuite", "*", "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if len(suite) == 0 {
		t.Fatal("no module of the WASI test suite found")
	}
	for _, p := range append(paths, suite...) {
		wasm, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := wasi.CheckLimits(wasm); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// FuzzCheckLimits: any input is checked or refused, never a panic.
func FuzzCheckLimits(f *testing.F) {
	f.Add(hostile.CompileNesting(3))
	f.Add(hostile.CompileBrTable(3))
	f.Add(hostile.CompileLocals(3))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		_ = wasi.CheckLimits(wasm)
	})
}

// TestModuleLimitsRefuseCountsTheirBytesCannotHold: wazero's decoder
// allocates a vector by its count before reading an entry, so each of
// these 20-odd bytes took the process down with a fatal out of memory
// (96 GiB asked) before the counts were checked against their bytes.
func TestModuleLimitsRefuseCountsTheirBytesCannotHold(t *testing.T) {
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	for name, tt := range map[string]struct {
		wasm  []byte
		limit string
	}{
		"function names":      {wasmModule(section(0, cat(str("name"), []byte{0x01, 0x05}, huge))), "name subsection 1: entries 4294967295"},
		"local names":         {wasmModule(section(0, cat(str("name"), []byte{0x02, 0x07, 0x01, 0x00}, huge))), "name subsection 2: local names 4294967295"},
		"element expressions": {wasmModule(voidType, oneFunc, section(9, cat([]byte{0x01, 0x01, 0x00}, huge))), "element segment: entries 4294967295"},
		"data bytes":          {wasmModule(section(5, []byte{0x01, 0x00, 0x01}), section(11, cat([]byte{0x01, 0x01}, huge))), "data segment: bytes 4294967295"},
		"tables":              {wasmModule(section(4, huge)), "section 4: entries 4294967295"},
		"code":                {wasmModule(voidType, oneFunc, section(10, huge)), "section 10: entries 4294967295"},
	} {
		if err := wasi.CheckLimits(tt.wasm); !errors.Is(err, wasi.ErrModuleLimits) || !strings.Contains(err.Error(), tt.limit) {
			t.Errorf("%s: CheckLimits: %v, want ErrModuleLimits naming %q", name, err, tt.limit)
			continue
		}
		for what, compile := range map[string]func(context.Context, wazero.Runtime, []byte) (wazero.CompiledModule, error){
			"Compile": wasi.Compile, "CompileWithoutStopChecks": wasi.CompileWithoutStopChecks,
		} {
			if _, err := compile(ctx, rt, tt.wasm); !errors.Is(err, wasi.ErrModuleLimits) {
				t.Errorf("%s: %s: %v, want ErrModuleLimits", name, what, err)
			}
		}
	}
}

// BenchmarkCheckLimits: the check's cost on a 9.7 MB Go module, against
// its compilation's seconds.
func BenchmarkCheckLimits(b *testing.B) {
	wasm, err := os.ReadFile(examples.MustBuild(b, "myweb"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if err := wasi.CheckLimits(wasm); err != nil {
			b.Fatal(err)
		}
	}
}
