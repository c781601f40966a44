package wasi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sock"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmlet/wasmlet/host/wasi"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// Benchmarks of the layer, side by side with wazero's built-in WASI where
// the built-in can run the same thing. docs/BENCHMARKS.md has the numbers.

var (
	benchIdleGuests        = flag.Int("wasi.bench.idle", 20, "idle web server guests of BenchmarkIdle (the layer)")
	benchIdleBuiltinGuests = flag.Int("wasi.bench.idle.builtin", 2, "idle web server guests of BenchmarkIdle (the built-in WASI)")
	benchIdleWindow        = flag.Duration("wasi.bench.window", 2*time.Second, "how long BenchmarkIdle measures")
	benchRequests          = flag.Int("wasi.bench.requests", 1000, "requests in one op of BenchmarkRequest")
)

// builtinRuntime is a runtime with wazero's built-in WASI.
func builtinRuntime(b *testing.B) wazero.Runtime {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	b.Cleanup(func() { rt.Close(ctx) })
	return rt
}

func compileIn(b *testing.B, rt wazero.Runtime, name string) wazero.CompiledModule {
	wasm, err := os.ReadFile(examples.MustBuild(b, name))
	if err != nil {
		b.Fatal(err)
	}
	m, err := rt.CompileModule(context.Background(), wasm)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// freePort returns a port of 127.0.0.1 free a moment ago (the built-in
// WASI binds its listeners itself).
func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startBuiltinMyweb runs myweb with the built-in WASI on port; cancel
// ends it.
func startBuiltinMyweb(b *testing.B, rt wazero.Runtime, mod wazero.CompiledModule, port int) (cancel func()) {
	ctx, cancelCtx := context.WithCancel(context.Background())
	sctx := sock.WithConfig(ctx, sock.NewConfig().WithTCPListener("127.0.0.1", port))
	// stdin that never ends: its end would be the guest's SIGTERM. It is
	// an operating system pipe, which the built-in WASI lets the guest make
	// non-blocking; any other reader blocks the whole guest when read.
	stdin, stdinW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	mc := wazero.NewModuleConfig().WithName("").WithArgs("myweb").
		WithEnv("LISTEN_FDS", "1").WithEnv("LISTEN_FDS_START", "3").WithEnv("HOSTNAME", "builtin").
		WithStdin(stdin).WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := rt.InstantiateModule(sctx, mod, mc); err != nil && ctx.Err() == nil {
			b.Logf("built-in WASI guest on port %d: %v", port, err)
		}
	}()
	return func() {
		cancelCtx()
		stdinW.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		stdin.Close()
	}
}

