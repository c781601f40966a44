package apiserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/apiserver"
	"github.com/wasmlet/wasmlet/client"
)

// The attacks of a local process on the API: connections that hold the
// server without a request, without the token, or with a body sent
// slowly; too many requests or watches at once. Each test starts a server
// with short limits and counts the connections it holds.

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dialMany opens n TCP connections to the server and sends nothing.
func dialMany(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	return conns
}

// dialTLS opens a TLS connection that speaks HTTP/1.1.
func dialTLS(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closed c within d: a read
// ends with EOF or a reset, not a timeout.
func closedByServer(c net.Conn, br *bufio.Reader, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := br.ReadByte()
	if err == nil {
		return false
	}
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// validRequest is a list of pods with the token; it must succeed while
// the server is under attack.
func validRequest(t *testing.T, n *node) {
	t.Helper()
	start := time.Now()
	resp, body := n.raw(t, "GET", "/api/v1/namespaces/default/pods", "", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a valid request: %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a valid request took %v", d)
	}
}

// TestSilentConnectionsAreClosed: connections that never send a request,
// or send half of one, are closed by the server at ReadHeaderTimeout, and
// a valid request is served while they are open.
func TestSilentConnectionsAreClosed(t *testing.T) {
	n := startNodeWith(t, apiserver.Options{Limits: apiserver.Limits{
		MaxConnections: 4096, ReadHeaderTimeout: time.Second, IdleTimeout: time.Minute}})
	addr := n.srv.Addr()
	silent := dialMany(t, addr, 1000)
	half := dialTLS(t, addr)
	if _, err := half.Write([]byte("GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	validRequest(t, n)
	n.http.CloseIdleConnections()
	waitFor(t, 20*time.Second, "the server closes the silent connections", func() bool { return n.srv.OpenConnections() == 0 })
	open := 0
	for _, c := range append(silent, half) {
		if !closedByServer(c, bufio.NewReader(c), 100*time.Millisecond) {
			open++
		}
	}
	if open > 0 {
		t.Errorf("%d of the silent connections are still open", open)
	}
}

// TestUnauthenticatedConnectionsAreClosed: a connection that got a 401 is
// closed by the server at once, long before any timeout: 1,000 clients
// without the token hold nothing.
func TestUnauthenticatedConnectionsAreClosed(t *testing.T) {
	n := startNodeWith(t, apiserver.Options{Limits: apiserver.Limits{
		MaxConnections: 4096, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}})
	addr := n.srv.Addr()
	const clients = 1000
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	conns := make(chan net.Conn, clients)
	t.Cleanup(func() {
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	work := make(chan struct{}, clients)
	for range clients {
		work <- struct{}{}
	}
	close(work)
	// Sessions are resumed: the test is of the server's connections, not
	// of its handshakes.
	cfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}, ClientSessionCache: tls.NewLRUClientSessionCache(1)}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				c, err := tls.Dial("tcp", addr, cfg)
				if err != nil {
					errs <- err
					continue
				}
				conns <- c
				// Keep-alive asked for, with a wrong token and a body the
				// server does not read.
				fmt.Fprintf(c, "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					errs <- err
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	validRequest(t, n)
	n.http.CloseIdleConnections()
	waitFor(t, 10*time.Second, "the server closes the connections that got a 401", func() bool { return n.srv.OpenConnections() == 0 })
}

// TestIdleConnectionsAreClosed: a keep-alive connection that carries no
// request is closed at IdleTimeout.
func TestIdleConnectionsAreClosed(t *testing.T) {
	n := startNodeWith(t, apiserver.Options{Limits: apiserver.Limits{IdleTimeout: 500 * time.Millisecond}})
	c := dialTLS(t, n.srv.Addr())
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", n.srv.Token())
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("status %d, close %v", resp.StatusCode, resp.Close)
	}
	if !closedByServer(c, br, 5*time.Second) {
		t.Fatal("an idle connection is still open after the idle timeout")
	}
}

// TestSlowBody: a client that sends its body slowly is cut off at
// RequestTimeout, and the handler's slot is free again; a watch on a
// connection of its own lasts past that timeout.
func TestSlowBody(t *testing.T) {
	n := startNodeWith(t, apiserver.Options{Limits: apiserver.Limits{RequestTimeout: 500 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := n.cl.Watch(ctx, res(t, "pods"), "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}

	c := dialTLS(t, n.srv.Addr())
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"metadata\":", n.srv.Token())
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d, want 408", resp.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cut off after %v", d)
	}
	if !closedByServer(c, br, 5*time.Second) {
		t.Error("the connection of a slow body is still open")
	}
	if _, m, _ := n.srv.RequestsInFlight(); m != 0 {
		t.Errorf("%d mutating requests still in flight", m)
	}

	// The watch outlived several request timeouts.
	time.Sleep(time.Second)
	if _, err := n.cl.Create(ctx, newPod("after", nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-events:
		if !ok || ev.Object.GetObjectMeta().Name != "after" {
			t.Fatalf("watch event %+v %v", ev, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch was cut by the request timeout")
	}
}

// TestConnectionCap: over MaxConnections, a new connection closes the
// oldest one that carries no request, so that connections that hold
// nothing cannot keep a valid client out.
func TestConnectionCap(t *testing.T) {
	n := startNodeWith(t, apiserver.Options{Limits: apiserver.Limits{
		MaxConnections: 50, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}})
	dialMany(t, n.srv.Addr(), 200)
	waitFor(t, 10*time.Second, "the server accepts up to its cap", func() bool { return n.srv.OpenConnections() == 50 })
	validRequest(t, n)
	if o := n.srv.OpenConnections(); o > 50 {
		t.Errorf("%d connections open, cap 50", o)
	}
}

// slowPost starts a write whose body never ends, and returns once the
// server counts it in flight.
func slowPost(t *testing.T, n *node) net.Conn {
	t.Helper()
	c := dialTLS(t, n.srv.Addr())
	fmt.Fprintf(c, "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", n.srv.Token())
	return c
}

// TestRequestsInFlight: over MaxMutatingRequestsInFlight a write is
// answered 429 with Retry-After, reads are still served, and the slots
// come back when the requests end.
func TestRequestsInFlight(t *testing.T) {
	n := startNodeWith(t, apiserver.Options{Limits: apiserver.Limits{
		MaxMutatingRequestsInFlight: 2, RequestTimeout: 4 * time.Second}})
	slowPost(t, n)
	slowPost(t, n)
	waitFor(t, 5*time.Second, "two writes in flight", func() bool { _, m, _ := n.srv.RequestsInFlight(); return m == 2 })
	pod := `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"a.wasm"}]}}`
	resp, body := n.raw(t, "POST", "/api/v1/namespaces/default/pods", "application/json", pod, nil)
	var st api.Status
	_ = json.Unmarshal(body, &st)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || st.Reason != "TooManyRequests" {
		t.Fatalf("a write over the limit: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	validRequest(t, n)
	waitFor(t, 20*time.Second, "the slow writes end", func() bool { _, m, _ := n.srv.RequestsInFlight(); return m == 0 })
	if resp, body := n.raw(t, "POST", "/api/v1/namespaces/default/pods", "application/json", pod, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("a write once the slots are free: %d %s", resp.StatusCode, body)
	}
}

// TestWatchCap: over MaxLongRunning a watch is answered 429, and the
// other requests are still served.
func TestWatchCap(t *testing.T) {
	n := startNodeWith(t, apiserver.Options{Limits: apiserver.Limits{MaxLongRunning: 2}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", n.srv.URL()+"/api/v1/pods?watch=true", nil)
		req.Header.Set("Authorization", "Bearer "+n.srv.Token())
		resp, err := n.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for range 2 {
		if resp := watch(); resp.StatusCode != http.StatusOK {
			t.Fatalf("watch: %d", resp.StatusCode)
		}
	}
	if resp := watch(); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a third watch: %d", resp.StatusCode)
	}
	validRequest(t, n)
}

// recorder keeps the level and message of every log record.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) find(pred func(slog.Record) bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		if pred(rec) {
			out = append(out, rec.Level.String()+" "+rec.Message)
		}
	}
	return out
}

// TestAbortedUpload: a client that goes away in the middle of its body is
// the client's error: logged at debug level, and never as a failure of
// the server.
func TestAbortedUpload(t *testing.T) {
	rec := &recorder{}
	n := startNodeWith(t, apiserver.Options{Logger: slog.New(rec)})
	c := slowPost(t, n)
	waitFor(t, 5*time.Second, "the write in flight", func() bool { _, m, _ := n.srv.RequestsInFlight(); return m == 1 })
	c.Close()
	waitFor(t, 5*time.Second, "the aborted upload is logged", func() bool {
		return len(rec.find(func(r slog.Record) bool { return strings.Contains(r.Message, "request body") })) > 0
	})
	waitFor(t, 5*time.Second, "the request ends", func() bool { _, m, _ := n.srv.RequestsInFlight(); return m == 0 })
	if bad := rec.find(func(r slog.Record) bool { return r.Level >= slog.LevelWarn }); len(bad) > 0 {
		t.Errorf("an aborted upload is logged as a server error: %q", bad)
	}
	if got := rec.find(func(r slog.Record) bool { return strings.Contains(r.Message, "request body") }); !strings.HasPrefix(got[0], "DEBUG") {
		t.Errorf("logged as %q", got[0])
	}
}

// TestDeclaredBodyTooLarge: a Content-Length over the limit is refused
// before any of the body is read.
func TestDeclaredBodyTooLarge(t *testing.T) {
	n := startNode(t, nil)
	c := dialTLS(t, n.srv.Addr())
	fmt.Fprintf(c, "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", n.srv.Token(), 100<<20)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	var st api.Status
	if resp.StatusCode != http.StatusRequestEntityTooLarge || json.Unmarshal(body, &st) != nil ||
		st.Reason != api.StatusReasonRequestEntityTooLarge || st.Message != "Request entity too large: limit is 3145728" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// TestHostileObjects: finding 8 over HTTP. A pod of 10,000 containers is
// refused, and so is the JSON patch that doubles a list 24 times, in a
// moment.
func TestHostileObjects(t *testing.T) {
	n := startNode(t, nil)
	var b strings.Builder
	b.WriteString(`{"metadata":{"name":"many"},"spec":{"containers":[`)
	for i := range 10000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":"c%d","image":"a.wasm"}`, i)
	}
	b.WriteString("]}}")
	resp, body := n.raw(t, "POST", "/api/v1/namespaces/default/pods", "application/json", b.String(), nil)
	var st api.Status
	_ = json.Unmarshal(body, &st)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(st.Message, "spec.containers: Too many: 10000: must have at most 100 items") {
		t.Errorf("a pod of 10,000 containers: %d %.300s", resp.StatusCode, body)
	}
	if len(body) > 4096 {
		t.Errorf("the refusal is %d bytes", len(body))
	}

	if _, err := n.cl.Create(context.Background(), newPod("web", nil)); err != nil {
		t.Fatal(err)
	}
	var p strings.Builder
	p.WriteString(`[{"op":"add","path":"/spec/containers/0/args","value":["` + strings.Repeat("a", 200) + `"]}`)
	for range 24 {
		p.WriteString(`,{"op":"copy","from":"/spec/containers/0/args","path":"/spec/containers/0/args/-"}`)
	}
	p.WriteString("]")
	start := time.Now()
	resp, body = n.raw(t, "PATCH", "/api/v1/namespaces/default/pods/web", "application/json-patch+json", p.String(), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("the doubling patch: %d %.300s", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the doubling patch was refused after %v", d)
	}
}

// TestUnknownFieldSelector: finding 9. A field selector with a typo is
// 400 with Kubernetes' message for lists, watches and deletions of
// collections, of every kind, and deletes nothing.
func TestUnknownFieldSelector(t *testing.T) {
	n := startNode(t, nil)
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		if _, err := n.cl.Create(ctx, newPod(name, nil)); err != nil {
			t.Fatal(err)
		}
	}
	sel := "fieldSelector=status.phse%21%3DRunning"
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/v1/namespaces/default/pods?" + sel},
		{"GET", "/api/v1/pods?" + sel},
		{"GET", "/api/v1/namespaces/default/pods?watch=true&" + sel},
		{"GET", "/api/v1/watch/namespaces/default/pods?" + sel},
		{"DELETE", "/api/v1/namespaces/default/pods?" + sel},
	} {
		resp, body := n.raw(t, tc.method, tc.path, "", "", nil)
		var st api.Status
		_ = json.Unmarshal(body, &st)
		if resp.StatusCode != http.StatusBadRequest || st.Reason != api.StatusReasonBadRequest || st.Message != "field label not supported: status.phse" {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, body)
		}
	}
	objs, err := n.cl.List(ctx, res(t, "pods"), "default", client.ListOptions{})
	if err != nil || len(objs) != 3 {
		t.Fatalf("%d pods left, %v", len(objs), err)
	}
	for _, ri := range api.Resources() {
		path := "/api/v1/" + ri.Resource
		if ri.Group != "" {
			path = "/apis/" + ri.Group + "/" + ri.Version + "/" + ri.Resource
		}
		if resp, body := n.raw(t, "GET", path+"?fieldSelector=nope%3D1", "", "", nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
		if resp, body := n.raw(t, "GET", path+"?fieldSelector=metadata.name%3Dx", "", "", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

// TestUnauthenticatedHTTP2: an HTTP/2 connection whose request got a 401
// is shut down too.
func TestUnauthenticatedHTTP2(t *testing.T) {
	n := startNodeWith(t, apiserver.Options{Limits: apiserver.Limits{ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}})
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", n.srv.URL()+"/api/v1/pods", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.ProtoMajor != 2 {
		t.Fatalf("%s %d", resp.Proto, resp.StatusCode)
	}
	waitFor(t, 10*time.Second, "the server shuts the connection down", func() bool { return n.srv.OpenConnections() == 0 })
}
