package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// module is a small WebAssembly module: what this package moves is bytes,
// checked by digest; compiling them is the host's part.
var module = append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte{0}, 100)...)

// testRegistry is an in-process registry on loopback. Its blob GETs are
// counted, and hook, when set, may answer a request instead.
type testRegistry struct {
	host     string
	blobGETs atomic.Int32
	hook     atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

func newRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			tr.blobGETs.Add(1)
		}
		if h := tr.hook.Load(); h != nil && (*h)(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

// setHook makes h answer the requests it returns true for; nil removes it.
func (tr *testRegistry) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	if h == nil {
		tr.hook.Store(nil)
		return
	}
	tr.hook.Store(&h)
}

func newPuller(t *testing.T, maxSize int64) *Puller {
	t.Helper()
	st, err := OpenStore(t.TempDir(), maxSize)
	if err != nil {
		t.Fatal(err)
	}
	return &Puller{Store: st, Keychain: authn.NewMultiKeychain()}
}

func write(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

// TestPushPull: a module pushed as a wasm artifact is pulled back, by tag
// and by digest; the second pull of a present image downloads nothing.
func TestPushPull(t *testing.T) {
	reg := newRegistry(t)
	p := newPuller(t, 1<<20)
	ref := reg.host + "/myweb:v1"
	digest, err := p.Push(context.Background(), module, ref)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Pull(context.Background(), ref, PullIfNotPresent)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes, module) || got.Present || got.Digest != digest || got.Size != int64(len(module)) {
		t.Fatalf("pulled %d bytes, present %v, digest %s (pushed %s)", len(got.Bytes), got.Present, got.Digest, digest)
	}
	gets := reg.blobGETs.Load()
	again, err := p.Pull(context.Background(), ref, PullIfNotPresent)
	if err != nil || !again.Present || reg.blobGETs.Load() != gets {
		t.Fatalf("second pull: present %v, %d more blob GETs, err %v", again.Present, reg.blobGETs.Load()-gets, err)
	}
	// Always asks the registry for the manifest, but the module, by digest,
	// is on the node already.
	if _, err := p.Pull(context.Background(), ref, PullAlways); err != nil || reg.blobGETs.Load() != gets {
		t.Fatalf("pull Always: %d more blob GETs, err %v", reg.blobGETs.Load()-gets, err)
	}
	byDigest, err := p.Pull(context.Background(), reg.host+"/myweb@"+digest, PullAlways)
	if err != nil || !bytes.Equal(byDigest.Bytes, module) {
		t.Fatalf("pull by digest: %v", err)
	}
	if _, err := p.Pull(context.Background(), reg.host+"/other:v1", PullNever); !errors.Is(err, ErrNeverPull) {
		t.Fatalf("Never of an absent image: %v", err)
	}
	// A node restarted on the same store does not pull again.
	st, err := OpenStore(p.Store.dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p2 := &Puller{Store: st, Keychain: authn.NewMultiKeychain()}
	if again, err := p2.Pull(context.Background(), ref, PullNever); err != nil || !again.Present {
		t.Fatalf("after a restart: %v", err)
	}
}

// layerWith is a tar layer holding files, compressed with c.
func layerWith(t *testing.T, c compression.Compression, files map[string][]byte) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithCompression(c))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// containerImage is an OCI image of layers whose entrypoint is entry.
func containerImage(t *testing.T, entry string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	if entry != "" {
		cfg.Config.Entrypoint = []string{entry}
	}
	cfg.OS, cfg.Architecture = "wasip1", "wasm"
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestPullContainerImage: a container image's module is the file its
// entrypoint names, in the top layer that has it, gzip or zstd.
func TestPullContainerImage(t *testing.T) {
	reg := newRegistry(t)
	p := newPuller(t, 1<<20)
	for _, c := range []compression.Compression{compression.GZip, compression.ZStd} {
		old := layerWith(t, c, map[string][]byte{"app/mod.wasm": []byte("old"), "etc/x": []byte("x")})
		top := layerWith(t, c, map[string][]byte{"app/mod.wasm": module})
		ref := reg.host + "/ctr:" + string(c)
		write(t, ref, containerImage(t, "/app/mod.wasm", old, top))
		got, err := p.Pull(context.Background(), ref, PullIfNotPresent)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if !bytes.Equal(got.Bytes, module) {
			t.Fatalf("%s: pulled %q", c, got.Bytes[:min(len(got.Bytes), 8)])
		}
	}
	write(t, reg.host+"/noentry:v1", containerImage(t, "", layerWith(t, compression.GZip, map[string][]byte{"mod.wasm": module})))
	if _, err := p.Pull(context.Background(), reg.host+"/noentry:v1", PullIfNotPresent); !errors.Is(err, ErrNoModule) || !strings.Contains(err.Error(), "entrypoint") {
		t.Fatalf("an image without an entrypoint: %v", err)
	}
	write(t, reg.host+"/missing:v1", containerImage(t, "/bin/app.wasm", layerWith(t, compression.GZip, map[string][]byte{"mod.wasm": module})))
	if _, err := p.Pull(context.Background(), reg.host+"/missing:v1", PullIfNotPresent); !errors.Is(err, ErrNoModule) || !strings.Contains(err.Error(), "/bin/app.wasm") {
		t.Fatalf("an entrypoint that is not in the image: %v", err)
	}
}

// TestPullIndex: an index's wasip1/wasm entry is the one pulled; an index
// without one is refused with the platforms it has.
func TestPullIndex(t *testing.T) {
	reg := newRegistry(t)
	p := newPuller(t, 1<<20)
	linux, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := Artifact(module, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: linux, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: wasm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "wasip1", Architecture: "wasm"}}})
	r, _ := name.ParseReference(reg.host + "/multi:v1")
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	got, err := p.Pull(context.Background(), r.String(), PullIfNotPresent)
	if err != nil || !bytes.Equal(got.Bytes, module) {
		t.Fatalf("pull of an index: %v", err)
	}
	only := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: linux, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	r2, _ := name.ParseReference(reg.host + "/linux:v1")
	if err := remote.WriteIndex(r2, only); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Pull(context.Background(), r2.String(), PullIfNotPresent); !errors.Is(err, ErrNoModule) || !strings.Contains(err.Error(), "linux/amd64") {
		t.Fatalf("an index without wasm: %v", err)
	}
}

