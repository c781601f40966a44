package host

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/oci"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// TestRealRegistryImage: a pod naming a registry image runs the module
// pushed there; its imageID is the repository's digest; a node started
// again on the same data dir runs it with the registry gone; a tag the
// registry does not have is ErrImagePull with the registry's reason.
func TestRealRegistryImage(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	hello, err := os.ReadFile(examples.MustBuild(t, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/hello:v1"
	digest, err := (&oci.Puller{}).Push(context.Background(), hello, ref)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	n := newTestNode(t, realRuntime(t), nil, nil, dataDir)
	spec := api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: ref}}}
	n.createPod("reg", spec)
	p := n.waitPod("reg", "Succeeded", phaseIs(api.PodSucceeded))
	if id := containerStatus(p, "c").ImageID; id != host+"/hello@"+digest {
		t.Errorf("imageID %q, want %s", id, host+"/hello@"+digest)
	}
	if !hasEvent(n.events("reg"), `Normal Pulled Successfully pulled image "`+ref+`"`) {
		t.Errorf("events: %q", n.events("reg"))
	}

	n.createPod("missing", api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: host + "/hello:v2"}}})
	p = n.waitPod("missing", "ErrImagePull", func(p *api.Pod) bool {
		cs := containerStatus(p, "c")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonErrImagePull
	})
	if msg := containerStatus(p, "c").State.Waiting.Message; !strings.Contains(msg, "not found") || !strings.Contains(msg, "hello:v2") {
		t.Errorf("message %q", msg)
	}

	// The registry goes away; the image is on the node.
	srv.Close()
	n.stop()
	n2 := newTestNode(t, realRuntime(t), nil, nil, dataDir)
	n2.createPod("again", spec)
	n2.waitPod("again", "Succeeded", phaseIs(api.PodSucceeded))
}

// BenchmarkRegistryPullMyweb: a pod's image from a registry on loopback to
// a compiled module, as the node does before it starts the container:
// cold (nothing on the node: download, verify, store, compile) and warm
// (the image in the node's store and its machine code in the compilation
// cache, as after a node restart).
//
//	go test -run '^$' -bench RegistryPullMyweb -benchtime 3x ./host/
func BenchmarkRegistryPullMyweb(b *testing.B) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	module, err := os.ReadFile(examples.MustBuild(b, "myweb"))
	if err != nil {
		b.Fatal(err)
	}
	ref := strings.TrimPrefix(srv.URL, "http://") + "/myweb:v1"
	if _, err := (&oci.Puller{}).Push(context.Background(), module, ref); err != nil {
		b.Fatal(err)
	}
	pull := func(b *testing.B, storeDir, cacheDir string) {
		rt, err := newWazeroRuntimeWith(context.Background(), wazero.NewRuntimeConfig(), compilerArch, cacheDir)
		if err != nil {
			b.Skipf("the WASI layer is not available: %v", err)
		}
		defer rt.Close(context.Background())
		m := newImageManager(rt, b.TempDir(), nil, 0)
		m.registryDir = storeDir
		if _, err := m.PullWith(context.Background(), ref, api.PullIfNotPresent); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for range b.N {
			pull(b, b.TempDir(), b.TempDir())
		}
	})
	b.Run("warm", func(b *testing.B) {
		storeDir, cacheDir := b.TempDir(), b.TempDir()
		pull(b, storeDir, cacheDir)
		b.ResetTimer()
		for range b.N {
			pull(b, storeDir, cacheDir)
		}
	})
}
