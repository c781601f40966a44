package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/internal/oci"
)

// DefaultMaxImageSize bounds the size of a module the node reads, from a
// file or over http(s) (Options.MaxImageSize changes it). Kubernetes has no
// such cap, but a node must bound what it holds in memory for one pull: the
// largest example guest is about 10 MB, a large Go or Rust service well
// under 100 MB. A file larger than this is refused before it is read, a
// download as soon as it says or shows it is larger.
const DefaultMaxImageSize = 256 << 20

// Image errors; the worker shows them as ErrImagePull with their text.
var (
	ErrInvalidImageName = errors.New("invalid image name")
	ErrDigestMismatch   = errors.New("digest mismatch")
	// ErrImageNotAFile: the image path names a directory, a device, a pipe
	// or a socket; it is refused before it is opened for reading.
	ErrImageNotAFile = errors.New("image is not a regular file")
	// ErrImageTooLarge: the module is larger than the node's limit.
	ErrImageTooLarge = errors.New("image too large")
)

// ImageRef is a parsed container image: a module's location and an
// optional pinned digest.
type ImageRef struct {
	// Path is set for images on the node (absolute once resolved).
	Path string
	// URL is set for http(s) images.
	URL string
	// Digest is the pinned sha256 in hex ("" when not pinned).
	Digest string
}

// ParseImage parses a container's image: a path (relative ones are resolved
// against root), file://PATH, or http(s)://URL, each optionally followed by
// @sha256:<64 hex digits>.
func ParseImage(image, root string) (ImageRef, error) {
	var ref ImageRef
	s := strings.TrimSpace(image)
	if s == "" {
		return ref, fmt.Errorf("%w: empty", ErrInvalidImageName)
	}
	if i := strings.LastIndex(s, "@sha256:"); i >= 0 {
		d := s[i+len("@sha256:"):]
		if len(d) != 64 {
			return ref, fmt.Errorf("%w %q: a sha256 digest has 64 hex digits", ErrInvalidImageName, image)
		}
		if _, err := hex.DecodeString(d); err != nil {
			return ref, fmt.Errorf("%w %q: digest is not hex", ErrInvalidImageName, image)
		}
		ref.Digest = strings.ToLower(d)
		s = s[:i]
	}
	switch {
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		if len(s) <= len("https://") || strings.ContainsAny(s, " \t\n") {
			return ImageRef{}, fmt.Errorf("%w %q", ErrInvalidImageName, image)
		}
		ref.URL = s
		return ref, nil
	case strings.HasPrefix(s, "file://"):
		s = strings.TrimPrefix(s, "file://")
	case strings.Contains(s, "://"):
		return ImageRef{}, fmt.Errorf("%w %q: the image is a path on the node, file://, http:// or https://", ErrInvalidImageName, image)
	}
	if s == "" || strings.ContainsRune(s, 0) {
		return ImageRef{}, fmt.Errorf("%w %q", ErrInvalidImageName, image)
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(root, s)
	}
	ref.Path = filepath.Clean(s)
	return ref, nil
}

// pulledImage is a module ready to start.
type pulledImage struct {
	Digest string // hex sha256 of the module
	Size   int64
	Module compiledModule
	// RepoDigest is a registry image's repository and manifest digest
	// ("index.docker.io/acme/myweb@sha256:…"), its imageID on a cluster.
	RepoDigest string
}

// ImageID is the imageID of a container status.
func (p *pulledImage) ImageID() string {
	if p.RepoDigest != "" {
		return p.RepoDigest
	}
	return "sha256:" + p.Digest
}

