package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/dgraph-io/ristretto/v2/z"
)

// readChecker finds the damage badger's reads pass over. A table block
// that fails its checksum is an error inside badger, but its point lookup
// (levelHandler.get) takes the error for "not in this table" and its
// iterators for "no more keys": a Get answered NotFound, or an older
// version from a lower level, and a List ended early, without an error.
// So after badger reads a key or a prefix, the checker reads the same
// keys from the tables whose ranges hold them, through its own handles on
// the same files (the same pages), verifying each block it reads; a
// table iterator that stops before the table's last key, or a seek that
// finds nothing in a table whose range holds the key, met a bad block.
type readChecker struct {
	db  *badger.DB
	dir string

	mu       sync.Mutex
	open     map[uint64]*checkedTable
	reported map[uint64]bool
	notify   func(message string)
	// lost are the tables found damaged, by id. Once badger drops one (a
	// compaction passes over a bad block without an error, and cuts the
	// file to nothing before it deletes it), what the bad block held can
	// be read from nowhere: a read of a key in the table's range that
	// found no version newer than the table's newest, and a list that
	// overlaps it, are that damage, until the store closes.
	lost map[uint64]lostTable
	// marked: DamagedMarker is written (scrub.go).
	marked bool
}

// checkedTable is the checker's handle on a table file; refs counts the
// reads using it, gone says the table left the store (closed when refs
// drops to 0).
type checkedTable struct {
	id          uint64
	t           *table.Table
	mf          *z.MmapFile
	refs        int
	gone        bool
	left, right []byte // its first and last user keys
}

// lostTable is what the checker keeps of a damaged table.
type lostTable struct {
	left, right []byte // its first and last user keys
	maxVersion  uint64
	err         error
}

// tableDamageError is damage found while the store is open.
type tableDamageError struct {
	dir, file, what string
}

func (e *tableDamageError) Error() string {
	return fmt.Sprintf("store: the table file %s of %s is damaged: %s; it changed on disk after the node opened it. Nothing the store reads from it is trusted. To recover: stop the node and restore %s from a copy (the whole directory, taken while the node was stopped); the node refuses to start on it as it is",
		e.file, e.dir, e.what, e.dir)
}

func (e *tableDamageError) Is(target error) bool { return target == ErrDamaged }

func newReadChecker(db *badger.DB, dir string) *readChecker {
	return &readChecker{db: db, dir: dir, open: map[uint64]*checkedTable{}, reported: map[uint64]bool{}, lost: map[uint64]lostTable{}}
}

