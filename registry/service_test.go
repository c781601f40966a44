package registry

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
)

func testService(name, clusterIP string, typ api.ServiceType, nodePort int32) *api.Service {
	return &api.Service{
		ObjectMeta: api.ObjectMeta{Name: name},
		Spec: api.ServiceSpec{
			Type:      typ,
			ClusterIP: clusterIP,
			Selector:  map[string]string{"app": name},
			Ports:     []api.ServicePort{{Port: 80, NodePort: nodePort}},
		},
	}
}

func createService(t *testing.T, r *Registry, s *api.Service) (*api.Service, error) {
	t.Helper()
	out, err := r.Create(context.Background(), s)
	if err != nil {
		return nil, err
	}
	return out.(*api.Service), nil
}

func TestServiceClusterIPAllocation(t *testing.T) {
	r := newRegistry(t, Options{})
	a, err := createService(t, r, testService("a", "", "", 0))
	if err != nil {
		t.Fatal(err)
	}
	ip, err := netip.ParseAddr(a.Spec.ClusterIP)
	if err != nil || !netip.MustParsePrefix(DefaultServiceCIDR).Contains(ip) {
		t.Fatalf("clusterIP %q is not in %s", a.Spec.ClusterIP, DefaultServiceCIDR)
	}
	if len(a.Spec.ClusterIPs) != 1 || a.Spec.ClusterIPs[0] != a.Spec.ClusterIP {
		t.Errorf("clusterIPs = %v, want [%s]", a.Spec.ClusterIPs, a.Spec.ClusterIP)
	}
	// Dynamic allocations come from the upper band (offset 256 of a /16).
	if b := ip.As4(); b[2] == 0 {
		t.Errorf("dynamic clusterIP %s is in the band left to clients", ip)
	}
	if a.Spec.Type != api.ServiceTypeClusterIP || a.Spec.SessionAffinity != api.ServiceAffinityNone ||
		a.Spec.Ports[0].Protocol != api.ProtocolTCP || a.Spec.Ports[0].TargetPort != api.FromInt32(80) ||
		*a.Spec.IPFamilyPolicy != api.IPFamilyPolicySingleStack || len(a.Spec.IPFamilies) != 1 ||
		*a.Spec.InternalTrafficPolicy != api.ServiceTrafficPolicyCluster {
		t.Errorf("defaults not applied: %+v", a.Spec)
	}

	_, err = createService(t, r, testService("b", a.Spec.ClusterIP, "", 0))
	want := `Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"` + a.Spec.ClusterIP + `"}: failed to allocate IP ` + a.Spec.ClusterIP + `: provided IP is already allocated`
	if err == nil || err.Error() != want {
		t.Errorf("taken IP: got %v, want %s", err, want)
	}
	_, err = createService(t, r, testService("b", "10.0.0.1", "", 0))
	want = `Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.1"}: failed to allocate IP 10.0.0.1: the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 127.43.0.0/16`
	if err == nil || err.Error() != want {
		t.Errorf("out of range: got %v, want %s", err, want)
	}
	if _, err := createService(t, r, testService("c", "127.43.0.10", "", 0)); err != nil {
		t.Errorf("a free IP of the range: %v", err)
	}
	h, err := createService(t, r, testService("h", "None", "", 0))
	if err != nil || h.Spec.ClusterIP != "None" || h.Spec.ClusterIPs[0] != "None" {
		t.Errorf("headless: %v, %+v", err, h)
	}

	// Deleting a Service frees its address.
	res, _ := api.ResourceOf(&api.Service{})
	if _, err := r.Delete(context.Background(), res, "default", "a", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := createService(t, r, testService("b", a.Spec.ClusterIP, "", 0)); err != nil {
		t.Errorf("the address of a deleted Service: %v", err)
	}
}

func TestServiceAllocationSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := New(st, Options{})
	a, err := createService(t, r, testService("a", "", api.ServiceTypeNodePort, 0))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r = New(st, Options{})
	_, err = createService(t, r, testService("b", a.Spec.ClusterIP, "", 0))
	if err == nil || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("an address given before the restart: %v", err)
	}
	_, err = createService(t, r, testService("b", "", api.ServiceTypeNodePort, a.Spec.Ports[0].NodePort))
	if err == nil || !strings.HasSuffix(err.Error(), "spec.ports[0].nodePort: Invalid value: "+strconv.Itoa(int(a.Spec.Ports[0].NodePort))+": provided port is already allocated") {
		t.Errorf("a node port given before the restart: %v", err)
	}
}