// imageManager fetches modules and compiles each distinct one once, shared
// by every pod (the on-disk compilation cache keeps machine code across
// node restarts).
type imageManager struct {
	rt      moduleRuntime
	root    string
	client  *http.Client
	maxSize int64

	mu       sync.Mutex
	compiled map[string]*compileEntry // digest -> module
	known    map[string]string        // image string -> digest of the last successful pull
	// local remembers the digest of a module file by its size and
	// modification time, so that starting a container does not read and
	// hash a module that has not changed (for a Go guest, ~10 MB each time).
	local map[string]localModule // path -> what it was at the last pull
	// pulls are the pulls under way: the pods of one image that start
	// while it is read and compiled wait for that pull instead of each
	// reading the module into memory (a hundred replicas of a 10 MB guest
	// would hold 1 GB until the one compile ends).
	pulls map[string]*pullCall // image string -> its pull

	// registryDir holds the images pulled from registries (internal/oci's
	// store), opened at the first such pull; "" refuses registry images.
	registryDir string
	registry    *oci.Puller
	registryErr error
	// insecure are the registries reached over plain HTTP although not on
	// this machine; now is the clock of the store's records.
	insecure []string
	now      func() time.Time
	// changed is signalled when the store's images changed (a pull or a
	// removal), for the node status to list them again.
	changed chan struct{}
	// removeMu orders removals (rmi, image GC) with each other.
	removeMu sync.Mutex
}

type pullCall struct {
	done chan struct{}
	img  *pulledImage
	err  error
}

type localModule struct {
	size    int64
	modTime time.Time
	digest  string
}

type compileEntry struct {
	done chan struct{}
	mod  compiledModule
	err  error
}

func newImageManager(rt moduleRuntime, root string, client *http.Client, maxSize int64) *imageManager {
	if client == nil {
		client = http.DefaultClient
	}
	if maxSize <= 0 {
		maxSize = DefaultMaxImageSize
	}
	return &imageManager{rt: rt, root: root, client: client, maxSize: maxSize,
		compiled: map[string]*compileEntry{}, known: map[string]string{}, local: map[string]localModule{},
		pulls: map[string]*pullCall{}, changed: make(chan struct{}, 1)}
}

// Present reports whether image was pulled before and its module is
// compiled (the kubelet's "already present on machine").
func (m *imageManager) Present(image string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.known[image]
	if !ok {
		return false
	}
	e, ok := m.compiled[d]
	if !ok {
		return false
	}
	select {
	case <-e.done:
		return e.err == nil
	default:
		return false
	}
}

// Pull reads the module of image, checks its pin, and compiles it unless a
// module with the same digest is compiled already. Concurrent pulls of one
// image share the first one's work and result.
func (m *imageManager) Pull(ctx context.Context, image string) (*pulledImage, error) {
	return m.PullWith(ctx, image, "")
}

// PullWith is Pull under a container's imagePullPolicy, which registry
// images follow ("" is IfNotPresent); a module file is read again when it
// changed, whatever the policy.
func (m *imageManager) PullWith(ctx context.Context, image string, policy api.PullPolicy) (*pulledImage, error) {
	return m.PullAs(ctx, image, policy, oci.Credentials{})
}

// PullAs is PullWith that logs in to a registry with creds (a pod's
// imagePullSecrets) before the node's own credentials. Pulls share their
// work only with pulls of the same image, policy and credentials.
func (m *imageManager) PullAs(ctx context.Context, image string, policy api.PullPolicy, creds oci.Credentials) (*pulledImage, error) {
	if policy == "" {
		policy = api.PullIfNotPresent
	}
	// Keyed by policy too: an Always pull must not take the result of an
	// IfNotPresent pull that found the image on the node and did not ask
	// the registry what the tag names now.
	key := image + "\x00" + string(policy)
	if id := creds.ID(); id != "" {
		key += "\x00" + id
	}
	for {
		m.mu.Lock()
		c, ok := m.pulls[key]
		if !ok {
			c = &pullCall{done: make(chan struct{})}
			m.pulls[key] = c
		}
		m.mu.Unlock()
		if !ok {
			c.img, c.err = m.pull(ctx, image, policy, creds)
			m.mu.Lock()
			delete(m.pulls, key)
			m.mu.Unlock()
			close(c.done)
			return c.img, c.err
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// A pull ended by its caller's context (that worker stopped) is
		// not this caller's failure: it pulls again itself.
		if c.err == nil || ctx.Err() != nil || !(errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded)) {
			return c.img, c.err
		}
	}
}

