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
