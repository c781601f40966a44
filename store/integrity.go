package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// ErrDamaged is what Open returns (wrapped, with the damage and the way to
// recover named) for a data directory it will not open: badger would open
// it as an empty or partial store and delete the files it does not
// understand.
var ErrDamaged = errors.New("the store's data directory is damaged")

// The names badger gives its files.
const (
	manifestName = "MANIFEST"
	tableExt     = ".sst"
	walExt       = ".mem"
	vlogExt      = ".vlog"
	lockName     = "LOCK"
)

// unreferencedDir is where Open moves table files the MANIFEST does not
// name and that an unfinished flush or compaction left: badger would
// delete them.
const unreferencedDir = "unreferenced"

// damagedError is a damaged data directory: what is wrong and how to
// recover.
type damagedError struct {
	dir, what, recovery string
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("store: %s is damaged: %s. The store will not open it, so that nothing more is lost. To recover: %s",
		e.dir, e.what, e.recovery)
}

func (e *damagedError) Is(target error) bool { return target == ErrDamaged }

// recoverFromCopy is the way out of damage nothing on disk can repair.
func recoverFromCopy(dir string) string {
	return fmt.Sprintf("restore %s from a copy (the whole directory, taken while the node was stopped); or, to start an empty store and keep the damaged one for later, move it aside (mv %s %s.damaged) and start again", dir, dir, dir)
}

// dataDir is what a directory holds, by badger's file names.
type dataDir struct {
	dir      string
	tables   map[uint64]string // id -> file name
	wals     []string          // memtables' write-ahead logs
	vlogs    []string
	manifest bool
}

func (d *dataDir) dataFiles() []string {
	var out []string
	for _, n := range d.tables {
		out = append(out, n)
	}
	out = append(out, d.wals...)
	out = append(out, d.vlogs...)
	slices.Sort(out)
	return out
}