// TestPullErrors: what a registry can do wrong is named, and leaves
// nothing in the store.
func TestPullErrors(t *testing.T) {
	reg := newRegistry(t)
	p := newPuller(t, 1<<20)
	ctx := context.Background()
	if _, err := p.Pull(ctx, reg.host+"/nothing:v1", PullIfNotPresent); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a tag that does not exist: %v", err)
	}
	// A blob whose bytes are not its digest's.
	ref := reg.host + "/bad:v1"
	if _, err := p.Push(ctx, module, ref); err != nil {
		t.Fatal(err)
	}
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			return false
		}
		bad := append([]byte(nil), module...)
		bad[len(bad)-1] ^= 1
		w.Header().Set("Content-Length", strconv.Itoa(len(bad)))
		w.Write(bad)
		return true
	})
	if _, err := p.Pull(ctx, ref, PullIfNotPresent); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("a blob with other bytes: %v", err)
	}
	assertEmpty(t, p.Store)
	// A registry that stops answering.
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	})
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := p.Pull(tctx, reg.host+"/hang:v1", PullIfNotPresent); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a registry that hangs: %v", err)
	}
	reg.setHook(nil)
}

func assertEmpty(t *testing.T, s *Store) {
	t.Helper()
	for _, d := range []string{"blobs/sha256", "tmp"} {
		ents, _ := os.ReadDir(filepath.Join(s.dir, d))
		if len(ents) != 0 {
			t.Fatalf("%s holds %d files after a failed pull", d, len(ents))
		}
	}
}