func (m *imageManager) pull(ctx context.Context, image string, policy api.PullPolicy, creds oci.Credentials) (*pulledImage, error) {
	if reg, err := api.IsRegistryImage(image); err != nil {
		return nil, err
	} else if reg {
		return m.pullRegistry(ctx, image, policy, creds)
	}
	ref, err := ParseImage(image, m.root)
	if err != nil {
		return nil, err
	}
	if p := m.unchangedLocal(ref); p != nil {
		m.mu.Lock()
		m.known[image] = p.Digest
		m.mu.Unlock()
		return p, nil
	}
	// Stat before reading: a file that changes while it is read then has a
	// newer time than the one recorded, and is read again next time.
	var before os.FileInfo
	if ref.Path != "" {
		before, _ = os.Stat(ref.Path)
	}
	data, err := m.fetch(ctx, ref)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	if ref.Digest != "" && ref.Digest != digest {
		return nil, fmt.Errorf("%w: %s has sha256:%s, the image pins sha256:%s", ErrDigestMismatch, refLocation(ref), digest, ref.Digest)
	}
	mod, err := m.compile(ctx, digest, data)
	if errors.Is(err, wasi.ErrModuleLimits) {
		return nil, fmt.Errorf("%s is refused: %w", refLocation(ref), err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid WebAssembly module: %w", refLocation(ref), err)
	}
	m.mu.Lock()
	m.known[image] = digest
	m.mu.Unlock()
	if before != nil {
		m.mu.Lock()
		m.local[ref.Path] = localModule{size: before.Size(), modTime: before.ModTime(), digest: digest}
		m.mu.Unlock()
	}
	return &pulledImage{Digest: digest, Size: int64(len(data)), Module: mod}, nil
}

// pullRegistry makes a registry image present under policy (the store
// keeps it across node restarts) and compiles its module.
func (m *imageManager) pullRegistry(ctx context.Context, image string, policy api.PullPolicy, creds oci.Credentials) (*pulledImage, error) {
	p, err := m.puller()
	if err != nil {
		return nil, err
	}
	if policy == "" {
		policy = api.PullIfNotPresent
	}
	got, err := p.PullAs(ctx, image, oci.Policy(policy), creds)
	if err != nil {
		return nil, err
	}
	if !got.Present {
		m.imagesChanged()
	}
	digest := strings.TrimPrefix(got.Module, "sha256:")
	mod, err := m.compile(ctx, digest, got.Bytes)
	if errors.Is(err, wasi.ErrModuleLimits) {
		return nil, fmt.Errorf("%s is refused: %w", image, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid WebAssembly module: %w", image, err)
	}
	m.mu.Lock()
	m.known[image] = digest
	m.mu.Unlock()
	return &pulledImage{Digest: digest, Size: got.Size, Module: mod, RepoDigest: repository(got.Reference) + "@" + got.Digest}, nil
}

// puller opens the registry store at its first use.
func (m *imageManager) puller() (*oci.Puller, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.registry == nil && m.registryErr == nil {
		if m.registryDir == "" {
			m.registryErr = errors.New("this node keeps no registry images")
		} else if st, err := oci.OpenStore(m.registryDir, m.maxSize); err != nil {
			m.registryErr = fmt.Errorf("opening the image store: %w", err)
		} else {
			m.registry = &oci.Puller{Store: st, Insecure: m.insecure, Now: m.now}
		}
	}
	return m.registry, m.registryErr
}

// unchangedLocal returns the pulled image of a module file whose size and
// modification time are those of its last pull, when its module is still
// compiled; nil means the file must be read again.
func (m *imageManager) unchangedLocal(ref ImageRef) *pulledImage {
	if ref.Path == "" {
		return nil
	}
	fi, err := os.Stat(ref.Path)
	if err != nil || fi.IsDir() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.local[ref.Path]
	if !ok || l.size != fi.Size() || !l.modTime.Equal(fi.ModTime()) {
		return nil
	}
	if ref.Digest != "" && ref.Digest != l.digest {
		return nil
	}
	e, ok := m.compiled[l.digest]
	if !ok {
		return nil
	}
	select {
	case <-e.done:
		if e.err != nil {
			return nil
		}
		return &pulledImage{Digest: l.digest, Size: l.size, Module: e.mod}
	default:
		return nil
	}
}

func refLocation(ref ImageRef) string {
	if ref.URL != "" {
		return ref.URL
	}
	return ref.Path
}

func (m *imageManager) fetch(ctx context.Context, ref ImageRef) ([]byte, error) {
	if ref.Path != "" {
		return m.readFile(ref.Path)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidImageName, ref.URL, err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", ref.URL, resp.Status)
	}
	if resp.ContentLength > m.maxSize {
		return nil, m.tooLarge(ref.URL, resp.ContentLength)
	}
	return m.readLimited(resp.Body, ref.URL, resp.ContentLength)
}

// readFile reads a module file. Its type and size are checked before it is
// opened for reading (a device such as /dev/zero never ends, a FIFO's open
// blocks until a writer comes), and again on the open file, opened without
// blocking, in case the path was replaced in between.
func (m *imageManager) readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := m.checkFile(path, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := m.checkFile(path, fi); err != nil {
		return nil, err
	}
	return m.readLimited(f, path, fi.Size())
}

func (m *imageManager) checkFile(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is %s", ErrImageNotAFile, path, fileType(fi.Mode()))
	}
	if fi.Size() > m.maxSize {
		return m.tooLarge(path, fi.Size())
	}
	return nil
}

func (m *imageManager) tooLarge(what string, size int64) error {
	if size < 0 {
		return fmt.Errorf("%w: %s is larger than the node's limit of %s for a module", ErrImageTooLarge, what, byteSize(m.maxSize))
	}
	return fmt.Errorf("%w: %s is %s, larger than the node's limit of %s for a module", ErrImageTooLarge, what, byteSize(size), byteSize(m.maxSize))
}

// fileType names the type of a file that is not a regular one.
func fileType(mode os.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&os.ModeCharDevice != 0:
		return "a character device"
	case mode&os.ModeDevice != 0:
		return "a block device"
	case mode&os.ModeNamedPipe != 0:
		return "a named pipe"
	case mode&os.ModeSocket != 0:
		return "a socket"
	default:
		return "an irregular file"
	}
}

