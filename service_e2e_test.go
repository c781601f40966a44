package wasmlet_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli"
)

// The end-to-end tests of Services: a node with the controllers (the
// Deployment, ReplicaSet, Endpoints and EndpointSlice controllers), the
// node agent running real myweb pods, and the service proxy, reached as a
// user reaches them: HTTP to the Service's cluster IP.

// serviceWait bounds the waits of these tests: a rollout starts and stops
// six myweb pods, each up in seconds on a loaded machine.
const serviceWait = 3 * time.Minute

// startServiceNode runs a node as startNode does, with pod IPs from a /24
// of 127.53.0.0/16 and Services' cluster IPs from a /24 of 127.47.0.0/16 of
// its own (ranges no other test of the repository uses).
func startServiceNode(t *testing.T) (*wasmlet.Node, string) {
	t.Helper()
	return startServiceNodeWith(t, func(c wasmlet.Config) wasmlet.Config { return c })
}

func startServiceNodeWith(t *testing.T, with func(wasmlet.Config) wasmlet.Config) (*wasmlet.Node, string) {
	t.Helper()
	img := myweb(t)
	dir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dir, "cache")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub := 1 + rand.IntN(254)
	node, err := wasmlet.New(ctx, with(wasmlet.NewConfig()).
		WithInMemory(true).
		WithDataDir(dir).
		WithListen("127.0.0.1:0").
		WithNodeName("n1").
		WithPodCIDR(fmt.Sprintf("127.53.%d.0/24", sub)).
		WithServiceCIDR(fmt.Sprintf("127.47.%d.0/24", sub)).
		WithShutdownGracePeriod(5*time.Second))
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
	return node, img
}

// readyWeb is myweb with a readiness probe on /ready every second that one
// failure makes fail, and version in its answers.
func readyWeb(img, version string) api.PodSpec {
	spec := mywebSpec(img)
	c := &spec.Containers[0]
	c.Env = []api.EnvVar{{Name: "VERSION", Value: version}}
	c.ReadinessProbe = &api.Probe{
		ProbeHandler:     api.ProbeHandler{HTTPGet: &api.HTTPGetAction{Path: "/ready", Port: api.FromString("http")}},
		PeriodSeconds:    1,
		FailureThreshold: 1,
	}
	return spec
}

// createWebService creates a Service app=<app> port 80 → the pods' port
// "http", and returns its cluster IP:80.
func createWebService(t *testing.T, node *wasmlet.Node, name, app string) string {
	t.Helper()
	svc, err := wasmlet.Create(context.Background(), node, &api.Service{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports:    []api.ServicePort{{Name: "web", Port: 80, TargetPort: api.FromString("http")}},
		},
	})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == api.ClusterIPNone {
		t.Fatalf("service %s got no cluster IP: %q", name, svc.Spec.ClusterIP)
	}
	return svc.Spec.ClusterIP + ":80"
}

// answer is one GET / through a fresh connection: the pod that answered
// and its version, or the error.
type answer struct {
	at      time.Time
	pod     string
	version string
	err     error
}

var oneShot = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func getAnswer(addr string) answer {
	a := answer{at: time.Now()}
	resp, err := oneShot.Get("http://" + addr + "/")
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		a.err = err
		return a
	}
	if resp.StatusCode != http.StatusOK {
		a.err = fmt.Errorf("%s: %q", resp.Status, body)
		return a
	}
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if p, ok := strings.CutPrefix(line, "Hello World! I'm "); ok {
			a.pod = p
		}
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			a.version = v
		}
	}
	if a.pod == "" {
		a.err = fmt.Errorf("unexpected answer %q", body)
	}
	return a
}

// spread sends n requests through addr and counts them by pod; any error
// fails the test.
func spread(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		a := getAnswer(addr)
		if a.err != nil {
			t.Fatalf("GET through the service %s: %v", addr, a.err)
		}
		got[a.pod]++
	}
	return got
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(serviceWait)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: not %s", serviceWait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func setReady(t *testing.T, podIP string, ready bool) {
	t.Helper()
	method := http.MethodDelete
	if ready {
		method = http.MethodPut
	}
	req, _ := http.NewRequest(method, "http://"+podIP+":8080/ready", nil)
	resp, err := oneShot.Do(req)
	if err != nil {
		t.Fatalf("%s /ready of %s: %v", method, podIP, err)
	}
	resp.Body.Close()
}

