package wasmlet

// Benchmarks of a whole node: pods started, kept idle and scaled through the
// Go API, with the real node agent, controllers and WASI layer, on an
// in-memory store. They measure the figures that docs/BENCHMARKS.md lists
// for the node agent and the controllers; run them one at a time without
// the race detector:
//
//	go test -run '^$' -bench BenchmarkPodStartup -benchtime 1x .
//
// Guests: tiny (writes a line and exits at once), tinywait (tiny's size, but
// waits for SIGTERM in a read of stdin, so that its pod stays Running and
// ready with nothing to do) and myweb (a Go HTTP server on port 8080).

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

var (
	benchIdleWindow   = flag.Duration("wasmlet.bench.idle", 10*time.Second, "how long BenchmarkIdlePods measures the idle node's CPU")
	benchWritesWindow = flag.Duration("wasmlet.bench.writes", 65*time.Second, "how long BenchmarkStatusWrites counts store writes (over a minute covers a pod resync)")
)

// benchWaitTimeout bounds every wait for a node to get somewhere.
const benchWaitTimeout = 5 * time.Minute

// benchImage returns the absolute path of a guest's module.
func benchImage(b *testing.B, guest string) string {
	b.Helper()
	if guest != "tinywait" {
		return examples.MustBuild(b, guest)
	}
	path := filepath.Join(b.TempDir(), "tinywait.wasm")
	if err := os.WriteFile(path, benchTinyWait(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchTinyWait returns a WASI command of 164 bytes that reads one byte of
// stdin, which blocks until SIGTERM closes it, and exits 0:
//
//	(module
//	  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
//	  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
//	  (memory (export "memory") 1)
//	  (data (i32.const 0) "\08\00\00\00\01\00\00\00")
//	  (func (export "_start")
//	    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
//	    (call $proc_exit (i32.const 0))))
func benchTinyWait() []byte {
	section := func(id byte, content ...byte) []byte {
		return append([]byte{id, byte(len(content))}, content...)
	}
	str := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	const i32, call, i32const, drop, end = 0x7f, 0x10, 0x41, 0x1a, 0x0b
	var imports []byte
	imports = append(imports, 2)
	imports = append(imports, str("wasi_snapshot_preview1")...)
	imports = append(imports, str("fd_read")...)
	imports = append(imports, 0x00, 0)
	imports = append(imports, str("wasi_snapshot_preview1")...)
	imports = append(imports, str("proc_exit")...)
	imports = append(imports, 0x00, 1)
	var exports []byte
	exports = append(exports, 2)
	exports = append(exports, str("memory")...)
	exports = append(exports, 0x02, 0)
	exports = append(exports, str("_start")...)
	exports = append(exports, 0x00, 2)
	body := []byte{0, i32const, 0, i32const, 0, i32const, 1, i32const, 16, call, 0, drop, i32const, 0, call, 1, end}
	init := []byte{8, 0, 0, 0, 1, 0, 0, 0}
	data := append([]byte{1, 0, i32const, 0, end, byte(len(init))}, init...)
	out := []byte{0x00, 'a', 's', 'm', 1, 0, 0, 0}
	out = append(out, section(1, 3,
		0x60, 4, i32, i32, i32, i32, 1, i32, // fd_read
		0x60, 1, i32, 0, // proc_exit
		0x60, 0, 0)...) // _start
	out = append(out, section(2, imports...)...)
	out = append(out, section(3, 1, 2)...)
	out = append(out, section(5, 1, 0x00, 1)...)
	out = append(out, section(7, exports...)...)
	out = append(out, section(10, append([]byte{1, byte(len(body))}, body...)...)...)
	out = append(out, section(11, data...)...)
	return out
}

// benchStartNode runs a node with its store in memory, no HTTPS API, pods
// on 127.77.0.0/16, and the compilation cache shared by every benchmark run
// so that module compiles are those of a warm node.
func benchStartNode(b *testing.B) *Node {
	b.Helper()
	benchRaiseFiles(b)
	dir := b.TempDir()
	cache := filepath.Join(os.TempDir(), "wasmlet-bench-cache")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Symlink(cache, filepath.Join(dir, "cache")); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	node, err := New(ctx, NewConfig().
		WithInMemory(true).
		WithDataDir(dir).
		WithAPIServer(false).
		WithPodCIDR("127.77.0.0/16").
		WithNodeName("bench").
		WithShutdownGracePeriod(5*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		// Close reports "stopping pods: context deadline exceeded" after
		// 10 s when the node agent's Shutdown waits for the workers of pods
		// deleted just before (issue 4); it is logged, not a failure of
		// the benchmark.
		start := time.Now()
		if err := node.Close(); err != nil {
			b.Logf("Close after %v: %v", time.Since(start).Round(time.Millisecond), err)
		}
	})
	if err := node.Start(ctx); err != nil {
		b.Fatal(err)
	}
	return node
}

// benchRaiseFiles raises the soft limit of open files to the hard one: each
// pod holds its log files, and each myweb its listener.
func benchRaiseFiles(b *testing.B) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		b.Logf("getrlimit: %v", err)
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			b.Logf("setrlimit: %v", err)
		}
	}
}

