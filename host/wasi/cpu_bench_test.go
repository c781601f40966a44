package wasi_test

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/host/wasi"
)

var (
	benchBusyGuests = flag.Int("wasi.bench.busy", 10, "spinning guests of BenchmarkBusyGuests")
	benchBusyWindow = flag.Duration("wasi.bench.busy.window", 3*time.Second, "how long BenchmarkBusyGuests sends requests in each case")
)

// BenchmarkBusyGuests measures what spinning guests do to the node's own
// goroutines and to other guests: an HTTP server in the process (a list of
// 100 objects in JSON, as the API serves a list of pods), and a myweb
// guest, answer requests, one at a time on a kept-alive connection, while
// -wasi.bench.busy guests spin in a loop of their own code. It reports the
// requests' median and 99th percentile, to the API (ms-) and to the guest
// (guest-ms-):
//
//   - none: no guest (the floor);
//   - unbounded: the guests with neither a CPU limit nor run slots, as
//     before either existed;
//   - limit-100m: each guest limited to 100m, no slots;
//   - slots: the node's run slots (GOMAXPROCS-1), no limit;
//   - slots+limit-1: slots and the node's default limit, 1 CPU, which
//     throttles nothing.
func BenchmarkBusyGuests(b *testing.B) {
	if raceEnabled {
		b.Skip("spinning guests need the stop checks of wazero's compiler")
	}
	rt := testRT
	ctx := context.Background()
	web := compiled(b, "myweb")
	mod, err := wasi.Compile(ctx, rt, wasmModule(voidType, oneFunc, exportRun, spinCode))
	if err != nil {
		b.Fatal(err)
	}
	defer mod.Close(ctx)

	type item struct {
		Name, Namespace, UID string
		Labels               map[string]string
		Phase                string
		RestartCount         int
	}
	list := make([]item, 100)
	for k := range list {
		list[k] = item{Name: "pod-" + strconv.Itoa(k), Namespace: "default", UID: strconv.Itoa(k * 7919),
			Labels: map[string]string{"app": "web", "tier": "front"}, Phase: "Running"}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	})}
	go srv.Serve(l)
	defer srv.Close()
	url := "http://" + l.Addr().String() + "/"

	cases := []struct {
		name   string
		guests int
		cfg    func() wasi.Config
	}{
		{"none", 0, nil},
		{"unbounded", *benchBusyGuests, func() wasi.Config { return wasi.Config{} }},
		{"limit-100m", *benchBusyGuests, func() wasi.Config { return wasi.Config{CPUMilli: 100} }},
		{"slots", *benchBusyGuests, nil},
		{"slots+limit-1", *benchBusyGuests, nil},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			slots := wasi.NewRunSlots(runtime.GOMAXPROCS(0) - 1)
			for range c.guests {
				cfg := wasi.Config{RunSlots: slots}
				switch {
				case c.cfg != nil:
					cfg = c.cfg()
				case c.name == "slots+limit-1":
					cfg.CPUMilli = 1000
				}
				inst, err := wasi.Start(ctx, rt, mod, cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer func() { inst.Kill(); <-inst.Done() }()
			}
			wl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			webCfg := wasi.Config{Args: []string{"myweb"}, Env: []string{"HOSTNAME=web"}, Stdout: io.Discard,
				Listeners: []wasi.Listener{{Name: "http", L: wl}}, RunSlots: slots}
			if c.cfg != nil || c.name == "none" {
				webCfg.RunSlots = nil
			}
			webInst, err := wasi.Start(ctx, rt, web, webCfg)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { webInst.Kill(); <-webInst.Done() }()
			webURL := "http://" + wl.Addr().String() + "/"
			waitServing(b, wl.Addr().String())
			time.Sleep(100 * time.Millisecond)
			client := &http.Client{}
			defer client.CloseIdleConnections()
			get := func(url string) time.Duration {
				start := time.Now()
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return time.Since(start)
			}
			var lat, webLat []time.Duration
			b.ResetTimer()
			for range b.N {
				for end := time.Now().Add(*benchBusyWindow); time.Now().Before(end); {
					lat = append(lat, get(url))
					webLat = append(webLat, get(webURL))
				}
			}
			b.StopTimer()
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			slices.Sort(lat)
			slices.Sort(webLat)
			b.ReportMetric(ms(lat[len(lat)/2]), "ms-median")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "ms-p99")
			b.ReportMetric(ms(webLat[len(webLat)/2]), "guest-ms-median")
			b.ReportMetric(ms(webLat[len(webLat)*99/100]), "guest-ms-p99")
			b.ReportMetric(float64(len(lat)), "requests")
		})
	}
}