// byteSize prints a size in bytes as kubectl prints quantities, in the
// largest binary unit that divides it, else in bytes.
func byteSize(n int64) string {
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{40, "Ti"}, {30, "Gi"}, {20, "Mi"}, {10, "Ki"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.suffix)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// readLimited reads a module of at most maxSize bytes from r; size, when
// known (positive and within the limit), sizes the buffer once.
func (m *imageManager) readLimited(r io.Reader, what string, size int64) ([]byte, error) {
	var b bytes.Buffer
	if size > 0 && size <= m.maxSize {
		b.Grow(int(size) + bytes.MinRead)
	}
	if _, err := b.ReadFrom(io.LimitReader(r, m.maxSize+1)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if int64(b.Len()) > m.maxSize {
		return nil, m.tooLarge(what, -1)
	}
	return b.Bytes(), nil
}

func (m *imageManager) compile(ctx context.Context, digest string, data []byte) (compiledModule, error) {
	m.mu.Lock()
	e, ok := m.compiled[digest]
	if !ok {
		e = &compileEntry{done: make(chan struct{})}
		m.compiled[digest] = e
	}
	m.mu.Unlock()
	if ok {
		select {
		case <-e.done:
			return e.mod, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e.mod, e.err = m.rt.Compile(ctx, data)
	if e.err != nil {
		// A failed compile is not kept: the next pull tries again (the
		// context may have ended, or the module was replaced on disk).
		m.mu.Lock()
		delete(m.compiled, digest)
		m.mu.Unlock()
	}
	close(e.done)
	return e.mod, e.err
}
