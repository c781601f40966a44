package host

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/api"
)

func TestServiceLinkEnv(t *testing.T) {
	svcs := []*api.Service{
		{ObjectMeta: api.ObjectMeta{Name: "my-web"}, Spec: api.ServiceSpec{ClusterIP: "127.43.1.2", Ports: []api.ServicePort{
			{Name: "http", Port: 80, Protocol: api.ProtocolTCP}, {Name: "dns", Port: 53, Protocol: api.ProtocolUDP}}}},
		{ObjectMeta: api.ObjectMeta{Name: "headless"}, Spec: api.ServiceSpec{ClusterIP: "None", Ports: []api.ServicePort{{Port: 80}}}},
	}
	got := strings.Join(ServiceLinkEnv(svcs), "\n")
	want := strings.Join([]string{
		"MY_WEB_SERVICE_HOST=127.43.1.2",
		"MY_WEB_SERVICE_PORT=80",
		"MY_WEB_SERVICE_PORT_HTTP=80",
		"MY_WEB_SERVICE_PORT_DNS=53",
		"MY_WEB_PORT=tcp://127.43.1.2:80",
		"MY_WEB_PORT_80_TCP=tcp://127.43.1.2:80",
		"MY_WEB_PORT_80_TCP_PROTO=tcp",
		"MY_WEB_PORT_80_TCP_PORT=80",
		"MY_WEB_PORT_80_TCP_ADDR=127.43.1.2",
		"MY_WEB_PORT_53_UDP=udp://127.43.1.2:53",
		"MY_WEB_PORT_53_UDP_PROTO=udp",
		"MY_WEB_PORT_53_UDP_PORT=53",
		"MY_WEB_PORT_53_UDP_ADDR=127.43.1.2",
	}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestRealGuestSeesServiceLinks starts myweb after a Service exists and
// has it report, through its args, the variables the node gave it; a pod
// with enableServiceLinks false gets none, and a variable the container
// sets wins over the Service's.
func TestRealGuestSeesServiceLinks(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	svc := &api.Service{
		TypeMeta:   api.TypeMeta{Kind: "Service", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: api.ServiceSpec{ClusterIP: "127.43.0.7", ClusterIPs: []string{"127.43.0.7"}, Selector: map[string]string{"app": "web"},
			Ports: []api.ServicePort{{Name: "http", Port: 80, Protocol: api.ProtocolTCP, TargetPort: api.FromInt32(8080)}}},
	}
	api.Default(svc)
	if _, err := n.st.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	const args = "-version=$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT):$(WEB_SERVICE_PORT_HTTP):$(WEB_PORT):$(WEB_PORT_80_TCP_ADDR)"
	versionOf := func(name, arg string, links *bool, env ...api.EnvVar) string {
		t.Helper()
		spec := examplePod(t, "myweb", api.RestartPolicyAlways, env...)
		spec.EnableServiceLinks = links
		spec.Containers[0].Args = []string{arg}
		spec.Containers[0].Ports = []api.ContainerPort{{Name: "http", ContainerPort: 8080}}
		n.createPod(name, spec)
		p := n.waitPod(name, "running", isRunning("myweb"))
		resp, err := http.Get("http://" + p.Status.PodIP + ":8080/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_, v, _ := strings.Cut(string(body), "Version: ")
		return strings.TrimSpace(v)
	}
	version := func(name string, links *bool, env ...api.EnvVar) string {
		t.Helper()
		return versionOf(name, args, links, env...)
	}
	if got, want := version("with", nil), "127.43.0.7:80:80:tcp://127.43.0.7:80:127.43.0.7"; got != want {
		t.Errorf("version %q, want %q", got, want)
	}
	off := false
	if got, want := version("without", &off), "$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT):$(WEB_SERVICE_PORT_HTTP):$(WEB_PORT):$(WEB_PORT_80_TCP_ADDR)"; got != want {
		t.Errorf("enableServiceLinks false: version %q, want %q", got, want)
	}
	if got, want := version("own", nil, api.EnvVar{Name: "WEB_SERVICE_HOST", Value: "mine"}), "mine:80:80:tcp://127.43.0.7:80:127.43.0.7"; got != want {
		t.Errorf("the container's own variable: version %q, want %q", got, want)
	}
	// An env value's $(VAR) sees the Services' variables, as the kubelet
	// expands it.
	target := api.EnvVar{Name: "TARGET", Value: "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)/"}
	if got, want := versionOf("expanded", "-version=$(TARGET)", nil, target), "http://127.43.0.7:80/"; got != want {
		t.Errorf("env value naming a Service's variables: version %q, want %q", got, want)
	}
}
