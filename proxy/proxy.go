// Package proxy is the node's service proxy, its kube-proxy: it makes each
// Service's cluster IP and node ports reach the Service's ready endpoints.
//
// It is a userspace TCP proxy. For every TCP port of every Service with a
// cluster IP it listens on clusterIP:port (any 127.x.y.z is an address of
// Linux's loopback, so no root and no rules are needed), and for a NodePort
// Service also on each node-port address at the nodePort. Each accepted
// connection goes to one endpoint of the Service's EndpointSlices whose
// condition ready is true (or unset), taken in turn, or the client's own
// one under sessionAffinity ClientIP; the bytes are copied both ways and a
// half-close is passed on. A Service with no ready endpoint refuses
// connections, as kube-proxy's reject rule does: its listener is closed
// until an endpoint is ready.
//
// Changes of Services and EndpointSlices apply to new connections at once;
// established connections are kept when their endpoint leaves, as
// kube-proxy's conntrack entries are. UDP and SCTP ports, headless
// Services, ExternalName Services and cluster IPs off the loopback range
// get no listener. A listener that cannot be opened (a port in use) is a
// Warning event on the Service and a log line, retried at every sync,
// never an error of the proxy.
//
// The proxy meets the controllers and the node agent only in the store:
// it reads Services and EndpointSlices through informers and never
// imports host/. It must never bind an address outside loopback other
// than the node-port addresses its operator named, nor dial a loopback
// address outside the pod range.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/controller"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/internal/events"
	"github.com/wasmlet/wasmlet/store"
)

// Defaults of Options.
const (
	// DefaultDialTimeout bounds the connection to an endpoint. Pods are on
	// loopback: a dial is answered at once unless the pod's accept queue
	// is full.
	DefaultDialTimeout = 3 * time.Second
	// DefaultIdleTimeout closes a proxied connection that carried no byte
	// either way for this long.
	DefaultIdleTimeout = time.Hour
	// DefaultMaxConnections bounds the connections the proxy carries at
	// once; past it, new ones are reset.
	DefaultMaxConnections = 4096
	// DefaultSyncPeriod is how often the proxy compares its listeners with
	// the Services again (and retries the ones that failed), as
	// kube-proxy's --iptables-sync-period.
	DefaultSyncPeriod = 30 * time.Second
	// maxDialAttempts is how many endpoints a connection tries before it
	// is reset.
	maxDialAttempts = 3
)

// DefaultNodePortAddress is where node ports listen when none is named.
const DefaultNodePortAddress = "127.0.0.1"

// Options configures New. The zero value is usable with a Store.
type Options struct {
	// NodeName is the host of the proxy's events.
	NodeName string
	// NodePortAddresses are the IPs node ports listen on; nil means
	// DefaultNodePortAddress.
	NodePortAddresses []string
	// PodCIDR is the loopback range of the node's pods: endpoints on
	// loopback outside it are not dialled, so that no Service leads to the
	// node's own API or other local services. "" allows all of loopback.
	PodCIDR string
	// Clock times session affinity; defaults to clock.Real(). Sockets'
	// deadlines are the kernel's, in real time.
	Clock clock.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// DialTimeout, IdleTimeout, MaxConnections and SyncPeriod: 0 means
	// the default above.
	DialTimeout    time.Duration
	IdleTimeout    time.Duration
	MaxConnections int
	SyncPeriod     time.Duration
}

// Errors of New.
var (
	// ErrBadNodePortAddress: a node-port address is not an IP.
	ErrBadNodePortAddress = errors.New("proxy: node-port address is not an IPv4 address")
	// ErrBadPodCIDR: the pod range is not an IPv4 prefix.
	ErrBadPodCIDR = errors.New("proxy: pod CIDR is not an IPv4 prefix")
)

// Proxier is the node's service proxy. Create it with New, run it with
// Start.
type Proxier struct {
	opts      Options
	nodePorts []netip.Addr
	allowed   func(netip.Addr) bool // endpoint addresses the proxy dials
	log       *slog.Logger
	clock     clock.Clock
	recorder  *events.Recorder
	services  *controller.Informer
	slices    *controller.Informer
	dirty     chan struct{}
	sem       chan struct{}
	dialer    net.Dialer
	epoch     atomic.Uint64 // ticks of the idle reaper

	mu        sync.Mutex
	ports     map[string]*servicePort // by portKey
	listeners map[string]*listener    // by listening address
	conns     map[*conn]struct{}
	closed    bool

	reported map[string]bool // refusals already told; the sync loop's own
	wg       sync.WaitGroup  // accept loops and connections
}

