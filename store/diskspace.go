package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// ErrInsufficientStorage is what Open returns (wrapped, with the free and
// the needed space named) when the disk is too full for the store to open
// without risking a crash.
var ErrInsufficientStorage = errors.New("not enough free disk space for the store")

// DefaultDiskReserve is the space kept for the node's own writes once
// clients' writes are refused, and the size of the reserve file.
const DefaultDiskReserve = 64 << 20

// defaultDiskSlack covers what badger writes besides tables and logs: the
// headers of the log and value-log files it creates at each open and
// rotation, the MANIFEST, the 1 MiB DISCARD file, the pid file, and the
// write being admitted (objects are at most 1.5 MiB).
const defaultDiskSlack = 8 << 20

// reserveName is the reserve file, in the store's directory.
const reserveName = "disk-reserve"

// ClientRequest marks ctx as an API client's request. Its writes, deletes
// excepted, are refused with 507 InsufficientStorage while less than the
// reserve is free beyond what the store needs; the node's own writes (pod
// and node status, events, deletions, controllers) go on into the
// reserve.
func ClientRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, clientRequestKey{}, true)
}

type clientRequestKey struct{}

func isClientRequest(ctx context.Context) bool {
	v, _ := ctx.Value(clientRequestKey{}).(bool)
	return v
}

// diskGuard keeps the store from writing onto a disk that cannot take
// what the write commits badger to (docs/RATIONALE.md, "A full disk"):
// badger writes its logs and tables through memory maps of sparse files,
// and a page the filesystem cannot back stops the process with SIGBUS.
// It is used under Store.mu, or before the store is shared.
type diskGuard struct {
	dir     string
	reserve int64 // the node's band, and the reserve file's size
	slack   int64

	pressure bool   // client writes are being refused
	message  string // why, for the event

	noReserveFile bool // the filesystem cannot preallocate one
}

func newDiskGuard(dir string, opts Options) *diskGuard {
	g := &diskGuard{dir: dir, reserve: opts.DiskReserve, slack: opts.diskSlack}
	if g.reserve == 0 {
		g.reserve = DefaultDiskReserve
	}
	g.reserve = max(g.reserve, 0)
	if g.slack <= 0 {
		g.slack = defaultDiskSlack
	}
	return g
}

// space is the filesystem's free space and what the store holds that
// badger has still to rewrite.
type space struct {
	free   int64
	wals   int64 // bytes of the write-ahead logs on disk
	tables int64
}

// measure reads both.
func (g *diskGuard) measure() (space, error) {
	free, err := freeBytes(g.dir)
	if err != nil {
		return space{}, err
	}
	entries, err := os.ReadDir(g.dir)
	if err != nil {
		return space{}, err
	}
	sp := space{free: free}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, walExt):
			sp.wals += allocated(filepath.Join(g.dir, name))
		case strings.HasSuffix(name, tableExt):
			if fi, err := e.Info(); err == nil {
				sp.tables += fi.Size()
			}
		}
	}
	return sp, nil
}

// What the store needs free, from the least to the most:
//   - to close: every log is flushed into a table of at most its size;
//   - to open: the same, and a compaction writes at most what it reads
//     (every table, and the tables the logs become) before it deletes
//     its inputs;
//   - to commit a node's write: what opening needs once the write is in
//     the log (the slack again), so that a store that took all it was
//     given can always open again once others give their space back;
//   - to commit a client's write: the same and the reserve, which is the
//     node's own band.
func (g *diskGuard) closeNeed(sp space) int64  { return sp.wals + g.slack }
func (g *diskGuard) openNeed(sp space) int64   { return 2*sp.wals + sp.tables + g.slack }
func (g *diskGuard) writeNeed(sp space) int64  { return g.openNeed(sp) + g.slack }
func (g *diskGuard) clientNeed(sp space) int64 { return g.writeNeed(sp) + g.reserve }

// admit says whether a write may be committed; client says whether it is
// an API client's (deletes excepted).
func (g *diskGuard) admit(client bool) error {
	sp, ok := g.refresh()
	switch {
	case !ok:
		return nil // no measure, no refusal: the write's own error will tell
	case sp.free < g.writeNeed(sp):
		return api.NewInsufficientStorage(g.describe(sp, "no write is accepted"))
	case client && g.pressure:
		return api.NewInsufficientStorage(g.describe(sp, "writes from API clients are refused (deletes are not)"))
	}
	return nil
}