// acquire returns handles on the tables whose keys may lie in [lo, hi]
// (user keys; hi nil means every key with prefix lo).
func (c *readChecker) acquire(lo, hi []byte) ([]*checkedTable, error) {
	infos := c.db.Tables()
	live := make(map[uint64]bool, len(infos))
	for _, ti := range infos {
		live[ti.ID] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ct := range c.open {
		if !live[id] {
			delete(c.open, id)
			ct.gone = true
			if ct.refs == 0 {
				ct.close()
			}
		}
	}
	var out []*checkedTable
	for _, ti := range infos {
		left, right := y.ParseKey(ti.Left), y.ParseKey(ti.Right)
		if !overlaps(left, right, lo, hi) {
			continue
		}
		ct, err := c.handleLocked(ti.ID, left, right)
		if err != nil {
			c.releaseLocked(out)
			return nil, err
		}
		if ct != nil {
			out = append(out, ct)
		}
	}
	return out, nil
}

// lostErr is the damage of a table badger has dropped whose range holds
// keys in [lo, hi] (hi nil: with prefix lo), unless the read found a
// version newer than every one the table held (found; 0: none, or a
// list).
func (c *readChecker) lostErr(lo, hi []byte, found uint64) error {
	c.mu.Lock()
	if len(c.lost) == 0 {
		c.mu.Unlock()
		return nil
	}
	lost := make(map[uint64]lostTable, len(c.lost))
	for id, l := range c.lost {
		lost[id] = l
	}
	c.mu.Unlock()
	live := c.liveTables()
	for id, l := range lost {
		if live[id] || !overlaps(l.left, l.right, lo, hi) {
			continue
		}
		if hi == nil || found == 0 || found <= l.maxVersion {
			return l.err
		}
	}
	return nil
}

// liveTables are the ids of badger's tables now.
func (c *readChecker) liveTables() map[uint64]bool {
	infos := c.db.Tables()
	live := make(map[uint64]bool, len(infos))
	for _, ti := range infos {
		live[ti.ID] = true
	}
	return live
}

// errTableGone: a check read a table that badger dropped meanwhile (its
// file cut to nothing under the check); the check is done again.
var errTableGone = errors.New("store: a table was compacted away during a check")

// checkTries is how many times a check is done while tables it reads
// are compacted away under it.
const checkTries = 5

// overlaps says whether a table of user keys [left, right] may hold keys
// in [lo, hi] (hi nil: every key with prefix lo).
func overlaps(left, right, lo, hi []byte) bool {
	if hi == nil {
		return bytes.Compare(right, lo) >= 0 && (bytes.Compare(left, lo) <= 0 || bytes.HasPrefix(left, lo))
	}
	return bytes.Compare(right, lo) >= 0 && bytes.Compare(left, hi) <= 0
}

// handleLocked is a reference on the checker's handle on the table id of
// user keys [left, right], opened if it is not yet; nil when the file is
// gone (compacted away since the caller listed the tables). c.mu is held.
func (c *readChecker) handleLocked(id uint64, left, right []byte) (*checkedTable, error) {
	ct, ok := c.open[id]
	if !ok {
		var err error
		ct, err = c.openTable(id)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			if !c.liveTables()[id] {
				return nil, nil // cut while badger drops it
			}
			return nil, c.damagedLocked(id, err.Error())
		}
		ct.left, ct.right = bytes.Clone(left), bytes.Clone(right)
		c.open[id] = ct
	}
	ct.refs++
	return ct, nil
}

func (c *readChecker) release(ts []*checkedTable) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked(ts)
}

func (c *readChecker) releaseLocked(ts []*checkedTable) {
	for _, ct := range ts {
		ct.refs--
		if ct.gone && ct.refs == 0 {
			ct.close()
		}
	}
}

// openTable opens a table read-only, as openTableChecked does (a table
// that panics badger's reader is an error).
func (c *readChecker) openTable(id uint64) (ct *checkedTable, err error) {
	fd, err := os.Open(table.NewFilename(id, c.dir))
	if err != nil {
		return nil, err
	}
	mf, err := z.OpenMmapFileUsing(fd, 0, false)
	if err != nil {
		fd.Close()
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading its index fails with %s", panicSummary(r))
			_ = mf.Close(-1)
		}
	}()
	t, err := table.OpenTable(mf, table.Options{ChkMode: options.OnBlockRead, Compression: options.None, BlockSize: 4 << 10})
	if err != nil {
		if _, serr := fd.Stat(); serr == nil {
			_ = mf.Close(-1)
		}
		return nil, fmt.Errorf("its index does not read: %v", err)
	}
	return &checkedTable{id: id, t: t, mf: mf}, nil
}

// close unmaps the file. The table's own DecrRef is never called: at 0
// it deletes the file.
func (ct *checkedTable) close() { _ = ct.mf.Close(-1) }

// checkKey verifies the blocks that hold key in every table whose range
// holds it (its bloom filter permitting), as badger's Get read them.
// found is the version badger returned (0: none); tables holding no
// newer version cannot have hidden one.
func (c *readChecker) checkKey(key []byte, found uint64) error {
	if c == nil {
		return nil
	}
	if err := c.lostErr(key, key, found); err != nil {
		return err
	}
	var err error
	for range checkTries {
		if err = c.checkKeyOnce(key, found); err != errTableGone {
			return err
		}
	}
	return nil // every try raced a compaction: nothing found wrong
}

