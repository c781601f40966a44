package oci

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The media types of the wasm OCI artifact (CNCF TAG Runtime's "wasm OCI
// artifact layout"), and the older layer types some tools still push.
const (
	WasmConfigMediaType types.MediaType = "application/vnd.wasm.config.v0+json"
	WasmLayerMediaType  types.MediaType = "application/wasm"
)

var wasmLayerTypes = []types.MediaType{
	WasmLayerMediaType,
	"application/vnd.wasm.content.layer.v1+wasm",
	"application/vnd.module.wasm.content.layer.v1+wasm",
}

// Pull errors, each named as the registry names it; the node shows them
// as ErrImagePull with their text.
var (
	ErrNotFound       = errors.New("not found")
	ErrUnauthorized   = errors.New("unauthorized")
	ErrNoModule       = errors.New("no WebAssembly module in the image")
	ErrDigestMismatch = errors.New("digest mismatch")
	ErrInsecure       = errors.New("plain HTTP refused")
	// ErrNeverPull: imagePullPolicy Never and the image is not on the node.
	ErrNeverPull = errors.New("image is not present with pull policy of Never")
)

// Policy is a container's imagePullPolicy.
type Policy string

// The pull policies.
const (
	PullAlways       Policy = "Always"
	PullIfNotPresent Policy = "IfNotPresent"
	PullNever        Policy = "Never"
)

// Puller fetches modules from registries into a Store.
type Puller struct {
	Store *Store
	// Keychain finds credentials for a registry; nil is the Docker-style
	// config file ($DOCKER_CONFIG/config.json, ~/.docker/config.json).
	Keychain authn.Keychain
	// Insecure lists registries ("host:port") reached over plain HTTP
	// although they are not on this machine.
	Insecure []string
	// Transport, when set, carries the requests (tests).
	Transport http.RoundTripper
	// Now is the clock of the records (time.Now when nil).
	Now func() time.Time

	mu       sync.Mutex
	inFlight map[string]*pull
}

type pull struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int // guarded by Puller.mu
	im      Image
	err     error
}

// Pulled is a pulled module.
type Pulled struct {
	Image
	// Present: nothing was downloaded, the module was on the node.
	Present bool
	// Bytes of the module.
	Bytes []byte
}

// Pull makes the module of image present under policy and returns it.
// Concurrent pulls of one reference share one download.
func (p *Puller) Pull(ctx context.Context, image string, policy Policy) (*Pulled, error) {
	return p.PullAs(ctx, image, policy, Credentials{})
}

// PullAs is Pull that logs in with creds before the node's Keychain. A
// download is shared only by pulls with the same credentials, so that a
// pod never waits for (nor gets) a download made with another's secret.
func (p *Puller) PullAs(ctx context.Context, image string, policy Policy, creds Credentials) (*Pulled, error) {
	ref, err := ParseReference(image)
	if err != nil {
		return nil, err
	}
	key := ref.Name()
	flight := key + "\x00" + creds.id
	if im, ok := p.Store.Lookup(key); ok && (policy == PullNever || policy == PullIfNotPresent || pinned(ref)) {
		if b, err := p.Store.ReadBlob(im.Module); err == nil {
			p.Store.Touch(key, p.now())
			return &Pulled{Image: im, Present: true, Bytes: b}, nil
		}
	}
	if policy == PullNever {
		return nil, fmt.Errorf("%w: %s", ErrNeverPull, image)
	}
	p.mu.Lock()
	if p.inFlight == nil {
		p.inFlight = map[string]*pull{}
	}
	pl, shared := p.inFlight[flight]
	if !shared {
		// The download belongs to every pod waiting for it: it is
		// cancelled when the last of them stops waiting, not when the
		// first does.
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		pl = &pull{done: make(chan struct{}), cancel: cancel}
		p.inFlight[flight] = pl
		go func() {
			defer cancel()
			pl.im, pl.err = p.fetchAs(fctx, ref, creds)
			p.mu.Lock()
			delete(p.inFlight, flight)
			p.mu.Unlock()
			close(pl.done)
		}()
	}
	pl.waiters++
	p.mu.Unlock()
	select {
	case <-ctx.Done():
		p.mu.Lock()
		if pl.waiters--; pl.waiters == 0 {
			pl.cancel()
		}
		p.mu.Unlock()
		return nil, ctx.Err()
	case <-pl.done:
	}
	if pl.err != nil {
		return nil, pl.err
	}
	b, err := p.Store.ReadBlob(pl.im.Module)
	if err != nil {
		return nil, err
	}
	return &Pulled{Image: pl.im, Bytes: b}, nil
}