// benchSpec is the pod spec of a guest: tiny runs once (RestartPolicy
// Never), the others as a ReplicaSet's pods would.
func benchSpec(guest, image string) api.PodSpec {
	c := api.Container{Name: guest, Image: image}
	if guest == "myweb" {
		c.Ports = []api.ContainerPort{{Name: "http", ContainerPort: 8080}}
	}
	spec := api.PodSpec{Containers: []api.Container{c}}
	if guest == "tiny" {
		spec.RestartPolicy = api.RestartPolicyNever
	}
	return spec
}

// benchUp reports whether a pod has got where its guest goes: tiny's
// container ran to its exit 0; the others' pods are Running and Ready.
func benchUp(p *api.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, s := range p.Status.ContainerStatuses {
		if t := s.State.Terminated; t != nil && t.ExitCode == 0 && p.Spec.RestartPolicy == api.RestartPolicyNever {
			return true
		}
	}
	if p.Status.Phase != api.PodRunning || p.Status.PodIP == "" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == api.PodReady {
			return c.Status == api.ConditionTrue
		}
	}
	return false
}

// benchTracker follows the pods of the default namespace through a watch:
// which exist, and when each was first seen up (benchUp).
type benchTracker struct {
	mu      sync.Mutex
	pods    map[string]*api.Pod
	upAt    map[string]time.Time
	events  int
	changed chan struct{}
	err     error
}