func TestServiceNodePortAllocation(t *testing.T) {
	r := newRegistry(t, Options{})
	a, err := createService(t, r, testService("a", "", api.ServiceTypeNodePort, 0))
	if err != nil {
		t.Fatal(err)
	}
	np := a.Spec.Ports[0].NodePort
	if np < 30000 || np > 32767 || a.Spec.ExternalTrafficPolicy != api.ServiceTrafficPolicyCluster {
		t.Errorf("nodePort %d, externalTrafficPolicy %q", np, a.Spec.ExternalTrafficPolicy)
	}
	_, err = createService(t, r, testService("b", "", api.ServiceTypeNodePort, 80))
	want := `Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	_, err = createService(t, r, testService("b", "", "", 30080))
	want = "Service \"b\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}

	// An update that leaves out what the node allocated keeps it, as a
	// replace of the original manifest does on a cluster.
	in := testService("a", "", api.ServiceTypeNodePort, 0)
	out, err := r.Update(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	u := out.(*api.Service)
	if u.Spec.ClusterIP != a.Spec.ClusterIP || u.Spec.Ports[0].NodePort != np {
		t.Errorf("after replace: clusterIP %s nodePort %d, want %s %d", u.Spec.ClusterIP, u.Spec.Ports[0].NodePort, a.Spec.ClusterIP, np)
	}
	in = testService("a", "127.43.9.9", api.ServiceTypeNodePort, 0)
	_, err = r.Update(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "spec.clusterIPs[0]: Invalid value: []string{\"127.43.9.9\"}: may not change once set") {
		t.Errorf("changed clusterIP: %v", err)
	}
}

func TestServiceRangeFull(t *testing.T) {
	cidr, err := ParseServiceCIDR("127.43.0.0/30")
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, Options{Services: ServiceRanges{CIDR: cidr}})
	for _, n := range []string{"a", "b"} {
		if _, err := createService(t, r, testService(n, "", "", 0)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = createService(t, r, testService("c", "", "", 0))
	if err == nil || err.Error() != "Internal error occurred: failed to allocate a serviceIP: range is full" {
		t.Errorf("full range: %v", err)
	}
}

// TestServiceTypeChangeGetsNodePorts: a ClusterIP Service updated to
// NodePort is given node ports, and keeps its cluster IP.
func TestServiceTypeChangeGetsNodePorts(t *testing.T) {
	r := newRegistry(t, Options{})
	a, err := createService(t, r, testService("a", "", "", 0))
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Update(context.Background(), testService("a", "", api.ServiceTypeNodePort, 0))
	if err != nil {
		t.Fatal(err)
	}
	u := out.(*api.Service)
	if np := u.Spec.Ports[0].NodePort; np < 30000 || np > 32767 || u.Spec.ClusterIP != a.Spec.ClusterIP {
		t.Errorf("after the type change: nodePort %d clusterIP %s (was %s)", np, u.Spec.ClusterIP, a.Spec.ClusterIP)
	}
	_, err = r.Update(context.Background(), testService("b", "", api.ServiceTypeNodePort, u.Spec.Ports[0].NodePort))
	if err == nil {
		t.Errorf("an update of a missing Service succeeded")
	}
	if _, err := createService(t, r, testService("c", "", "", 0)); err != nil {
		t.Fatal(err)
	}
	_, err = r.Update(context.Background(), testService("c", "", api.ServiceTypeNodePort, u.Spec.Ports[0].NodePort))
	if err == nil || !strings.Contains(err.Error(), "provided port is already allocated") {
		t.Errorf("an update to a node port a's: %v", err)
	}
}
