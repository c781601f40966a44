package registry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
)

// Defaults of ServiceRanges: the node's loopback range for cluster IPs
// (beside the pods' 127.42.0.0/16) and kube-apiserver's node port range.
const (
	DefaultServiceCIDR   = "127.43.0.0/16"
	DefaultNodePortRange = "30000-32767"
)

// ServiceRanges are where Services' cluster IPs and node ports come from.
// The zero value is DefaultServiceCIDR and DefaultNodePortRange.
type ServiceRanges struct {
	CIDR      netip.Prefix
	NodePorts PortRange
}

// PortRange is an inclusive range of ports, "30000-32767".
type PortRange struct{ Base, Size int }

func (p PortRange) String() string { return fmt.Sprintf("%d-%d", p.Base, p.Base+p.Size-1) }

func (p PortRange) contains(n int) bool { return n >= p.Base && n < p.Base+p.Size }

// ParseServiceCIDR parses an IPv4 range for cluster IPs: at least four
// addresses (a network address, a broadcast address and two to give).
func ParseServiceCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("service CIDR %q: %w", s, err)
	}
	if !p.Addr().Is4() || p.Bits() > 30 || p.Bits() < 8 {
		return netip.Prefix{}, fmt.Errorf("service CIDR %q: must be an IPv4 range of /8 to /30", s)
	}
	return p.Masked(), nil
}

// ParsePortRange parses "min-max" (or a single port), as
// --service-node-port-range.
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	a, err1 := strconv.Atoi(lo)
	b := a
	var err2 error
	if found {
		b, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil || a < 1 || b > 65535 || b < a {
		return PortRange{}, fmt.Errorf("invalid port range %q: must be MIN-MAX with 1 <= MIN <= MAX <= 65535", s)
	}
	return PortRange{Base: a, Size: b - a + 1}, nil
}

// serviceAllocator gives Services their cluster IPs and node ports as
// kube-apiserver's allocators do. What is taken is read from the stored
// Services at each allocation, so an allocation is released when its
// Service is deleted, by whichever path, and a restarted node knows every
// address it gave; the reservations of creates still in flight are held
// in memory until their write ends.
type serviceAllocator struct {
	cidr  netip.Prefix
	ports PortRange

	mu           sync.Mutex
	pendingIPs   map[netip.Addr]int
	pendingPorts map[int]int
}

func newServiceAllocator(r ServiceRanges) *serviceAllocator {
	if !r.CIDR.IsValid() {
		r.CIDR, _ = ParseServiceCIDR(DefaultServiceCIDR)
	}
	if r.NodePorts.Size == 0 {
		r.NodePorts, _ = ParsePortRange(DefaultNodePortRange)
	}
	return &serviceAllocator{cidr: r.CIDR, ports: r.NodePorts, pendingIPs: map[netip.Addr]int{}, pendingPorts: map[int]int{}}
}

// taken lists what the stored Services other than ns/name hold, and what
// creates in flight reserved.
func (a *serviceAllocator) taken(ctx context.Context, st *store.Store, ns, name string) (map[netip.Addr]bool, map[int]bool, error) {
	res, ok := api.ResourceOf(&api.Service{})
	if !ok {
		return nil, nil, api.NewInternalError(fmt.Errorf("services are not registered"))
	}
	objs, _, err := st.List(ctx, res, "", store.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	ips, ports := map[netip.Addr]bool{}, map[int]bool{}
	for ip := range a.pendingIPs {
		ips[ip] = true
	}
	for p := range a.pendingPorts {
		ports[p] = true
	}
	for _, o := range objs {
		s, ok := o.(*api.Service)
		if !ok || s.Namespace == ns && s.Name == name {
			continue
		}
		for _, ip := range s.Spec.ClusterIPs {
			if addr, err := netip.ParseAddr(ip); err == nil {
				ips[addr] = true
			}
		}
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				ports[int(p.NodePort)] = true
			}
		}
	}
	return ips, ports, nil
}

