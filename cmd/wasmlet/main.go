// Command wasmlet runs WebAssembly modules as Kubernetes pods on one
// machine: `wasmlet serve` runs a node, the other verbs talk to it as
// kubectl does.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wasmlet/wasmlet/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
