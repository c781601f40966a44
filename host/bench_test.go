package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// benchNode is a host on the real clock with the real runtime.
func benchNode(b *testing.B) (*Host, *store.Store, func()) {
	b.Helper()
	dir := b.TempDir()
	rt, err := newWazeroRuntime(context.Background(), filepath.Join(os.TempDir(), "wasmlet-host-test-cache"))
	if err != nil {
		b.Skipf("the WASI layer is not available: %v", err)
	}
	st, err := store.Open("", store.Options{InMemory: true})
	if err != nil {
		b.Skipf("store: %v", err)
	}
	h, err := newHost(st, Options{NodeName: "bench", DataDir: dir, Clock: clock.Real()}, rt)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Start(ctx) }()
	return h, st, func() {
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		h.Shutdown(sctx)
		scancel()
		cancel()
		<-done
		h.Close()
		st.Close()
	}
}

// started reports whether the pod's first container has started (running,
// or already ended after a start).
func started(p *api.Pod) bool {
	if len(p.Status.ContainerStatuses) == 0 {
		return false
	}
	s := p.Status.ContainerStatuses[0].State
	return (s.Running != nil && p.Status.ContainerStatuses[0].Ready) || (s.Terminated != nil && s.Terminated.ExitCode == 0)
}

// BenchmarkPodCreateToRunning creates 100 pods at once and reports the p50
// and p99 of the time from each create to its container running (myweb,
// ready) or completed (tiny, which exits at once).
func BenchmarkPodCreateToRunning(b *testing.B) {
	for _, example := range []string{"tiny", "myweb"} {
		b.Run(example, func(b *testing.B) {
			image := examples.MustBuild(b, example)
			const pods = 100
			for b.Loop() {
				b.StopTimer()
				h, st, stop := benchNode(b)
				_ = h
				ctx := context.Background()
				w, err := st.Watch(ctx, podsResource(), "default", store.ListOptions{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				created := map[string]time.Time{}
				for i := range pods {
					spec := api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: image}}}
					if example == "myweb" {
						spec.Containers[0].Ports = []api.ContainerPort{{Name: "http", ContainerPort: 8080}}
					}
					name := example + "-" + strconv.Itoa(i)
					created[name] = wallClock.Now()
					if _, err := st.Create(ctx, &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"}, Spec: spec}); err != nil {
						b.Fatal(err)
					}
				}
				var lat []time.Duration
				seen := map[string]bool{}
				for len(lat) < pods {
					ev := <-w.ResultChan()
					p, ok := ev.Object.(*api.Pod)
					if !ok || seen[p.Name] || !started(p) {
						continue
					}
					seen[p.Name] = true
					lat = append(lat, wallClock.Since(created[p.Name]))
				}
				b.StopTimer()
				w.Stop()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				stop()
				b.StartTimer() // b.Loop refuses a stopped timer
			}
		})
	}
}

// BenchmarkIdlePodMemory runs N myweb pods and reports the node's RSS
// growth per pod once they all serve.
func BenchmarkIdlePodMemory(b *testing.B) {
	image := examples.MustBuild(b, "myweb")
	const pods = 100
	for b.Loop() {
		h, st, stop := benchNode(b)
		_ = h
		ctx := context.Background()
		runtime.GC()
		before := rss()
		w, err := st.Watch(ctx, podsResource(), "default", store.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for i := range pods {
			spec := api.PodSpec{Containers: []api.Container{{Name: "c", Image: image, Ports: []api.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}
			if _, err := st.Create(ctx, &api.Pod{ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "default"}, Spec: spec}); err != nil {
				b.Fatal(err)
			}
		}
		ready := map[string]bool{}
		for len(ready) < pods {
			ev := <-w.ResultChan()
			if p, ok := ev.Object.(*api.Pod); ok && started(p) {
				ready[p.Name] = true
			}
		}
		w.Stop()
		clock.Sleep(ctx, wallClock, 2*time.Second) // let the guests settle into idle
		runtime.GC()
		b.ReportMetric(float64(rss()-before)/pods/1024, "KiB-RSS/pod")
		stop()
	}
}

// rss is the process's resident set size in bytes (Linux).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// wallClock measures the benchmarks in real time.
var wallClock = clock.Real()