func waitServing(b *testing.B, addr string) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := get("http://" + addr + "/"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s does not answer", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startLayerMyweb runs myweb with the layer and returns it and its address.
func startLayerMyweb(b *testing.B, mod wazero.CompiledModule) (*wasi.Instance, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	inst, err := wasi.Start(context.Background(), testRT, mod, wasi.Config{
		Args: []string{"myweb"}, Env: []string{"HOSTNAME=layer"}, Stdout: io.Discard,
		Listeners: []wasi.Listener{{Name: "http", L: l}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return inst, l.Addr().String()
}

// BenchmarkIdle measures the CPU time the process spends while N web
// server guests wait for requests, in percent of one core per guest and in
// all.
func BenchmarkIdle(b *testing.B) {
	b.Run("layer", func(b *testing.B) {
		mod := compiled(b, "myweb")
		var insts []*wasi.Instance
		for range *benchIdleGuests {
			inst, addr := startLayerMyweb(b, mod)
			insts = append(insts, inst)
			waitServing(b, addr)
		}
		defer func() {
			for _, i := range insts {
				i.Kill()
				<-i.Done()
			}
		}()
		measureIdle(b, len(insts))
	})
	b.Run("builtin", func(b *testing.B) {
		rt := builtinRuntime(b)
		mod := compileIn(b, rt, "myweb")
		var stops []func()
		for range *benchIdleBuiltinGuests {
			port := freePort(b)
			stops = append(stops, startBuiltinMyweb(b, rt, mod, port))
			waitServing(b, "127.0.0.1:"+strconv.Itoa(port))
		}
		defer func() {
			for _, s := range stops {
				s()
			}
		}()
		measureIdle(b, len(stops))
	})
}

func measureIdle(b *testing.B, guests int) {
	time.Sleep(200 * time.Millisecond)
	b.ResetTimer()
	var used, wall time.Duration
	for range b.N {
		before, start := cpuTime(b), time.Now()
		time.Sleep(*benchIdleWindow)
		used += cpuTime(b) - before
		wall += time.Since(start)
	}
	b.StopTimer()
	core := 100 * float64(used) / float64(wall)
	b.ReportMetric(core, "%core")
	b.ReportMetric(core/float64(guests), "%core/guest")
	b.ReportMetric(float64(guests), "guests")
}

// BenchmarkRequest measures requests to web server guests that are idle
// between them: as many guests as BenchmarkIdle runs, each request on a new
// connection to the next guest in turn. One op is -wasi.bench.requests
// requests (a tenth of them for the built-in WASI, whose spinning guests
// take tens of milliseconds each); it reports their median and 99th
// percentile.
func BenchmarkRequest(b *testing.B) {
	run := func(b *testing.B, addrs []string, requests int) {
		for _, addr := range addrs {
			waitServing(b, addr)
		}
		time.Sleep(200 * time.Millisecond)
		// One client for every request, as a load balancer or curl in a
		// loop is one program: a new connection each time, and none of the
		// cost of setting up a new client in the figure.
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		lat := make([]time.Duration, 0, b.N*requests)
		b.ResetTimer()
		for range b.N {
			for k := range requests {
				start := time.Now()
				resp, err := client.Get("http://" + addrs[k%len(addrs)] + "/")
				if err != nil {
					b.Fatal(err)
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(start))
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("GET /: %v %v", resp.Status, err)
				}
			}
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "µs-median")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "µs-p99")
		b.ReportMetric(float64(len(addrs)), "guests")
	}
	b.Run("layer", func(b *testing.B) {
		mod := compiled(b, "myweb")
		var addrs []string
		for range *benchIdleGuests {
			inst, addr := startLayerMyweb(b, mod)
			defer func() { inst.Kill(); <-inst.Done() }()
			addrs = append(addrs, addr)
		}
		run(b, addrs, *benchRequests)
	})
	b.Run("builtin", func(b *testing.B) {
		rt := builtinRuntime(b)
		mod := compileIn(b, rt, "myweb")
		var addrs []string
		for range *benchIdleBuiltinGuests {
			port := freePort(b)
			defer startBuiltinMyweb(b, rt, mod, port)()
			addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
		}
		run(b, addrs, max(*benchRequests/10, 1))
	})
	// The floor: a server of the same shape compiled natively, in this
	// process, with the same client.
	b.Run("native", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello World! I'm %s\n", "native")
			fmt.Fprintf(io.Discard, "%s %s %s %s %d\n", time.Now().UTC().Format(time.RFC3339), r.RemoteAddr, r.Method, r.URL.RequestURI(), http.StatusOK)
		})}
		go srv.Serve(l)
		defer srv.Close()
		run(b, []string{l.Addr().String()}, *benchRequests)
	})
}

