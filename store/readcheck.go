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
}

// checkedTable is the checker's handle on a table file; refs counts the
// reads using it, gone says the table left the store (closed when refs
// drops to 0).
type checkedTable struct {
	id   uint64
	t    *table.Table
	mf   *z.MmapFile
	refs int
	gone bool
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
	return &readChecker{db: db, dir: dir, open: map[uint64]*checkedTable{}, reported: map[uint64]bool{}}
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
			ct.gone = true
			delete(c.open, id)
			if ct.refs == 0 {
				ct.close()
			}
		}
	}
	var out []*checkedTable
	for _, ti := range infos {
		left, right := y.ParseKey(ti.Left), y.ParseKey(ti.Right)
		if hi == nil {
			if bytes.Compare(right, lo) < 0 || (bytes.Compare(left, lo) > 0 && !bytes.HasPrefix(left, lo)) {
				continue
			}
		} else if bytes.Compare(right, lo) < 0 || bytes.Compare(left, hi) > 0 {
			continue
		}
		ct, ok := c.open[ti.ID]
		if !ok {
			var err error
			ct, err = c.openTable(ti.ID)
			if errors.Is(err, os.ErrNotExist) {
				continue // compacted away since Tables
			}
			if err != nil {
				c.releaseLocked(out)
				return nil, c.damagedLocked(ti.ID, err.Error())
			}
			c.open[ti.ID] = ct
		}
		ct.refs++
		out = append(out, ct)
	}
	return out, nil
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
func (c *readChecker) checkKey(key []byte, found uint64) (err error) {
	if c == nil {
		return nil
	}
	ts, err := c.acquire(key, key)
	if err != nil {
		return err
	}
	defer c.release(ts)
	defer c.recoverFault(&err)
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
func (c *readChecker) checkPrefix(prefix []byte) (err error) {
	if c == nil {
		return nil
	}
	ts, err := c.acquire(prefix, nil)
	if err != nil {
		return err
	}
	defer c.release(ts)
	defer c.recoverFault(&err)
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
// into an error.
func (c *readChecker) recoverFault(err *error) {
	if r := recover(); r != nil {
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
	if !c.reported[id] {
		c.reported[id] = true
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
