// Command hog allocates memory in chunks (CHUNK, default 4Mi bytes) every
// INTERVAL (default 200ms), touching every page and printing the total,
// until its memory limit stops it: the node refuses the growth and the
// container ends OOMKilled with exit code 137.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	chunk := 4 << 20
	if n, err := strconv.Atoi(os.Getenv("CHUNK")); err == nil && n > 0 {
		chunk = n
	}
	interval := 200 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("INTERVAL")); err == nil && d >= 0 {
		interval = d
	}
	var kept [][]byte
	total := 0
	for {
		b := make([]byte, chunk)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		kept = append(kept, b)
		total += chunk
		fmt.Printf("allocated %d MiB\n", total>>20)
		time.Sleep(interval)
	}
}
