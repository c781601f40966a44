package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/store"
)

// fakeModule is a fake script padded to size bytes, pushed to a registry
// as a module the fake runtime runs.
func fakeModule(script string, size int) []byte {
	b := []byte(script)
	if len(b) < size {
		b = append(b, bytes.Repeat([]byte(" "), size-len(b))...)
	}
	return b
}

func hexDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestNodeProxyListsImages: GET /images of the node proxy lists the node's
// images with when each was pulled and last used, in the node's clock, as
// `wasmlet images` prints it.
func TestNodeProxyListsImages(t *testing.T) {
	reg := startRegistry(t, nil)
	mod := fakeModule("fake:exit 0", 0)
	d := push(t, mod, reg+"/a:v1")
	n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
	pulled := n.clk.Now()
	if _, err := n.h.images.PullWith(context.Background(), reg+"/a:v1", api.PullIfNotPresent); err != nil {
		t.Fatal(err)
	}
	n.clk.Advance(time.Hour)
	if _, err := n.h.images.PullWith(context.Background(), reg+"/a:v1", api.PullIfNotPresent); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.h.NodeProxy())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/images")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list api.NodeImageList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /images: %s %v", resp.Status, err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("items: %+v", list.Items)
	}
	im := list.Items[0]
	if strings.Join(im.Names, " ") != reg+"/a@"+d+" "+reg+"/a:v1" || im.SizeBytes != int64(len(mod)) ||
		!im.Pulled.Equal(pulled) || !im.LastUsed.Equal(pulled.Add(time.Hour)) {
		t.Errorf("image %+v, want pulled %v and last used an hour later", im, pulled)
	}
}

// TestAlwaysPullDoesNotJoinStoredPull: an Always pull that starts while an
// IfNotPresent pull of the same image takes it from the node's store (and
// compiles it) asks the registry itself, and gets what the tag names now.
func TestAlwaysPullDoesNotJoinStoredPull(t *testing.T) {
	reg := startRegistry(t, nil)
	ref := reg + "/a:v1"
	old, cur := fakeModule("fake:exit 0", 0), fakeModule("fake:exit 1", 0)
	push(t, old, ref)
	dir := t.TempDir()
	m1 := newImageManager(&fakeRuntime{}, t.TempDir(), nil, 0)
	m1.registryDir = dir
	if _, err := m1.PullWith(context.Background(), ref, api.PullIfNotPresent); err != nil {
		t.Fatal(err)
	}
	push(t, cur, ref) // the tag moves on

	// A node started again on the store: the old module's compile blocks.
	compiling, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rt := &fakeRuntime{compile: func(ctx context.Context, wasm []byte) (compiledModule, error) {
		if bytes.Equal(wasm, old) {
			once.Do(func() { close(compiling) })
			<-release
		}
		return string(wasm), nil
	}}
	m2 := newImageManager(rt, t.TempDir(), nil, 0)
	m2.registryDir = dir
	stored := make(chan *pulledImage, 1)
	go func() {
		img, err := m2.PullWith(context.Background(), ref, api.PullIfNotPresent)
		if err != nil {
			t.Error(err)
		}
		stored <- img
	}()
	<-compiling
	always := make(chan *pulledImage, 1)
	go func() {
		img, err := m2.PullWith(context.Background(), ref, api.PullAlways)
		if err != nil {
			t.Error(err)
		}
		always <- img
	}()
	select {
	case img := <-always:
		if img != nil && img.Digest != hexDigest(cur) {
			t.Errorf("the Always pull got %s, want the tag's current module %s", img.Digest, hexDigest(cur))
		}
	case <-time.After(10 * time.Second):
		t.Error("the Always pull waited for the IfNotPresent pull from the store")
	}
	close(release)
	if img := <-stored; img != nil && img.Digest != hexDigest(old) {
		t.Errorf("the IfNotPresent pull got %s, want the stored %s", img.Digest, hexDigest(old))
	}
	if t.Failed() {
		<-always
	}
}

// TestPresentAfterRestart: after a node restart, the first start of a pod
// whose image is in the node's store is "already present on machine", with
// no Pulling, as the kubelet reports it; an Always pod is pulled.
func TestPresentAfterRestart(t *testing.T) {
	reg := startRegistry(t, nil)
	ref := reg + "/a:v1"
	push(t, fakeModule("fake:exit 0", 0), ref)
	dataDir := t.TempDir()
	st, err := store.Open("", store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	n := newTestNode(t, &fakeRuntime{}, st, nil, dataDir)
	spec := api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: ref}}}
	n.createPod("first", spec)
	n.waitPod("first", "Succeeded", phaseIs(api.PodSucceeded))
	if evs := n.events("first"); !hasEvent(evs, `Normal Pulled Successfully pulled image "`+ref+`"`) {
		t.Errorf("first pull's events: %q", evs)
	}
	n.stop()

	n2 := newTestNode(t, &fakeRuntime{}, st, nil, dataDir)
	n2.createPod("again", spec)
	n2.waitPod("again", "Succeeded", phaseIs(api.PodSucceeded))
	evs := n2.events("again")
	if !hasEvent(evs, `Normal Pulled Container image "`+ref+`" already present on machine`) || hasEvent(evs, "Normal Pulling") {
		t.Errorf("events after the restart: %q", evs)
	}

	// Always asks the registry at every start, compiled or not.
	spec.Containers[0].ImagePullPolicy = api.PullAlways
	n2.createPod("always", spec)
	n2.waitPod("always", "Succeeded", phaseIs(api.PodSucceeded))
	if evs := n2.events("always"); !hasEvent(evs, `Normal Pulling Pulling image "`+ref+`"`) || !hasEvent(evs, `Normal Pulled Successfully pulled image "`+ref+`"`) {
		t.Errorf("events of an Always pod: %q", evs)
	}
}

