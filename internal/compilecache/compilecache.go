// Package compilecache is wazero's compilation cache on disk, made safe to
// keep across runs and builds of the node: machine code that wazero loads
// from it runs as is, so an entry must never be one that another build of
// wazero wrote, nor one whose bytes changed after they were written.
//
// wazero keys its entries by the module, the CPU's features, its own version
// and the architecture, and checks a CRC of the code but not of the table of
// function offsets in front of it; a build of wazero from a local directory
// or a test binary calls itself by a version that another build shares. So
// the cache keeps each build's entries under a directory named after the
// build's identity (the wazero module's version and checksum from the
// binary's build information), and seals every entry it saw written with the
// SHA-256 of its bytes: an entry whose seal is missing or does not match is
// removed before wazero could read it.
//
// It must never let wazero read an entry that it has not verified or that
// wazero has not just written itself.
package compilecache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
)

// buildIdentity replaces the identity read from the build information when
// set with -ldflags=-X; testdata/precompile sets it to "dev", the identity of
// a test binary, whose build information names no dependencies.
var buildIdentity string

const (
	// sealSuffix names the seal of an entry: ENTRY.seal holds the hex
	// SHA-256 of ENTRY.
	sealSuffix = ".seal"
	// freshFor is how long an entry without a seal is taken as one that
	// another process's wazero has just written and not sealed yet (wazero
	// writes an entry to a temporary file, syncs and renames it, so a file
	// under an entry's name is whole); older, it is removed. Temporary
	// files older than this are a crashed writer's and are removed too.
	freshFor = 2 * time.Minute
)

// Cache is a compilation cache in a directory. Its methods are safe for
// concurrent use.
type Cache struct {
	dir string // the build's directory, handed to wazero
	wz  wazero.CompilationCache
}

// verified remembers the entries whose seal matched, by path, with what they
// were then: the nodes of one process (a test binary starts many) hash each
// entry once.
var verified struct {
	sync.Mutex
	files map[string]fileStamp
}

type fileStamp struct {
	size    int64
	modTime time.Time
}

// Report says what Open or Compile found in the cache.
type Report struct {
	// Removed lists the entries removed: their seal was missing (and they
	// were not fresh) or did not match their bytes.
	Removed []string
}

// Open opens the cache under root, creating it, and verifies its entries.
func Open(root string) (*Cache, Report, error) {
	dir := filepath.Join(root, identityDir())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, Report{}, fmt.Errorf("compilation cache: %w", err)
	}
	c := &Cache{dir: dir}
	rep, err := c.verify()
	if err != nil {
		return nil, rep, err
	}
	wz, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, rep, fmt.Errorf("compilation cache: %w", err)
	}
	c.wz = wz
	return c, rep, nil
}

// Dir is the directory of this build's entries.
func (c *Cache) Dir() string { return c.dir }

// Wazero is the cache to configure wazero's runtime with.
func (c *Cache) Wazero() wazero.CompilationCache { return c.wz }

// Close releases wazero's side of the cache; the entries stay on disk.
func (c *Cache) Close(ctx context.Context) error { return c.wz.Close(ctx) }

// Compile runs compile, a compilation by a runtime configured with Wazero,
// after verifying the entries again, and seals the entries it wrote. cached
// says that the module's machine code came from the cache: compile
// succeeded and no entry was written while it ran. While other compilations
// write entries into the same directory, a module read from the cache may be
// reported as compiled, never the reverse.
func (c *Cache) Compile(compile func() error) (cached bool, rep Report, err error) {
	rep, err = c.verify()
	if err != nil {
		return false, rep, err
	}
	before, err := c.entries()
	if err != nil {
		return false, rep, err
	}
	if err := compile(); err != nil {
		return false, rep, err
	}
	after, err := c.entries()
	if err != nil {
		return false, rep, err
	}
	written := 0
	for path := range after {
		if _, ok := before[path]; ok {
			continue
		}
		written++
		if err := c.seal(path); err != nil {
			return false, rep, err
		}
	}
	return written == 0, rep, nil
}