func (c *readChecker) checkKeyOnce(key []byte, found uint64) (err error) {
	ts, err := c.acquire(key, key)
	if err != nil {
		return err
	}
	defer c.release(ts)
	defer c.recoverFault(ts, &err)
	hash := y.Hash(key)
	seek := y.KeyWithTs(key, math.MaxUint64)
	for _, ct := range ts {
		if (found != 0 && ct.t.MaxVersion() <= found) || ct.t.DoesNotHave(hash) {
			continue
		}
		it := ct.t.NewIterator(0)
		it.Seek(seek)
		ok := it.Valid()
		_ = it.Close()
		if !ok {
			return c.damaged(ct.id, fmt.Sprintf("the block that holds %q fails its checksum or does not decode", key))
		}
	}
	return nil
}

// checkPrefix verifies every block that holds keys with prefix, as a
// badger iterator over the prefix read them.
func (c *readChecker) checkPrefix(prefix []byte) error {
	if c == nil {
		return nil
	}
	if err := c.lostErr(prefix, nil, 0); err != nil {
		return err
	}
	var err error
	for range checkTries {
		if err = c.checkPrefixOnce(prefix); err != errTableGone {
			return err
		}
	}
	return nil
}

func (c *readChecker) checkPrefixOnce(prefix []byte) (err error) {
	ts, err := c.acquire(prefix, nil)
	if err != nil {
		return err
	}
	defer c.release(ts)
	defer c.recoverFault(ts, &err)
	seek := y.KeyWithTs(prefix, math.MaxUint64)
	var last []byte
	for _, ct := range ts {
		last = last[:0]
		it := ct.t.NewIterator(0)
		for it.Seek(seek); it.Valid(); it.Next() {
			k := it.Key()
			if !bytes.HasPrefix(y.ParseKey(k), prefix) {
				break
			}
			last = append(last[:0], k...)
		}
		ok := it.Valid() || bytes.Equal(last, ct.t.Biggest())
		_ = it.Close()
		if !ok {
			after := "its first key"
			if len(last) > 0 {
				after = fmt.Sprintf("%q", y.ParseKey(last))
			}
			return c.damaged(ct.id, fmt.Sprintf("the block after %s, among the keys starting with %q, fails its checksum or does not decode", after, prefix))
		}
	}
	return nil
}

// recoverFault turns a panic of badger's table reader (a garbled block
// header) or a fault on a mapped page (a file cut short under the node)
// into an error; errTableGone when one of ts left the store meanwhile
// (badger cuts a table's file to nothing as it deletes it).
func (c *readChecker) recoverFault(ts []*checkedTable, err *error) {
	if r := recover(); r != nil {
		live := c.liveTables()
		for _, ct := range ts {
			if !live[ct.id] {
				*err = errTableGone
				return
			}
		}
		*err = &tableDamageError{dir: c.dir, file: "(one of its tables)", what: "reading it fails with " + panicSummary(r)}
		c.report(0, *err)
	}
}

func (c *readChecker) damaged(id uint64, what string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.damagedLocked(id, what)
}

func (c *readChecker) damagedLocked(id uint64, what string) error {
	err := &tableDamageError{dir: c.dir, file: filepath.Base(table.NewFilename(id, c.dir)), what: what}
	l, ok := c.lost[id]
	if ct := c.open[id]; !ok && ct != nil {
		l, ok = lostTable{left: ct.left, right: ct.right, maxVersion: ct.t.MaxVersion()}, true
	}
	if ok && l.err == nil {
		l.err = err
		c.lost[id] = l
	}
	if !c.reported[id] {
		c.reported[id] = true
		c.markDamaged(err.Error())
		logf("%v", err)
		if f := c.notify; f != nil {
			go f(err.Error())
		}
	}
	return err
}