func benchTrack(b *testing.B, node *Node) *benchTracker {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	ch, err := Watch[*api.Pod](ctx, node, "default", ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	t := &benchTracker{pods: map[string]*api.Pod{}, upAt: map[string]time.Time{}, changed: make(chan struct{}, 1)}
	go func() {
		for ev := range ch {
			now := time.Now()
			t.mu.Lock()
			t.events++
			switch {
			case ev.Err != nil:
				t.err = ev.Err
			case ev.Type == "DELETED":
				delete(t.pods, ev.Object.Name)
			default:
				t.pods[ev.Object.Name] = ev.Object
				if _, seen := t.upAt[ev.Object.Name]; !seen && benchUp(ev.Object) {
					t.upAt[ev.Object.Name] = now
				}
			}
			t.mu.Unlock()
			select {
			case t.changed <- struct{}{}:
			default:
			}
		}
	}()
	return t
}

// wait returns when ok accepts the tracked pods.
func (t *benchTracker) wait(b *testing.B, what string, ok func(pods map[string]*api.Pod) bool) {
	b.Helper()
	deadline := time.NewTimer(benchWaitTimeout)
	defer deadline.Stop()
	for {
		t.mu.Lock()
		done, err := ok(t.pods), t.err
		t.mu.Unlock()
		if err != nil {
			b.Fatalf("watching pods: %v", err)
		}
		if done {
			return
		}
		select {
		case <-t.changed:
		case <-deadline.C:
			t.mu.Lock()
			defer t.mu.Unlock()
			b.Fatalf("after %v, the pods are not %s: %s", benchWaitTimeout, what, benchDescribe(t.pods))
		}
	}
}

// benchAllUp accepts n pods, all up.
func benchAllUp(n int) func(map[string]*api.Pod) bool {
	return func(pods map[string]*api.Pod) bool {
		if len(pods) != n {
			return false
		}
		for _, p := range pods {
			if !benchUp(p) {
				return false
			}
		}
		return true
	}
}

func benchNone(pods map[string]*api.Pod) bool { return len(pods) == 0 }

func benchDescribe(pods map[string]*api.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d pods", len(pods))
	phases := map[string]int{}
	for _, p := range pods {
		k := string(p.Status.Phase)
		if p.DeletionTimestamp != nil {
			k += "(deleting)"
		} else if !benchUp(p) {
			k += "(not up)"
		}
		phases[k]++
	}
	for k, n := range phases {
		fmt.Fprintf(&b, ", %d %s", n, k)
	}
	return b.String()
}

// benchWarm runs one pod of the image to its up state and deletes it, so
// that the module is compiled and cached before anything is measured.
func benchWarm(b *testing.B, node *Node, t *benchTracker, guest, image string) {
	b.Helper()
	ctx := context.Background()
	if _, err := Create(ctx, node, &api.Pod{ObjectMeta: api.ObjectMeta{Name: "warm", Namespace: "default"}, Spec: benchSpec(guest, image)}); err != nil {
		b.Fatal(err)
	}
	t.wait(b, "warm", benchAllUp(1))
	zero := int64(0)
	if err := Delete[*api.Pod](ctx, node, "default", "warm", DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		b.Fatal(err)
	}
	t.wait(b, "gone", benchNone)
}

// benchCreatePods creates n pods of a guest, named guest-i.
func benchCreatePods(b *testing.B, node *Node, guest, image string, n int) map[string]time.Time {
	b.Helper()
	ctx := context.Background()
	created := make(map[string]time.Time, n)
	for i := range n {
		name := guest + "-" + strconv.Itoa(i)
		created[name] = time.Now()
		pod := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"bench": guest}}, Spec: benchSpec(guest, image)}
		if _, err := Create(ctx, node, pod); err != nil {
			b.Fatalf("creating %s: %v", name, err)
		}
	}
	return created
}

// benchDeleteAll deletes the pods of the default namespace and waits until
// they are gone.
func benchDeleteAll(b *testing.B, node *Node, t *benchTracker) {
	b.Helper()
	ctx := context.Background()
	pods, err := List[*api.Pod](ctx, node, "default", ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range pods {
		if err := Delete[*api.Pod](ctx, node, "default", p.Name, DeleteOptions{}); err != nil && !api.IsNotFound(err) {
			b.Fatal(err)
		}
	}
	t.wait(b, "gone", benchNone)
	// A pod leaves the store before its worker in the node agent ends;
	// see benchStartNode.
	time.Sleep(time.Second)
}

func benchMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkPodStartup creates 100 pods one after the other, as fast as the
// Go API takes them, and reports the p50 and p99 of each pod's time from
// its create to its container running and ready (tinywait, myweb) or run to
// its exit (tiny), and the time until all of them are.
func BenchmarkPodStartup(b *testing.B) {
	for _, guest := range []string{"tiny", "tinywait", "myweb"} {
		b.Run(guest, func(b *testing.B) {
			const pods = 100
			image := benchImage(b, guest)
			for b.Loop() {
				node := benchStartNode(b)
				t := benchTrack(b, node)
				benchWarm(b, node, t, guest, image)
				start := time.Now()
				created := benchCreatePods(b, node, guest, image, pods)
				t.wait(b, "up", benchAllUp(pods))
				all := time.Since(start)
				t.mu.Lock()
				var lat []time.Duration
				for name, at := range created {
					lat = append(lat, t.upAt[name].Sub(at))
				}
				t.mu.Unlock()
				slices.Sort(lat)
				b.ReportMetric(benchMs(lat[len(lat)/2]), "p50-ms")
				b.ReportMetric(benchMs(lat[len(lat)*99/100]), "p99-ms")
				b.ReportMetric(benchMs(all), "all-ms")
				benchDeleteAll(b, node, t)
			}
		})
	}
}

// benchRSS is the process's VmRSS in bytes.
func benchRSS(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb * 1024
		}
	}
	b.Skip("no VmRSS in /proc/self/status")
	return 0
}

