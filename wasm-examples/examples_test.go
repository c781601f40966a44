package examples_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
	"github.com/wasmlet/wasmlet/wasm-examples/tiny"
)

// TestNames checks that every example has its directory and every
// directory with a main.go is an example.
func TestNames(t *testing.T) {
	dir, err := examples.Dir()
	if err != nil {
		t.Fatal(err)
	}
	names := examples.Names()
	if !slices.IsSorted(names) {
		t.Errorf("Names() not sorted: %v", names)
	}
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("example %s: %v", name, err)
		}
	}
	mains, err := filepath.Glob(filepath.Join(dir, "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mains {
		if name := filepath.Base(filepath.Dir(m)); !slices.Contains(names, name) {
			t.Errorf("%s is not in Names()", name)
		}
	}
}

func TestBuildUnknown(t *testing.T) {
	if _, err := examples.Build("nope"); !errors.Is(err, examples.ErrUnknown) {
		t.Fatalf("err = %v, want ErrUnknown", err)
	}
}

// compilationCache compiles each example once for all the tests.
var compilationCache = wazero.NewCompilationCache()

// raceEnabled is set under the race detector, where compiling a Go guest
// to machine code takes wazero's compiler most of a minute; the
// interpreter starts these short runs far sooner.
var raceEnabled bool

func runtimeConfig() wazero.RuntimeConfig {
	if raceEnabled {
		return wazero.NewRuntimeConfigInterpreter()
	}
	return wazero.NewRuntimeConfig().WithCompilationCache(compilationCache)
}

// run runs a module with wazero's own WASI and returns its stdout and exit
// code.
func run(t *testing.T, wasm []byte, args ...string) (string, uint32) {
	t.Helper()
	out, _, code := runWith(t, wasm, wazero.NewModuleConfig(), args...)
	return out, code
}

// runWith is run with a starting module configuration; it also returns
// stderr.
func runWith(t *testing.T, wasm []byte, cfg wazero.ModuleConfig, args ...string) (string, string, uint32) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var stdout, stderr bytes.Buffer
	cfg = cfg.WithStdout(&stdout).WithStderr(&stderr).
		WithArgs(args...).WithEnv("HOSTNAME", "test-pod")
	_, err = r.InstantiateModule(ctx, compiled, cfg)
	var code uint32
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run: %v (stderr %q)", err, stderr.String())
	}
	return stdout.String(), stderr.String(), code
}

func TestTiny(t *testing.T) {
	out, code := run(t, tiny.Module(), "tiny")
	if out != tiny.Message || code != 0 {
		t.Fatalf("got %q exit %d, want %q exit 0", out, code, tiny.Message)
	}
	path := examples.MustBuild(t, "tiny")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, tiny.Module()) {
		t.Errorf("%s differs from tiny.Module()", path)
	}
}

