// Command spin keeps a CPU busy forever, never yielding to the host: a
// guest for measuring how the node copes with (and kills) a busy module.
package main

import "fmt"

var sink uint64

func main() {
	fmt.Println("spinning")
	x := uint64(1)
	for {
		x = x*6364136223846793005 + 1442695040888963407
		sink = x
	}
}