// benchMemory is the process's memory after a collection that returns
// what it can to the OS.
type benchMemory struct{ rss, heap, sys int64 }

func benchMeasureMemory(b *testing.B) benchMemory {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return benchMemory{rss: benchRSS(b), heap: int64(ms.HeapInuse), sys: int64(ms.Sys - ms.HeapReleased)}
}

// benchCPU is the process's user and system CPU time so far.
func benchCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchIdle measures the node while it does nothing for window: its CPU in
// percent of one core and the store writes it makes.
func benchIdle(b *testing.B, node *Node, window time.Duration) (cpuPercent float64, writes int64) {
	b.Helper()
	rv0 := benchRV(b, node)
	cpu0, wall0 := benchCPU(b), time.Now()
	time.Sleep(window)
	cpu, wall := benchCPU(b)-cpu0, time.Since(wall0)
	return 100 * cpu.Seconds() / wall.Seconds(), benchRV(b, node) - rv0
}

// benchRV is the store's resourceVersion: it moves by one with every write
// of any object.
func benchRV(b *testing.B, node *Node) int64 {
	rv, err := strconv.ParseInt(node.st.ResourceVersion(), 10, 64)
	if err != nil {
		b.Fatalf("the store's resourceVersion %q: %v", node.st.ResourceVersion(), err)
	}
	return rv
}

// BenchmarkIdlePods runs N pods until they are all up, and reports the
// node's memory per pod (RSS and Go heap growth over the node before the
// pods) and its CPU while the pods are idle.
func BenchmarkIdlePods(b *testing.B) {
	for _, c := range []struct {
		guest string
		pods  int
	}{{"tinywait", 1000}, {"myweb", 100}} {
		b.Run(fmt.Sprintf("%s-%d", c.guest, c.pods), func(b *testing.B) {
			image := benchImage(b, c.guest)
			for b.Loop() {
				node := benchStartNode(b)
				t := benchTrack(b, node)
				benchWarm(b, node, t, c.guest, image)
				before := benchMeasureMemory(b)
				benchCreatePods(b, node, c.guest, image, c.pods)
				t.wait(b, "up", benchAllUp(c.pods))
				time.Sleep(2 * time.Second) // the guests settle into their waits
				after := benchMeasureMemory(b)
				cpu, writes := benchIdle(b, node, *benchIdleWindow)
				n := float64(c.pods)
				b.ReportMetric(float64(after.rss-before.rss)/n/1024, "KiB-RSS/pod")
				b.ReportMetric(float64(after.heap-before.heap)/n/1024, "KiB-heap/pod")
				b.ReportMetric(float64(after.sys-before.sys)/n/1024, "KiB-gosys/pod")
				b.ReportMetric(float64(after.rss)/(1<<20), "MiB-RSS")
				b.ReportMetric(cpu, "idle-%core")
				b.ReportMetric(float64(writes), "idle-writes")
				benchDeleteAll(b, node, t)
			}
		})
	}
}