// BenchmarkStart instantiates a tiny guest and runs it to its exit. The
// layer runs every guest in a goroutine of its own (Start, then Wait); the
// built-in WASI is measured both in the caller's goroutine, as wazero's API
// runs it, and in a goroutine of its own, as a node would have to run it.
// Both runtimes give the guest crypto/rand as its random source.
func BenchmarkStart(b *testing.B) {
	b.Run("layer", func(b *testing.B) {
		mod := compiled(b, "tiny")
		var out bytes.Buffer
		for range b.N {
			out.Reset()
			inst, err := wasi.Start(context.Background(), testRT, mod, wasi.Config{Args: []string{"tiny"}, Stdout: &out})
			if err != nil {
				b.Fatal(err)
			}
			if st := inst.Wait(); st.Code != 0 {
				b.Fatal(st)
			}
		}
	})
	builtin := func(b *testing.B, inGoroutine bool) {
		rt := builtinRuntime(b)
		mod := compileIn(b, rt, "tiny")
		var out bytes.Buffer
		ctx := context.Background()
		runOnce := func() {
			m, err := rt.InstantiateModule(ctx, mod, wazero.NewModuleConfig().WithName("").WithArgs("tiny").WithStdout(&out).WithRandSource(rand.Reader))
			if err != nil && err.Error() != "module closed with exit_code(0)" {
				b.Error(err)
			}
			if m != nil {
				m.Close(ctx)
			}
		}
		for range b.N {
			out.Reset()
			if !inGoroutine {
				runOnce()
				continue
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				runOnce()
			}()
			<-done
		}
	}
	b.Run("builtin", func(b *testing.B) { builtin(b, false) })
	b.Run("builtin-goroutine", func(b *testing.B) { builtin(b, true) })
}

// BenchmarkMemoryPerInstance reports the Go heap that each idle web server
// guest keeps (its linear memory included).
func BenchmarkMemoryPerInstance(b *testing.B) {
	const n = 10
	measure := func(b *testing.B, start func() func()) {
		for range b.N {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var stops []func()
			for range n {
				stops = append(stops, start())
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			for _, s := range stops {
				s()
			}
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n/(1<<20), "MiB/instance")
		}
	}
	b.Run("layer", func(b *testing.B) {
		mod := compiled(b, "myweb")
		measure(b, func() func() {
			inst, addr := startLayerMyweb(b, mod)
			waitServing(b, addr)
			return func() { inst.Kill(); <-inst.Done() }
		})
	})
	b.Run("builtin", func(b *testing.B) {
		rt := builtinRuntime(b)
		mod := compileIn(b, rt, "myweb")
		measure(b, func() func() {
			port := freePort(b)
			stop := startBuiltinMyweb(b, rt, mod, port)
			waitServing(b, "127.0.0.1:"+strconv.Itoa(port))
			return stop
		})
	})
}

// BenchmarkKill measures how long a guest blocked in a call (a sleep, a
// poll on its sockets) or running its own code takes to end after Kill.
func BenchmarkKill(b *testing.B) {
	cases := []struct {
		name string
		cfg  wasi.Config
	}{
		{"stubborn", wasi.Config{Args: []string{"stubborn"}, Env: []string{"INTERVAL=1h"}}},
		{"myweb", wasi.Config{Args: []string{"myweb"}}},
		{"spin", wasi.Config{Args: []string{"spin"}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			mod := compiled(b, c.name)
			var total time.Duration
			for range b.N {
				cfg := c.cfg
				var out syncBuffer
				cfg.Stdout = &out
				if c.name == "myweb" {
					l, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						b.Fatal(err)
					}
					cfg.Listeners = []wasi.Listener{{Name: "http", L: l}}
				}
				inst, err := wasi.Start(context.Background(), testRT, mod, cfg)
				if err != nil {
					b.Fatal(err)
				}
				for out.String() == "" {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(10 * time.Millisecond)
				start := time.Now()
				inst.Kill()
				<-inst.Done()
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/kill")
		})
	}
}

// BenchmarkInstrument rewrites myweb (a Go guest of about 10 MB) with the
// stop checks: the cost Compile adds once per module, beside wazero's
// compilation of it.
func BenchmarkInstrument(b *testing.B) {
	wasm, err := os.ReadFile(examples.MustBuild(b, "myweb"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wasm)))
	for range b.N {
		if _, err := wasi.Instrument(wasm); err != nil {
			b.Fatal(err)
		}
	}
}
