package host

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/oci"
	"github.com/wasmlet/wasmlet/store"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// variant is the hello module with a custom section naming tag: another
// valid module, with its own digest.
func variant(t *testing.T, tag string) []byte {
	t.Helper()
	b, err := os.ReadFile(examples.MustBuild(t, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if tag == "" {
		return b
	}
	payload := append([]byte{byte(len("v"))}, 'v')
	payload = append(payload, tag...)
	return append(append(b, 0, byte(len(payload))), payload...)
}

func startRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t *testing.T, module []byte, ref string) string {
	t.Helper()
	d, err := (&oci.Puller{}).Push(context.Background(), module, ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitNodeImages waits until the Node's status.images satisfies cond.
func (n *testNode) waitNodeImages(what string, cond func([]api.ContainerImage) bool) []api.ContainerImage {
	n.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got []api.ContainerImage
	for time.Now().Before(deadline) {
		o, err := n.st.Get(context.Background(), nodesResource(), "", "node1")
		if err == nil {
			got = o.(*api.Node).Status.Images
			if cond(got) {
				return got
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.t.Fatalf("status.images never %s: %+v", what, got)
	return nil
}

// TestNodeImages: the Node lists the registry images the node holds as the
// kubelet does (repo@digest then repo:tag, the largest first), written as
// soon as a pull or a removal changed them; an image a pod names is not
// removed, and the refusal names the pod; an unused one is, by tag or by
// a prefix of its digest, also through the node proxy.
func TestNodeImages(t *testing.T) {
	reg := startRegistry(t, nil)
	small := variant(t, "")
	large := variant(t, strings.Repeat("x", 100))
	dSmall := push(t, small, reg+"/hello:v1")
	dLarge := push(t, large, reg+"/big:v2")

	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.createPod("a", api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: reg + "/hello:v1"}}})
	n.waitPod("a", "Succeeded", phaseIs(api.PodSucceeded))
	want := []api.ContainerImage{{Names: []string{reg + "/hello@" + dSmall, reg + "/hello:v1"}, SizeBytes: int64(len(small))}}
	n.waitNodeImages("the pulled image", func(got []api.ContainerImage) bool { return reflect.DeepEqual(got, want) })

	if _, err := n.h.images.PullWith(context.Background(), reg+"/big:v2", api.PullIfNotPresent); err != nil {
		t.Fatal(err)
	}
	want = append([]api.ContainerImage{{Names: []string{reg + "/big@" + dLarge, reg + "/big:v2"}, SizeBytes: int64(len(large))}}, want...)
	n.waitNodeImages("both images, largest first", func(got []api.ContainerImage) bool { return reflect.DeepEqual(got, want) })

	_, err := n.h.RemoveImage(context.Background(), reg+"/hello:v1")
	if !api.IsConflict(err) || !strings.Contains(err.Error(), "in use by pod default/a") {
		t.Fatalf("removing an image a pod uses: %v", err)
	}
	if _, err := n.h.RemoveImage(context.Background(), reg+"/nothere:v1"); !api.IsNotFound(err) {
		t.Fatalf("removing an image the node does not hold: %v", err)
	}

	// Through the node proxy, as `wasmlet rmi` reaches it.
	srv := httptest.NewServer(n.h.NodeProxy())
	defer srv.Close()
	del := func(image string) (int, string) {
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/images?image="+image, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st api.Status
		json.NewDecoder(resp.Body).Decode(&st)
		return resp.StatusCode, st.Message
	}
	if code, msg := del(reg + "/hello@" + dSmall); code != http.StatusConflict || !strings.Contains(msg, "default/a") {
		t.Errorf("proxy DELETE of a used image: %d %q", code, msg)
	}
	if code, msg := del(strings.TrimPrefix(dLarge, "sha256:")[:12]); code != http.StatusOK || !strings.Contains(msg, reg+"/big:v2") {
		t.Errorf("proxy DELETE by digest prefix: %d %q", code, msg)
	}
	want = want[1:]
	n.waitNodeImages("the image left", func(got []api.ContainerImage) bool { return reflect.DeepEqual(got, want) })
	if sum := sha256.Sum256(large); n.h.images.registryStore().Has("sha256:" + hex.EncodeToString(sum[:])) {
		t.Error("the removed image's module is still stored")
	}

	// Once its pod is gone, the image can go.
	if _, _, err := n.st.Delete(context.Background(), podsResource(), "default", "a", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitPod("a", "deleted", func(p *api.Pod) bool { return p == nil })
	if _, err := n.h.RemoveImage(context.Background(), reg+"/hello:v1"); err != nil {
		t.Fatal(err)
	}
	n.waitNodeImages("empty", func(got []api.ContainerImage) bool { return len(got) == 0 })
}

// TestImageGC: above the high threshold the least recently used images no
// pod uses are removed until the disk is below the low threshold; an image
// a pod uses never is, and when what may go is not enough the node says
// FreeDiskSpaceFailed.
func TestImageGC(t *testing.T) {
	reg := startRegistry(t, nil)
	mods := map[string][]byte{}
	for _, name := range []string{"used", "old", "recent"} {
		mods[name] = variant(t, name)
		push(t, mods[name], reg+"/"+name+":v1")
	}
	unit := int64(len(mods["used"]))
	// The disk holds 10 units; base is what is not images.
	var base atomic.Int64
	base.Store(unit * 58 / 10)
	var dataDir string
	stats := func(string) (int64, int64, error) {
		used := base.Load()
		ents, _ := os.ReadDir(filepath.Join(dataDir, "oci", "blobs", "sha256"))
		for _, e := range ents {
			if fi, err := e.Info(); err == nil {
				used += fi.Size()
			}
		}
		return 10 * unit, 10*unit - used, nil
	}
	dataDir = t.TempDir()
	n := newTestNodeOpts(t, realRuntime(t), nil, nil, dataDir, func(o *Options) { o.Images.diskStats = stats })
	n.createPod("p", api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: reg + "/used:v1"}}})
	n.waitPod("p", "Succeeded", phaseIs(api.PodSucceeded))
	n.clk.Advance(time.Minute)
	if _, err := n.h.images.PullWith(context.Background(), reg+"/old:v1", api.PullIfNotPresent); err != nil {
		t.Fatal(err)
	}
	n.clk.Advance(time.Minute)
	if _, err := n.h.images.PullWith(context.Background(), reg+"/recent:v1", api.PullIfNotPresent); err != nil {
		t.Fatal(err)
	}
	held := func() string {
		var out []string
		for _, im := range n.h.images.nodeImages() {
			out = append(out, strings.TrimPrefix(repository(im.refs[0]), reg+"/"))
		}
		return strings.Join(out, ",")
	}
	// 5.8 + 3 units of 10 is 88%: one image must go to reach 80%, the
	// least recently used one that no pod names.
	advanceUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("never %s; the node holds %s, events %q", what, held(), n.events("node1"))
			}
			n.clk.Advance(imageGCPeriod)
			time.Sleep(20 * time.Millisecond)
		}
	}
	advanceUntil("removed old", func() bool { return held() == "recent,used" })
	// Enough was freed: nothing more goes.
	n.clk.Advance(imageGCPeriod)
	time.Sleep(100 * time.Millisecond)
	if held() != "recent,used" {
		t.Fatalf("after a second pass the node holds %s", held())
	}

	// Now only "recent" may go, and it is not enough.
	base.Store(unit * 79 / 10)
	advanceUntil("FreeDiskSpaceFailed", func() bool {
		for _, e := range n.events("node1") {
			if strings.HasPrefix(e, "Warning FreeDiskSpaceFailed Failed to garbage collect required amount of images. Attempted to free ") {
				return true
			}
		}
		return false
	})
	if held() != "used" {
		t.Errorf("the node holds %s, want the image the pod uses only", held())
	}
	if _, err := n.h.images.PullWith(context.Background(), reg+"/used:v1", api.PullNever); err != nil {
		t.Errorf("the image the pod uses: %v", err)
	}
}