// BenchmarkStatusWrites counts the store's writes while N pods are up and
// idle for a fixed window: they must not grow with the pods, only the
// Node's heartbeat (one write every 10 s) remains.
func BenchmarkStatusWrites(b *testing.B) {
	image := benchImage(b, "tinywait")
	for _, pods := range []int{0, 100, 1000} {
		b.Run(strconv.Itoa(pods), func(b *testing.B) {
			for b.Loop() {
				node := benchStartNode(b)
				t := benchTrack(b, node)
				benchCreatePods(b, node, "tinywait", image, pods)
				t.wait(b, "up", benchAllUp(pods))
				time.Sleep(time.Second)
				t.mu.Lock()
				events0 := t.events
				t.mu.Unlock()
				cpu, writes := benchIdle(b, node, *benchWritesWindow)
				t.mu.Lock()
				podEvents := t.events - events0
				t.mu.Unlock()
				b.ReportMetric(float64(writes), "writes")
				b.ReportMetric(float64(podEvents), "pod-writes")
				b.ReportMetric(float64(writes)/benchWritesWindow.Minutes(), "writes/min")
				b.ReportMetric(cpu, "idle-%core")
				benchDeleteAll(b, node, t)
			}
		})
	}
}

// BenchmarkReplicaSetScale scales a ReplicaSet from 0 to N replicas and
// reports the time until all N pods are Running and Ready (and the
// ReplicaSet's status says so), then from N to 0 until every pod is gone.
func BenchmarkReplicaSetScale(b *testing.B) {
	for _, c := range []struct {
		guest string
		pods  int
	}{{"tinywait", 1000}, {"myweb", 100}} {
		b.Run(fmt.Sprintf("%s-%d", c.guest, c.pods), func(b *testing.B) {
			image := benchImage(b, c.guest)
			for b.Loop() {
				node := benchStartNode(b)
				t := benchTrack(b, node)
				benchWarm(b, node, t, c.guest, image)
				ctx := context.Background()
				zero := int32(0)
				labels := map[string]string{"app": "scale"}
				rs := &api.ReplicaSet{
					ObjectMeta: api.ObjectMeta{Name: "scale", Namespace: "default"},
					Spec: api.ReplicaSetSpec{
						Replicas: &zero,
						Selector: &api.LabelSelector{MatchLabels: labels},
						Template: api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: labels}, Spec: benchSpec(c.guest, image)},
					},
				}
				if _, err := Create(ctx, node, rs); err != nil {
					b.Fatal(err)
				}

				start := time.Now()
				benchScale(b, node, c.pods)
				t.wait(b, "up", benchAllUp(c.pods))
				benchWaitReady(b, node, int32(c.pods))
				up := time.Since(start)

				start = time.Now()
				benchScale(b, node, 0)
				t.wait(b, "gone", benchNone)
				down := time.Since(start)

				b.ReportMetric(up.Seconds(), "up-s")
				b.ReportMetric(down.Seconds(), "down-s")
				if err := Delete[*api.ReplicaSet](ctx, node, "default", "scale", DeleteOptions{}); err != nil {
					b.Fatal(err)
				}
				time.Sleep(time.Second) // the workers of the deleted pods end (see benchStartNode)
			}
		})
	}
}

func benchScale(b *testing.B, node *Node, replicas int) {
	b.Helper()
	if _, err := Patch[*api.ReplicaSet](context.Background(), node, "default", "scale", MergePatch,
		fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)); err != nil {
		b.Fatalf("scaling to %d: %v", replicas, err)
	}
}

// benchWaitReady waits until the ReplicaSet's status counts n ready
// replicas.
func benchWaitReady(b *testing.B, node *Node, n int32) {
	b.Helper()
	deadline := time.Now().Add(benchWaitTimeout)
	for {
		rs, err := Get[*api.ReplicaSet](context.Background(), node, "default", "scale")
		if err != nil {
			b.Fatal(err)
		}
		if rs.Status.ReadyReplicas == n && rs.Status.Replicas == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %v, the ReplicaSet's status is %+v", benchWaitTimeout, rs.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