func pinned(ref name.Reference) bool {
	_, ok := ref.(name.Digest)
	return ok
}

func (p *Puller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// pullTimeout bounds one download: a registry that stops answering fails
// the pull, which is then retried with the back-off of ImagePullBackOff.
const pullTimeout = 5 * time.Minute

func (p *Puller) options(ctx context.Context, login authn.Authenticator) []remote.Option {
	kc := p.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	auth := remote.WithAuthFromKeychain(kc)
	if login != nil {
		auth = remote.WithAuth(login)
	}
	base := p.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	return []remote.Option{
		remote.WithContext(ctx),
		auth,
		remote.WithTransport(&httpGuard{next: base, insecure: p.Insecure}),
		remote.WithPlatform(v1.Platform{OS: "wasip1", Architecture: "wasm"}),
		remote.WithUserAgent("wasmlet"),
	}
}

// fetchAs fetches ref with each login of creds in turn, then with the
// node's Keychain, as the kubelet tries a pod's credentials and then the
// node's. Only a refusal (401, 403) moves on to the next login: a missing
// tag or a registry that does not answer is the same for every login.
// When every attempt is refused, the first refusal is the error.
func (p *Puller) fetchAs(ctx context.Context, ref name.Reference, creds Credentials) (Image, error) {
	var refused error
	for _, login := range creds.logins {
		im, err := p.fetch(ctx, ref, authn.FromConfig(login))
		if err == nil || !errors.Is(err, ErrUnauthorized) {
			return im, err
		}
		if refused == nil {
			refused = err
		}
	}
	im, err := p.fetch(ctx, ref, nil)
	if err != nil && refused != nil && errors.Is(err, ErrUnauthorized) {
		return Image{}, refused
	}
	return im, err
}

// fetch resolves ref, downloads its module into the store and records it;
// login, when set, is used instead of the node's Keychain.
func (p *Puller) fetch(ctx context.Context, ref name.Reference, login authn.Authenticator) (Image, error) {
	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	opts := p.options(ctx, login)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return Image{}, registryError(ref, err)
	}
	manifestDigest := desc.Digest.String()
	if desc.MediaType.IsIndex() {
		if desc, err = wasmEntry(desc, ref, opts); err != nil {
			return Image{}, err
		}
	}
	img, err := desc.Image()
	if err != nil {
		return Image{}, registryError(ref, err)
	}
	module, size, err := p.module(img, ref)
	if err != nil {
		return Image{}, err
	}
	now := p.now()
	im := Image{Reference: ref.Name(), Digest: manifestDigest, Module: module, Size: size, Pulled: now, LastUsed: now}
	if err := p.Store.Record(im); err != nil {
		return Image{}, err
	}
	return im, nil
}

// wasmEntry picks the index's manifest for WebAssembly: platform
// wasip1/wasm, or wasi/wasm as containerd's wasm shims name it.
func wasmEntry(desc *remote.Descriptor, ref name.Reference, opts []remote.Option) (*remote.Descriptor, error) {
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, registryError(ref, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, registryError(ref, err)
	}
	var platforms []string
	for _, e := range m.Manifests {
		if e.Platform == nil {
			continue
		}
		platforms = append(platforms, e.Platform.OS+"/"+e.Platform.Architecture)
		if e.Platform.Architecture == "wasm" && (e.Platform.OS == "wasip1" || e.Platform.OS == "wasi") {
			return remote.Get(ref.Context().Digest(e.Digest.String()), opts...)
		}
	}
	return nil, fmt.Errorf("%w: %s is an index without a wasip1/wasm or wasi/wasm entry (it has %s)", ErrNoModule, ref, strings.Join(platforms, ", "))
}

// module finds the module in img and stores it; it returns its digest and
// size.
func (p *Puller) module(img v1.Image, ref name.Reference) (string, int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return "", 0, registryError(ref, err)
	}
	for _, l := range m.Layers {
		for _, t := range wasmLayerTypes {
			if l.MediaType != t {
				continue
			}
			if l.Size > p.Store.maxSize {
				return "", 0, fmt.Errorf("%w: %s's module is %d bytes, more than the node's limit of %d", ErrTooLarge, ref, l.Size, p.Store.maxSize)
			}
			if p.Store.Has(l.Digest.String()) {
				return l.Digest.String(), l.Size, nil
			}
			layer, err := img.LayerByDigest(l.Digest)
			if err != nil {
				return "", 0, registryError(ref, err)
			}
			rc, err := layer.Compressed()
			if err != nil {
				return "", 0, registryError(ref, err)
			}
			defer rc.Close()
			d, n, err := p.Store.Put(rc, l.Digest.String())
			if err != nil {
				return "", 0, registryError(ref, err)
			}
			return d, n, nil
		}
	}
	if m.Config.MediaType == WasmConfigMediaType {
		return "", 0, fmt.Errorf("%w: %s is a wasm artifact without an application/wasm layer", ErrNoModule, ref)
	}
	return p.entrypointModule(img, m, ref)
}

