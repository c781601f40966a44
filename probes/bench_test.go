package probes

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHTTPProbes1000 measures the node's CPU for 1,000 containers
// each probed every second by httpGet: one op is one second of virtual
// time, i.e. 1,000 probes by 1,000 workers, each a new connection to a Go
// HTTP server on loopback. cpu-ms/s is the process's CPU (prober and
// server together) per second of probing; 1000 cpu-ms/s is one core.
func BenchmarkHTTPProbes1000(b *testing.B) {
	benchmarkProbes1000(b, func(port int32) api.ProbeHandler {
		return api.ProbeHandler{HTTPGet: &api.HTTPGetAction{Path: "/healthz", Port: api.FromInt32(port)}}
	})
}

// BenchmarkTCPProbes1000 is the same with tcpSocket probes: a connection
// opened and reset, for comparison.
func BenchmarkTCPProbes1000(b *testing.B) {
	benchmarkProbes1000(b, func(port int32) api.ProbeHandler {
		return api.ProbeHandler{TCPSocket: &api.TCPSocketAction{Port: api.FromInt32(port)}}
	})
}

func benchmarkProbes1000(b *testing.B, handler func(port int32) api.ProbeHandler) {
	const targets = 1000
	var served atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	// A connection accepted is a probe served, whatever its kind.
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			served.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	var port int32
	fmt.Sscanf(srv.URL, "http://127.0.0.1:%d", &port)

	m, clk, _ := newTestManager(b, &fakeRuntime{})
	probe := &api.Probe{
		ProbeHandler:  handler(port),
		PeriodSeconds: 1, TimeoutSeconds: 30, SuccessThreshold: 1, FailureThreshold: 3,
	}
	for i := range targets {
		pod := newTestPod(api.Container{Name: "app", LivenessProbe: probe}, "127.0.0.1")
		pod.UID = fmt.Sprint("uid-", i)
		m.ContainerStarted(pod, "app", "c1")
	}
	clk.BlockUntil(targets)
	round := func(i int) {
		clk.Advance(time.Second)
		want := int64(targets * (i + 1))
		for served.Load() < want {
			time.Sleep(100 * time.Microsecond)
		}
		clk.BlockUntil(targets) // every worker waits for its next tick
	}
	round(0) // warm up
	served.Store(targets)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 1; i <= b.N; i++ {
		round(i)
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/s")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*targets), "µs/probe")
	m.Close()
}
