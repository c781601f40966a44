package wasmlet_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/api"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

var (
	guestOnce sync.Once
	guestPath string
	cacheDir  string
	guestErr  error
)

// myweb returns the absolute path of the myweb module, built and compiled
// once for the test binary into a compilation cache shared by every test
// process (testdata/precompile: under the race detector, compiling myweb
// takes about a minute).
func myweb(t *testing.T) string {
	t.Helper()
	guestOnce.Do(func() {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "wasmlet-test", "wazero")
		var paths []string
		if paths, guestErr = examples.Precompile(cacheDir, "myweb"); guestErr == nil {
			guestPath = paths[0]
		}
	})
	if guestErr != nil {
		t.Fatal(guestErr)
	}
	return guestPath
}

// startNode runs a node that keeps its store in memory, serves the API on
// a loopback port, runs pods from real modules with IPs from a /24 of
// 127.44.0.0/16 of its own, and runs the controllers.
func startNode(t *testing.T) (*wasmlet.Node, string) {
	t.Helper()
	img := myweb(t)
	dir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dir, "cache")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := wasmlet.NewConfig().
		WithInMemory(true).
		WithDataDir(dir).
		WithListen("127.0.0.1:0").
		WithNodeName("n1").
		WithPodCIDR(fmt.Sprintf("127.44.%d.0/24", 1+rand.IntN(254))).
		WithShutdownGracePeriod(5 * time.Second)
	node, err := wasmlet.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := node.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := node.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if node.APIAddr() == "" {
		t.Errorf("APIAddr is empty after Start")
	}
	return node, img
}

func mywebSpec(img string) api.PodSpec {
	return api.PodSpec{Containers: []api.Container{{
		Name:  "myweb",
		Image: img,
		Ports: []api.ContainerPort{{Name: "http", ContainerPort: 8080}},
	}}}
}

// waitTimeout bounds every wait for the node to get somewhere.
const waitTimeout = 60 * time.Second

// waitPods lists the pods that selector selects until ok accepts them, and
// returns them.
func waitPods(t *testing.T, node *wasmlet.Node, selector, what string, ok func([]*api.Pod) bool) []*api.Pod {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(waitTimeout)
	for {
		pods, err := wasmlet.List[*api.Pod](ctx, node, "default", wasmlet.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatalf("List pods %q: %v", selector, err)
		}
		if ok(pods) {
			return pods
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, pods %q are not %s: %s", waitTimeout, selector, what, describe(pods))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func describe(pods []*api.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		fmt.Fprintf(&b, "\n  %s phase=%s ip=%s deleting=%v labels=%v owners=%d", p.Name, p.Status.Phase, p.Status.PodIP,
			p.DeletionTimestamp != nil, p.Labels, len(p.OwnerReferences))
	}
	return b.String()
}

// running: n pods, all Running and ready with an IP, none terminating.
func running(n int) func([]*api.Pod) bool {
	return func(pods []*api.Pod) bool {
		if len(pods) != n {
			return false
		}
		for _, p := range pods {
			if p.Status.Phase != "Running" || p.Status.PodIP == "" || p.DeletionTimestamp != nil || !ready(p) {
				return false
			}
		}
		return true
	}
}