// closableModule is a compiled module that records its release.
type closableModule struct {
	script string
	closed chan struct{}
}

func (c *closableModule) Close(context.Context) error { close(c.closed); return nil }

// TestRemovedImageLeavesMemory: rmi of an image releases the module
// compiled from it, and a pod that names it again pulls and compiles it
// again.
func TestRemovedImageLeavesMemory(t *testing.T) {
	reg := startRegistry(t, nil)
	ref := reg + "/a:v1"
	push(t, fakeModule("fake:exit 0", 0), ref)
	var mu sync.Mutex
	var mods []*closableModule
	rt := &fakeRuntime{
		compile: func(ctx context.Context, wasm []byte) (compiledModule, error) {
			mu.Lock()
			defer mu.Unlock()
			m := &closableModule{script: string(wasm), closed: make(chan struct{})}
			mods = append(mods, m)
			return m, nil
		},
		start: func(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error) {
			return startScripted(ctx, mod.(*closableModule).script, cfg), nil
		},
	}
	compiles := func() int { mu.Lock(); defer mu.Unlock(); return len(mods) }
	n := newTestNode(t, rt, nil, nil, "")
	spec := api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: ref}}}
	n.createPod("a", spec)
	n.waitPod("a", "Succeeded", phaseIs(api.PodSucceeded))
	if _, _, err := n.st.Delete(context.Background(), podsResource(), "default", "a", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitPod("a", "deleted", func(p *api.Pod) bool { return p == nil })
	if _, err := n.h.RemoveImage(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	first := mods[0]
	mu.Unlock()
	select {
	case <-first.closed:
	default:
		t.Error("the module compiled from the removed image was not released")
	}
	n.h.images.mu.Lock()
	held := len(n.h.images.compiled)
	n.h.images.mu.Unlock()
	if held != 0 {
		t.Errorf("the node still holds %d compiled modules", held)
	}

	n.createPod("b", spec)
	n.waitPod("b", "Succeeded", phaseIs(api.PodSucceeded))
	if evs := n.events("b"); !hasEvent(evs, `Normal Pulling Pulling image "`+ref+`"`) || !hasEvent(evs, `Normal Pulled Successfully pulled image "`+ref+`"`) {
		t.Errorf("events of the pod naming the removed image: %q", evs)
	}
	if c := compiles(); c != 2 {
		t.Errorf("%d compiles, want the removed image compiled again (2)", c)
	}
}

// TestDiskFullMidPull: a disk that fills up in the middle of a module's
// layer fails the pull with a message naming the full disk and a Failed
// event; the store keeps nothing of it (no blob, no temporary file, the
// same images.json), and the pull succeeds once there is room again.
func TestDiskFullMidPull(t *testing.T) {
	reg := startRegistry(t, nil)
	push(t, fakeModule("fake:exit 0", 0), reg+"/other:v1")
	ref := reg + "/big:v1"
	big := fakeModule("fake:exit 0", 256<<10)
	push(t, big, ref)
	n := newTestNode(t, &fakeRuntime{}, nil, nil, "")
	if _, err := n.h.images.PullWith(context.Background(), reg+"/other:v1", api.PullIfNotPresent); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(n.dataDir, "oci")
	before, err := os.ReadFile(filepath.Join(dir, "images.json"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	full, faulted := true, false
	n.h.images.registryStore().SetWriteFault(func(written int64) error {
		mu.Lock()
		defer mu.Unlock()
		if full && written > 0 {
			faulted = true
			return syscall.ENOSPC
		}
		return nil
	})

	n.createPod("big", api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: ref}}})
	p := n.waitPod("big", "ErrImagePull", func(p *api.Pod) bool {
		cs := containerStatus(p, "c")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonErrImagePull
	})
	msg := containerStatus(p, "c").State.Waiting.Message
	if !strings.Contains(msg, "out of disk space") || !strings.Contains(msg, "no space left on device") || !strings.Contains(msg, ref) {
		t.Errorf("message %q", msg)
	}
	mu.Lock()
	if !faulted {
		t.Error("the fault was never reached: the layer was written in one piece")
	}
	full = false
	mu.Unlock()
	n.waitEvent("big", `Warning Failed Failed to pull image "`+ref+`": `)
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", hexDigest(big))); err == nil {
		t.Error("the module's blob is in the store")
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Errorf("left in tmp/: %v", ents)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "images.json")); !bytes.Equal(after, before) {
		t.Errorf("images.json changed:\n%s\nwas\n%s", after, before)
	}

	// Room again: the back-off ends and the pull succeeds.
	for i := 0; i < 10; i++ {
		n.clk.Advance(11 * time.Second)
		if p, _ := n.st.Get(context.Background(), podsResource(), "default", "big"); p != nil && p.(*api.Pod).Status.Phase == api.PodSucceeded {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.waitPod("big", "Succeeded", phaseIs(api.PodSucceeded))
}
