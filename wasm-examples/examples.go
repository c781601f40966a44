// Package examples builds the example guests of wasm-examples/ for tests
// and for `go generate ./wasm-examples`.
//
// Each example but tiny is a Go command built with GOOS=wasip1 GOARCH=wasm
// into wasm-examples/bin/NAME.wasm; tiny is written byte by byte by the
// package tiny, to measure the node's own overhead. Builds are skipped when
// the module is newer than its sources, and are safe when several test
// processes build at once: each builds into a temporary file and renames it
// into place.
package examples

//go:generate go run ./internal/build

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/wasm-examples/tiny"
)

// names lists the examples, each a directory of this package.
var names = []string{
	"crash",
	"graceful",
	"grpchealth",
	"hello",
	"hog",
	"liveness",
	"myweb",
	"readconfig",
	"spin",
	"stubborn",
	"tiny",
}

// Names returns the names of the examples, sorted.
func Names() []string { return slices.Clone(names) }

// ErrUnknown is returned by Build for a name that is not an example.
var ErrUnknown = errors.New("examples: no such example")

var (
	dirOnce sync.Once
	dir     string
	dirErr  error

	locks sync.Map // name -> *sync.Mutex
)

// Dir returns the wasm-examples directory of the source tree.
func Dir() (string, error) {
	dirOnce.Do(func() { dir, dirErr = findDir() })
	return dir, dirErr
}

func findDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Dir(file)
		if _, err := os.Stat(filepath.Join(d, "examples.go")); err == nil {
			return d, nil
		}
	}
	// Built with -trimpath: ask the go command where the package is.
	out, err := exec.Command(goTool(), "list", "-f", "{{.Dir}}", "github.com/wasmlet/wasmlet/wasm-examples").Output()
	if err != nil {
		return "", fmt.Errorf("examples: finding the wasm-examples directory: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// Build builds the example name into wasm-examples/bin/NAME.wasm unless that
// file is newer than the example's sources, and returns its absolute path.
func Build(name string) (string, error) {
	path, _, err := build(name, nil)
	return path, err
}

// build is Build; starting, when not nil, is called when the module has to
// be built, before it is. built says that it was.
func build(name string, starting func()) (path string, built bool, err error) {
	if !slices.Contains(names, name) {
		return "", false, fmt.Errorf("%w: %q (have %s)", ErrUnknown, name, strings.Join(names, ", "))
	}
	root, err := Dir()
	if err != nil {
		return "", false, err
	}
	mu, _ := locks.LoadOrStore(name, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	out := filepath.Join(root, "bin", name+".wasm")
	newest, err := newestSource(root, name)
	if err != nil {
		return "", false, err
	}
	if fi, err := os.Stat(out); err == nil && fi.ModTime().After(newest) {
		return out, false, nil
	}
	if starting != nil {
		starting()
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", false, fmt.Errorf("examples: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+name+"-*.wasm")
	if err != nil {
		return "", false, fmt.Errorf("examples: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", false, fmt.Errorf("examples: %w", err)
	}

	if name == "tiny" {
		err = os.WriteFile(tmp.Name(), tiny.Module(), 0o644)
	} else {
		err = goBuild(root, name, tmp.Name())
	}
	if err != nil {
		return "", false, err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", false, fmt.Errorf("examples: %w", err)
	}
	return out, true, nil
}

func goBuild(root, name, out string) error {
	cmd := exec.Command(goTool(), "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("examples: building %s: %w\n%s", name, err, stderr.Bytes())
	}
	return nil
}

// newestSource is the latest modification time of the files the example is
// built from: its directory, the guest package, and the module's go.mod.
func newestSource(root, name string) (time.Time, error) {
	var newest time.Time
	paths := []string{filepath.Join(root, name), filepath.Join(root, "guest"), filepath.Join(root, "..", "go.mod")}
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if fi.ModTime().After(newest) {
				newest = fi.ModTime()
			}
			return nil
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return newest, fmt.Errorf("examples: %s: %w", name, err)
		}
	}
	return newest, nil
}

// TestCacheDir is the compilation cache that the tests' nodes share with
// Precompile, in the user's cache dir so that it outlives a run: under the
// race detector, compiling a Go guest takes wazero about a minute.
func TestCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "wasmlet-test", "wazero")
}

// MustBuild is Build for tests: it fails tb when the example cannot be
// built.
func MustBuild(tb testing.TB, name string) string {
	tb.Helper()
	path, err := Build(name)
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// BuildAll builds every example, at most two at a time, and returns the
// errors.
func BuildAll() error { return BuildAllTo(io.Discard) }

// BuildAllTo is BuildAll that writes a line to w when an example starts
// building and when it is built: a cold build of the Go guests takes
// minutes, which the user should not spend looking at a silent terminal.
func BuildAllTo(w io.Writer) error {
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 2)
		mu   sync.Mutex
		errs []error
	)
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, format, args...)
	}
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var start time.Time
			_, built, err := build(name, func() {
				start = time.Now()
				say("wasm-examples: building %s (GOOS=wasip1 GOARCH=wasm)\n", name)
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			if built {
				say("wasm-examples: built %s in %s\n", name, time.Since(start).Round(100*time.Millisecond))
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Precompile builds the named examples and compiles them, as a node does,
// into the wazero compilation cache in cacheDir, with the project's
// testdata/precompile built without the race detector: under it, wazero's
// compiler takes about a minute for a Go guest, without it a few seconds,
// and a test node that shares the cache finds them compiled. The program is
// built with wazero's version set to "dev", the version test binaries read
// and write entries with, and identified as a test binary to the node's
// cache (internal/compilecache). It returns the modules' paths, in the order
// of names.
//
// Test processes that run at once (go test runs a package's binary beside
// another's) take turns on a lock in cacheDir, so that the second finds
// what the first compiled rather than compiling it too.
func Precompile(cacheDir string, names ...string) ([]string, error) {
	root, err := Dir()
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(names))
	for i, name := range names {
		if paths[i], err = Build(name); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("examples: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, ".precompile.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("examples: %w", err)
	}
	defer lock.Close() // releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("examples: locking %s: %w", lock.Name(), err)
	}
	args := append([]string{"run", "-ldflags=-X=github.com/tetratelabs/wazero/internal/version.version=dev" +
		" -X=github.com/wasmlet/wasmlet/internal/compilecache.buildIdentity=dev",
		"./testdata/precompile", cacheDir}, paths...)
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = filepath.Dir(root)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("examples: precompiling %s: %v\n%s", strings.Join(names, ", "), err, out)
	}
	return paths, nil
}
