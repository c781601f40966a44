// Command build builds every example guest into wasm-examples/bin; it is
// what `go generate ./wasm-examples` runs.
package main

import (
	"fmt"
	"os"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

func main() {
	if err := examples.BuildAllTo(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, _ := examples.Dir()
	for _, name := range examples.Names() {
		fmt.Printf("%s/bin/%s.wasm\n", dir, name)
	}
}
