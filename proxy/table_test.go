package proxy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

func TestEndpointsFor(t *testing.T) {
	ep := func(ip string, ready, serving, terminating *bool) api.Endpoint {
		return api.Endpoint{Addresses: []string{ip}, Conditions: api.EndpointConditions{Ready: ready, Serving: serving, Terminating: terminating}}
	}
	yes, no := ptr(true), ptr(false)
	sl := func(typ api.AddressType, name string, p int32, proto api.Protocol, eps ...api.Endpoint) *api.EndpointSlice {
		return &api.EndpointSlice{AddressType: typ, Endpoints: eps,
			Ports: []api.EndpointSlicePort{{Name: ptr(name), Port: ptr(p), Protocol: ptr(proto)}}}
	}
	tests := []struct {
		name   string
		slices []*api.EndpointSlice
		port   string
		want   []string
	}{
		{"ready and unset are ready, false is not",
			[]*api.EndpointSlice{sl(api.AddressTypeIPv4, "http", 8080, api.ProtocolTCP,
				ep("127.42.0.3", yes, nil, nil), ep("127.42.0.1", nil, nil, nil), ep("127.42.0.2", no, nil, nil))},
			"http", []string{"127.42.0.1:8080", "127.42.0.3:8080"}},
		{"serving terminating endpoints only when none is ready",
			[]*api.EndpointSlice{sl(api.AddressTypeIPv4, "", 80, api.ProtocolTCP,
				ep("127.42.0.1", no, yes, yes), ep("127.42.0.2", no, no, yes), ep("127.42.0.3", no, yes, nil))},
			"", []string{"127.42.0.1:80"}},
		{"a ready endpoint hides the terminating ones",
			[]*api.EndpointSlice{sl(api.AddressTypeIPv4, "", 80, api.ProtocolTCP,
				ep("127.42.0.1", no, yes, yes), ep("127.42.0.2", yes, yes, nil))},
			"", []string{"127.42.0.2:80"}},
		{"the port of the name, TCP only, across slices, without duplicates",
			[]*api.EndpointSlice{
				sl(api.AddressTypeIPv4, "http", 8080, api.ProtocolTCP, ep("127.42.0.1", yes, nil, nil)),
				sl(api.AddressTypeIPv4, "metrics", 9090, api.ProtocolTCP, ep("127.42.0.2", yes, nil, nil)),
				sl(api.AddressTypeIPv4, "http", 8080, api.ProtocolUDP, ep("127.42.0.3", yes, nil, nil)),
				sl(api.AddressTypeIPv4, "http", 8080, api.ProtocolTCP, ep("127.42.0.1", yes, nil, nil)),
			},
			"http", []string{"127.42.0.1:8080"}},
		{"IPv6 and FQDN slices, bad ports and hostile addresses are skipped",
			[]*api.EndpointSlice{
				sl(api.AddressTypeIPv6, "", 80, api.ProtocolTCP, ep("::1", yes, nil, nil)),
				sl(api.AddressTypeFQDN, "", 80, api.ProtocolTCP, ep("example.com", yes, nil, nil)),
				sl(api.AddressTypeIPv4, "", 0, api.ProtocolTCP, ep("127.42.0.1", yes, nil, nil)),
				sl(api.AddressTypeIPv4, "", 70000, api.ProtocolTCP, ep("127.42.0.1", yes, nil, nil)),
				sl(api.AddressTypeIPv4, "", 80, api.ProtocolTCP, ep("0.0.0.0", yes, nil, nil),
					ep("224.0.0.1", yes, nil, nil), ep("255.255.255.255", yes, nil, nil), ep("not-an-ip", yes, nil, nil),
					ep("::ffff:127.0.0.1", yes, nil, nil), ep("127.42.0.9", yes, nil, nil)),
			},
			"", []string{"127.42.0.9:80"}},
		{"loopback outside the pod range and link-local are not dialled; other unicast is",
			[]*api.EndpointSlice{sl(api.AddressTypeIPv4, "", 80, api.ProtocolTCP,
				ep("127.0.0.1", yes, nil, nil), ep("127.43.0.1", yes, nil, nil), ep("169.254.169.254", yes, nil, nil),
				ep("10.1.2.3", yes, nil, nil), ep("127.42.255.254", yes, nil, nil))},
			"", []string{"10.1.2.3:80", "127.42.255.254:80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := endpointsFor(tt.slices, tt.port, endpointFilter(netip.MustParsePrefix("127.42.0.0/16")))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPickRoundRobinAndAffinity(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sp := newServicePort("default/web:")
	b := &backends{endpoints: []string{"a", "b", "c"}}
	var got []string
	for range 6 {
		got = append(got, sp.pick(b, "client", now, nil))
	}
	if fmt.Sprint(got) != "[a b c a b c]" {
		t.Fatalf("round robin: %v", got)
	}
	if ep := sp.pick(b, "client", now, []string{"a", "b"}); ep != "c" {
		t.Fatalf("skipping a and b: %q", ep)
	}
	if ep := sp.pick(b, "client", now, []string{"a", "b", "c"}); ep != "" {
		t.Fatalf("skipping all: %q", ep)
	}
	if ep := sp.pick(&backends{}, "client", now, nil); ep != "" {
		t.Fatalf("no endpoints: %q", ep)
	}

	sp = newServicePort("default/web:")
	b = &backends{endpoints: []string{"a", "b", "c"}, affinity: 10 * time.Second}
	first := sp.pick(b, "10.0.0.1", now, nil)
	other := sp.pick(b, "10.0.0.2", now, nil)
	if first == other {
		t.Fatalf("two clients share %q", first)
	}
	if ep := sp.pick(b, "10.0.0.1", now.Add(9*time.Second), nil); ep != first {
		t.Fatalf("within the timeout: %q, want %q", ep, first)
	}
	// The timeout runs from the client's last connection.
	if ep := sp.pick(b, "10.0.0.1", now.Add(18*time.Second), nil); ep != first {
		t.Fatalf("within the timeout of the last connection: %q, want %q", ep, first)
	}
	if ep := sp.pick(b, "10.0.0.1", now.Add(28*time.Second), nil); ep == first {
		t.Fatalf("past the timeout: %q again", ep)
	}
	// The table stays bounded.
	for i := range maxAffinityEntries + 10 {
		sp.pick(b, fmt.Sprint(i), now.Add(time.Hour), nil)
	}
	if n := len(sp.clients); n > maxAffinityEntries {
		t.Fatalf("%d clients remembered; want at most %d", n, maxAffinityEntries)
	}
}
