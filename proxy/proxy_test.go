package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Each test run takes a /24 of its own for backends (127.48.R.0/24) and
// cluster IPs (127.49.R.0/24), so that parallel packages do not meet.
var subnet = 1 + rand.IntN(254)

func backendIP(n int) string { return fmt.Sprintf("127.48.%d.%d", subnet, n) }
func serviceIP(n int) string { return fmt.Sprintf("127.49.%d.%d", subnet, n) }

type env struct {
	t     *testing.T
	ctx   context.Context
	clock *clock.Fake
	store *store.Store
	proxy *Proxier
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st, err := store.Open("", store.Options{InMemory: true, Now: clk.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ns, _ := api.LookupResource("namespaces")
	o := ns.New()
	o.GetObjectMeta().Name = "default"
	if _, err := st.Create(ctx, o); err != nil && !api.IsAlreadyExists(err) {
		t.Fatalf("create namespace default: %v", err)
	}
	opts.Clock = clk
	opts.Logger = quiet
	p, err := New(st, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Start(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return &env{t: t, ctx: ctx, clock: clk, store: st, proxy: p}
}

// backend is a TCP server that greets each connection with its name, then
// echoes what it reads and, at the client's end of file, says goodbye.
type backend struct {
	name  string
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns int
}

func (b *backend) port() int32 {
	return int32(b.ln.Addr().(*net.TCPAddr).Port)
}

func (b *backend) ip() string { return b.ln.Addr().(*net.TCPAddr).IP.String() }

func (e *env) create(o api.Object) {
	e.t.Helper()
	if _, err := e.store.Create(e.ctx, o); err != nil {
		e.t.Fatalf("create: %v", err)
	}
}

func (e *env) update(r string, name string, f func(api.Object)) {
	e.t.Helper()
	res, _ := api.LookupResource(r)
	if _, err := e.store.GuaranteedUpdate(e.ctx, res, "default", name, func(o api.Object) (api.Object, error) {
		f(o)
		return o, nil
	}); err != nil {
		e.t.Fatalf("update %s/%s: %v", r, name, err)
	}
}

func (e *env) remove(r, name string) {
	e.t.Helper()
	res, _ := api.LookupResource(r)
	if _, _, err := e.store.Delete(e.ctx, res, "default", name, store.DeleteOptions{}); err != nil {
		e.t.Fatalf("delete %s/%s: %v", r, name, err)
	}
}

func service(name, ip string, ports ...api.ServicePort) *api.Service {
	return &api.Service{
		TypeMeta:   api.TypeMeta{Kind: "Service", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       api.ServiceSpec{ClusterIP: ip, Type: api.ServiceTypeClusterIP, Ports: ports},
	}
}

func port(name string, p int32) api.ServicePort {
	return api.ServicePort{Name: name, Protocol: api.ProtocolTCP, Port: p}
}

func ptr[T any](v T) *T { return &v }

// slice is an EndpointSlice of svc whose port portName is each backend's
// port (they share it), with the given readiness.
func slice(name, svc, portName string, port int32, eps ...api.Endpoint) *api.EndpointSlice {
	return &api.EndpointSlice{
		TypeMeta: api.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default",
			Labels: map[string]string{api.ServiceNameLabel: svc}},
		AddressType: api.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       []api.EndpointSlicePort{{Name: ptr(portName), Protocol: ptr(api.ProtocolTCP), Port: ptr(port)}},
	}
}

func endpoint(ip string, ready bool) api.Endpoint {
	return api.Endpoint{Addresses: []string{ip}, Conditions: api.EndpointConditions{Ready: ptr(ready)}}
}

// sharedPortBackends starts n backends on backendIP(base+i), all on one
// port, as the pods of a Service are.
func sharedPortBackends(t *testing.T, base, n int) []*backend {
	t.Helper()
attempts:
	for range 20 {
		first, err := net.Listen("tcp4", backendIP(base)+":0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		lns := []net.Listener{first}
		for i := 1; i < n; i++ {
			ln, err := net.Listen("tcp4", fmt.Sprintf("%s:%d", backendIP(base+i), first.Addr().(*net.TCPAddr).Port))
			if err != nil {
				for _, l := range lns {
					l.Close()
				}
				continue attempts
			}
			lns = append(lns, ln)
		}
		var bs []*backend
		for i, ln := range lns {
			bs = append(bs, serve(t, fmt.Sprintf("b%d", i), ln))
		}
		return bs
	}
	t.Fatal("no port free on every backend address")
	return nil
}

func serve(t *testing.T, name string, ln net.Listener) *backend {
	t.Helper()
	b := &backend{name: name, addr: ln.Addr().String(), ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns++
			b.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				fmt.Fprintf(c, "%s\n", name)
				_, _ = io.Copy(c, c)
				fmt.Fprintf(c, "bye from %s\n", name)
			}()
		}
	}()
	return b
}

// who connects to addr and returns the greeting: the name of the backend
// that answered, or the error.
func who(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func TestProxyBalancesNewConnectionsOverReadyEndpoints(t *testing.T) {
	e := newEnv(t, Options{})
	bs := sharedPortBackends(t, 1, 3)
	addr := serviceIP(1) + ":80"
	e.create(service("web", serviceIP(1), port("http", 80)))
	e.create(slice("web-1", "web", "http", bs[0].port(),
		endpoint(bs[0].ip(), true), endpoint(bs[1].ip(), false), endpoint(bs[2].ip(), true)))
	eventually(t, "the service to answer", func() bool { _, err := who(addr); return err == nil })

	got := map[string]int{}
	for range 10 {
		name, err := who(addr)
		if err != nil {
			t.Fatalf("connection through the service: %v", err)
		}
		got[name]++
	}
	if got["b0"] != 5 || got["b2"] != 5 || got["b1"] != 0 {
		t.Fatalf("10 connections went to %v; want 5 to each ready endpoint (b0, b2), none to the unready b1", got)
	}

	// b1 becomes ready: new connections reach it at once.
	e.update("endpointslices.discovery.k8s.io", "web-1", func(o api.Object) {
		o.(*api.EndpointSlice).Endpoints[1].Conditions.Ready = ptr(true)
	})
	eventually(t, "b1 to get connections", func() bool { n, _ := who(addr); return n == "b1" })
	got = map[string]int{}
	for range 9 {
		name, _ := who(addr)
		got[name]++
	}
	if got["b0"] != 3 || got["b1"] != 3 || got["b2"] != 3 {
		t.Fatalf("9 connections went to %v; want 3 to each", got)
	}
}

func TestProxyRefusesWithoutReadyEndpoints(t *testing.T) {
	e := newEnv(t, Options{})
	bs := sharedPortBackends(t, 11, 1)
	addr := serviceIP(2) + ":8080"
	e.create(service("web", serviceIP(2), port("", 8080)))
	// No EndpointSlice: refused, as kube-proxy's reject rule does.
	time.Sleep(50 * time.Millisecond)
	if _, err := who(addr); !refused(err) {
		t.Fatalf("a service without endpoints: got %v, want connection refused", err)
	}
	e.create(slice("web-1", "web", "", bs[0].port(), endpoint(bs[0].ip(), false)))
	time.Sleep(50 * time.Millisecond)
	if _, err := who(addr); !refused(err) {
		t.Fatalf("a service whose only endpoint is not ready: got %v, want connection refused", err)
	}
	e.update("endpointslices.discovery.k8s.io", "web-1", func(o api.Object) {
		o.(*api.EndpointSlice).Endpoints[0].Conditions.Ready = ptr(true)
	})
	eventually(t, "the ready endpoint to answer", func() bool { n, _ := who(addr); return n == "b0" })
	e.remove("endpointslices.discovery.k8s.io", "web-1")
	eventually(t, "the service to refuse again", func() bool { _, err := who(addr); return refused(err) })
}

func TestProxyUsesServingTerminatingEndpointsWhenNoneIsReady(t *testing.T) {
	e := newEnv(t, Options{})
	bs := sharedPortBackends(t, 21, 2)
	addr := serviceIP(3) + ":80"
	e.create(service("web", serviceIP(3), port("http", 80)))
	term := api.Endpoint{Addresses: []string{bs[0].ip()}, Conditions: api.EndpointConditions{
		Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}}
	e.create(slice("web-1", "web", "http", bs[0].port(), term, endpoint(bs[1].ip(), true)))
	eventually(t, "the ready endpoint", func() bool { n, _ := who(addr); return n == "b1" })
	for range 4 {
		if n, _ := who(addr); n != "b1" {
			t.Fatalf("got %q; want only the ready b1 while it is ready", n)
		}
	}
	e.update("endpointslices.discovery.k8s.io", "web-1", func(o api.Object) {
		o.(*api.EndpointSlice).Endpoints[1].Conditions.Ready = ptr(false)
	})
	eventually(t, "the terminating endpoint that still serves", func() bool { n, _ := who(addr); return n == "b0" })
}

func TestProxyKeepsEstablishedConnectionsWhenTheirEndpointLeaves(t *testing.T) {
	e := newEnv(t, Options{})
	bs := sharedPortBackends(t, 31, 1)
	addr := serviceIP(4) + ":80"
	e.create(service("web", serviceIP(4), port("http", 80)))
	e.create(slice("web-1", "web", "http", bs[0].port(), endpoint(bs[0].ip(), true)))
	eventually(t, "the service", func() bool { _, err := who(addr); return err == nil })

	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if line, _ := r.ReadString('\n'); line != "b0\n" {
		t.Fatalf("greeting %q", line)
	}
	e.remove("endpointslices.discovery.k8s.io", "web-1")
	eventually(t, "new connections to be refused", func() bool { _, err := who(addr); return refused(err) })
	fmt.Fprintf(c, "still here\n")
	if line, err := r.ReadString('\n'); line != "still here\n" {
		t.Fatalf("the established connection after its endpoint left: %q, %v", line, err)
	}
}

func TestProxyPassesHalfClose(t *testing.T) {
	e := newEnv(t, Options{})
	bs := sharedPortBackends(t, 41, 1)
	addr := serviceIP(5) + ":80"
	e.create(service("web", serviceIP(5), port("http", 80)))
	e.create(slice("web-1", "web", "http", bs[0].port(), endpoint(bs[0].ip(), true)))
	eventually(t, "the service", func() bool { _, err := who(addr); return err == nil })

	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	big := strings.Repeat("x", 3*bufSize+17)
	go func() {
		fmt.Fprint(c, big)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read to the end: %v", err)
	}
	if want := "b0\n" + big + "bye from b0\n"; string(all) != want {
		t.Fatalf("got %d bytes ending %q; want the echo and the goodbye the backend sends after our half-close (%d bytes)", len(all), all[max(0, len(all)-20):], len(want))
	}
}

func TestProxyClientIPAffinity(t *testing.T) {
	e := newEnv(t, Options{})
	bs := sharedPortBackends(t, 51, 3)
	addr := serviceIP(6) + ":80"
	svc := service("web", serviceIP(6), port("http", 80))
	svc.Spec.SessionAffinity = api.ServiceAffinityClientIP
	svc.Spec.SessionAffinityConfig = &api.SessionAffinityConfig{ClientIP: &api.ClientIPConfig{TimeoutSeconds: ptr(int32(60))}}
	e.create(svc)
	e.create(slice("web-1", "web", "http", bs[0].port(),
		endpoint(bs[0].ip(), true), endpoint(bs[1].ip(), true), endpoint(bs[2].ip(), true)))
	eventually(t, "the service", func() bool { _, err := who(addr); return err == nil })

	first, _ := who(addr)
	for i := range 5 {
		e.clock.Advance(59 * time.Second) // each within the timeout of the last
		if n, _ := who(addr); n != first {
			t.Fatalf("connection %d went to %s; want the client's endpoint %s", i, n, first)
		}
	}
	e.clock.Advance(61 * time.Second)
	next, _ := who(addr)
	if next == first {
		t.Fatalf("after the timeout the client went to %s again; want the next endpoint", next)
	}
	// The client's endpoint leaves: it goes elsewhere at once.
	e.update("endpointslices.discovery.k8s.io", "web-1", func(o api.Object) {
		for i, ep := range o.(*api.EndpointSlice).Endpoints {
			if "b"+fmt.Sprint(i) == next {
				o.(*api.EndpointSlice).Endpoints[i].Conditions.Ready = ptr(false)
			}
			_ = ep
		}
	})
	eventually(t, "the client to move", func() bool { n, _ := who(addr); return n != next && n != "" })
	moved, _ := who(addr)
	for range 3 {
		if n, _ := who(addr); n != moved {
			t.Fatalf("after moving the client went to %s, then %s", moved, n)
		}
	}
}

func TestProxyTriesAnotherEndpointWhenOneRefuses(t *testing.T) {
	e := newEnv(t, Options{})
	bs := sharedPortBackends(t, 61, 2)
	addr := serviceIP(7) + ":80"
	e.create(service("web", serviceIP(7), port("http", 80)))
	bs[0].ln.Close() // listed ready, but gone: the window before its slice says so
	e.create(slice("web-1", "web", "http", bs[1].port(), endpoint(bs[0].ip(), true), endpoint(bs[1].ip(), true)))
	eventually(t, "the service", func() bool { _, err := who(addr); return err == nil })
	for i := range 6 {
		if n, err := who(addr); n != "b1" {
			t.Fatalf("connection %d: %q, %v; want every one at b1", i, n, err)
		}
	}
}

func TestProxyHeadlessAndForeignClusterIPsGetNoListener(t *testing.T) {
	e := newEnv(t, Options{})
	e.create(service("headless", api.ClusterIPNone, port("http", 80)))
	e.create(service("foreign", "10.96.0.10", port("http", 80)))
	e.create(service("open", "0.0.0.0", port("http", 80)))
	e.create(service("udp", serviceIP(8), api.ServicePort{Name: "dns", Protocol: api.ProtocolUDP, Port: 53}))
	for _, n := range []string{"headless", "foreign", "open", "udp"} {
		e.create(slice(n+"-1", n, "http", 80, endpoint(backendIP(70), true)))
	}
	e.create(service("web", serviceIP(9), port("http", 80)))
	e.create(slice("web-1", "web", "http", 80, endpoint(backendIP(70), true)))
	eventually(t, "web's listener", func() bool { return len(e.proxy.Addresses()) > 0 })
	time.Sleep(50 * time.Millisecond)
	if got, want := e.proxy.Addresses(), []string{serviceIP(9) + ":80"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listening on %v; want only %v", got, want)
	}
	// The cluster IPs the node cannot serve are told on their Service.
	eventually(t, "the events", func() bool {
		return hasEvent(e, "foreign", "not a loopback IPv4 address") && hasEvent(e, "open", "not a loopback IPv4 address")
	})
}

func hasEvent(e *env, svc, text string) bool {
	r, _ := api.LookupResource("events")
	objs, _, err := e.store.List(e.ctx, r, "default", store.ListOptions{})
	if err != nil {
		return false
	}
	for _, o := range objs {
		ev := o.(*api.Event)
		if ev.InvolvedObject.Kind == "Service" && ev.InvolvedObject.Name == svc && ev.Type == "Warning" &&
			ev.Reason == ReasonFailedToListen && strings.Contains(ev.Message, text) {
			return true
		}
	}
	return false
}

func TestProxyPortInUseIsAnEventAndRetried(t *testing.T) {
	e := newEnv(t, Options{SyncPeriod: time.Minute})
	bs := sharedPortBackends(t, 81, 1)
	taken, err := net.Listen("tcp4", serviceIP(10)+":80")
	if err != nil {
		t.Fatal(err)
	}
	e.create(service("web", serviceIP(10), port("http", 80)))
	e.create(slice("web-1", "web", "http", bs[0].port(), endpoint(bs[0].ip(), true)))
	e.create(service("other", serviceIP(11), port("http", 80)))
	e.create(slice("other-1", "other", "http", bs[0].port(), endpoint(bs[0].ip(), true)))
	eventually(t, "the event", func() bool { return hasEvent(e, "web", "address already in use") })
	eventually(t, "the other service to be served", func() bool { n, _ := who(serviceIP(11) + ":80"); return n == "b0" })
	taken.Close()
	e.clock.Advance(time.Minute) // the next sync
	eventually(t, "the listener to be opened at the next sync", func() bool { n, _ := who(serviceIP(10) + ":80"); return n == "b0" })
}

func TestProxyNodePort(t *testing.T) {
	npAddr := serviceIP(200)
	e := newEnv(t, Options{NodePortAddresses: []string{npAddr}})
	bs := sharedPortBackends(t, 91, 2)
	free, err := net.Listen("tcp4", npAddr+":0")
	if err != nil {
		t.Fatal(err)
	}
	nodePort := int32(free.Addr().(*net.TCPAddr).Port)
	free.Close()
	svc := service("web", serviceIP(12), port("http", 80))
	svc.Spec.Type = api.ServiceTypeNodePort
	svc.Spec.Ports[0].NodePort = nodePort
	e.create(svc)
	e.create(slice("web-1", "web", "http", bs[0].port(), endpoint(bs[0].ip(), true), endpoint(bs[1].ip(), true)))
	np := fmt.Sprintf("%s:%d", npAddr, nodePort)
	eventually(t, "the node port", func() bool { _, err := who(np); return err == nil })
	// The cluster IP and the node port take turns over one set of
	// endpoints, as one service's rules do.
	a, _ := who(np)
	b, _ := who(serviceIP(12) + ":80")
	if a == b || a == "" || b == "" {
		t.Fatalf("node port then cluster IP answered %q and %q; want one round-robin over both", a, b)
	}
	// Back to ClusterIP: the node port closes.
	e.update("services", "web", func(o api.Object) { o.(*api.Service).Spec.Type = api.ServiceTypeClusterIP })
	eventually(t, "the node port to close", func() bool { _, err := who(np); return refused(err) })
}

func TestProxyBoundsConnectionsAndIdleTime(t *testing.T) {
	e := newEnv(t, Options{MaxConnections: 1, IdleTimeout: 300 * time.Millisecond})
	bs := sharedPortBackends(t, 101, 1)
	addr := serviceIP(13) + ":80"
	e.create(service("web", serviceIP(13), port("http", 80)))
	e.create(slice("web-1", "web", "http", bs[0].port(), endpoint(bs[0].ip(), true)))
	eventually(t, "the service", func() bool { _, err := who(addr); return err == nil })

	// The connection of who() frees its place a moment after it closed.
	var c net.Conn
	var r *bufio.Reader
	eventually(t, "a connection to be served", func() bool {
		var err error
		if c, err = net.Dial("tcp4", addr); err != nil {
			return false
		}
		r = bufio.NewReader(c)
		if line, _ := r.ReadString('\n'); line != "b0\n" {
			c.Close()
			return false
		}
		return true
	})
	defer c.Close()
	// The one connection allowed is taken: the next is reset.
	if _, err := who(addr); err == nil {
		t.Fatal("a second connection over MaxConnections 1 was served")
	}
	// Idle past IdleTimeout: the proxy ends it, and frees its place.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("an idle connection was not ended")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the idle connection ended after %s; want about 300ms", d)
	}
	eventually(t, "a new connection to be served", func() bool { _, err := who(addr); return err == nil })
}

func TestProxyCloseEndsConnections(t *testing.T) {
	e := newEnv(t, Options{})
	bs := sharedPortBackends(t, 111, 1)
	addr := serviceIP(14) + ":80"
	e.create(service("web", serviceIP(14), port("http", 80)))
	e.create(slice("web-1", "web", "http", bs[0].port(), endpoint(bs[0].ip(), true)))
	eventually(t, "the service", func() bool { _, err := who(addr); return err == nil })
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	_, _ = r.ReadString('\n')
	if err := e.proxy.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a proxied connection outlived Close")
	}
	if _, err := who(addr); !refused(err) {
		t.Fatalf("after Close: %v; want refused", err)
	}
}

// TestProxyStartLeavesNoGoroutine: when Start's context ends, the
// informers, the reaper, the accept loops and the connections' copies all
// end with it.
func TestProxyStartLeavesNoGoroutine(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st, err := store.Open("", store.Options{InMemory: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ns, _ := api.LookupResource("namespaces")
	o := ns.New()
	o.GetObjectMeta().Name = "default"
	if _, err := st.Create(context.Background(), o); err != nil && !api.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	bs := sharedPortBackends(t, 121, 1)
	before := runtime.NumGoroutine()
	p, err := New(st, Options{Clock: clk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Start(ctx) }()
	e := &env{t: t, ctx: context.Background(), clock: clk, store: st, proxy: p}
	e.create(service("web", serviceIP(15), port("http", 80)))
	e.create(slice("web-1", "web", "http", bs[0].port(), endpoint(bs[0].ip(), true)))
	addr := serviceIP(15) + ":80"
	eventually(t, "the service", func() bool { _, err := who(addr); return err == nil })
	c, err := net.Dial("tcp4", addr) // held open across the stop
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = bufio.NewReader(c).ReadString('\n')
	cancel()
	<-done
	eventually(t, "the proxy's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}
