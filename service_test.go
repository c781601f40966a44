package wasmlet_test

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/api"
)

// TestEndpointsFollowReadinessOfRealPods runs two myweb pods behind a
// Service and a headless one, makes one unready through its /ready
// endpoint (its readiness probe then fails) and ready again, and checks
// that the Endpoints and EndpointSlices follow within a moment of the
// pod's status.
func TestEndpointsFollowReadinessOfRealPods(t *testing.T) {
	node, img := startNode(t)
	ctx := context.Background()
	for _, s := range []*api.Service{
		{ObjectMeta: api.ObjectMeta{Name: "web"}, Spec: api.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []api.ServicePort{{Port: 80, TargetPort: api.FromString("http")}}}},
		{ObjectMeta: api.ObjectMeta{Name: "web-headless"}, Spec: api.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "web"}}},
	} {
		out, err := wasmlet.Create(ctx, node, s)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name == "web" && !strings.HasPrefix(out.Spec.ClusterIP, "127.43.") {
			t.Errorf("clusterIP %q is not of 127.43.0.0/16", out.Spec.ClusterIP)
		}
	}
	for _, name := range []string{"web-a", "web-b"} {
		spec := mywebSpec(img)
		spec.Containers[0].ReadinessProbe = &api.Probe{
			ProbeHandler:     api.ProbeHandler{HTTPGet: &api.HTTPGetAction{Path: "/ready", Port: api.FromString("http")}},
			PeriodSeconds:    1,
			FailureThreshold: 1,
		}
		if _, err := wasmlet.Create(ctx, node, &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}}, Spec: spec}); err != nil {
			t.Fatal(err)
		}
	}
	pods := waitPods(t, node, "app=web", "running and ready", running(2))
	ipOf := map[string]string{}
	for _, p := range pods {
		ipOf[p.Name] = p.Status.PodIP
	}

	// state is "ready addresses | not ready addresses" of the Endpoints,
	// and of the slices, sorted by pod name.
	endpoints := func(name string) (string, string) {
		ep, err := wasmlet.Get[*api.Endpoints](ctx, node, "default", name)
		if err != nil {
			return "", ""
		}
		var ready, notReady, ports []string
		for _, ss := range ep.Subsets {
			for _, a := range ss.Addresses {
				ready = append(ready, a.TargetRef.Name)
			}
			for _, a := range ss.NotReadyAddresses {
				notReady = append(notReady, a.TargetRef.Name)
			}
			for _, p := range ss.Ports {
				ports = append(ports, strings.TrimSpace(p.Name+" ")+itoa(p.Port))
			}
		}
		var sReady, sNot []string
		slices, _ := wasmlet.List[*api.EndpointSlice](ctx, node, "default", wasmlet.ListOptions{LabelSelector: api.ServiceNameLabel + "=" + name})
		for _, s := range slices {
			for _, e := range s.Endpoints {
				if *e.Conditions.Ready {
					sReady = append(sReady, e.TargetRef.Name)
				} else {
					sNot = append(sNot, e.TargetRef.Name)
				}
			}
		}
		sortStrings(ready, notReady, sReady, sNot)
		return strings.Join(ready, ",") + "|" + strings.Join(notReady, ",") + "|" + strings.Join(ports, ","),
			strings.Join(sReady, ",") + "|" + strings.Join(sNot, ",")
	}
	waitFor := func(name, wantEp, wantSlices string) time.Time {
		t.Helper()
		deadline := time.Now().Add(waitTimeout)
		for {
			ep, sl := endpoints(name)
			if ep == wantEp && sl == wantSlices {
				return time.Now()
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: endpoints %q slices %q, want %q %q", name, ep, sl, wantEp, wantSlices)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitFor("web", "web-a,web-b||8080", "web-a,web-b|")
	waitFor("web-headless", "web-a,web-b||", "web-a,web-b|")

	// podTurned waits for web-a's Ready condition to be want.
	podTurned := func(want bool) time.Time {
		t.Helper()
		deadline := time.Now().Add(waitTimeout)
		for {
			p, err := wasmlet.Get[*api.Pod](ctx, node, "default", "web-a")
			if err == nil && ready(p) == want {
				return time.Now()
			}
			if time.Now().After(deadline) {
				t.Fatalf("web-a never turned ready=%v", want)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	switchReady := func(method string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+ipOf["web-a"]+":8080/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	switchReady(http.MethodDelete)
	turned := podTurned(false)
	followed := waitFor("web", "web-b|web-a|8080", "web-b|web-a")
	t.Logf("web-a left the ready endpoints %v after its Ready condition turned False", followed.Sub(turned))
	waitFor("web-headless", "web-b|web-a|", "web-b|web-a")

	switchReady(http.MethodPut)
	turned = podTurned(true)
	followed = waitFor("web", "web-a,web-b||8080", "web-a,web-b|")
	t.Logf("web-a was back in the ready endpoints %v after its Ready condition turned True", followed.Sub(turned))
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func sortStrings(ss ...[]string) {
	for _, s := range ss {
		sort.Strings(s)
	}
}
