package wasi_test

import (
	"context"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/host/wasi"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// A node's use of the layer: one runtime on wazero's compiler without
// WithCloseOnContextDone, the layer instantiated once, each module compiled
// with the stop checks (Compile), and each guest started in a goroutine of
// its own; Wait tells how it ended.
func ExampleStart() {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig())
	defer rt.Close(ctx)
	if err := wasi.Instantiate(ctx, rt); err != nil {
		panic(err)
	}
	path, err := examples.Build("tiny") // writes a line and exits 0
	if err != nil {
		panic(err)
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	mod, err := wasi.Compile(ctx, rt, wasm)
	if err != nil {
		panic(err)
	}
	inst, err := wasi.Start(ctx, rt, mod, wasi.Config{Args: []string{"tiny"}, Stdout: os.Stdout})
	if err != nil {
		panic(err)
	}
	fmt.Println("exit code", inst.Wait().Code)
	// Output:
	// hello from tiny
	// exit code 0
}