// entries lists the entries of the build's directory (wazero keeps them in
// a subdirectory per wazero version and platform) with their stamps.
func (c *Cache) entries() (map[string]fileStamp, error) {
	found := map[string]fileStamp{}
	err := filepath.WalkDir(c.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !isEntryName(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		found[path] = fileStamp{size: fi.Size(), modTime: fi.ModTime()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("compilation cache: %w", err)
	}
	return found, nil
}

// isEntryName: wazero names an entry by the hex SHA-256 of its key.
func isEntryName(name string) bool {
	if len(name) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

// verify removes the entries whose seal does not match, the stale ones
// without a seal and the stale temporary files.
func (c *Cache) verify() (Report, error) {
	verified.Lock()
	defer verified.Unlock()
	if verified.files == nil {
		verified.files = map[string]fileStamp{}
	}
	var rep Report
	now := time.Now()
	err := filepath.WalkDir(c.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case isEntryName(name):
			stamp := fileStamp{size: fi.Size(), modTime: fi.ModTime()}
			if v, ok := verified.files[path]; ok && v == stamp {
				return nil
			}
			ok, sealed, err := checkSeal(path)
			if err != nil {
				return err
			}
			switch {
			case ok:
				verified.files[path] = stamp
			case !sealed && now.Sub(fi.ModTime()) < freshFor:
				// Being written and sealed by another process.
			default:
				delete(verified.files, path)
				if err := removeEntry(path); err != nil {
					return err
				}
				rep.Removed = append(rep.Removed, path)
			}
		case strings.HasSuffix(name, sealSuffix):
			entry := strings.TrimSuffix(path, sealSuffix)
			if _, err := os.Lstat(entry); errors.Is(err, fs.ErrNotExist) && now.Sub(fi.ModTime()) >= freshFor {
				os.Remove(path)
			}
		case strings.HasSuffix(name, ".tmp") && now.Sub(fi.ModTime()) >= freshFor:
			os.Remove(path)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("compilation cache: %w", err)
	}
	return rep, nil
}

// checkSeal reports whether entry's seal matches its bytes, and whether it
// has a seal at all.
func checkSeal(entry string) (ok, sealed bool, err error) {
	want, err := os.ReadFile(entry + sealSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	got, err := hashFile(entry)
	if errors.Is(err, fs.ErrNotExist) {
		return false, true, nil
	}
	if err != nil {
		return false, true, err
	}
	return strings.TrimSpace(string(want)) == got, true, nil
}

// seal writes entry's seal, through a temporary file renamed into place as
// wazero writes entries.
func (c *Cache) seal(entry string) error {
	fi, err := os.Stat(entry)
	var sum string
	if err == nil {
		sum, err = hashFile(entry)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed by another process meanwhile
	}
	if err != nil {
		return fmt.Errorf("compilation cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(entry), filepath.Base(entry)+sealSuffix+".*.tmp")
	if err != nil {
		return fmt.Errorf("compilation cache: %w", err)
	}
	_, err = f.WriteString(sum + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), entry+sealSuffix)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("compilation cache: %w", err)
	}
	// The stamp from before hashing: an entry replaced since has another
	// and is hashed again.
	verified.Lock()
	if verified.files == nil {
		verified.files = map[string]fileStamp{}
	}
	verified.files[entry] = fileStamp{size: fi.Size(), modTime: fi.ModTime()}
	verified.Unlock()
	return nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// removeEntry removes an entry and its seal; either may be gone already.
func removeEntry(path string) error {
	for _, p := range []string{path, path + sealSuffix} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// identityDir names the directory of this build's entries.
func identityDir() string {
	sum := sha256.Sum256([]byte(identity()))
	return "build-" + hex.EncodeToString(sum[:8])
}

// identity is what tells this build's wazero from another's: the module's
// path, version and checksum, those of its replacement, or for a
// replacement by a local directory (no checksum: its code may change under
// the same version) the executable's own SHA-256. A binary whose build
// information names no wazero (a test binary) is "dev", as wazero calls its
// own version then.
func identity() string {
	if buildIdentity != "" {
		return buildIdentity
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	for _, dep := range info.Deps {
		if dep.Path != "github.com/tetratelabs/wazero" {
			continue
		}
		id := dep.Path + "@" + dep.Version + " " + dep.Sum
		m := dep
		if dep.Replace != nil {
			m = dep.Replace
			id += " => " + m.Path + "@" + m.Version + " " + m.Sum
		}
		if m.Sum == "" {
			id += " exe " + executableSum()
		}
		return id
	}
	return "dev"
}

func executableSum() string {
	exe, err := os.Executable()
	if err == nil {
		var sum string
		if sum, err = hashFile(exe); err == nil {
			return sum
		}
	}
	// Unknown: a directory of its own, that no other run shares.
	return fmt.Sprintf("unknown %d %d", os.Getpid(), time.Now().UnixNano())
}