func (c *readChecker) report(id uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reported[id] {
		c.reported[id] = true
		c.markDamaged(err.Error())
		logf("%v", err)
		if f := c.notify; f != nil {
			go f(err.Error())
		}
	}
}

// closeAll unmaps every handle; the store is closing.
func (c *readChecker) closeAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ct := range c.open {
		delete(c.open, id)
		ct.close()
	}
}

// faultsPanic makes a fault on a mapped page in this goroutine a panic
// (that recoverFault or view turn into an error) instead of a crash of
// the process; the returned function restores the setting.
func faultsPanic() func() {
	old := debug.SetPanicOnFault(true)
	return func() { debug.SetPanicOnFault(old) }
}

// NotifyDamage sets f to be told, once per table, of damage found while
// the store is open (in its own goroutine).
func (s *Store) NotifyDamage(f func(message string)) {
	if s.reads == nil {
		return
	}
	s.reads.mu.Lock()
	s.reads.notify = f
	s.reads.mu.Unlock()
}

// explain looks for a table that is no longer what it was after a read
// faulted: a file shorter than when the checker mapped it, or one that no
// longer opens. It reads the directory, not badger, whose own structures
// are on the same pages.
func (c *readChecker) explain() (err error) {
	if c == nil {
		return nil
	}
	defer faultsPanic()()
	defer func() {
		if recover() != nil {
			err = nil
		}
	}()
	names, _ := filepath.Glob(filepath.Join(c.dir, "*"+tableExt))
	for _, name := range names {
		id, ok := table.ParseFileID(name)
		if !ok {
			continue
		}
		fi, serr := os.Stat(name)
		if serr != nil {
			continue // removed by a compaction
		}
		c.mu.Lock()
		ct := c.open[id]
		c.mu.Unlock()
		if ct != nil {
			if fi.Size() < int64(len(ct.mf.Data)) {
				return c.damaged(id, fmt.Sprintf("it was cut short to %d of its %d bytes", fi.Size(), len(ct.mf.Data)))
			}
			continue
		}
		t, oerr := c.openTable(id)
		if errors.Is(oerr, os.ErrNotExist) {
			continue
		}
		if oerr != nil {
			return c.damaged(id, oerr.Error())
		}
		t.close()
	}
	return nil
}

// guarded runs fn with a fault or a panic of badger's readers turned into
// an error, as view does.
func (s *Store) guarded(fn func() error) (err error) {
	defer s.recoverRead(&err)
	defer faultsPanic()()
	return fn()
}

// valueReportID is the checker's report key for value-log damage.
const valueReportID = math.MaxUint64

// readValue is item's value. Badger answers a value-log value that fails
// its checksum (VerifyValueChecksum) with a logged error and an empty
// value, no error; the store writes no empty value, so an empty one is
// that damage.
func (c *readChecker) readValue(item *badger.Item) ([]byte, error) {
	raw, err := item.ValueCopy(nil)
	if err != nil || len(raw) > 0 || c == nil {
		return raw, err
	}
	err = &valueDamageError{dir: c.dir, key: string(item.Key()), version: item.Version()}
	c.report(valueReportID, err)
	return nil, err
}

// valueDamageError is a value in a value log that does not read.
type valueDamageError struct {
	dir, key string
	version  uint64
}

func (e *valueDamageError) Error() string {
	return fmt.Sprintf("store: the value of %q (version %d) in a value log (*.vlog) of %s is damaged: it fails its checksum or does not read (the store's log names the file and offset); it changed on disk after the node opened it. To recover: stop the node and restore %s from a copy (the whole directory, taken while the node was stopped); the node refuses to start on it as it is",
		e.key, e.version, e.dir, e.dir)
}

func (e *valueDamageError) Is(target error) bool { return target == ErrDamaged }
