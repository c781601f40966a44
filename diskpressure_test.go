package wasmlet_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/store"
)

// TestNewNamesADamagedStore: what `wasmlet serve` prints when the store
// is damaged names the directory, the damage and the way to recover.
func TestNewNamesADamagedStore(t *testing.T) {
	dir := t.TempDir()
	cfg := wasmlet.NewConfig().WithDataDir(dir).WithNodeName("n1").WithPods(false).WithAPIServer(false).WithControllers(false)
	node, err := wasmlet.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}
	storeDir := filepath.Join(dir, "store")
	if err := os.Remove(filepath.Join(storeDir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	_, err = wasmlet.New(context.Background(), cfg)
	if !errors.Is(err, store.ErrDamaged) {
		t.Fatalf("New on a store without its MANIFEST: %v, want store.ErrDamaged", err)
	}
	for _, want := range []string{storeDir + " is damaged", "MANIFEST is missing", "To recover: restore " + storeDir + " from a copy", "mv " + storeDir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}
