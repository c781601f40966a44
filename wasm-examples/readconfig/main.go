// Command readconfig reads its configuration as a container on Kubernetes
// finds it: environment variables, and the files of a mounted configMap or
// secret volume. Its arguments are verbs, each followed by its own
// arguments, run in order:
//
//   - env [NAME...]: prints NAME=value for each variable named, or for
//     every variable, sorted, when none is; a variable that is not set
//     prints "NAME is not set".
//   - cat FILE...: prints "FILE: " and the file's content on a line, or
//     the error opening it.
//   - write FILE: tries to write FILE and prints "write FILE: ok" or the
//     error (on a read-only volume: "read-only file system").
//   - watch FILE: prints "FILE: " and the content now, then again each time
//     it changes (looking every INTERVAL, 100ms by default), until SIGTERM.
//   - wait: waits for SIGTERM.
//
// argv[0] is the container's name when the pod gives no command, so the
// verbs start at the first argument that is one.
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/wasm-examples/guest"
)

var verbs = []string{"env", "cat", "write", "watch", "wait"}

func main() {
	args := os.Args
	for len(args) > 0 && !slices.Contains(verbs, args[0]) {
		args = args[1:]
	}
	for len(args) > 0 {
		verb, rest := args[0], args[1:]
		end := slices.IndexFunc(rest, func(a string) bool { return slices.Contains(verbs, a) })
		if end < 0 {
			end = len(rest)
		}
		run(verb, rest[:end])
		args = rest[end:]
	}
}

func run(verb string, args []string) {
	switch verb {
	case "env":
		if len(args) == 0 {
			env := os.Environ()
			slices.Sort(env)
			for _, kv := range env {
				fmt.Println(kv)
			}
			return
		}
		for _, name := range args {
			if v, ok := os.LookupEnv(name); ok {
				fmt.Printf("%s=%s\n", name, v)
			} else {
				fmt.Printf("%s is not set\n", name)
			}
		}
	case "cat":
		for _, name := range args {
			fmt.Println(show(name))
		}
	case "write":
		for _, name := range args {
			if err := os.WriteFile(name, []byte("written by the guest\n"), 0o644); err != nil {
				fmt.Printf("write %s: %v\n", name, err)
			} else {
				fmt.Printf("write %s: ok\n", name)
			}
		}
	case "watch":
		interval := 100 * time.Millisecond
		if d, err := time.ParseDuration(os.Getenv("INTERVAL")); err == nil && d > 0 {
			interval = d
		}
		last := map[string]string{}
		for {
			for _, name := range args {
				if s := show(name); s != last[name] {
					fmt.Println(s)
					last[name] = s
				}
			}
			select {
			case <-guest.Stop():
				return
			case <-time.After(interval):
			}
		}
	case "wait":
		<-guest.Stop()
	}
}

// show is a file's content on one line, after its name.
func show(name string) string {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Sprintf("%s: %v", name, err)
	}
	return fmt.Sprintf("%s: %s", name, strings.TrimRight(string(data), "\n"))
}
