package proxy

import (
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// DefaultAffinityTimeout is how long a client keeps its endpoint under
// sessionAffinity ClientIP when the Service names no timeout: Kubernetes'
// default of 3 hours (DefaultClientIPServiceAffinitySeconds).
const DefaultAffinityTimeout = 10800 * time.Second

// maxAffinityEntries bounds the clients a service port remembers under
// ClientIP affinity; past it, expired entries are dropped, and if none
// expired, the whole table starts again (clients then pick anew).
const maxAffinityEntries = 16384

// backends is what a service port forwards to at one moment: replaced as a
// whole when the Service or its EndpointSlices change, never modified.
type backends struct {
	// endpoints are "ip:port", sorted, without duplicates.
	endpoints []string
	// affinity is the ClientIP timeout; 0 is sessionAffinity None.
	affinity time.Duration
}

func (b *backends) has(ep string) bool {
	i := sort.SearchStrings(b.endpoints, ep)
	return i < len(b.endpoints) && b.endpoints[i] == ep
}

// servicePort is one port of one Service: its backends, its round-robin
// counter and its clients' affinity, shared by the listeners of its cluster
// IP and its node ports, as kube-proxy's rules of one service port are.
type servicePort struct {
	key   string // namespace/name:port-name
	table atomic.Pointer[backends]
	next  atomic.Uint64

	mu      sync.Mutex
	clients map[string]affinityEntry
}

type affinityEntry struct {
	endpoint string
	last     time.Time
}

func newServicePort(key string) *servicePort {
	sp := &servicePort{key: key}
	sp.table.Store(&backends{})
	return sp
}

// pick returns the endpoint for a new connection from client at now, other
// than those in skip (endpoints already refused this connection), or ""
// when there is none. Without affinity, endpoints are taken in turn; with
// it, a client returns to its endpoint while that is still a backend and it
// came back within the timeout.
func (sp *servicePort) pick(b *backends, client string, now time.Time, skip []string) string {
	if len(b.endpoints) == 0 {
		return ""
	}
	if b.affinity > 0 && len(skip) == 0 {
		sp.mu.Lock()
		e, ok := sp.clients[client]
		if ok && b.has(e.endpoint) && now.Sub(e.last) < b.affinity {
			e.last = now
			sp.clients[client] = e
			sp.mu.Unlock()
			return e.endpoint
		}
		sp.mu.Unlock()
	}
	ep := ""
	for range b.endpoints {
		c := b.endpoints[int((sp.next.Add(1)-1)%uint64(len(b.endpoints)))]
		if !contains(skip, c) {
			ep = c
			break
		}
	}
	if ep != "" && b.affinity > 0 {
		sp.remember(client, ep, now, b.affinity)
	}
	return ep
}

// remember records that client was sent to ep at now.
func (sp *servicePort) remember(client, ep string, now time.Time, timeout time.Duration) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.clients == nil {
		sp.clients = map[string]affinityEntry{}
	}
	if _, ok := sp.clients[client]; !ok && len(sp.clients) >= maxAffinityEntries {
		for c, e := range sp.clients {
			if now.Sub(e.last) >= timeout {
				delete(sp.clients, c)
			}
		}
		if len(sp.clients) >= maxAffinityEntries {
			clear(sp.clients)
		}
	}
	sp.clients[client] = affinityEntry{endpoint: ep, last: now}
}

// forgetAffinity drops every client's endpoint, when affinity is turned off.
func (sp *servicePort) forgetAffinity() {
	sp.mu.Lock()
	sp.clients = nil
	sp.mu.Unlock()
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// endpointsFor returns the endpoints of the service port named portName
// among slices, as kube-proxy uses them: the first address of each endpoint
// of an IPv4 slice whose port of that name is TCP, the ready ones; or, when
// none is ready, the ones still serving while they terminate (Kubernetes'
// proxying of terminating endpoints). An endpoint whose ready condition is
// unset counts as ready, as the EndpointSlice API says consumers must read
// it. Addresses are hostile until checked: only unicast IPv4 addresses
// that allowed accepts are kept.
func endpointsFor(slices []*api.EndpointSlice, portName string, allowed func(netip.Addr) bool) []string {
	var ready, serving []string
	for _, s := range slices {
		if s.AddressType != api.AddressTypeIPv4 {
			continue
		}
		port := int32(0)
		for _, p := range s.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name != portName || p.Port == nil {
				continue
			}
			if p.Protocol != nil && *p.Protocol != api.ProtocolTCP {
				continue
			}
			port = *p.Port
			break
		}
		if port < 1 || port > 65535 {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			ip, err := netip.ParseAddr(e.Addresses[0])
			if err != nil || !ip.Is4() || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || !allowed(ip) {
				continue
			}
			ep := netip.AddrPortFrom(ip, uint16(port)).String()
			c := e.Conditions
			isReady := c.Ready == nil || *c.Ready
			isServing := isReady
			if c.Serving != nil {
				isServing = *c.Serving
			}
			terminating := c.Terminating != nil && *c.Terminating
			switch {
			case isReady:
				ready = append(ready, ep)
			case isServing && terminating:
				serving = append(serving, ep)
			}
		}
	}
	if len(ready) == 0 {
		ready = serving
	}
	sort.Strings(ready)
	out := ready[:0]
	for i, ep := range ready {
		if i == 0 || ep != ready[i-1] {
			out = append(out, ep)
		}
	}
	return out
}

// affinityOf is a Service's ClientIP affinity timeout, 0 for None.
func affinityOf(svc *api.Service) time.Duration {
	if svc.Spec.SessionAffinity != api.ServiceAffinityClientIP {
		return 0
	}
	c := svc.Spec.SessionAffinityConfig
	if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil || *c.ClientIP.TimeoutSeconds <= 0 {
		return DefaultAffinityTimeout
	}
	return time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
}

func portKey(svc *api.Service, portName string) string {
	return svc.Namespace + "/" + svc.Name + ":" + portName
}

func hostPort(ip netip.Addr, port int32) string {
	return netip.AddrPortFrom(ip, uint16(port)).String()
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

// endpointFilter is which endpoint addresses the proxy connects to:
// Kubernetes refuses loopback and link-local endpoint addresses, so that a
// Service cannot lead to the node's own services; here pods are on
// loopback, so a loopback address is allowed only within the pod range
// (all of loopback when no range is known). Other unicast addresses (an
// endpoint of a Service without a selector off the node) are allowed, as
// in Kubernetes; link-local ones are not.
func endpointFilter(podCIDR netip.Prefix) func(netip.Addr) bool {
	return func(ip netip.Addr) bool {
		if ip.IsLinkLocalUnicast() {
			return false
		}
		if ip.IsLoopback() && podCIDR.IsValid() {
			return podCIDR.Contains(ip)
		}
		return true
	}
}
