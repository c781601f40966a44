package compilecache

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/wasm-examples/tiny"
)

// compileTiny compiles the tiny example with a runtime of its own on the
// cache under root, as a node that starts does, and reports whether its
// machine code came from the cache.
func compileTiny(t *testing.T, root string) (cached bool, opened, compiled Report) {
	t.Helper()
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("wazero's compiler, the only user of the cache, does not run on " + runtime.GOARCH)
	}
	ctx := context.Background()
	c, opened, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(c.Wazero()))
	defer rt.Close(ctx)
	cached, compiled, err = c.Compile(func() error {
		_, err := rt.CompileModule(ctx, tiny.Module())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return cached, opened, compiled
}

// entry returns the one entry of the cache under root.
func entry(t *testing.T, root string) string {
	t.Helper()
	c, _, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	found, err := c.entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("%d entries in the cache, want 1: %v", len(found), found)
	}
	for path := range found {
		return path
	}
	return ""
}

func TestSecondRunReadsTheCache(t *testing.T) {
	root := t.TempDir()
	if cached, _, _ := compileTiny(t, root); cached {
		t.Fatal("the first compilation came from an empty cache")
	}
	e := entry(t, root)
	if _, err := os.Stat(e + sealSuffix); err != nil {
		t.Fatalf("the entry is not sealed: %v", err)
	}
	if cached, opened, _ := compileTiny(t, root); !cached || len(opened.Removed) != 0 {
		t.Fatalf("second run: cached %v, removed %v; want the entry read", cached, opened.Removed)
	}
}

func TestDamagedEntryIsRemoved(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, entry string)
	}{
		{"a byte changed", func(t *testing.T, entry string) {
			b, err := os.ReadFile(entry)
			if err != nil {
				t.Fatal(err)
			}
			// In the table of function offsets, which wazero does not check.
			b[len("WAZEVO")+1+len("dev")+4+2] ^= 0x40
			if err := os.WriteFile(entry, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated", func(t *testing.T, entry string) {
			if err := os.Truncate(entry, 20); err != nil {
				t.Fatal(err)
			}
		}},
		{"seal lost long ago", func(t *testing.T, entry string) {
			if err := os.Remove(entry + sealSuffix); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(entry, old, old); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			compileTiny(t, root)
			e := entry(t, root)
			tt.damage(t, e)
			cached, opened, _ := compileTiny(t, root)
			if cached {
				t.Error("the damaged entry was read")
			}
			if !slices.Contains(opened.Removed, e) {
				t.Errorf("removed %v, want %s", opened.Removed, e)
			}
			// Compiled again and sealed: the next run reads it.
			if cached, _, _ := compileTiny(t, root); !cached {
				t.Error("the entry compiled after the damage is not read")
			}
		})
	}
}

// TestFreshUnsealedEntryIsKept: an entry that another process's wazero has
// just written, and that process has not sealed yet, is whole and stays.
func TestFreshUnsealedEntryIsKept(t *testing.T) {
	root := t.TempDir()
	compileTiny(t, root)
	e := entry(t, root)
	if err := os.Remove(e + sealSuffix); err != nil {
		t.Fatal(err)
	}
	if _, opened, _ := compileTiny(t, root); len(opened.Removed) != 0 {
		t.Errorf("removed %v", opened.Removed)
	}
	if _, err := os.Stat(e); err != nil {
		t.Error(err)
	}
}

// TestOtherBuildHasItsOwnEntries: entries written by another build of wazero
// (here another identity) are never read.
func TestOtherBuildHasItsOwnEntries(t *testing.T) {
	root := t.TempDir()
	compileTiny(t, root)
	defer func(id string) { buildIdentity = id }(buildIdentity)
	buildIdentity = "github.com/tetratelabs/wazero@v0.0.0 other"
	if cached, _, _ := compileTiny(t, root); cached {
		t.Error("another build's entry was read")
	}
	dirs, err := filepath.Glob(filepath.Join(root, "build-*"))
	if err != nil || len(dirs) != 2 {
		t.Errorf("directories %v (%v), want one per build", dirs, err)
	}
}
