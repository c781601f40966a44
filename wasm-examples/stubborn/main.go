// Command stubborn ignores SIGTERM: it never reads stdin, so it runs until
// the node kills it when its grace period ends (exit code 137). It prints a
// line every few seconds (INTERVAL, default 5s) to show it is still there.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	interval := 5 * time.Second
	if d, err := time.ParseDuration(os.Getenv("INTERVAL")); err == nil && d > 0 {
		interval = d
	}
	start := time.Now()
	fmt.Printf("%s: running; SIGTERM will be ignored\n", os.Getenv("HOSTNAME"))
	for {
		time.Sleep(interval)
		fmt.Printf("still here after %s\n", time.Since(start).Round(time.Second))
	}
}