// refresh measures, gives the reserve file back when the store's own
// writes would be refused, keeps one when there is room, and updates
// pressure.
func (g *diskGuard) refresh() (space, bool) {
	sp, ok := g.measureFor(g.writeNeed)
	if !ok {
		return sp, false
	}
	pressure := sp.free < g.clientNeed(sp)
	if pressure != g.pressure {
		g.pressure = pressure
		g.message = ""
		if pressure {
			g.message = g.describe(sp, "writes from API clients are refused (deletes are not)")
			logf("store: %s", g.message)
		} else {
			logf("store: %s free on the filesystem of %s: writes from API clients are accepted again", mib(sp.free), g.dir)
		}
	}
	// A reserve file is made only with room for it and the band to spare,
	// so that making it never starts the refusals.
	if !pressure && sp.free >= g.clientNeed(sp)+2*g.reserve {
		g.keepReserve()
	}
	return sp, true
}

// measureFor measures, and again after giving the reserve file back if
// less than need(space) is free.
func (g *diskGuard) measureFor(need func(space) int64) (space, bool) {
	sp, err := g.measure()
	if err != nil {
		return sp, false
	}
	if sp.free < need(sp) && g.releaseReserve() {
		if sp, err = g.measure(); err != nil {
			return sp, false
		}
	}
	return sp, true
}

func (g *diskGuard) describe(sp space, refused string) string {
	return fmt.Sprintf("the node's disk is nearly full: %s free on the filesystem of %s, where the store needs %s for its own work and keeps %s for the node's state; %s until more space is free (delete pods, or free space on that filesystem)",
		mib(sp.free), g.dir, mib(g.writeNeed(sp)), mib(g.reserve), refused)
}

// openCheck refuses to open the store on a disk that cannot take what
// opening writes.
func (g *diskGuard) openCheck() error {
	sp, ok := g.measureFor(g.openNeed)
	if ok && sp.free < g.openNeed(sp) {
		return fmt.Errorf("store: %w: %s free on the filesystem of %s, and opening the store needs %s; free space on that filesystem and start again",
			ErrInsufficientStorage, mib(sp.free), g.dir, mib(g.openNeed(sp)))
	}
	return nil
}

// closeCheck says whether badger may close: closing flushes every
// write-ahead log into a table, through a memory map.
func (g *diskGuard) closeCheck() error {
	sp, ok := g.measureFor(g.closeNeed)
	if ok && sp.free < g.closeNeed(sp) {
		logf("store: left badger open in %s: %s free, and closing it would write %s; the write-ahead logs hold every acknowledged write and the next start replays them", g.dir, mib(sp.free), mib(g.closeNeed(sp)))
		return fmt.Errorf("%w: %s free on the filesystem of %s, and the flush at close needs %s; every acknowledged write is in the write-ahead logs, which the next start replays once there is space",
			ErrInsufficientStorage, mib(sp.free), g.dir, mib(g.closeNeed(sp)))
	}
	return nil
}

// keepReserve creates the reserve file if it is missing, with its blocks
// allocated, so that giving it back frees them.
func (g *diskGuard) keepReserve() {
	if g.reserve == 0 || g.noReserveFile {
		return
	}
	path := filepath.Join(g.dir, reserveName)
	if fi, err := os.Stat(path); err == nil && fi.Size() == g.reserve {
		return
	}
	if err := preallocate(path, g.reserve); err != nil {
		os.Remove(path)
		if errors.Is(err, errNoPreallocate) {
			g.noReserveFile = true
		}
		logf("store: no reserve file in %s: %v", g.dir, err)
	}
}

// releaseReserve removes the reserve file, if there is one.
func (g *diskGuard) releaseReserve() bool {
	path := filepath.Join(g.dir, reserveName)
	if _, err := os.Stat(path); err != nil {
		return false
	}
	if err := os.Remove(path); err != nil {
		logf("store: giving back the reserve file: %v", err)
		return false
	}
	logf("store: the disk of %s is nearly full: gave back the %s reserve file", g.dir, mib(g.reserve))
	return true
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