// checkDataDir looks at a durable store's directory before badger opens
// it, under the directory's lock, and refuses what badger would silently
// lose (docs/RATIONALE.md, "A damaged store is refused"):
//   - data files without a MANIFEST, or a MANIFEST that is empty or does
//     not decode: badger would start empty and delete every table;
//   - a table the MANIFEST names that is missing, cut short or fails its
//     checksums: badger would panic, or skip it and serve fewer objects;
//   - tables the MANIFEST does not name while its last record is cut, or
//     that hold writes newer than every table it names with no
//     write-ahead log left to hold them too: records of the MANIFEST are
//     lost, and badger would delete the tables;
//   - a write-ahead or value log that badger would cut at a bad entry
//     while committed writes follow it, or that was cut short
//     (logcheck.go); a tail a crash tore passes.
//
// Tables the MANIFEST does not name that an interrupted flush or
// compaction left (their data is still in a write-ahead log, or in the
// tables the compaction read) are moved into unreferenced/ rather than
// deleted.
func checkDataDir(dir string, bo badger.Options) error {
	d, err := readDataDir(dir)
	if err != nil || d == nil {
		return err
	}
	if !d.manifest {
		files := d.dataFiles()
		if len(files) == 0 {
			return nil // a new store, or one whose first open stopped early
		}
		return &damagedError{dir: dir,
			what:     fmt.Sprintf("its %s is missing, while it holds %d data files (%s)", manifestName, len(files), listNames(files)),
			recovery: recoverFromCopy(dir)}
	}
	mf, torn, err := readManifest(dir, bo)
	if err != nil {
		return &damagedError{dir: dir, what: err.Error(), recovery: recoverFromCopy(dir)}
	}
	var newestNamed uint64
	named := make([]uint64, 0, len(mf.Tables))
	for id := range mf.Tables {
		named = append(named, id)
	}
	slices.Sort(named)
	for _, id := range named {
		name, ok := d.tables[id]
		if !ok {
			return &damagedError{dir: dir,
				what:     fmt.Sprintf("the table file %s, which its %s names, is missing", table.IDToFilename(id), manifestName),
				recovery: recoverFromCopy(dir)}
		}
		tm := mf.Tables[id]
		v, err := verifyTable(filepath.Join(dir, name), tm.Compression, tm.KeyID)
		if err != nil {
			return &damagedError{dir: dir,
				what:     fmt.Sprintf("the table file %s is damaged: %v", name, err),
				recovery: recoverFromCopy(dir)}
		}
		newestNamed = max(newestNamed, v)
	}
	if err := checkLogs(d, bo); err != nil {
		return err
	}
	var unnamed []uint64
	for id := range d.tables {
		if _, ok := mf.Tables[id]; !ok {
			unnamed = append(unnamed, id)
		}
	}
	if len(unnamed) == 0 {
		return nil
	}
	slices.Sort(unnamed)
	names := make([]string, len(unnamed))
	for i, id := range unnamed {
		names[i] = d.tables[id]
	}
	if torn != nil {
		return &damagedError{dir: dir,
			what: fmt.Sprintf("its %s ends in a record cut at byte %d of %d, and the table files %s are not in what is left of it",
				manifestName, torn.at, torn.size, listNames(names)),
			recovery: "if the machine lost power or crashed while the node was writing, those tables are an unfinished write: move them out of the directory and start again; otherwise " + recoverFromCopy(dir)}
	}
	// A flush writes one table from the oldest write-ahead log and deletes
	// the log only once the MANIFEST names the table; flushes run one at a
	// time. So at most one table can hold writes newer than every table
	// the MANIFEST names, and only while a log still holds them. A
	// compaction's output holds nothing newer than its inputs, which the
	// MANIFEST still names.
	var largestWAL int64
	for _, n := range d.wals {
		largestWAL = max(largestWAL, allocated(filepath.Join(dir, n)))
	}
	var newer []string
	flushed := true
	for _, id := range unnamed {
		// The store has always written uncompressed tables.
		t, err := inspectTable(filepath.Join(dir, d.tables[id]), options.None, 0)
		if err != nil {
			continue // cut short by the crash: a table being written
		}
		if t.maxVersion > newestNamed {
			newer = append(newer, d.tables[id])
			// Its log holds at least its data (the table's blocks are
			// the smaller form of the same entries).
			flushed = flushed && int64(t.dataSize) <= 2*largestWAL+64<<10
		}
	}
	if len(newer) > 1 || (len(newer) == 1 && (len(d.wals) == 0 || !flushed)) {
		return &damagedError{dir: dir,
			what: fmt.Sprintf("the table files %s are not in its %s and hold writes newer than every table it names, which no write-ahead log holds: records of the %s are lost",
				listNames(newer), manifestName, manifestName),
			recovery: recoverFromCopy(dir)}
	}
	return moveAside(dir, names)
}

// readDataDir lists dir by badger's file names; nil when dir does not
// exist.
func readDataDir(dir string) (*dataDir, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", dir, err)
	}
	d := &dataDir{dir: dir, tables: map[uint64]string{}}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		switch {
		case name == manifestName:
			d.manifest = true
		case strings.HasSuffix(name, tableExt):
			// badger parses these names itself and stops the process on
			// one it cannot (a negative number).
			id, err := strconv.ParseUint(strings.TrimSuffix(name, tableExt), 10, 64)
			if err != nil {
				return nil, &damagedError{dir: dir,
					what:     fmt.Sprintf("it holds %s, which is not a table's name", name),
					recovery: "remove or rename that file, and start again"}
			}
			d.tables[id] = name
		case strings.HasSuffix(name, walExt):
			d.wals = append(d.wals, name)
		case strings.HasSuffix(name, vlogExt):
			d.vlogs = append(d.vlogs, name)
		}
	}
	return d, nil
}

// tornManifest says where a MANIFEST's last whole record ends.
type tornManifest struct{ at, size int64 }

