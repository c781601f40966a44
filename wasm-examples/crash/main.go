// Command crash prints a line, waits, then exits with a chosen code: a pod
// that keeps crashing (restartPolicy Always gives CrashLoopBackOff).
//
//	-code N   or EXIT_CODE=N   exit code (default 1)
//	-after D  or CRASH_AFTER=D time before exiting (default 2s)
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	code := flag.Int("code", envInt("EXIT_CODE", 1), "exit code")
	after := flag.Duration("after", envDuration("CRASH_AFTER", 2*time.Second), "time before exiting")
	flag.Parse()

	host := os.Getenv("HOSTNAME")
	fmt.Printf("%s: starting, will exit with code %d in %s\n", host, *code, *after)
	time.Sleep(*after)
	fmt.Printf("%s: exiting with code %d\n", host, *code)
	os.Exit(*code)
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return v
	}
	return def
}
