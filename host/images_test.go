package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestImagePulls(t *testing.T) {
	const module = "fake:exit 0"
	sum := sha256.Sum256([]byte(module))
	digest := hex.EncodeToString(sum[:])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/m.wasm" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(module))
	}))
	defer srv.Close()
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "m.wasm"), []byte(module), 0o644)

	var compiles atomic.Int32
	rt := &fakeRuntime{compile: func(ctx context.Context, wasm []byte) (compiledModule, error) {
		compiles.Add(1)
		return string(wasm), nil
	}}
	m := newImageManager(rt, root, srv.Client())
	ctx := context.Background()

	tests := []struct {
		image   string
		wantErr string
	}{
		{"m.wasm", ""},
		{"file://" + filepath.Join(root, "m.wasm"), ""},
		{srv.URL + "/m.wasm", ""},
		{srv.URL + "/m.wasm@sha256:" + digest, ""},
		{srv.URL + "/m.wasm@sha256:" + strings.Repeat("1", 64), "digest mismatch"},
		{srv.URL + "/missing.wasm", "404 Not Found"},
		{"missing.wasm", "no such file or directory"},
		{".", "is a directory"},
	}
	for _, tt := range tests {
		img, err := m.Pull(ctx, tt.image)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want %q", tt.image, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.image, err)
			continue
		}
		if img.ImageID() != "sha256:"+digest || img.Size != int64(len(module)) {
			t.Errorf("%s: imageID %s size %d", tt.image, img.ImageID(), img.Size)
		}
		if !m.Present(tt.image) {
			t.Errorf("%s: not present after a pull", tt.image)
		}
	}
	if n := compiles.Load(); n != 1 {
		t.Errorf("one module compiled %d times", n)
	}
	if _, err := m.Pull(ctx, "docker://x"); !errors.Is(err, ErrInvalidImageName) {
		t.Errorf("bad name: %v", err)
	}
}

// TestLocalModuleReadOnlyWhenChanged: a module file is read and hashed
// again only when its size or modification time changed since its last
// pull, and a changed file gives the new module.
func TestLocalModuleReadOnlyWhenChanged(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "m.wasm")
	write := func(content string, mtime time.Time) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write("fake:exit 0", t1)
	rt := &fakeRuntime{compile: func(ctx context.Context, wasm []byte) (compiledModule, error) {
		return string(wasm), nil
	}}
	m := newImageManager(rt, root, nil)
	ctx := context.Background()
	first, err := m.Pull(ctx, "m.wasm")
	if err != nil {
		t.Fatal(err)
	}
	// Other bytes of the same size under the same time: a pull that read
	// the file would see another digest.
	write("fake:exit 9", t1)
	again, err := m.Pull(ctx, "m.wasm")
	if err != nil {
		t.Fatalf("pull of an unchanged module read it again: %v", err)
	}
	if again.Digest != first.Digest || again.Module != first.Module {
		t.Errorf("unchanged module: %+v, want %+v", again, first)
	}
	write("fake:exit 1", t1.Add(time.Second))
	changed, err := m.Pull(ctx, "m.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if changed.Digest == first.Digest || changed.Module != compiledModule("fake:exit 1") {
		t.Errorf("changed module: %+v", changed)
	}
}