// TestPullTooLarge: a module over the limit is refused by its size in the
// manifest, before a byte of it is read.
func TestPullTooLarge(t *testing.T) {
	reg := newRegistry(t)
	big := newPuller(t, 1<<20)
	ref := reg.host + "/big:v1"
	if _, err := big.Push(context.Background(), bytes.Repeat(module, 20), ref); err != nil {
		t.Fatal(err)
	}
	small := newPuller(t, 1024)
	before := reg.blobGETs.Load()
	_, err := small.Pull(context.Background(), ref, PullIfNotPresent)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a module over the limit: %v", err)
	}
	// The config is read to find the layers; the module is not.
	if n := reg.blobGETs.Load() - before; n > 1 {
		t.Fatalf("%d blobs read for a module refused by its size", n)
	}
	assertEmpty(t, small.Store)
}

// TestConcurrentPullsShareOneDownload: pods starting together download
// their image once.
func TestConcurrentPullsShareOneDownload(t *testing.T) {
	reg := newRegistry(t)
	p := newPuller(t, 1<<20)
	ref := reg.host + "/shared:v1"
	if _, err := p.Push(context.Background(), module, ref); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var blocked atomic.Bool
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/manifests/") && blocked.CompareAndSwap(false, true) {
			<-release
		}
		return false
	})
	before := reg.blobGETs.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := p.Pull(context.Background(), ref, PullIfNotPresent)
			if err == nil && !bytes.Equal(got.Bytes, module) {
				err = errors.New("other bytes")
			}
			errs <- err
		}()
	}
	for !blocked.Load() {
		time.Sleep(time.Millisecond)
	}
	// Every puller is waiting on the one download before it goes on.
	for {
		p.mu.Lock()
		n := len(p.inFlight)
		p.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := reg.blobGETs.Load() - before; n != 1 {
		t.Fatalf("8 concurrent pulls made %d blob downloads, want 1", n)
	}
}

// TestStoreSurvivesCrash: a half-written blob is gone at the next open; a
// damaged blob is removed when read; a damaged list names its remedy.
func TestStoreSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := s.Put(bytes.NewReader(module), "")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tmp", "blob-123"), []byte("half"), 0o600)
	if _, err := OpenStore(dir, 1<<20); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp/ holds %d files after open", len(ents))
	}
	p, _ := s.blobPath(d)
	os.WriteFile(p, []byte("other bytes"), 0o600)
	if _, err := s.ReadBlob(d); !errors.Is(err, ErrBlobDamaged) {
		t.Fatalf("a damaged blob: %v", err)
	}
	if s.Has(d) {
		t.Fatal("a damaged blob is kept")
	}
	if _, err := s.ReadBlob("sha256:../../etc/passwd"); err == nil {
		t.Fatal("a digest that is a path is read")
	}
	os.WriteFile(filepath.Join(dir, "images.json"), []byte("{"), 0o600)
	if _, err := OpenStore(dir, 1<<20); err == nil || !strings.Contains(err.Error(), "remove it") {
		t.Fatalf("a damaged list: %v", err)
	}
}

// TestPlainHTTPOnlyOnLoopback: go-containerregistry would speak HTTP to a
// private address; the node refuses unless told the registry is insecure.
func TestPlainHTTPOnlyOnLoopback(t *testing.T) {
	ok := roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})
	g := &httpGuard{next: ok, insecure: []string{"10.0.0.2:5000"}}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:5000/v2/", true},
		{"http://localhost:5000/v2/", true},
		{"http://[::1]:5000/v2/", true},
		{"http://10.0.0.2:5000/v2/", true},
		{"http://10.0.0.1:5000/v2/", false},
		{"http://192.168.1.2/v2/", false},
		{"https://10.0.0.1:5000/v2/", true},
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		_, err := g.RoundTrip(req)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInsecure)) {
			t.Errorf("%s: %v", tc.url, err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// failingReader gives n bytes, then fails as a connection cut mid-pull.
type failingReader struct{ n int }

func (f *failingReader) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, syscall.ENOSPC
	}
	k := min(len(b), f.n)
	f.n -= k
	return k, nil
}

// TestPutFailureLeavesNothing: a blob whose copy fails halfway (the disk
// fills, the registry goes away) leaves no blob and no temporary file.
func TestPutFailureLeavesNothing(t *testing.T) {
	s, err := OpenStore(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(&failingReader{n: 4096}, ""); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v", err)
	}
	assertEmpty(t, s)
}