// allocateService gives a Service being created its cluster IP and node
// ports; release drops the reservations once the write has ended.
func (r *Registry) allocateService(ctx context.Context, obj api.Object) (release func(), err error) {
	svc, ok := obj.(*api.Service)
	if !ok {
		return func() {}, nil
	}
	a := r.services
	a.mu.Lock()
	defer a.mu.Unlock()
	ips, ports, err := a.taken(ctx, r.st, svc.Namespace, svc.Name)
	if err != nil {
		return nil, err
	}
	var gotIP netip.Addr
	var gotPorts []int
	release = func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if gotIP.IsValid() {
			if a.pendingIPs[gotIP]--; a.pendingIPs[gotIP] <= 0 {
				delete(a.pendingIPs, gotIP)
			}
		}
		for _, p := range gotPorts {
			if a.pendingPorts[p]--; a.pendingPorts[p] <= 0 {
				delete(a.pendingPorts, p)
			}
		}
	}
	if gotIP, err = a.allocateClusterIP(svc, ips); err != nil {
		return nil, err
	}
	if gotPorts, err = a.allocateNodePorts(svc, nil, ports); err != nil {
		return nil, err
	}
	if gotIP.IsValid() {
		a.pendingIPs[gotIP]++
	}
	for _, p := range gotPorts {
		a.pendingPorts[p]++
	}
	return release, nil
}

func invalidService(name string, errs ...*api.FieldError) error {
	return api.NewInvalid("", "Service", name, errs)
}

