package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// The layout of badger's write-ahead logs (*.mem) and value logs (*.vlog),
// as v4.9.6 writes them: a 20-byte header (the data key's id and an IV),
// then entries of a header (meta, user meta, uvarint key length, value
// length and expiry), the key (with its 8-byte version), the value, and a
// big-endian CRC-32C of all that.
const (
	logHeaderSize    = 20
	entryHeaderMax   = 22 // badger's maxHeaderSize
	entryHeaderMin   = 5
	maxLogKeyLen     = 1 << 16
	metaTxn          = 1 << 6 // an entry of a transaction
	metaFinTxn       = 1 << 7 // the end of a transaction: it is committed
	versionLen       = 8
	finTxnKeyPrefix  = "!badger!txn"
	internalKeyStart = "!badger!"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// logEntry is one entry of a log, as read at an offset.
type logEntry struct {
	meta  byte
	hlen  int
	key   []byte
	value []byte
	size  int // header, key, value and checksum
}

// readLogEntry decodes the entry at off; ok is false where badger's
// replay stops: a header that does not decode, a key too long, an entry
// running past the end, a zero key or a checksum that does not match.
func readLogEntry(data []byte, off int) (e logEntry, ok bool) {
	if off < 0 || off+2 > len(data) {
		return e, false
	}
	e.meta = data[off]
	i := off + 2
	var lens [3]uint64
	for n := range lens {
		v, c := binary.Uvarint(data[i:])
		if c <= 0 {
			return e, false
		}
		lens[n] = v
		i += c
	}
	klen, vlen := lens[0], lens[1]
	if klen == 0 || klen > maxLogKeyLen || vlen > uint64(len(data)) {
		return e, false
	}
	e.hlen = i - off
	end := uint64(i) + klen + vlen
	if end+crc32.Size > uint64(len(data)) {
		return e, false
	}
	want := binary.BigEndian.Uint32(data[end : end+crc32.Size])
	if crc32.Checksum(data[off:end], castagnoli) != want {
		return e, false
	}
	e.key = data[i : uint64(i)+klen]
	e.value = data[uint64(i)+klen : end]
	e.size = int(end) + crc32.Size - off
	return e, true
}

// versionOf is badger's y.ParseTs: a key's version, stored inverted.
func versionOf(key []byte) uint64 {
	if len(key) < versionLen {
		return 0
	}
	return math.MaxUint64 - binary.BigEndian.Uint64(key[len(key)-versionLen:])
}

// logScan is what a log holds, read as badger replays it.
type logScan struct {
	size int64
	// end is where badger's replay stops and where it cuts the file:
	// after the last committed transaction (a write-ahead log) or the
	// last whole entry (a value log).
	end int64
	// committedAfter is the offset of a whole entry after end that was
	// committed (a transaction's end, or an entry outside any
	// transaction), -1 when there is none: what badger would drop.
	committedAfter int64
	// tail says that bytes follow end: a write that was not finished.
	tail bool
}

// scanLog replays a log as badger's logFile.iterate does, then looks past
// where it stops for committed entries. A write cut by a crash leaves,
// after the last commit, at most entries of the one transaction being
// written and a part of an entry: never a committed entry. Damage (a
// changed or zeroed range) leaves the committed entries after it whole.
func scanLog(data []byte, wal bool) logScan {
	s := logScan{size: int64(len(data)), end: logHeaderSize, committedAfter: -1}
	if len(data) <= logHeaderSize {
		s.end = int64(len(data))
		return s
	}
	off := logHeaderSize
	var inTxn uint64
replay:
	for {
		e, ok := readLogEntry(data, off)
		if !ok {
			break
		}
		switch {
		case e.meta&metaTxn != 0:
			v := versionOf(e.key)
			if inTxn == 0 {
				inTxn = v
			}
			if inTxn != v {
				break replay
			}
			off += e.size
		case e.meta&metaFinTxn != 0:
			v, err := strconv.ParseUint(string(e.value), 10, 64)
			if err != nil || v != inTxn {
				break replay
			}
			inTxn = 0
			off += e.size
			s.end = int64(off)
		default:
			if inTxn != 0 {
				break replay
			}
			off += e.size
			s.end = int64(off)
		}
	}
	rest := data[s.end:]
	s.tail = len(rest) > 0 && !allZero(rest[:min(len(rest), entryHeaderMax)])
	// Entries after end are found by their keys: the store's own
	// ("/registry/", "/wasmlet/") in a value log, badger's transaction
	// ends in a write-ahead log.
	markers := []string{"/registry/", "/wasmlet/"}
	if wal {
		markers = []string{internalKeyStart}
	}
	for _, m := range markers {
		if at := committedAfter(data, int(s.end), m, wal); at >= 0 && (s.committedAfter < 0 || at < s.committedAfter) {
			s.committedAfter = at
		}
	}
	return s
}

// committedAfter is the offset of the first whole committed entry after
// from whose key starts with marker, or -1.
func committedAfter(data []byte, from int, marker string, wal bool) int64 {
	m := []byte(marker)
	for k := from; k < len(data); {
		i := bytes.Index(data[k:], m)
		if i < 0 {
			return -1
		}
		key := k + i
		for h := max(from, key-entryHeaderMax); h <= key-entryHeaderMin; h++ {
			e, ok := readLogEntry(data, h)
			if !ok || h+e.hlen != key {
				continue
			}
			if !wal || e.meta&metaTxn == 0 {
				return int64(h)
			}
		}
		k = key + 1
	}
	return -1
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// checkLogs refuses write-ahead and value logs that badger would cut
// short at their first bad entry while committed writes follow it, or
// that are cut short themselves; a log that ends in a write a crash
// interrupted passes (badger drops that write, which was never
// acknowledged).
func checkLogs(d *dataDir, bo badger.Options) error {
	wals := slices.Clone(d.wals)
	slices.Sort(wals)
	vlogs := slices.Clone(d.vlogs)
	slices.SortFunc(vlogs, func(a, b string) int { return cmpFileID(a, b, vlogExt) })
	for i, name := range wals {
		newest := i == len(wals)-1
		if err := checkLog(d.dir, name, true, true, newest, 2*bo.MemTableSize); err != nil {
			return err
		}
	}
	for i, name := range vlogs {
		last := i == len(vlogs)-1
		if err := checkLog(d.dir, name, false, last, last, 2*bo.ValueLogFileSize); err != nil {
			return err
		}
	}
	return nil
}

func cmpFileID(a, b, ext string) int {
	x, _ := strconv.ParseUint(strings.TrimSuffix(a, ext), 10, 64)
	y, _ := strconv.ParseUint(strings.TrimSuffix(b, ext), 10, 64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// checkLog checks one log. replayed says that badger replays it at open
// and cuts it where the replay stops (every write-ahead log, the last
// value log); older value logs must end where their entries do. newest
// says that a crash may have left it just created, empty. prealloc is
// the size badger gives the file when it creates it.
func checkLog(dir, name string, wal, replayed, newest bool, prealloc int64) error {
	path := filepath.Join(dir, name)
	kind := "value log"
	if wal {
		kind = "write-ahead log"
	}
	fd, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: reading %s: %w", path, err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return fmt.Errorf("store: reading %s: %w", path, err)
	}
	size := fi.Size()
	if size == 0 && newest {
		return nil // created by badger, which a crash stopped before its header
	}
	if size < logHeaderSize {
		return &damagedError{dir: dir,
			what:     fmt.Sprintf("the %s %s is cut short (%d bytes, shorter than its header)", kind, name, size),
			recovery: recoverFromCopy(dir)}
	}
	// Read, not mapped: badger's logs are sparse, and a page of a hole
	// that a full tmpfs cannot back faults when mapped. Past the last
	// data the file is zeros.
	data := make([]byte, max(dataEnd(fd, size), logHeaderSize))
	if _, err := fd.ReadAt(data, 0); err != nil {
		return fmt.Errorf("store: reading %s: %w", path, err)
	}
	if binary.BigEndian.Uint64(data[:8]) != 0 {
		return &damagedError{dir: dir,
			what:     fmt.Sprintf("the %s %s names an encryption key, and the store writes no encrypted logs", kind, name),
			recovery: recoverFromCopy(dir)}
	}
	s := scanLog(data, wal)
	cutAt := fmt.Sprintf("; or, to keep the writes before the damage and lose those after it, cut the log there (truncate -s %d %s) and start again", s.end, path)
	switch {
	case s.committedAfter >= 0:
		return &damagedError{dir: dir,
			what: fmt.Sprintf("the %s %s is unreadable at byte %d of %d (an entry fails its checksum or does not decode), and committed writes follow from byte %d: the store would cut the log at byte %d and lose them",
				kind, name, s.end, size, s.committedAfter, s.end),
			recovery: recoverFromCopy(dir) + cutAt}
	case !replayed && s.end != size:
		return &damagedError{dir: dir,
			what: fmt.Sprintf("the %s %s is unreadable at byte %d of %d (an entry fails its checksum, does not decode or is cut short): the values after it are lost",
				kind, name, s.end, size),
			recovery: recoverFromCopy(dir)}
	case s.end != size && size < prealloc:
		// badger makes a log prealloc bytes long and cuts it only where
		// its entries end: a shorter file that ends elsewhere was cut.
		return &damagedError{dir: dir,
			what: fmt.Sprintf("the %s %s is cut short: it is %d bytes long and its last whole entry ends at byte %d, while the store makes logs %d bytes long and shortens them only to where their entries end",
				kind, name, size, s.end, prealloc),
			recovery: recoverFromCopy(dir) + cutAt}
	case s.tail:
		logf("store: the %s %s ends in a write that was not finished at byte %d (the node stopped while writing it; it was never acknowledged): it is dropped", kind, name, s.end)
	}
	return nil
}