// entrypointModule reads a container image's filesystem, top layer first,
// for the file its entrypoint names.
func (p *Puller) entrypointModule(img v1.Image, m *v1.Manifest, ref name.Reference) (string, int64, error) {
	var total int64
	for _, l := range m.Layers {
		total += l.Size
	}
	if total > p.Store.maxSize {
		return "", 0, fmt.Errorf("%w: %s's layers are %d bytes, more than the node's limit of %d", ErrTooLarge, ref, total, p.Store.maxSize)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return "", 0, registryError(ref, err)
	}
	var cfg struct {
		Config struct {
			Entrypoint []string `json:"Entrypoint"`
			Cmd        []string `json:"Cmd"`
		} `json:"config"`
	}
	_ = json.Unmarshal(raw, &cfg)
	argv := cfg.Config.Entrypoint
	if len(argv) == 0 {
		argv = cfg.Config.Cmd
	}
	if len(argv) == 0 || argv[0] == "" {
		return "", 0, fmt.Errorf("%w: %s has no application/wasm layer and its config names no entrypoint", ErrNoModule, ref)
	}
	want := strings.TrimPrefix(path.Clean("/"+argv[0]), "/")
	fsys := mutate.Extract(img)
	defer fsys.Close()
	// A layer may decompress to far more than its size: the walk stops
	// after a bounded number of bytes.
	limit := &countingReader{r: fsys, left: 16 * p.Store.maxSize}
	tr := tar.NewReader(limit)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", 0, fmt.Errorf("%w: %s's entrypoint %s is not a file in the image", ErrNoModule, ref, argv[0])
		}
		if err != nil {
			if limit.left <= 0 {
				return "", 0, fmt.Errorf("%w: %s's layers decompress to more than %d bytes", ErrTooLarge, ref, 16*p.Store.maxSize)
			}
			return "", 0, registryError(ref, err)
		}
		if strings.TrimPrefix(path.Clean("/"+h.Name), "/") != want {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return "", 0, fmt.Errorf("%w: %s's entrypoint %s is not a regular file in the image", ErrNoModule, ref, argv[0])
		}
		if h.Size > p.Store.maxSize {
			return "", 0, fmt.Errorf("%w: %s's module is %d bytes, more than the node's limit of %d", ErrTooLarge, ref, h.Size, p.Store.maxSize)
		}
		d, n, err := p.Store.Put(tr, "")
		if err != nil {
			return "", 0, registryError(ref, err)
		}
		return d, n, nil
	}
}

type countingReader struct {
	r    io.Reader
	left int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, ErrTooLarge
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

// registryError names what the registry said, as the kubelet's messages
// do, wrapping one of the package's errors where one applies.
func registryError(ref name.Reference, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized, te.StatusCode == http.StatusForbidden:
			return fmt.Errorf("%w: pulling %s: %v", ErrUnauthorized, ref, err)
		case te.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %s: %v", ErrNotFound, ref, err)
		}
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return fmt.Errorf("%w: %s: %v", ErrNotFound, ref, err)
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fmt.Errorf("%w: pulling %s: %v", ErrUnauthorized, ref, err)
			}
		}
	}
	if errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrInsecure) {
		return err
	}
	if strings.Contains(err.Error(), "error verifying") || strings.Contains(err.Error(), "digest mismatch") {
		return fmt.Errorf("%w: %s: %v", ErrDigestMismatch, ref, err)
	}
	return fmt.Errorf("pulling %s: %w", ref, err)
}

// httpGuard refuses plain HTTP to a registry that is neither on this
// machine nor listed as insecure: go-containerregistry falls back to HTTP
// for private (RFC 1918) addresses too, where a registry's traffic could
// be read and changed on the way.
type httpGuard struct {
	next     http.RoundTripper
	insecure []string
}

func (g *httpGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" && !isLoopback(r.URL.Host) && !contains(g.insecure, r.URL.Host) {
		return nil, fmt.Errorf("%w to %s: a registry not on this machine is reached over HTTPS, unless the node lists it as insecure", ErrInsecure, r.URL.Host)
	}
	return g.next.RoundTrip(r)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
