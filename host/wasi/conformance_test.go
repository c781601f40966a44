package wasi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmlet/wasmlet/host/wasi"
)

// The WASI testsuite (testdata/wasi-testsuite, the prebuilt wasm32-wasip1
// tests of WebAssembly/wasi-testsuite) run as its specification says, with
// this layer and with wazero's built-in WASI side by side. docs/
// wasi-conformance.md lists the tests the layer still fails, and why.

// minConformancePassed is the number of tests the layer passes; the test
// fails if it passes fewer.
const minConformancePassed = 72

var conformanceVerbose = flag.Bool("wasi.conformance.v", false, "print every conformance test's result and output")

const testsuiteDir = "testdata/wasi-testsuite/tests"

// conformanceSpec is a test's JSON specification (the legacy form, which
// every test of the suite uses).
type conformanceSpec struct {
	Args     []string          `json:"args"`
	Env      map[string]string `json:"env"`
	Root     *string           `json:"root"`
	ExitCode uint32            `json:"exit_code"`
	// Stdout is compared only when the specification gives it: two tests
	// print implementation details (the rights of a directory, the order
	// of a hash map) and expect nothing of them, as the suite's own runner
	// does.
	Stdout *string `json:"stdout"`
}

type conformanceCase struct {
	name string // suite/test
	wasm string
	dir  string
	spec conformanceSpec
}

func conformanceCases(t testing.TB) []conformanceCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(testsuiteDir, "*", "testsuite", "wasm32-wasip1", "*.wasm"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no tests in %s (%v)", testsuiteDir, err)
	}
	sort.Strings(paths)
	var cases []conformanceCase
	for _, p := range paths {
		c := conformanceCase{wasm: p, dir: filepath.Dir(p)}
		suite := filepath.Base(filepath.Dir(filepath.Dir(c.dir)))
		base := strings.TrimSuffix(filepath.Base(p), ".wasm")
		c.name = suite + "/" + base
		if b, err := os.ReadFile(filepath.Join(c.dir, base+".json")); err == nil {
			if err := json.Unmarshal(b, &c.spec); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		cases = append(cases, c)
	}
	return cases
}

// conformanceResult is one run of a test.
type conformanceResult struct {
	code           uint32
	stdout, stderr string
	err            error
}

func (r conformanceResult) passed(spec conformanceSpec) bool {
	return r.err == nil && r.code == spec.ExitCode && (spec.Stdout == nil || r.stdout == *spec.Stdout)
}

// prepare copies the test's root directory to a temporary one (the suite's
// folder is read-only, and tests write into their root).
func (c conformanceCase) prepare(t testing.TB) (args, env []string, root string) {
	args = append([]string{filepath.Base(c.wasm)}, c.spec.Args...)
	keys := make([]string, 0, len(c.spec.Env))
	for k := range c.spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+c.spec.Env[k])
	}
	if c.spec.Root != nil {
		root = t.TempDir()
		if err := copyTree(filepath.Join(c.dir, *c.spec.Root), root); err != nil {
			t.Fatal(err)
		}
	}
	return args, env, root
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if strings.HasSuffix(d.Name(), ".cleanup") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

const conformanceTimeout = 20 * time.Second

func runOurs(t testing.TB, rt wazero.Runtime, c conformanceCase) conformanceResult {
	ctx := context.Background()
	wasm, err := os.ReadFile(c.wasm)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := compile(ctx, rt, wasm)
	if err != nil {
		return conformanceResult{err: err}
	}
	defer mod.Close(ctx)
	args, env, root := c.prepare(t)
	var stdout, stderr syncBuffer
	cfg := wasi.Config{Args: args, Env: env, Stdout: &stdout, Stderr: &stderr}
	if root != "" {
		cfg.Mounts = []wasi.Mount{{GuestPath: "/", Root: mustRoot(t, root)}}
	}
	inst, err := wasi.Start(ctx, rt, mod, cfg)
	if err != nil {
		return conformanceResult{err: err}
	}
	select {
	case <-inst.Done():
	case <-time.After(conformanceTimeout):
		inst.Kill()
	}
	st := inst.Wait()
	r := conformanceResult{code: st.Code, stdout: stdout.String(), stderr: stderr.String()}
	if st.Killed {
		r.err = errors.New("timed out")
	} else if st.Message != "" {
		r.stderr += "\n[" + st.Message + "]"
	}
	return r
}

func runBuiltin(t testing.TB, rt wazero.Runtime, c conformanceCase) conformanceResult {
	ctx, cancel := context.WithTimeout(context.Background(), conformanceTimeout)
	defer cancel()
	wasm, err := os.ReadFile(c.wasm)
	if err != nil {
		t.Fatal(err)
	}
	args, env, root := c.prepare(t)
	var stdout, stderr bytes.Buffer
	mc := wazero.NewModuleConfig().WithName("").WithArgs(args...).
		WithStdout(&stdout).WithStderr(&stderr).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		mc = mc.WithEnv(k, v)
	}
	if root != "" {
		mc = mc.WithFSConfig(wazero.NewFSConfig().WithDirMount(root, "/"))
	}
	mod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return conformanceResult{err: err}
	}
	defer mod.Close(ctx)
	m, err := rt.InstantiateModule(ctx, mod, mc)
	r := conformanceResult{stdout: stdout.String(), stderr: stderr.String()}
	if m != nil {
		m.Close(ctx)
	}
	var exit *sys.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		r.code = wasi.ExitCodeTrap
		r.stderr += "\n[" + err.Error() + "]"
	}
	if ctx.Err() != nil {
		r.err = errors.New("timed out")
	}
	return r
}

// TestConformance runs the suite with the layer and with wazero's built-in
// WASI, and fails if the layer passes fewer tests than it is known to.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the testsuite takes a while")
	}
	ctx := context.Background()
	cases := conformanceCases(t)

	builtin := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer builtin.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, builtin)

	var ours, theirs int
	var failed []string
	for _, c := range cases {
		r := runOurs(t, testRT, c)
		b := runBuiltin(t, builtin, c)
		okOurs, okBuiltin := r.passed(c.spec), b.passed(c.spec)
		if okOurs {
			ours++
		} else {
			failed = append(failed, c.name)
		}
		if okBuiltin {
			theirs++
		}
		if *conformanceVerbose || !okOurs {
			t.Logf("%-50s layer: %s  built-in: %s", c.name, verdict(okOurs), verdict(okBuiltin))
		}
		if !okOurs {
			want := "(any)"
			if c.spec.Stdout != nil {
				want = fmt.Sprintf("%q", *c.spec.Stdout)
			}
			t.Logf("    want exit %d stdout %s; got exit %d stdout %q err %v\n    stderr: %s",
				c.spec.ExitCode, want, r.code, r.stdout, r.err, indent(r.stderr))
		}
	}
	t.Logf("layer: %d passed, %d failed; wazero's built-in WASI: %d passed, %d failed",
		ours, len(cases)-ours, theirs, len(cases)-theirs)
	if ours < minConformancePassed {
		t.Errorf("the layer passes %d tests, fewer than the %d it is known to pass (failed: %s)",
			ours, minConformancePassed, strings.Join(failed, ", "))
	}
	if slices.Contains(failed, "") {
		t.Error("unnamed test")
	}
}

func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

func indent(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = s[:2000] + "..."
	}
	return strings.ReplaceAll(s, "\n", "\n    ")
}
