// Command graceful handles SIGTERM: it waits for it (stdin reaching
// end-of-file), takes a second to drain, says so and exits 0, well inside
// its grace period.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/wasmlet/wasmlet/wasm-examples/guest"
)

func main() {
	drain := time.Second
	if d, err := time.ParseDuration(os.Getenv("DRAIN")); err == nil {
		drain = d
	}
	fmt.Printf("%s: running, waiting for SIGTERM\n", os.Getenv("HOSTNAME"))
	<-guest.Stop()
	fmt.Printf("got SIGTERM, draining for %s\n", drain)
	time.Sleep(drain)
	fmt.Println("got SIGTERM, exiting")
}
