package wasmlet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// BenchmarkServiceProxy sends HTTP requests to three myweb pods directly
// at their pod IPs and through a Service's cluster IP (the node's service
// proxy), the two in alternating rounds of 50 requests, and reports each
// one's requests per second and latency, and the latency the proxy adds:
//
//	go test -run '^$' -bench BenchmarkServiceProxy -benchtime 2000x .
//
// keepalive: one client, one kept-alive connection (through the Service, to
// one pod); newconn: one client, a new connection per request, taking the
// pods in turn (directly: the client turns; through the Service: the
// proxy); parallel: 8 clients at once, a new connection per request.
func BenchmarkServiceProxy(b *testing.B) {
	node := benchStartNode(b)
	tr := benchTrack(b, node)
	image := benchImage(b, "myweb")
	benchCreatePods(b, node, "myweb", image, 3)
	tr.wait(b, "up", benchAllUp(3))
	ctx := context.Background()
	pods, err := List[*api.Pod](ctx, node, "default", ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var direct []string
	var eps []api.Endpoint
	for _, p := range pods {
		direct = append(direct, "http://"+p.Status.PodIP+":8080/")
		eps = append(eps, api.Endpoint{Addresses: []string{p.Status.PodIP}, Conditions: api.EndpointConditions{Ready: benchPtr(true)}})
	}
	slices.Sort(direct)
	// A Service without a selector and its EndpointSlice written by hand,
	// as a user writes them for endpoints of their own: the benchmark
	// measures the proxy, not the endpoints controller.
	clusterIP := "127.43.250.10"
	if _, err := Create(ctx, node, &api.Service{
		ObjectMeta: api.ObjectMeta{Name: "myweb", Namespace: "default"},
		Spec: api.ServiceSpec{ClusterIP: clusterIP, Type: api.ServiceTypeClusterIP,
			Ports: []api.ServicePort{{Name: "http", Protocol: api.ProtocolTCP, Port: 80, TargetPort: api.FromInt32(8080)}}},
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := Create(ctx, node, &api.EndpointSlice{
		ObjectMeta:  api.ObjectMeta{Name: "myweb-1", Namespace: "default", Labels: map[string]string{api.ServiceNameLabel: "myweb"}},
		AddressType: api.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       []api.EndpointSlicePort{{Name: benchPtr("http"), Protocol: benchPtr(api.ProtocolTCP), Port: benchPtr(int32(8080))}},
	}); err != nil {
		b.Fatal(err)
	}
	service := []string{"http://" + clusterIP + ":80/"}
	deadline := time.Now().Add(benchWaitTimeout)
	for {
		resp, err := http.Get(service[0])
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the service does not answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	for _, mode := range []string{"keepalive", "newconn", "parallel"} {
		b.Run(mode, func(b *testing.B) {
			d := direct
			if mode == "keepalive" {
				d = d[:1]
			}
			benchCompare(b, d, service, mode != "keepalive", map[bool]int{true: 8, false: 1}[mode == "parallel"])
		})
	}
}

func benchPtr[T any](v T) *T { return &v }

// benchRound is how many requests go to one target before the other's
// turn: the two targets alternate in rounds, so that the load of a shared
// machine falls on both alike.
const benchRound = 50

// benchCompare sends b.N GETs to the direct URLs and b.N to the service's,
// in alternating rounds, from clients goroutines taking the URLs in turn,
// and reports each target's requests/s and p50 and p99 latency, and the
// latency the service adds at the p50 and on average.
func benchCompare(b *testing.B, direct, service []string, newConn bool, clients int) {
	type result struct {
		lat     []time.Duration
		elapsed time.Duration
	}
	var res [2]result
	targets := [2][]string{direct, service}
	transport := &http.Transport{DisableKeepAlives: newConn, MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	for _, t := range targets { // warm the connections and the handlers
		for _, u := range t {
			benchGet(b, client, u)
		}
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += benchRound {
		n := min(benchRound, b.N-done)
		for ti, urls := range targets {
			lat := make([]time.Duration, n)
			var next atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1) - 1)
						if i >= n {
							return
						}
						t := time.Now()
						benchGet(b, client, urls[(done+i)%len(urls)])
						lat[i] = time.Since(t)
					}
				}()
			}
			wg.Wait()
			res[ti].elapsed += time.Since(start)
			res[ti].lat = append(res[ti].lat, lat...)
		}
	}
	b.StopTimer()
	var p50, mean [2]time.Duration
	for ti, name := range []string{"direct", "service"} {
		lat := res[ti].lat
		slices.Sort(lat)
		var sum time.Duration
		for _, l := range lat {
			sum += l
		}
		p50[ti], mean[ti] = lat[len(lat)/2], sum/time.Duration(len(lat))
		b.ReportMetric(float64(len(lat))/res[ti].elapsed.Seconds(), name+"-req/s")
		b.ReportMetric(benchMs(p50[ti]), name+"-p50-ms")
		b.ReportMetric(benchMs(lat[len(lat)*99/100]), name+"-p99-ms")
	}
	b.ReportMetric(100*(float64(p50[1])/float64(p50[0])-1), "added-p50-%")
	b.ReportMetric(100*(float64(mean[1])/float64(mean[0])-1), "added-mean-%")
}

func benchGet(b *testing.B, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Error(fmt.Errorf("GET %s: %s", url, resp.Status))
	}
}
