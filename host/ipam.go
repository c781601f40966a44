package host

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// ErrNoPodIPs is returned when every address of the pod CIDR is in use.
var ErrNoPodIPs = errors.New("no free pod IP")

// ipAllocator hands out pod IPs from a CIDR, skipping the network address
// and .1 (which stays the node's). The table is not persisted itself: each
// pod's IP is in its status, and the table is rebuilt from the store at
// start (Reserve).
type ipAllocator struct {
	prefix netip.Prefix

	mu    sync.Mutex
	used  map[netip.Addr]string // IP -> pod UID
	byUID map[string]netip.Addr
	next  netip.Addr
}

func newIPAllocator(cidr string) (*ipAllocator, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", cidr, err)
	}
	p = p.Masked()
	if !p.Addr().Is4() || p.Bits() > 30 {
		return nil, fmt.Errorf("pod CIDR %q: want an IPv4 range of at least 4 addresses", cidr)
	}
	a := &ipAllocator{prefix: p, used: map[netip.Addr]string{}, byUID: map[string]netip.Addr{}}
	a.next = a.first()
	return a, nil
}

func (a *ipAllocator) first() netip.Addr { return a.prefix.Addr().Next().Next() }

// usable reports whether ip may be given to a pod.
func (a *ipAllocator) usable(ip netip.Addr) bool {
	if !a.prefix.Contains(ip) || ip.Compare(a.first()) < 0 {
		return false
	}
	// The broadcast address of the range stays unused too.
	last := broadcast(a.prefix)
	return ip != last
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Reserve records that pod uid holds ip (from its status, at start). It
// reports false when ip is not in the range or held by another pod.
func (a *ipAllocator) Reserve(uid, ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !a.usable(addr) {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if owner, ok := a.used[addr]; ok {
		return owner == uid
	}
	if old, ok := a.byUID[uid]; ok {
		delete(a.used, old)
	}
	a.used[addr] = uid
	a.byUID[uid] = addr
	return true
}

// Allocate returns the IP of pod uid, giving it a free one if it has none.
func (a *ipAllocator) Allocate(uid string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok := a.byUID[uid]; ok {
		return ip.String(), nil
	}
	start := a.next
	ip := start
	for {
		if _, taken := a.used[ip]; !taken && a.usable(ip) {
			a.used[ip] = uid
			a.byUID[uid] = ip
			a.next = a.advance(ip)
			return ip.String(), nil
		}
		ip = a.advance(ip)
		if ip == start {
			return "", fmt.Errorf("%w in %s", ErrNoPodIPs, a.prefix)
		}
	}
}

func (a *ipAllocator) advance(ip netip.Addr) netip.Addr {
	n := ip.Next()
	if !n.IsValid() || !a.usable(n) {
		return a.first()
	}
	return n
}

// Release frees the IP of pod uid.
func (a *ipAllocator) Release(uid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok := a.byUID[uid]; ok {
		delete(a.used, ip)
		delete(a.byUID, uid)
	}
}
