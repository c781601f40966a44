package probes

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host"
)

// The Manager is the host's ProbeManager, and the host is its Runtime.
var (
	_ host.ProbeManager = (*Manager)(nil)
	_ Runtime           = (*host.Host)(nil)
)

func TestHooks(t *testing.T) {
	var mu sync.Mutex
	var hits []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, r.URL.RequestURI()+" "+r.UserAgent())
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError) // a hook ignores the status
	}))
	defer srv.Close()
	ip, port := hostPort(t, srv.URL)
	closed := closedPort(t)
	rt := &fakeRuntime{run: func(ctx context.Context, pod *api.Pod, container string, argv []string, stdout, stderr io.Writer) (int32, error) {
		switch argv[0] {
		case "ok":
			return 0, nil
		case "hang":
			<-ctx.Done()
			return 0, ctx.Err()
		}
		fmt.Fprint(stdout, "partial ")
		fmt.Fprint(stderr, "bad")
		return 1, nil
	}}
	tests := []struct {
		name    string
		handler *api.LifecycleHandler
		err     string
		hit     string
	}{
		{name: "none"},
		{name: "exec", handler: &api.LifecycleHandler{Exec: &api.ExecAction{Command: []string{"ok"}}}},
		{name: "exec fails", handler: &api.LifecycleHandler{Exec: &api.ExecAction{Command: []string{"check", "now"}}},
			err: `Exec lifecycle hook ([check now]) for Container "app" in Pod "web_default(uid-1)" failed - error: command 'check now' exited with 1: bad, message: "partial bad"`},
		{name: "http", handler: &api.LifecycleHandler{HTTPGet: &api.HTTPGetAction{Path: "/?hook=postStart", Port: api.FromString("http")}},
			hit: "/?hook=postStart kube-lifecycle/1.32"},
		{name: "http refused", handler: &api.LifecycleHandler{HTTPGet: &api.HTTPGetAction{Path: "/hook", Port: api.FromInt32(closed)}},
			err: fmt.Sprintf(`HTTP lifecycle hook (/hook) for Container "app" in Pod "web_default(uid-1)" failed - error: Get "http://%s:%d/hook": dial tcp %s:%d: connect: connection refused`, ip, closed, ip, closed)},
		{name: "https answered in http", handler: &api.LifecycleHandler{HTTPGet: &api.HTTPGetAction{Path: "/tls", Port: api.FromInt32(port), Scheme: api.URISchemeHTTPS}},
			hit: "/tls kube-lifecycle/1.32"},
		{name: "tcpSocket", handler: &api.LifecycleHandler{TCPSocket: &api.TCPSocketAction{Port: api.FromInt32(port)}},
			err: "Cannot run handler: invalid handler: tcpSocket is not supported in lifecycle hooks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits = nil
			m, _, rec := newTestManager(t, rt)
			c := api.Container{Name: "app", Ports: []api.ContainerPort{{Name: "http", ContainerPort: port}}}
			if tt.handler != nil {
				c.Lifecycle = &api.Lifecycle{PostStart: tt.handler, PreStop: tt.handler}
			}
			pod := newTestPod(c, ip)
			err := m.PostStart(context.Background(), pod, "app", "c1")
			if got := fmt.Sprint(err); (tt.err == "" && err != nil) || (tt.err != "" && got != tt.err) {
				t.Errorf("postStart: %v\nwant %s", err, tt.err)
			}
			m.PreStop(context.Background(), pod, "app", "c1")
			wantEvents := 0
			if tt.err != "" {
				wantEvents = 1
			}
			if n := rec.count("Warning FailedPreStopHook PreStopHook failed"); n != wantEvents {
				t.Errorf("%d FailedPreStopHook events, want %d: %q", n, wantEvents, rec.list())
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.hit != "" && (len(hits) != 2 || hits[0] != tt.hit) {
				t.Errorf("requests %q, want two of %q", hits, tt.hit)
			}
			if strings.Contains(tt.name, "https") {
				want := fmt.Sprintf("Warning LifecycleHTTPFallback request to HTTPS lifecycle hook %s:%d got HTTP response, retry with HTTP succeeded", ip, port)
				if rec.count(want) != 2 {
					t.Errorf("events %q", rec.list())
				}
			}
		})
	}
}

// TestSleepHook: a sleep hook waits on the clock; a preStop cut off at the
// kill deadline is not a failure.
func TestSleepHook(t *testing.T) {
	m, clk, rec := newTestManager(t, &fakeRuntime{})
	sleep := &api.LifecycleHandler{Sleep: &api.SleepAction{Seconds: 5}}
	pod := newTestPod(api.Container{Name: "app", Lifecycle: &api.Lifecycle{PostStart: sleep, PreStop: sleep}}, "127.0.0.1")

	done := make(chan error)
	go func() { done <- m.PostStart(context.Background(), pod, "app", "c1") }()
	clk.BlockUntil(1)
	clk.Advance(4 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("returned after 4 s: %v", err)
	default:
	}
	clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Sleeping longer than the grace period: the host ends ctx.
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { m.PreStop(ctx, pod, "app", "c1"); close(stopped) }()
	clk.BlockUntil(1)
	cancel()
	<-stopped
	if evs := rec.list(); len(evs) != 0 {
		t.Errorf("events %q", evs)
	}
	// A postStart sleep cut off fails, with the kubelet's message.
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- m.PostStart(ctx, pod, "app", "c2") }()
	clk.BlockUntil(1)
	cancel()
	want := `Sleep lifecycle hook (5) for Container "app" in Pod "web_default(uid-1)" failed - error: container terminated before sleep hook finished`
	if err := <-done; fmt.Sprint(err) != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