// TestBuildAll builds every Go example for wasip1 and runs those that end
// by themselves.
func TestBuildAll(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every example with the go command")
	}
	for _, name := range examples.Names() {
		path := examples.MustBuild(t, name)
		fi, err := os.Stat(path)
		if err != nil || fi.Size() == 0 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	tests := []struct {
		name string
		env  []string
		args []string
		out  string
		code uint32
	}{
		{"hello", nil, []string{"hello"}, "Hello from test-pod!\n", 0},
		{"crash", nil, []string{"crash", "-code", "3", "-after", "0s"},
			"test-pod: starting, will exit with code 3 in 0s\ntest-pod: exiting with code 3\n", 3},
		{"crash", []string{"EXIT_CODE", "0", "CRASH_AFTER", "1ms"}, []string{"crash"},
			"test-pod: starting, will exit with code 0 in 1ms\ntest-pod: exiting with code 0\n", 0},
		// stdin is empty, so SIGTERM comes at once.
		{"graceful", []string{"DRAIN", "0s"}, []string{"graceful"},
			"test-pod: running, waiting for SIGTERM\ngot SIGTERM, draining for 0s\ngot SIGTERM, exiting\n", 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append(tt.args, tt.env...), " "), func(t *testing.T) {
			wasm, err := os.ReadFile(examples.MustBuild(t, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			cfg := wazero.NewModuleConfig().WithSysNanosleep().WithSysNanotime().WithSysWalltime()
			for i := 0; i+1 < len(tt.env); i += 2 {
				cfg = cfg.WithEnv(tt.env[i], tt.env[i+1])
			}
			out, _, code := runWith(t, wasm, cfg, tt.args...)
			if out != tt.out || code != tt.code {
				t.Errorf("got %q exit %d, want %q exit %d", out, code, tt.out, tt.code)
			}
		})
	}
}

// TestLiveness runs the liveness-exec guest's two roles against one
// emptyDir-like directory mounted at /tmp.
func TestLiveness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the liveness example")
	}
	wasm, err := os.ReadFile(examples.MustBuild(t, "liveness"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mounted := func() wazero.ModuleConfig {
		return wazero.NewModuleConfig().WithFSConfig(wazero.NewFSConfig().WithDirMount(dir, "/tmp")).
			WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	}
	const missing = "cat: can't open '/tmp/healthy': No such file or directory\n"
	tests := []struct {
		name           string
		cfg            wazero.ModuleConfig
		args           []string
		stdout, stderr string
		code           uint32
	}{
		{"cat before run", mounted(), []string{"cat", "/tmp/healthy"}, "", missing, 1},
		// healthy for 0s: created, removed, then it waits for SIGTERM,
		// which the empty stdin of this run delivers at once.
		{"run", mounted().WithEnv("HEALTHY_FOR", "0s"), []string{"liveness"},
			"created /tmp/healthy; removing it in 0s\nremoved /tmp/healthy; sleeping\ngot SIGTERM, exiting\n", "", 0},
		{"cat after run", mounted(), []string{"liveness", "cat", "/tmp/healthy"}, "", missing, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runWith(t, wasm, tt.cfg, tt.args...)
			if stdout != tt.stdout || stderr != tt.stderr || code != tt.code {
				t.Errorf("got %q %q exit %d, want %q %q exit %d", stdout, stderr, code, tt.stdout, tt.stderr, tt.code)
			}
		})
	}
	if err := os.WriteFile(filepath.Join(dir, "healthy"), []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stdout, _, code := runWith(t, wasm, mounted(), "cat", "/tmp/healthy"); stdout != "ok\n" || code != 0 {
		t.Errorf("cat of an existing file: %q exit %d", stdout, code)
	}
}

// TestHogMemoryLimit runs hog under a 32 MiB limit on linear memory: its
// allocations stop at the limit and the guest fails, after reporting what
// it got.
func TestHogMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hog")
	}
	wasm, err := os.ReadFile(examples.MustBuild(t, "hog"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig().WithMemoryLimitPages(32<<20/65536))
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().WithStdout(&stdout).WithStderr(&stderr).WithArgs("hog").WithEnv("INTERVAL", "0s")
	_, err = r.InstantiateModule(ctx, mustCompile(t, r, wasm), cfg)
	var exit *sys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("hog under a limit: %v, want a non-zero exit", err)
	}
	if !strings.Contains(stdout.String(), "allocated 16 MiB") {
		t.Errorf("stdout %q lacks the totals", stdout.String())
	}
	t.Logf("exit %d; first words %q", exit.ExitCode(), firstLine(stderr.String()))
}

func mustCompile(t *testing.T, r wazero.Runtime, wasm []byte) wazero.CompiledModule {
	t.Helper()
	c, err := r.CompileModule(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func firstLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[0]
}

// TestBuildAllSaysWhatItBuilds: a cold `go generate ./wasm-examples` takes
// minutes; it names each guest as it builds it, and is silent about those
// that are up to date.
func TestBuildAllSaysWhatItBuilds(t *testing.T) {
	path := examples.MustBuild(t, "tiny")
	// Older than its sources: rebuilt (to the same bytes, renamed into
	// place, so that other tests reading it meanwhile see either).
	if err := os.Chtimes(path, time.Unix(1, 0), time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := examples.BuildAllTo(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wasm-examples: building tiny (GOOS=wasip1 GOARCH=wasm)\n", "wasm-examples: built tiny in "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := examples.BuildAllTo(&out); err != nil || out.Len() != 0 {
		t.Errorf("with every guest up to date: %v, output %q", err, out.String())
	}
}