// New returns a proxy over the Services and EndpointSlices of st. Nothing
// listens until Start.
func New(st *store.Store, opts Options) (*Proxier, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.SyncPeriod <= 0 {
		opts.SyncPeriod = DefaultSyncPeriod
	}
	if opts.NodePortAddresses == nil {
		opts.NodePortAddresses = []string{DefaultNodePortAddress}
	}
	p := &Proxier{
		opts:      opts,
		log:       opts.Logger.With("part", "proxy"),
		clock:     opts.Clock,
		dirty:     make(chan struct{}, 1),
		sem:       make(chan struct{}, opts.MaxConnections),
		dialer:    net.Dialer{Timeout: opts.DialTimeout},
		ports:     map[string]*servicePort{},
		listeners: map[string]*listener{},
		conns:     map[*conn]struct{}{},
	}
	for _, a := range opts.NodePortAddresses {
		ip, err := netip.ParseAddr(a)
		if err != nil || !ip.Is4() {
			return nil, fmt.Errorf("%w: %q", ErrBadNodePortAddress, a)
		}
		p.nodePorts = append(p.nodePorts, ip)
	}
	var pods netip.Prefix
	if opts.PodCIDR != "" {
		var err error
		if pods, err = netip.ParsePrefix(opts.PodCIDR); err != nil || !pods.Addr().Is4() {
			return nil, fmt.Errorf("%w: %q", ErrBadPodCIDR, opts.PodCIDR)
		}
		pods = pods.Masked()
	}
	p.allowed = endpointFilter(pods)
	svcs, ok := api.LookupResource("services")
	if !ok {
		return nil, errors.New("proxy: the api package serves no services")
	}
	eps, ok := api.LookupResource("endpointslices.discovery.k8s.io")
	if !ok {
		return nil, errors.New("proxy: the api package serves no endpointslices")
	}
	p.services = controller.NewInformer(st, svcs, opts.Clock, opts.SyncPeriod, opts.Logger)
	p.slices = controller.NewInformer(st, eps, opts.Clock, 0, opts.Logger)
	mark := controller.Handler{
		OnAdd:    func(api.Object) { p.markDirty() },
		OnUpdate: func(_, _ api.Object) { p.markDirty() },
		OnDelete: func(api.Object) { p.markDirty() },
	}
	p.services.AddHandler(mark)
	p.slices.AddHandler(mark)
	p.recorder = events.NewRecorder(st, "kube-proxy", opts.NodeName, opts.Clock).WithLogger(opts.Logger)
	return p, nil
}

func (p *Proxier) markDirty() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// Start runs the proxy until ctx ends, then closes its listeners and the
// connections it carries, and returns nil.
func (p *Proxier) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, inf := range []*controller.Informer{p.services, p.slices} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = inf.Start(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.reapIdle(ctx)
	}()
	defer wg.Wait()
	defer p.Close()
	for _, inf := range []*controller.Informer{p.services, p.slices} {
		select {
		case <-inf.Synced():
		case <-ctx.Done():
			return nil
		}
	}
	for {
		p.sync()
		select {
		case <-ctx.Done():
			return nil
		case <-p.dirty:
		}
	}
}