// TestRegistryCredentials: a registry that requires a login is pulled from
// with the node user's Docker credentials file ($DOCKER_CONFIG), and without
// them the pull is ErrImagePull saying unauthorized.
func TestRegistryCredentials(t *testing.T) {
	const user, pass = "wasm", "s3cret"
	good := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	reg := startRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != good {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	withCreds := t.TempDir()
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	if err := os.WriteFile(filepath.Join(withCreds, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", withCreds)
	push(t, variant(t, ""), reg+"/private:v1")

	t.Setenv("DOCKER_CONFIG", t.TempDir())
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	spec := api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: reg + "/private:v1"}}}
	n.createPod("nocreds", spec)
	p := n.waitPod("nocreds", "ErrImagePull", func(p *api.Pod) bool {
		cs := containerStatus(p, "c")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonErrImagePull
	})
	if msg := containerStatus(p, "c").State.Waiting.Message; !strings.Contains(msg, "unauthorized") {
		t.Errorf("message %q", msg)
	}

	t.Setenv("DOCKER_CONFIG", withCreds)
	n.createPod("creds", spec)
	n.waitPod("creds", "Succeeded", phaseIs(api.PodSucceeded))
}

// TestInsecureRegistries: the node's --insecure-registry list reaches the
// puller.
func TestInsecureRegistries(t *testing.T) {
	n := newTestNodeWith(t, realRuntime(t), func(o *Options) { o.Images.InsecureRegistries = []string{"10.0.0.5:5000"} })
	p, err := n.h.images.puller()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Insecure, []string{"10.0.0.5:5000"}) {
		t.Errorf("Insecure = %q", p.Insecure)
	}
	if err := (ImageOptions{GCHighThresholdPercent: 70, GCLowThresholdPercent: 75}).Validate(); err == nil {
		t.Error("a low threshold above the high one was accepted")
	}
}

// TestStatusImagesAtMost50: status.images lists the 50 largest images, the
// largest first, as the kubelet's nodeStatusMaxImages.
func TestStatusImagesAtMost50(t *testing.T) {
	m := newImageManager(nil, t.TempDir(), nil, 0)
	m.registryDir = t.TempDir()
	st := m.registryStore()
	for i := 0; i < 60; i++ {
		d := fmt.Sprintf("sha256:%064x", i+1)
		ref := fmt.Sprintf("127.0.0.1:5000/m%d:v1", i)
		if err := st.Record(oci.Image{Reference: ref, Digest: d, Module: d, Size: int64(1000 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	got := m.statusImages()
	if len(got) != maxNodeImages {
		t.Fatalf("%d images listed, want %d", len(got), maxNodeImages)
	}
	if got[0].SizeBytes != 1059 || got[49].SizeBytes != 1010 || got[0].Names[1] != "127.0.0.1:5000/m59:v1" {
		t.Errorf("first %+v, last %+v", got[0], got[49])
	}
}
