package probes

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

func TestHTTPProbe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "fine") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "secret detail", 500) })
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://localhost:1/elsewhere")
		w.WriteHeader(http.StatusMovedPermanently)
		fmt.Fprint(w, "moved")
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, strings.Repeat("x", 64<<10)) })
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ua=%q accept=%q x=%q host=%q", r.UserAgent(), r.Header.Values("Accept"), r.Header.Values("X-Custom"), r.Host)
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.URL.RawQuery) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(mux)
	defer tlsSrv.Close()
	ip, port := hostPort(t, srv.URL)
	_, tlsPort := hostPort(t, tlsSrv.URL)

	tests := []struct {
		name    string
		action  api.HTTPGetAction
		res     result
		output  string
		errText string
	}{
		{name: "200", action: api.HTTPGetAction{Path: "/ok", Port: api.FromInt32(port)}, res: resultSuccess, output: "fine"},
		{name: "500", action: api.HTTPGetAction{Path: "/fail", Port: api.FromInt32(port)}, res: resultFailure, output: "HTTP probe failed with statuscode: 500"},
		{name: "404", action: api.HTTPGetAction{Path: "/missing", Port: api.FromInt32(port)}, res: resultFailure, output: "HTTP probe failed with statuscode: 404"},
		{name: "named port", action: api.HTTPGetAction{Path: "/ok", Port: api.FromString("http")}, res: resultSuccess, output: "fine"},
		{name: "number as a string", action: api.HTTPGetAction{Path: "/ok", Port: api.FromString(fmt.Sprint(port))}, res: resultSuccess, output: "fine"},
		{name: "same-host redirect followed", action: api.HTTPGetAction{Path: "/redirect", Port: api.FromInt32(port)}, res: resultSuccess, output: "fine"},
		{name: "other-host redirect not followed", action: api.HTTPGetAction{Path: "/away", Port: api.FromInt32(port)}, res: resultWarning, output: "Probe terminated redirects, Response body: moved"},
		{name: "too many redirects", action: api.HTTPGetAction{Path: "/loop", Port: api.FromInt32(port)}, res: resultFailure,
			output: `Get "/loop": stopped after 10 redirects`}, // net/http names the Location as given
		{name: "body cut at 10 KiB", action: api.HTTPGetAction{Path: "/big", Port: api.FromInt32(port)}, res: resultSuccess, output: strings.Repeat("x", 10<<10)},
		{name: "default headers", action: api.HTTPGetAction{Path: "/headers", Port: api.FromInt32(port)}, res: resultSuccess,
			output: fmt.Sprintf(`ua="kube-probe/1.32" accept=["*/*"] x=[] host="%s:%d"`, ip, port)},
		{name: "given headers", action: api.HTTPGetAction{Path: "/headers", Port: api.FromInt32(port), HTTPHeaders: []api.HTTPHeader{
			{Name: "User-Agent", Value: "mine"}, {Name: "X-Custom", Value: "a"}, {Name: "X-Custom", Value: "b"}, {Name: "Host", Value: "example.com"}, {Name: "Accept", Value: ""},
		}}, res: resultSuccess, output: `ua="mine" accept=[] x=["a" "b"] host="example.com"`},
		{name: "query in the path", action: api.HTTPGetAction{Path: "/query?hook=x", Port: api.FromInt32(port)}, res: resultSuccess, output: "hook=x"},
		{name: "https without verification", action: api.HTTPGetAction{Path: "/ok", Port: api.FromInt32(tlsPort), Scheme: api.URISchemeHTTPS}, res: resultSuccess, output: "fine"},
		{name: "explicit host", action: api.HTTPGetAction{Path: "/ok", Port: api.FromInt32(port), Host: ip}, res: resultSuccess, output: "fine"},
		{name: "unknown port name", action: api.HTTPGetAction{Path: "/ok", Port: api.FromString("web")}, res: resultUnknown,
			errText: `strconv.Atoi: parsing "web": invalid syntax`},
		{name: "port out of range", action: api.HTTPGetAction{Path: "/ok", Port: api.FromInt32(70000)}, res: resultUnknown, errText: "invalid port number: 70000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, _ := newTestManager(t, nil)
			podIP := ip
			if tt.action.Host != "" {
				podIP = "192.0.2.1" // the host field wins over the pod IP
			}
			a := tt.action
			pod := newTestPod(api.Container{Name: "web", Ports: []api.ContainerPort{{Name: "http", ContainerPort: port}},
				LivenessProbe: &api.Probe{ProbeHandler: api.ProbeHandler{HTTPGet: &a}}}, podIP)
			in := testInstance(m, pod)
			res, out, err := m.runProbe(context.Background(), pod.Spec.Containers[0].LivenessProbe, in)
			if res != tt.res || out != tt.output {
				t.Errorf("got %s %q, want %s %q", res, out, tt.res, tt.output)
			}
			if got := fmt.Sprint(err); (tt.errText == "" && err != nil) || (tt.errText != "" && got != tt.errText) {
				t.Errorf("error %v, want %q", err, tt.errText)
			}
		})
	}
}

// TestHTTPProbeTimeout: a server that does not answer within
// timeoutSeconds fails the probe with the client's timeout message, on the
// probe's clock.
func TestHTTPProbeTimeout(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	ip, port := hostPort(t, srv.URL)
	m, clk, _ := newTestManager(t, nil)
	p := &api.Probe{ProbeHandler: api.ProbeHandler{HTTPGet: &api.HTTPGetAction{Path: "/slow", Port: api.FromInt32(port)}}, TimeoutSeconds: 2}
	pod := newTestPod(api.Container{Name: "web", LivenessProbe: p}, ip)
	go func() {
		<-entered
		clk.Advance(1999 * time.Millisecond)
		clk.Advance(time.Millisecond)
	}()
	res, out, err := m.runProbe(context.Background(), p, testInstance(m, pod))
	want := fmt.Sprintf(`Get "http://%s:%d/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, ip, port)
	if res != resultFailure || out != want || err != nil {
		t.Errorf("got %s %q %v, want failure %q", res, out, err, want)
	}
	if d := clk.Since(t0); d != 2*time.Second {
		t.Errorf("timed out after %v", d)
	}
}