func ready(p *api.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

func names(pods []*api.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// hello GETs http://ip:8080/ and returns the body.
func hello(t *testing.T, ip string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + ip + ":8080/")
	if err != nil {
		t.Fatalf("GET %s:8080: %v", ip, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s:8080: %d %v", ip, resp.StatusCode, err)
	}
	return strings.TrimSpace(string(b))
}

func TestPodServesHTTP(t *testing.T) {
	node, img := startNode(t)
	ctx := context.Background()
	_, err := wasmlet.Create(ctx, node, &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: "myweb", Namespace: "default", Labels: map[string]string{"app": "solo"}},
		Spec:       mywebSpec(img),
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	pod := waitPods(t, node, "app=solo", "Running", running(1))[0]
	if pod.Spec.NodeName != "n1" {
		t.Errorf("spec.nodeName = %q, want n1", pod.Spec.NodeName)
	}
	if got, want := hello(t, pod.Status.PodIP), "Hello World! I'm myweb"; got != want {
		t.Errorf("GET / = %q, want %q", got, want)
	}
	n, err := wasmlet.Get[*api.Node](ctx, node, "", "n1")
	if err != nil {
		t.Fatalf("Get node n1: %v", err)
	}
	if len(n.Status.Conditions) == 0 {
		t.Errorf("node n1 has no conditions")
	}
	if err := wasmlet.Delete[*api.Pod](ctx, node, "default", "myweb", wasmlet.DeleteOptions{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	waitPods(t, node, "app=solo", "gone", func(p []*api.Pod) bool { return len(p) == 0 })
}

var rcPodName = regexp.MustCompile(`^myweb-rc-[bcdfghjklmnpqrstvwxz2456789]{5}$`)

// TestReplicationController follows the steps of a Kubernetes course with
// a ReplicationController of myweb.
func TestReplicationController(t *testing.T) {
	node, img := startNode(t)
	ctx := context.Background()
	three := int32(3)
	tmpl := &api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: mywebSpec(img)}
	rc, err := wasmlet.Create(ctx, node, &api.ReplicationController{
		ObjectMeta: api.ObjectMeta{Name: "myweb-rc", Namespace: "default"},
		Spec:       api.ReplicationControllerSpec{Replicas: &three, Selector: map[string]string{"app": "web"}, Template: tmpl},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}

	// Three pods named myweb-rc-xxxxx, Running, each on its own IP and
	// serving on it.
	pods := waitPods(t, node, "app=web", "3 Running", running(3))
	ips := map[string]bool{}
	for _, p := range pods {
		if !rcPodName.MatchString(p.Name) {
			t.Errorf("pod name %q is not myweb-rc-<5 characters>", p.Name)
		}
		ref := p.ControllerRef()
		if ref == nil || ref.UID != rc.UID || ref.Kind != "ReplicationController" {
			t.Errorf("pod %s: controller reference %+v, want the RC's", p.Name, ref)
		}
		if ips[p.Status.PodIP] {
			t.Errorf("pod %s: IP %s is another pod's too", p.Name, p.Status.PodIP)
		}
		ips[p.Status.PodIP] = true
		if got, want := hello(t, p.Status.PodIP), "Hello World! I'm "+p.Name; got != want {
			t.Errorf("GET / of %s = %q, want %q", p.Name, got, want)
		}
	}

	// Deleting the pods by label: the controller replaces them.
	old := names(pods)
	for _, p := range pods {
		if err := wasmlet.Delete[*api.Pod](ctx, node, "default", p.Name, wasmlet.DeleteOptions{}); err != nil {
			t.Fatalf("Delete %s: %v", p.Name, err)
		}
	}
	pods = waitPods(t, node, "app=web", "3 new Running pods", func(pods []*api.Pod) bool {
		if !running(3)(pods) {
			return false
		}
		for _, p := range pods {
			if slices.Contains(old, p.Name) {
				return false
			}
		}
		return true
	})

	// A relabelled pod is released, and replaced.
	released := pods[0].Name
	if _, err := wasmlet.Patch[*api.Pod](ctx, node, "default", released, wasmlet.MergePatch,
		[]byte(`{"metadata":{"labels":{"app":"database"}}}`)); err != nil {
		t.Fatalf("relabelling %s: %v", released, err)
	}
	waitPods(t, node, "app=web", "3 Running", func(pods []*api.Pod) bool {
		return running(3)(pods) && !slices.Contains(names(pods), released)
	})
	waitPods(t, node, "app=database", "released", func(pods []*api.Pod) bool {
		return len(pods) == 1 && pods[0].Name == released && len(pods[0].OwnerReferences) == 0
	})

	// Labelled back, it is adopted again and one pod goes.
	if _, err := wasmlet.Patch[*api.Pod](ctx, node, "default", released, wasmlet.MergePatch,
		[]byte(`{"metadata":{"labels":{"app":"web"}}}`)); err != nil {
		t.Fatalf("relabelling %s back: %v", released, err)
	}
	waitPods(t, node, "app=web", "3 Running", running(3))

	// Scale to 5, then to 3.
	for _, n := range []int{5, 3} {
		if _, err := wasmlet.Patch[*api.ReplicationController](ctx, node, "default", "myweb-rc", wasmlet.MergePatch,
			fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)); err != nil {
			t.Fatalf("scaling to %d: %v", n, err)
		}
		waitPods(t, node, "app=web", fmt.Sprintf("%d Running", n), running(n))
	}
	rc, err = wasmlet.Get[*api.ReplicationController](ctx, node, "default", "myweb-rc")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}

	// Orphan: the RC goes, its pods stay, without an ownerReference.
	if err := wasmlet.Delete[*api.ReplicationController](ctx, node, "default", "myweb-rc",
		wasmlet.DeleteOptions{PropagationPolicy: "Orphan"}); err != nil {
		t.Fatalf("Delete with Orphan: %v", err)
	}
	waitRCGone(t, node)
	orphans := waitPods(t, node, "app=web", "3 Running orphans", func(pods []*api.Pod) bool {
		if !running(3)(pods) {
			return false
		}
		for _, p := range pods {
			if len(p.OwnerReferences) != 0 {
				return false
			}
		}
		return true
	})

	// A new RC adopts the orphans instead of creating pods; deleted
	// normally, it takes them with it.
	rc, err = wasmlet.Create(ctx, node, &api.ReplicationController{
		ObjectMeta: api.ObjectMeta{Name: "myweb-rc", Namespace: "default"},
		Spec:       api.ReplicationControllerSpec{Replicas: &three, Selector: map[string]string{"app": "web"}, Template: tmpl},
	})
	if err != nil {
		t.Fatalf("Create again: %v", err)
	}
	waitPods(t, node, "app=web", "adopted", func(pods []*api.Pod) bool {
		if !running(3)(pods) || !slices.Equal(names(pods), names(orphans)) {
			return false
		}
		for _, p := range pods {
			if ref := p.ControllerRef(); ref == nil || ref.UID != rc.UID {
				return false
			}
		}
		return true
	})
	if err := wasmlet.Delete[*api.ReplicationController](ctx, node, "default", "myweb-rc", wasmlet.DeleteOptions{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	waitRCGone(t, node)
	waitPods(t, node, "", "gone", func(p []*api.Pod) bool { return len(p) == 0 })
}

func waitRCGone(t *testing.T, node *wasmlet.Node) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		_, err := wasmlet.Get[*api.ReplicationController](context.Background(), node, "default", "myweb-rc")
		if api.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, the RC is still there (%v)", waitTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