// Close closes every listener and every proxied connection and waits for
// their goroutines. It is idempotent; Start calls it when its ctx ends.
func (p *Proxier) Close() error {
	p.mu.Lock()
	p.closed = true
	for addr, l := range p.listeners {
		l.close()
		delete(p.listeners, addr)
	}
	for c := range p.conns {
		c.abort()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// desiredPort is one service port as the Services and slices say now.
type desiredPort struct {
	svc      *api.Service
	name     string
	table    *backends
	addrs    []string
	nodePort bool
}

// sync makes the listeners what the cached Services and EndpointSlices
// say: level-triggered, every time from the whole of both caches.
func (p *Proxier) sync() {
	slicesBySvc := map[string][]*api.EndpointSlice{}
	for _, o := range p.slices.List("", nil) {
		s, ok := o.(*api.EndpointSlice)
		if !ok {
			continue
		}
		svc := s.Labels[api.ServiceNameLabel]
		if svc == "" {
			continue
		}
		k := s.Namespace + "/" + svc
		slicesBySvc[k] = append(slicesBySvc[k], s)
	}
	desired := map[string]*desiredPort{} // by portKey
	claims := map[string]string{}        // address → portKey
	var refused []refusal
	for _, o := range p.services.List("", nil) {
		svc, ok := o.(*api.Service)
		if !ok {
			continue
		}
		ip, ok := clusterIP(svc)
		if !ok {
			if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != api.ClusterIPNone && svc.Spec.Type != api.ServiceTypeExternalName {
				refused = append(refused, refusal{svc, "", fmt.Sprintf("cluster IP %q is not a loopback IPv4 address of this node: the Service gets no proxy", svc.Spec.ClusterIP)})
			}
			continue
		}
		slices := slicesBySvc[svc.Namespace+"/"+svc.Name]
		for _, sp := range svc.Spec.Ports {
			if sp.Protocol != "" && sp.Protocol != api.ProtocolTCP {
				continue
			}
			if sp.Port < 1 || sp.Port > 65535 {
				continue
			}
			k := portKey(svc, sp.Name)
			d := &desiredPort{svc: svc, name: sp.Name, table: &backends{
				endpoints: endpointsFor(slices, sp.Name, p.allowed),
				affinity:  affinityOf(svc),
			}}
			d.addrs = append(d.addrs, hostPort(ip, sp.Port))
			if (svc.Spec.Type == api.ServiceTypeNodePort || svc.Spec.Type == api.ServiceTypeLoadBalancer) && sp.NodePort >= 1 && sp.NodePort <= 65535 {
				for _, a := range p.nodePorts {
					d.addrs = append(d.addrs, hostPort(a, sp.NodePort))
				}
			}
			kept := d.addrs[:0]
			for _, a := range d.addrs {
				if other, ok := claims[a]; ok {
					refused = append(refused, refusal{svc, a, fmt.Sprintf("%s is already the address of %s", a, other)})
					continue
				}
				claims[a] = k
				kept = append(kept, a)
			}
			d.addrs = kept
			desired[k] = d
		}
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	for k, sp := range p.ports {
		if _, ok := desired[k]; !ok {
			delete(p.ports, k)
			sp.table.Store(&backends{})
		}
	}
	for k, d := range desired {
		sp, ok := p.ports[k]
		if !ok {
			sp = newServicePort(k)
			p.ports[k] = sp
		}
		if d.table.affinity == 0 {
			sp.forgetAffinity()
		}
		sp.table.Store(d.table)
	}
	for addr, l := range p.listeners {
		if _, ok := claims[addr]; !ok {
			l.close()
			delete(p.listeners, addr)
		}
	}
	var failures []refusal
	keys := make([]string, 0, len(desired))
	for k := range desired {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d := desired[k]
		sp := p.ports[k]
		for _, addr := range d.addrs {
			l, ok := p.listeners[addr]
			if !ok {
				l = &listener{addr: addr}
				p.listeners[addr] = l
			}
			l.port.Store(sp)
			if len(d.table.endpoints) == 0 {
				l.close() // refused, as kube-proxy rejects
				continue
			}
			if err := p.open(l); err != nil {
				if l.failed != err.Error() {
					l.failed = err.Error()
					failures = append(failures, refusal{d.svc, addr, err.Error()})
				}
				continue
			}
			l.failed = ""
		}
	}
	p.mu.Unlock()

	// A refusal is told once, while it lasts; a failure to listen once per
	// distinct error (l.failed).
	told := map[string]bool{}
	for _, r := range refused {
		k := string(r.svc.UID) + " " + r.addr + " " + r.msg
		told[k] = true
		if !p.reported[k] {
			failures = append(failures, r)
		}
	}
	p.reported = told
	for _, r := range failures {
		p.log.Warn("service not proxied", "service", r.svc.Namespace+"/"+r.svc.Name, "address", r.addr, "err", r.msg)
		p.recorder.Event(r.svc, events.Warning, ReasonFailedToListen, r.msg)
	}
}

// ReasonFailedToListen is the reason of the event on a Service whose
// address the proxy could not listen on.
const ReasonFailedToListen = "FailedToListen"

type refusal struct {
	svc  *api.Service
	addr string
	msg  string
}

// clusterIP is the Service's cluster IP when the proxy serves it: an IPv4
// loopback address other than the network's own, on a Service that is not
// headless nor ExternalName.
func clusterIP(svc *api.Service) (netip.Addr, bool) {
	if svc.Spec.Type == api.ServiceTypeExternalName {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !ip.Is4() || !ip.IsLoopback() || ip == netip.AddrFrom4([4]byte{127, 0, 0, 0}) || ip == netip.AddrFrom4([4]byte{127, 255, 255, 255}) {
		return netip.Addr{}, false
	}
	return ip, true
}

// open makes l listen if it does not; p.mu is held.
func (p *Proxier) open(l *listener) error {
	if l.ln != nil {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp4", l.addr)
	if err != nil {
		if errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("can't listen on %s/TCP: %w (ports below net.ipv4.ip_unprivileged_port_start need CAP_NET_BIND_SERVICE)", l.addr, err)
		}
		return fmt.Errorf("can't listen on %s/TCP: %w", l.addr, err)
	}
	l.ln = ln.(*net.TCPListener)
	p.wg.Add(1)
	go p.accept(l, l.ln)
	return nil
}

// Addresses lists the addresses the proxy listens on now, sorted; for
// tests and for the node's status.
func (p *Proxier) Addresses() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for a, l := range p.listeners {
		if l.ln != nil {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}
