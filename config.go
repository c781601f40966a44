package wasmlet

import (
	"log/slog"
	"time"

	"github.com/wasmlet/wasmlet/host"
	"github.com/wasmlet/wasmlet/internal/clock"
)

// Config is how a Node is set up. It is an immutable value: each WithX
// returns a changed copy, never fails and opens nothing; New reports what is
// wrong with it.
type Config struct {
	dataDir             string
	compilationCacheDir string
	inMemory            bool
	listen              string
	serveAPI            bool
	nodeName            string
	imageRoot           string
	podCIDR             string
	allowedHostPaths    []string
	shutdownGracePeriod time.Duration
	clock               clock.Clock
	logger              *slog.Logger
	runPods             bool
	runControllers      bool
	podLimits           host.Limits
	images              host.ImageOptions
	services            serviceRanges
	serviceProxy        bool
	nodePortAddresses   []string
}

// NewConfig returns the defaults: data in DefaultDataDir(), the API on
// 127.0.0.1:7443, the host name as node name, images relative to the
// working directory, pod IPs from 127.42.0.0/16, pods and controllers
// running.
func NewConfig() Config {
	return Config{
		listen:              "127.0.0.1:7443",
		serveAPI:            true,
		podCIDR:             "127.42.0.0/16",
		shutdownGracePeriod: 30 * time.Second,
		runPods:             true,
		runControllers:      true,
		serviceProxy:        true,
	}
}

// WithDataDir sets the directory that holds the store, the compilation
// cache, pod volumes and logs, the TLS material and the kubeconfig.
func (c Config) WithDataDir(dir string) Config { c.dataDir = dir; return c }

// WithCompilationCacheDir keeps the compilation cache (machine code of the
// modules, by content) in dir rather than in the data dir, for a node whose
// data dir does not last; see UserCompilationCacheDir.
func (c Config) WithCompilationCacheDir(dir string) Config { c.compilationCacheDir = dir; return c }

// WithInMemory keeps the store in memory: nothing survives Close. Volumes,
// logs and caches go to a temporary directory removed by Close unless a data
// dir is set.
func (c Config) WithInMemory(on bool) Config { c.inMemory = on; return c }

// WithListen sets the address of the HTTPS API ("127.0.0.1:0" picks a port;
// see Node.APIAddr).
func (c Config) WithListen(addr string) Config { c.listen = addr; return c }

// WithAPIServer turns the HTTPS API on or off. An embedding program that
// only uses the Go API may turn it off.
func (c Config) WithAPIServer(on bool) Config { c.serveAPI = on; return c }

// WithNodeName sets the name of the v1 Node object (default: the host name).
func (c Config) WithNodeName(name string) Config { c.nodeName = name; return c }

// WithImageRoot sets the directory that relative image paths are resolved
// against (default: the working directory).
func (c Config) WithImageRoot(dir string) Config { c.imageRoot = dir; return c }

// WithPodCIDR sets the loopback range pod IPs come from.
func (c Config) WithPodCIDR(cidr string) Config { c.podCIDR = cidr; return c }

// WithAllowedHostPaths lists the directories under which hostPath volumes
// are allowed; none are by default.
func (c Config) WithAllowedHostPaths(dirs ...string) Config {
	c.allowedHostPaths = append([]string(nil), dirs...)
	return c
}

// WithShutdownGracePeriod caps the grace period of each pod when the node
// stops.
func (c Config) WithShutdownGracePeriod(d time.Duration) Config { c.shutdownGracePeriod = d; return c }

// WithClock replaces the real clock (tests run back-off and grace periods in
// virtual time).
func (c Config) WithClock(clk clock.Clock) Config { c.clock = clk; return c }

// WithLogger sets where the node logs; the default discards.
func (c Config) WithLogger(l *slog.Logger) Config { c.logger = l; return c }

// WithPods turns the node agent (running pods) on or off; off, pods are only
// stored.
func (c Config) WithPods(on bool) Config { c.runPods = on; return c }

// WithPodLimits sets what a container may use when its pod names no limit,
// and the caps no pod can lift; zero fields keep host.DefaultLimits.
func (c Config) WithPodLimits(l host.Limits) Config { c.podLimits = l; return c }

// WithControllers turns the ReplicaSet, ReplicationController and garbage
// collector controllers on or off.
func (c Config) WithControllers(on bool) Config { c.runControllers = on; return c }

// WithImageOptions sets the registries reached over plain HTTP although
// they are not on this machine, and the thresholds of image garbage
// collection; zero fields keep the kubelet's defaults.
func (c Config) WithImageOptions(o host.ImageOptions) Config { c.images = o; return c }
