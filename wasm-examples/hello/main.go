// Command hello prints a line and exits 0: a pod that completes.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Printf("Hello from %s!\n", hostname())
}

func hostname() string {
	if h := os.Getenv("HOSTNAME"); h != "" {
		return h
	}
	return "wasmlet"
}