// allocateClusterIP sets the Service's cluster IP, chosen or checked, as
// kube-apiserver's IP allocator does; it returns the address taken.
func (a *serviceAllocator) allocateClusterIP(svc *api.Service, taken map[netip.Addr]bool) (netip.Addr, error) {
	sp := &svc.Spec
	if sp.Type == api.ServiceTypeExternalName || sp.ClusterIP == api.ClusterIPNone {
		return netip.Addr{}, nil
	}
	if sp.IPFamilyPolicy != nil && *sp.IPFamilyPolicy == api.IPFamilyPolicyRequireDualStack {
		return netip.Addr{}, invalidService(svc.Name, api.Invalid("spec.ipFamilyPolicy", string(*sp.IPFamilyPolicy), "this cluster is not configured for dual-stack services"))
	}
	for i, f := range sp.IPFamilies {
		if f != api.IPv4Protocol {
			return netip.Addr{}, invalidService(svc.Name, api.Invalid(fmt.Sprintf("spec.ipFamilies[%d]", i), string(f), "not configured on this cluster"))
		}
	}
	if len(sp.ClusterIPs) > 1 {
		return netip.Addr{}, invalidService(svc.Name, api.Invalid("spec.clusterIPs", sp.ClusterIPs, "this cluster is not configured for dual-stack services"))
	}
	if sp.ClusterIP != "" {
		ip, err := netip.ParseAddr(sp.ClusterIP)
		why := ""
		switch {
		case err != nil:
			why = "failed to parse service IP"
		case !a.cidr.Contains(ip) || ip == a.cidr.Addr() || ip == lastAddr(a.cidr):
			why = fmt.Sprintf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", sp.ClusterIP, a.cidr)
		case taken[ip]:
			why = "provided IP is already allocated"
		}
		if why != "" {
			return netip.Addr{}, invalidService(svc.Name, api.Invalid("spec.clusterIPs", sp.ClusterIPs, fmt.Sprintf("failed to allocate IP %s: %s", sp.ClusterIP, why)))
		}
		return ip, nil
	}
	ip, ok := a.nextFreeIP(taken)
	if !ok {
		return netip.Addr{}, api.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
	}
	sp.ClusterIP = ip.String()
	sp.ClusterIPs = []string{sp.ClusterIP}
	return ip, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// dynamicOffset is where dynamic allocations start, as Kubernetes splits
// a range (KEP-3070): the lower band is left for addresses and ports that
// clients choose, and used by dynamic allocation only once the upper is
// full.
func dynamicOffset(size, div, maxOffset int) int {
	return min(max(16, size/div), maxOffset, size)
}

// nextFreeIP is a free address of the range, from a random place in its
// upper band, then in its lower band.
func (a *serviceAllocator) nextFreeIP(taken map[netip.Addr]bool) (netip.Addr, bool) {
	base := a.cidr.Addr().Next() // the network address is never given
	size := 1<<(32-a.cidr.Bits()) - 2
	n, ok := scanFree(size, dynamicOffset(size, 16, 256), func(i int) bool { return taken[addrAdd(base, i)] })
	if !ok {
		return netip.Addr{}, false
	}
	return addrAdd(base, n), true
}

func addrAdd(a netip.Addr, n int) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// scanFree finds an i in [0, size) that is not used: from a random place
// in [offset, size) round that band, then in [0, offset).
func scanFree(size, offset int, used func(int) bool) (int, bool) {
	if upper := size - offset; upper > 0 {
		start := rand.IntN(upper)
		for k := range upper {
			if i := offset + (start+k)%upper; !used(i) {
				return i, true
			}
		}
	}
	if offset > 0 {
		start := rand.IntN(offset)
		for k := range offset {
			if i := (start + k) % offset; !used(i) {
				return i, true
			}
		}
	}
	return 0, false
}

// allocateNodePorts gives each port of a NodePort or LoadBalancer Service
// without a node port one, and checks the ones given; ports old already
// held are the Service's own. It returns the ports taken.
func (a *serviceAllocator) allocateNodePorts(svc *api.Service, old *api.Service, taken map[int]bool) ([]int, error) {
	sp := &svc.Spec
	if sp.Type != api.ServiceTypeNodePort && !(sp.Type == api.ServiceTypeLoadBalancer && (sp.AllocateLoadBalancerNodePorts == nil || *sp.AllocateLoadBalancerNodePorts)) {
		return nil, nil
	}
	own := map[int]bool{}
	if old != nil {
		for _, p := range old.Spec.Ports {
			own[int(p.NodePort)] = true
		}
	}
	var got []int
	mine := map[int]bool{} // ports of this Service, which may share a node port across protocols
	var errs api.ErrorList
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.NodePort == 0 {
			continue
		}
		n := int(p.NodePort)
		path := fmt.Sprintf("spec.ports[%d].nodePort", i)
		switch {
		case own[n] || mine[n]:
		case !a.ports.contains(n):
			errs = append(errs, api.Invalid(path, p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", a.ports)))
		case taken[n]:
			errs = append(errs, api.Invalid(path, p.NodePort, "provided port is already allocated"))
		default:
			got = append(got, n)
		}
		mine[n] = true
	}
	if len(errs) > 0 {
		return nil, invalidService(svc.Name, errs...)
	}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		n, ok := scanFree(a.ports.Size, dynamicOffset(a.ports.Size, 32, 128), func(i int) bool {
			n := a.ports.Base + i
			return taken[n] || mine[n] || own[n]
		})
		if !ok {
			return nil, api.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
		}
		p.NodePort = int32(a.ports.Base + n)
		mine[a.ports.Base+n] = true
		got = append(got, a.ports.Base+n)
	}
	return got, nil
}

// prepareServiceUpdate keeps what an update leaves out of what the node
// allocated (clusterIP, clusterIPs, each port's nodePort), as
// kube-apiserver does so that a replace of the manifest a Service was
// created from succeeds, and gives node ports to a Service that now needs
// them.
func (r *Registry) prepareServiceUpdate(next, cur api.Object) error {
	n, ok := next.(*api.Service)
	o, ok2 := cur.(*api.Service)
	if !ok || !ok2 {
		return nil
	}
	if n.Spec.Type != api.ServiceTypeExternalName && o.Spec.Type != api.ServiceTypeExternalName {
		if n.Spec.ClusterIP == "" && len(n.Spec.ClusterIPs) == 0 {
			n.Spec.ClusterIP = o.Spec.ClusterIP
			n.Spec.ClusterIPs = append([]string(nil), o.Spec.ClusterIPs...)
		}
	}
	needsNodePorts := n.Spec.Type == api.ServiceTypeNodePort || n.Spec.Type == api.ServiceTypeLoadBalancer
	if !needsNodePorts {
		return nil
	}
	for i := range n.Spec.Ports {
		p := &n.Spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		for _, op := range o.Spec.Ports {
			if op.NodePort != 0 && op.Port == p.Port && op.Protocol == p.Protocol {
				p.NodePort = op.NodePort
				break
			}
		}
	}
	a := r.services
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ports, err := a.taken(context.Background(), r.st, n.Namespace, n.Name)
	if err != nil {
		return err
	}
	_, err = a.allocateNodePorts(n, o, ports)
	return err
}
