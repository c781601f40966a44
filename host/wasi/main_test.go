package wasi_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/host/wasi"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// The tests share one runtime with the layer, and compile each example
// once: a Go guest is megabytes of code.
var (
	testRT     wazero.Runtime
	testCache  wazero.CompilationCache
	modulesMu  sync.Mutex
	modules    = map[string]wazero.CompiledModule{}
	useCompile = true
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx := context.Background()
	dir := filepath.Join(os.TempDir(), "wasmlet-wasi-test-cache")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if c, err := wazero.NewCompilationCacheWithDir(dir); err == nil {
			testCache = c
		}
	}
	if testCache == nil {
		testCache = wazero.NewCompilationCache()
	}
	testRT = newRuntime(ctx)
	if err := wasi.Instantiate(ctx, testRT); err != nil {
		panic(err)
	}
	code := m.Run()
	testRT.Close(ctx)
	testCache.Close(ctx)
	return code
}

// runtimeConfig is the node's configuration: stop checks compiled into the
// modules (compiled), and the shared cache. Under the race detector it is
// the interpreter, its modules compiled with yields, as on a node without
// wazero's compiler.
func runtimeConfig() wazero.RuntimeConfig {
	if raceEnabled {
		return wazero.NewRuntimeConfigInterpreter()
	}
	return wazero.NewRuntimeConfig().WithCompilationCache(testCache)
}

func newRuntime(ctx context.Context) wazero.Runtime {
	return wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
}

// compiled returns the example name compiled in the shared runtime.
func compiled(tb testing.TB, name string) wazero.CompiledModule {
	tb.Helper()
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m, ok := modules[name]; ok {
		return m
	}
	wasm, err := os.ReadFile(examples.MustBuild(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := compile(context.Background(), testRT, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	modules[name] = m
	return m
}

// compile compiles a module for testRT as a node does: with the layer's
// stop checks, or its yields only on the interpreter (race detector).
func compile(ctx context.Context, rt wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	if raceEnabled {
		return wasi.CompileWithYields(ctx, rt, wasm)
	}
	return wasi.Compile(ctx, rt, wasm)
}

// syncBuffer is a bytes.Buffer safe for a guest writing and a test
// reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start starts the example name with cfg and kills it at the end of the
// test.
func start(t *testing.T, name string, cfg wasi.Config) *wasi.Instance {
	t.Helper()
	inst, err := wasi.Start(context.Background(), testRT, compiled(t, name), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		inst.Kill()
		<-inst.Done()
	})
	return inst
}
