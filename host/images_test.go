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
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
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
	m := newImageManager(rt, root, srv.Client(), 0)
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
	m := newImageManager(rt, root, nil, 0)
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

// TestImageNotAFileIsRefusedUnread: an image path naming a device, a pipe
// or a directory is refused before it is read, without allocating (a read
// of /dev/zero took 1.6-1.9 GB per pull before its size was refused), and
// without blocking on a FIFO that has no writer.
func TestImageNotAFileIsRefusedUnread(t *testing.T) {
	root := t.TempDir()
	fifo := filepath.Join(root, "fifo.wasm")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	m := newImageManager(&fakeRuntime{}, root, nil, 0)
	tests := []struct{ image, want string }{
		{"/dev/zero", "image is not a regular file: /dev/zero is a character device"},
		{"/dev/null", "image is not a regular file: /dev/null is a character device"},
		{"fifo.wasm", "image is not a regular file: " + fifo + " is a named pipe"},
		{root, "image is not a regular file: " + root + " is a directory"},
	}
	for _, tt := range tests {
		if _, err := os.Stat(tt.image); tt.image[0] == '/' && err != nil {
			t.Logf("%s: %v", tt.image, err)
			continue
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		done := make(chan error, 1)
		go func() { _, err := m.Pull(context.Background(), tt.image); done <- err }()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the pull blocks", tt.image)
		}
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrImageNotAFile) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.image, err, tt.want)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("%s: the refused pull allocated %d bytes", tt.image, d)
		}
	}
}

// TestImageSizeLimit: a module file over the limit is refused from its
// size, unread; a download from its Content-Length, or once it has sent
// one byte more than the limit when it does not say.
func TestImageSizeLimit(t *testing.T) {
	const limit = 64 << 10
	root := t.TempDir()
	big := filepath.Join(root, "big.wasm")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: 1 TiB costs no disk, and would cost the node its memory.
	if err := f.Truncate(1 << 40); err != nil {
		t.Skipf("sparse file: %v", err)
	}
	f.Close()
	atLimit := filepath.Join(root, "limit.wasm")
	os.WriteFile(atLimit, []byte("fake:"+strings.Repeat("x", limit-5)), 0o644)

	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/says.wasm": // says how large it is
			w.Header().Set("Content-Length", "1099511627776")
			w.WriteHeader(http.StatusOK)
		case "/endless.wasm": // chunked, never ends
			w.WriteHeader(http.StatusOK)
			chunk := make([]byte, 4096)
			for r.Context().Err() == nil {
				n, err := w.Write(chunk)
				sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		}
	}))
	defer srv.Close()

	m := newImageManager(&fakeRuntime{}, root, srv.Client(), limit)
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = m.Pull(ctx, "big.wasm")
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrImageTooLarge) || !strings.Contains(err.Error(), big+" is 1Ti, larger than the node's limit of 64Ki for a module") {
		t.Errorf("big file: %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("big file: the refused pull allocated %d bytes", d)
	}
	if _, err := m.Pull(ctx, "limit.wasm"); err != nil {
		t.Errorf("a module of exactly the limit: %v", err)
	}
	if _, err := m.Pull(ctx, srv.URL+"/says.wasm"); !errors.Is(err, ErrImageTooLarge) || !strings.Contains(err.Error(), "is 1Ti, larger than") {
		t.Errorf("download that says its size: %v", err)
	}
	if _, err := m.Pull(ctx, srv.URL+"/endless.wasm"); !errors.Is(err, ErrImageTooLarge) || !strings.Contains(err.Error(), "/endless.wasm is larger than the node's limit of 64Ki") {
		t.Errorf("endless download: %v", err)
	}
	if n := sent.Load(); n > 8<<20 {
		t.Errorf("the server sent %d bytes of an endless download before the node stopped reading", n)
	}
	if DefaultMaxImageSize != 256<<20 {
		t.Errorf("DefaultMaxImageSize = %d", DefaultMaxImageSize)
	}
}

// TestDevZeroImageIsErrImagePull: a pod whose image is /dev/zero shows
// ErrImagePull naming the file's type, and the node reads nothing.
func TestDevZeroImageIsErrImagePull(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip(err)
	}
	n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n.createPod("zero", api.PodSpec{Containers: []api.Container{{Name: "c", Image: "/dev/zero"}}})
	p := n.waitPod("zero", "ErrImagePull", func(p *api.Pod) bool {
		cs := containerStatus(p, "c")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonErrImagePull
	})
	runtime.ReadMemStats(&after)
	if msg := containerStatus(p, "c").State.Waiting.Message; msg != "image is not a regular file: /dev/zero is a character device" {
		t.Errorf("message %q", msg)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Errorf("the node allocated %d bytes for the pull", d)
	}
}