// TestServiceSendsNewConnectionsToReadyPodsOnly: a Service over 3 myweb
// pods; one made unready (its readiness probe fails on demand) gets no
// request through the cluster IP while it is unready, though it still
// runs, and gets them again once its probe passes.
func TestServiceSendsNewConnectionsToReadyPodsOnly(t *testing.T) {
	node, img := startServiceNode(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := wasmlet.Create(ctx, node, &api.Pod{
			ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "default", Labels: map[string]string{"app": "web"}},
			Spec:       readyWeb(img, "v1"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	addr := createWebService(t, node, "web", "web")
	pods := waitPodsFor(t, node, "app=web", "3 Running and ready", running(3))
	ips := map[string]string{}
	for _, p := range pods {
		ips[p.Name] = p.Status.PodIP
	}
	waitFor(t, "the three pods answering through the service", func() bool {
		return len(spread(t, addr, 6)) == 3
	})
	if got := spread(t, addr, 30); got["web-0"] != 10 || got["web-1"] != 10 || got["web-2"] != 10 {
		t.Fatalf("30 new connections went to %v; want 10 to each pod in turn", got)
	}

	// web-1 fails its readiness probe: within the probe's period and
	// threshold (1 s × 1) and the controllers' and the proxy's reaction it
	// is out, and stays out while it runs unready.
	start := time.Now()
	setReady(t, ips["web-1"], false)
	waitFor(t, "web-1 out of the service", func() bool {
		got := spread(t, addr, 4)
		return got["web-1"] == 0
	})
	t.Logf("web-1 out of the service %v after its probe began to fail", time.Since(start).Round(time.Millisecond))
	got := spread(t, addr, 30)
	if got["web-1"] != 0 || got["web-0"] != 15 || got["web-2"] != 15 {
		t.Fatalf("with web-1 unready, 30 new connections went to %v; want 15 to web-0 and web-2 each", got)
	}
	if p, err := wasmlet.Get[*api.Pod](ctx, node, "default", "web-1"); err != nil || p.Status.Phase != api.PodRunning || ready(p) {
		t.Fatalf("web-1 should run unready: %v, %+v", err, p.Status.Conditions)
	}
	if a := getAnswer(ips["web-1"] + ":8080"); a.err != nil || a.pod != "web-1" {
		t.Fatalf("web-1 itself does not answer at its pod IP: %+v", a)
	}

	// It passes again: back in.
	setReady(t, ips["web-1"], true)
	waitFor(t, "web-1 back in the service", func() bool { return spread(t, addr, 3)["web-1"] > 0 })
	if got := spread(t, addr, 30); got["web-0"] != 10 || got["web-1"] != 10 || got["web-2"] != 10 {
		t.Fatalf("with web-1 ready again, 30 new connections went to %v; want 10 to each", got)
	}
}

// TestServiceCarriesEveryRequestThroughARolloutAndItsUndo: a Deployment of
// 3 myweb behind a Service; a client sends requests through the cluster IP
// without pause, each on a new connection, while the Deployment rolls to a
// new version (its template's VERSION) and back with `wasmlet rollout
// undo`. No request fails, and the answers switch from v1 to v2 and back.
//
// The pods stop as Kubernetes' users make them stop without losing a
// request: a preStop sleep keeps a deleted pod serving while its endpoint
// leaves the Service, since the kubelet's SIGTERM and the proxy's update
// race on a cluster as well.
func TestServiceCarriesEveryRequestThroughARolloutAndItsUndo(t *testing.T) {
	node, img := startServiceNode(t)
	ctx := context.Background()
	three := int32(3)
	spec := readyWeb(img, "v1")
	spec.Containers[0].Lifecycle = &api.Lifecycle{PreStop: &api.LifecycleHandler{Sleep: &api.SleepAction{Seconds: 2}}}
	if _, err := wasmlet.Create(ctx, node, &api.Deployment{
		ObjectMeta: api.ObjectMeta{Name: "myweb", Namespace: "default"},
		Spec: api.DeploymentSpec{
			Replicas: &three,
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "roll"}},
			Template: api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "roll"}}, Spec: spec},
		},
	}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	addr := createWebService(t, node, "myweb", "roll")
	onVersion := func(v string) func([]*api.Pod) bool {
		return func(pods []*api.Pod) bool {
			if !running(3)(pods) {
				return false
			}
			for _, p := range pods {
				if e := p.Spec.Containers[0].Env; len(e) != 1 || e[0].Value != v {
					return false
				}
			}
			return true
		}
	}
	waitPodsFor(t, node, "app=roll", "3 of v1 Running and ready", onVersion("v1"))
	waitFor(t, "the three pods answering through the service", func() bool {
		return len(spread(t, addr, 6)) == 3
	})

	var (
		mu      sync.Mutex
		answers []answer
		stop    = make(chan struct{})
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			a := getAnswer(addr)
			mu.Lock()
			answers = append(answers, a)
			mu.Unlock()
		}
	}()
	stopClient := func() []answer {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(answers)
	}
	defer func() {
		select {
		case <-stop:
		default:
			stopClient()
		}
	}()
	time.Sleep(time.Second)

	// Roll to v2: the template's env changes (kubectl set env).
	t1 := time.Now()
	if _, err := wasmlet.Patch[*api.Deployment](ctx, node, "default", "myweb", wasmlet.StrategicMergePatch,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"myweb","env":[{"name":"VERSION","value":"v2"}]}]}}}}`)); err != nil {
		t.Fatalf("roll to v2: %v", err)
	}
	waitPodsFor(t, node, "app=roll", "3 of v2 Running and ready, the v1 pods gone", onVersion("v2"))
	t2 := time.Now()
	t.Logf("rolled to v2 in %v", t2.Sub(t1).Round(time.Millisecond))
	time.Sleep(2 * time.Second)

	// And back, as a user does.
	var out, errOut bytes.Buffer
	t3 := time.Now()
	if code := cli.Run(ctx, []string{"wasmlet", "rollout", "undo", "deployment/myweb", "--kubeconfig", node.KubeconfigPath()}, nil, &out, &errOut); code != 0 {
		t.Fatalf("wasmlet rollout undo: exit %d: %s%s", code, out.String(), errOut.String())
	}
	if got := out.String(); got != "deployment.apps/myweb rolled back\n" {
		t.Errorf("rollout undo printed %q", got)
	}
	waitPodsFor(t, node, "app=roll", "3 of v1 Running and ready, the v2 pods gone", onVersion("v1"))
	t4 := time.Now()
	t.Logf("rolled back to v1 in %v", t4.Sub(t3).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	all := stopClient()

	var failed []string
	count := map[string]int{}
	for _, a := range all {
		if a.err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", a.at.Format("15:04:05.000"), a.err))
			continue
		}
		count[a.version]++
	}
	t.Logf("%d requests through the service: %v", len(all), count)
	if len(failed) > 0 {
		t.Errorf("%d of %d requests failed:\n%s", len(failed), len(all), strings.Join(failed[:min(10, len(failed))], "\n"))
	}
	// Before the rollout v1 alone, between the two rollouts v2 alone,
	// after the undo v1 alone; and each switch seen.
	phase := func(from, to time.Time) map[string]int {
		m := map[string]int{}
		for _, a := range all {
			if a.err == nil && !a.at.Before(from) && a.at.Before(to) {
				m[a.version]++
			}
		}
		return m
	}
	for _, p := range []struct {
		name     string
		from, to time.Time
		want     string
	}{
		{"before the rollout", time.Time{}, t1, "v1"},
		{"after the rollout to v2", t2.Add(500 * time.Millisecond), t3, "v2"},
		{"after the undo", t4.Add(500 * time.Millisecond), time.Now(), "v1"},
	} {
		m := phase(p.from, p.to)
		if len(m) != 1 || m[p.want] == 0 {
			t.Errorf("%s the answers were %v; want %s only", p.name, m, p.want)
		}
	}
	if m := phase(t1, t2); m["v2"] == 0 {
		t.Errorf("during the rollout the answers were %v; want v2 to appear", m)
	}
	if m := phase(t3, t4); m["v1"] == 0 {
		t.Errorf("during the undo the answers were %v; want v1 to appear", m)
	}
}

// waitPodsFor is waitPods with the longer wait of a rollout.
func waitPodsFor(t *testing.T, node *wasmlet.Node, selector, what string, ok func([]*api.Pod) bool) []*api.Pod {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(serviceWait)
	for {
		pods, err := wasmlet.List[*api.Pod](ctx, node, "default", wasmlet.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatalf("List pods %q: %v", selector, err)
		}
		if ok(pods) {
			return pods
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, pods %q are not %s: %s", serviceWait, selector, what, describe(pods))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServiceNodePortListensOnTheNodePortAddress: a NodePort Service is
// reached at the node-port address the node was given, at the nodePort
// the API allocated, as well as at its cluster IP.
func TestServiceNodePortListensOnTheNodePortAddress(t *testing.T) {
	npAddr := fmt.Sprintf("127.50.%d.1", 1+rand.IntN(254))
	node, img := startServiceNodeWith(t, func(c wasmlet.Config) wasmlet.Config { return c.WithNodePortAddresses(npAddr) })
	ctx := context.Background()
	if _, err := wasmlet.Create(ctx, node, &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: "np-0", Namespace: "default", Labels: map[string]string{"app": "np"}},
		Spec:       readyWeb(img, "v1"),
	}); err != nil {
		t.Fatal(err)
	}
	svc, err := wasmlet.Create(ctx, node, &api.Service{
		ObjectMeta: api.ObjectMeta{Name: "np", Namespace: "default"},
		Spec: api.ServiceSpec{
			Type:     api.ServiceTypeNodePort,
			Selector: map[string]string{"app": "np"},
			Ports:    []api.ServicePort{{Port: 80, TargetPort: api.FromInt32(8080)}},
		},
	})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	np := svc.Spec.Ports[0].NodePort
	if np == 0 {
		t.Fatalf("no nodePort allocated: %+v", svc.Spec.Ports)
	}
	waitPodsFor(t, node, "app=np", "Running and ready", running(1))
	for _, addr := range []string{fmt.Sprintf("%s:%d", npAddr, np), svc.Spec.ClusterIP + ":80"} {
		waitFor(t, "np-0 answering at "+addr, func() bool { a := getAnswer(addr); return a.err == nil && a.pod == "np-0" })
	}
	// Not on the other loopback addresses: 127.0.0.1 was not given.
	if a := getAnswer(fmt.Sprintf("127.0.0.1:%d", np)); a.err == nil && a.pod == "np-0" {
		t.Errorf("the node port answers on 127.0.0.1, which the node was not given")
	}
}
