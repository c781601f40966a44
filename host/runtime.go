package host

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/host/wasi"
)

// moduleRuntime is all the pod workers need of the wasm runtime: compiling
// modules and starting instances of them. The node has one; tests of the
// worker logic use a struct of functions instead.
type moduleRuntime interface {
	// Compile compiles a module; the result is passed back to Start.
	Compile(ctx context.Context, wasm []byte) (compiledModule, error)
	// Start starts an instance; ctx ending kills it. cfg's directories
	// and listeners are the instance's from then on, released by Start
	// when it fails.
	Start(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error)
	Close(ctx context.Context) error
}

// compiledModule is a runtime's compiled module, opaque to the workers.
type compiledModule any

// instance is one running container instance; *wasi.Instance is one.
type instance interface {
	// Terminate delivers SIGTERM (stdin reaches end-of-file).
	Terminate()
	// Kill ends it with exit code 137.
	Kill()
	Done() <-chan struct{}
	Wait() wasi.ExitStatus
}

// wazeroRuntime is the node's runtime: one wazero runtime with the host's
// WASI layer, and a compilation cache on disk.
type wazeroRuntime struct {
	rt    wazero.Runtime
	cache wazero.CompilationCache
	// stopChecks: modules are compiled with the layer's stop checks
	// (wasi.Compile) rather than wazero's WithCloseOnContextDone.
	stopChecks bool
	// slots bound the guests running their own code at once to one less
	// than GOMAXPROCS, so that one P is always free for the node's own
	// goroutines (host/wasi/cpu.go); nil without stop checks, whose guests
	// never return to the layer to give a slot up.
	slots *wasi.RunSlots
}

func newWazeroRuntime(ctx context.Context, cacheDir string) (*wazeroRuntime, error) {
	return newWazeroRuntimeWith(ctx, wazero.NewRuntimeConfig(), compilerArch, cacheDir)
}

// compilerArch: wazero compiles for this architecture, so that the stop
// flag is read by compiled code only (see package wasi).
const compilerArch = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"

// newWazeroRuntimeWith is newWazeroRuntime on a given configuration (tests
// under the race detector take the interpreter, without stop checks).
func newWazeroRuntimeWith(ctx context.Context, cfg wazero.RuntimeConfig, stopChecks bool, cacheDir string) (*wazeroRuntime, error) {
	cfg = cfg.WithCloseOnContextDone(!stopChecks)
	var cache wazero.CompilationCache
	if cacheDir != "" {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", cacheDir, err)
		}
		c, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", cacheDir, err)
		}
		cache = c
		cfg = cfg.WithCompilationCache(c)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if err := wasi.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		if cache != nil {
			cache.Close(ctx)
		}
		return nil, fmt.Errorf("WASI layer: %w", err)
	}
	w := &wazeroRuntime{rt: rt, cache: cache, stopChecks: stopChecks}
	if stopChecks {
		w.slots = wasi.NewRunSlots(runtime.GOMAXPROCS(0) - 1)
	}
	return w, nil
}

func (w *wazeroRuntime) Compile(ctx context.Context, wasm []byte) (compiledModule, error) {
	if w.stopChecks {
		return wasi.Compile(ctx, w.rt, wasm)
	}
	return wasi.CompileWithoutStopChecks(ctx, w.rt, wasm)
}

func (w *wazeroRuntime) Start(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error) {
	cm, ok := mod.(wazero.CompiledModule)
	if !ok {
		cfg.Release()
		return nil, fmt.Errorf("not a compiled module: %T", mod)
	}
	cfg.RunSlots = w.slots
	inst, err := wasi.Start(ctx, w.rt, cm, cfg)
	if err != nil {
		if st, ok := instantiationExit(err); ok {
			return newEndedInstance(st), nil
		}
		return nil, err
	}
	return inst, nil
}

func (w *wazeroRuntime) Close(ctx context.Context) error {
	err := w.rt.Close(ctx)
	if w.cache != nil {
		w.cache.Close(ctx)
	}
	return err
}
