// Command precompile fills a wazero compilation cache with the given
// modules, compiled as the node's runtime compiles them (with the WASI
// layer's stop checks, wasi.Compile). Tests run it, built without the race detector, before they
// start nodes with -race: a module of several megabytes takes a minute to
// compile under the race detector and a few seconds without it, and a node
// whose data dir shares the cache finds it compiled.
//
// wazero keeps a cache per wazero version, read from the binary's build
// information, and writes the version into every entry; the node's cache
// (internal/compilecache) keeps a directory per build of wazero, also read
// from the build information. Test binaries carry none and are "dev" to
// both. For a test binary to find the modules, build the program as one:
//
//	go run -ldflags='-X=github.com/tetratelabs/wazero/internal/version.version=dev
//		-X=github.com/wasmlet/wasmlet/internal/compilecache.buildIdentity=dev' \
//		./testdata/precompile CACHEDIR MODULE.wasm...
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/internal/compilecache"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: precompile CACHEDIR MODULE.wasm...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "precompile:", err)
		os.Exit(1)
	}
}

func run(dir string, modules []string) error {
	ctx := context.Background()
	cache, _, err := compilecache.Open(dir)
	if err != nil {
		return err
	}
	defer cache.Close(ctx)
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache.Wazero()))
	defer rt.Close(ctx)
	for _, m := range modules {
		b, err := os.ReadFile(m)
		if err != nil {
			return err
		}
		_, _, err = cache.Compile(func() error {
			_, err := wasi.Compile(ctx, rt, b)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
	}
	return nil
}