// readManifest replays the MANIFEST as badger will, without changing it.
func readManifest(dir string, bo badger.Options) (badger.Manifest, *tornManifest, error) {
	f, err := os.Open(filepath.Join(dir, manifestName))
	if err != nil {
		return badger.Manifest{}, nil, fmt.Errorf("its %s cannot be read: %w", manifestName, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return badger.Manifest{}, nil, fmt.Errorf("its %s cannot be read: %w", manifestName, err)
	}
	if fi.Size() == 0 {
		return badger.Manifest{}, nil, fmt.Errorf("its %s is empty", manifestName)
	}
	mf, end, err := badger.ReplayManifestFile(f, bo.ExternalMagicVersion, bo)
	if err != nil {
		return badger.Manifest{}, nil, fmt.Errorf("its %s does not decode (%v)", manifestName, err)
	}
	if end < fi.Size() {
		return mf, &tornManifest{at: end, size: fi.Size()}, nil
	}
	return mf, nil, nil
}

// tableInfo is what Open needs to know of a table file.
type tableInfo struct {
	maxVersion uint64
	dataSize   uint32 // the key-value blocks, uncompressed
}

// verifyTable reads a whole table file as badger opens it with every
// checksum verified (the index's and each block's), and returns the
// newest version it holds.
func verifyTable(path string, c options.CompressionType, keyID uint64) (uint64, error) {
	t, err := openTableChecked(path, c, keyID, options.OnTableRead)
	return t.maxVersion, err
}

// inspectTable reads a table's index (its checksum verified) only.
func inspectTable(path string, c options.CompressionType, keyID uint64) (tableInfo, error) {
	return openTableChecked(path, c, keyID, options.NoVerification)
}

// openTableChecked opens a table with badger's own reader, in this
// goroutine: badger panics on a table cut short, and a panic in the
// goroutines badger.Open starts cannot be recovered.
func openTableChecked(path string, c options.CompressionType, keyID uint64, mode options.ChecksumVerificationMode) (info tableInfo, err error) {
	if keyID != 0 {
		return info, fmt.Errorf("it is encrypted (data key %d), and the store writes no encrypted tables", keyID)
	}
	fd, err := os.Open(path)
	if err != nil {
		return info, err
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return info, err
	}
	if fi.Size() == 0 {
		fd.Close()
		return info, errors.New("the file is empty")
	}
	mf, err := z.OpenMmapFileUsing(fd, 0, false)
	if err != nil {
		fd.Close()
		return info, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("it is cut short or garbled: reading it fails with %s", panicSummary(r))
		}
		// badger unmaps and closes the file itself on some errors.
		if _, serr := fd.Stat(); serr == nil {
			_ = mf.Close(-1)
		}
	}()
	t, err := table.OpenTable(mf, table.Options{ChkMode: mode, Compression: c, BlockSize: 4 << 10})
	if err != nil {
		return info, err
	}
	return tableInfo{maxVersion: t.MaxVersion(), dataSize: t.UncompressedSize()}, nil
}

// panicSummary is the first informative line of what badger panicked
// with (its table reader panics with a dump of the bytes it read).
func panicSummary(r any) string {
	s := fmt.Sprint(r)
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "==") {
			continue
		}
		if len(line) > 200 {
			line = line[:200] + "..."
		}
		return fmt.Sprintf("%q", line)
	}
	return "a panic"
}

// moveAside moves table files into unreferenced/<time>/ of dir, so that
// badger does not delete them.
func moveAside(dir string, names []string) error {
	to := filepath.Join(dir, unreferencedDir, time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := os.MkdirAll(to, 0o700); err != nil {
		return fmt.Errorf("store: keeping unreferenced tables: %w", err)
	}
	for _, n := range names {
		if err := os.Rename(filepath.Join(dir, n), filepath.Join(to, n)); err != nil {
			return fmt.Errorf("store: keeping unreferenced table %s: %w", n, err)
		}
	}
	logf("store: moved %s into %s: the MANIFEST does not name them, and an interrupted flush or compaction left them (their data is in the tables and write-ahead logs the store opens); they may be removed", listNames(names), to)
	return syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// listNames is "a, b, c" or "a, b, c and 7 more".
func listNames(names []string) string {
	const show = 5
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}
