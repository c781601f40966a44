package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrBlobDamaged: a stored blob no longer has the digest it is stored
// under; it is removed, and the next pull fetches it again.
var ErrBlobDamaged = errors.New("stored blob damaged")

// ErrTooLarge: a blob larger than the store's limit.
var ErrTooLarge = errors.New("image too large")

// Store keeps modules by digest, and which reference resolved to which
// module, under one directory:
//
//	blobs/sha256/<hex>   a module, named by the sha256 of its bytes
//	images.json          reference -> Image
//	tmp/                 blobs being written; emptied at Open
//
// A blob is written to tmp/, synced, checked against its digest and only
// then renamed into blobs/: a crash or a full disk leaves at most a file
// in tmp/, never a blob with other bytes than its name says. Every read
// checks the digest again.
type Store struct {
	dir     string
	maxSize int64

	mu     sync.Mutex
	images map[string]Image

	// writeFault, set by tests (SetWriteFault), fails a blob's write as a
	// full disk does.
	writeFault func(written int64) error
}

// ErrDiskFull: the disk of the store has no room left for a blob; the
// blob's temporary file is removed and nothing is recorded.
var ErrDiskFull = errors.New("the node's image store is out of disk space")

// SetWriteFault makes every write of a blob's bytes first ask f, with the
// bytes written so far, and fail with its error: tests inject a full disk
// in the middle of a layer with it. nil removes it.
func (s *Store) SetWriteFault(f func(written int64) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeFault = f
}

// faultWriter is a blob's file under a test's write fault.
type faultWriter struct {
	f       *os.File
	fault   func(written int64) error
	written int64
}

func (w *faultWriter) Write(b []byte) (int, error) {
	if err := w.fault(w.written); err != nil {
		return 0, &os.PathError{Op: "write", Path: w.f.Name(), Err: err}
	}
	n, err := w.f.Write(b)
	w.written += int64(n)
	return n, err
}

// Image is what the store knows of one reference.
type Image struct {
	// Reference as the pod names it, fully qualified
	// ("index.docker.io/library/myweb:latest").
	Reference string `json:"reference"`
	// Digest of the manifest the reference resolved to ("sha256:…").
	Digest string `json:"digest"`
	// Module is the digest of the module's bytes ("sha256:…").
	Module string `json:"module"`
	// Size of the module in bytes.
	Size     int64     `json:"size"`
	Pulled   time.Time `json:"pulled"`
	LastUsed time.Time `json:"lastUsed"`
}

// OpenStore opens (creating) the store in dir; blobs larger than maxSize
// bytes are refused.
func OpenStore(dir string, maxSize int64) (*Store, error) {
	for _, d := range []string{filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// What was being written when the node stopped is incomplete.
	if ents, err := os.ReadDir(filepath.Join(dir, "tmp")); err == nil {
		for _, e := range ents {
			os.Remove(filepath.Join(dir, "tmp", e.Name()))
		}
	}
	s := &Store{dir: dir, maxSize: maxSize, images: map[string]Image{}}
	b, err := os.ReadFile(filepath.Join(dir, "images.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		var list []Image
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("image store %s: images.json is damaged (%v); remove it to forget the references (the blobs stay)", dir, err)
		}
		for _, im := range list {
			s.images[im.Reference] = im
		}
	}
	return s, nil
}

// blobPath is where the blob of digest ("sha256:<hex>") is kept; a digest
// of another form is refused, so that no name leaves blobs/.
func (s *Store) blobPath(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("invalid digest %q", digest)
	}
	return filepath.Join(s.dir, "blobs", "sha256", h), nil
}

// Has says whether the blob of digest is stored.
func (s *Store) Has(digest string) bool {
	p, err := s.blobPath(digest)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// Put stores the bytes of r as a blob. want, when set, is the digest they
// must have; the returned digest is theirs. At most maxSize bytes are read.
func (s *Store) Put(r io.Reader, want string) (digest string, size int64, err error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "blob-")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	var w io.Writer = f
	s.mu.Lock()
	if s.writeFault != nil {
		w = &faultWriter{f: f, fault: s.writeFault}
	}
	s.mu.Unlock()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, s.maxSize+1))
	if err != nil {
		return "", 0, diskFull(err)
	}
	if n > s.maxSize {
		return "", 0, fmt.Errorf("%w: more than the node's limit of %d bytes", ErrTooLarge, s.maxSize)
	}
	digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if want != "" && want != digest {
		return "", 0, fmt.Errorf("%w: the blob has %s, the manifest says %s", ErrDigestMismatch, digest, want)
	}
	if err := f.Sync(); err != nil {
		return "", 0, diskFull(err)
	}
	if err := f.Close(); err != nil {
		return "", 0, diskFull(err)
	}
	p, _ := s.blobPath(digest)
	if err := os.Rename(f.Name(), p); err != nil {
		return "", 0, err
	}
	f = nil
	syncDir(filepath.Dir(p))
	return digest, n, nil
}

// diskFull names a full disk (ENOSPC, or EDQUOT for a quota) as such.
func diskFull(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// ReadBlob returns the bytes of the blob of digest, checked against it. A
// damaged blob is removed and reported as ErrBlobDamaged.
func (s *Store) ReadBlob(digest string) ([]byte, error) {
	p, err := s.blobPath(digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, s.maxSize+1))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != digest || int64(len(b)) > s.maxSize {
		os.Remove(p)
		return nil, fmt.Errorf("%w: %s", ErrBlobDamaged, digest)
	}
	return b, nil
}

// Lookup returns what the store knows of a fully qualified reference.
func (s *Store) Lookup(ref string) (Image, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, ok := s.images[ref]
	return im, ok && s.Has(im.Module)
}

// Record remembers that ref resolved to im, and writes the list.
func (s *Store) Record(im Image) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.images[im.Reference] = im
	return s.saveLocked()
}

// Touch records that ref was used at t.
func (s *Store) Touch(ref string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, ok := s.images[ref]
	if !ok {
		return nil
	}
	im.LastUsed = t
	s.images[ref] = im
	return s.saveLocked()
}

// Images lists what the store holds, by reference.
func (s *Store) Images() []Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Image, 0, len(s.images))
	for _, im := range s.images {
		out = append(out, im)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reference < out[j].Reference })
	return out
}

// Remove forgets ref, and removes its module unless another reference
// still names it.
func (s *Store) Remove(ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, ok := s.images[ref]
	if !ok {
		return fmt.Errorf("no image %s on the node", ref)
	}
	delete(s.images, ref)
	if err := s.saveLocked(); err != nil {
		return err
	}
	for _, other := range s.images {
		if other.Module == im.Module {
			return nil
		}
	}
	p, _ := s.blobPath(im.Module)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// saveLocked writes images.json through a synced temporary file, so that
// a crash leaves the old list or the new one.
func (s *Store) saveLocked() error {
	list := make([]Image, 0, len(s.images))
	for _, im := range s.images {
		list = append(list, im)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Reference < list[j].Reference })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "images-")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	f.Close()
	if err := os.Rename(f.Name(), filepath.Join(s.dir, "images.json")); err != nil {
		os.Remove(f.Name())
		return err
	}
	syncDir(s.dir)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
