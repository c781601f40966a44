// Command liveness is the Kubernetes documentation's liveness-exec example
// as a module. The original container runs
//
//	touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600
//
// and is probed with `cat /tmp/healthy`. A module has no shell and no cat,
// so this one is both:
//
//   - run (the default): creates DIR/healthy, removes it after HEALTHY_FOR
//     (default 30s), then sleeps until SIGTERM. DIR is -dir or HEALTH_DIR
//     (default /tmp), a mounted emptyDir.
//   - cat FILE...: prints the files, or exits 1 with busybox's message
//     ("cat: can't open '/tmp/healthy': No such file or directory").
//
// argv[0] is the container's name when the pod gives no command, or the
// command's first word when it does (the exec probe's `cat`), so the verb is
// the first argument that is one.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/wasmlet/wasmlet/wasm-examples/guest"
)

func main() {
	for i, arg := range os.Args {
		switch arg {
		case "cat":
			os.Exit(cat(os.Args[i+1:]))
		case "run":
			os.Exit(run(os.Args[i+1:]))
		}
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	flags := flag.NewFlagSet("liveness", flag.ContinueOnError)
	dir := flags.String("dir", envString("HEALTH_DIR", "/tmp"), "directory of the healthy file")
	healthyFor := flags.Duration("healthy-for", envDuration("HEALTHY_FOR", 30*time.Second), "how long the healthy file exists")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	path := filepath.Join(*dir, "healthy")
	if err := os.WriteFile(path, []byte("ok\n"), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "liveness: %v\n", err)
		return 1
	}
	fmt.Printf("created %s; removing it in %s\n", path, *healthyFor)
	select {
	case <-time.After(*healthyFor):
	case <-guest.Stop():
		fmt.Println("got SIGTERM, exiting")
		return 0
	}
	if err := os.Remove(path); err != nil {
		fmt.Fprintf(os.Stderr, "liveness: %v\n", err)
		return 1
	}
	fmt.Printf("removed %s; sleeping\n", path)
	<-guest.Stop()
	fmt.Println("got SIGTERM, exiting")
	return 0
}

func cat(files []string) int {
	code := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			reason := "No such file or directory"
			switch {
			case errors.Is(err, fs.ErrPermission):
				reason = "Permission denied"
			case !errors.Is(err, fs.ErrNotExist):
				reason = err.Error()
			}
			fmt.Fprintf(os.Stderr, "cat: can't open '%s': %s\n", name, reason)
			code = 1
			continue
		}
		_, err = io.Copy(os.Stdout, f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "cat: read error: %v\n", err)
			code = 1
		}
	}
	return code
}

func envString(key, def string) string {
	if v := os.Getenv(key); v != "" {
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
