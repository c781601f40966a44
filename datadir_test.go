package wasmlet_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmlet/wasmlet"
)

// TestDataDirIsMadePrivate: a data dir made beforehand with mode 0755 (a
// plain mkdir) ends 0700, and the pods' directory in it too.
func TestDataDirIsMadePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := wasmlet.New(context.Background(), wasmlet.NewConfig().WithDataDir(dir).WithAPIServer(false).WithControllers(false))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for _, p := range []string{dir, filepath.Join(dir, "pods")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("%s: mode %#o, want 0700", p, m)
		}
	}
}
