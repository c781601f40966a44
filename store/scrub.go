package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4/y"

	"github.com/wasmlet/wasmlet/internal/clock"
)

// The scrub. A read verifies only the blocks it reads (readcheck.go), and
// badger's compactions read blocks too: a compaction whose input has a
// block that fails its checksum writes what it could read and deletes
// its inputs, without an error, and what the block held is gone with no
// trace on disk. So every ScrubInterval the store reads every table it
// holds, each block verified, through the read checker's handles: damage
// is found before a compaction can pass over it, and is what damage a
// read meets is (a 500 naming the file for the reads that meet it, a log
// line, NotifyDamage once per file, and a refusal at the next Open).
//
// A damaged table is remembered after badger drops it (readChecker's
// lost: every read in its range is then the damage), and the store
// writes DamagedMarker, so that neither the reads nor the next Open
// depend on the file still being there.
//
// The scrub is the store's lowest priority: one table at a time, each
// followed by a pause of four times what it took (at most a fifth of a
// core), and it holds the store open only while it reads one table.

// DefaultScrubInterval is how often a durable store verifies its tables
// when Options.ScrubInterval is 0.
const DefaultScrubInterval = time.Hour

// scrubPause is how much longer than a table's verification the scrub
// waits before the next table.
const scrubPause = 4

// startScrub starts the scrub of a durable store, every interval of clk.
func (s *Store) startScrub(interval time.Duration, clk clock.Clock) {
	if s.reads == nil || interval < 0 {
		return
	}
	if interval == 0 {
		interval = DefaultScrubInterval
	}
	if clk == nil {
		clk = clock.Real()
	}
	s.scrubStop = make(chan struct{})
	go func() {
		for {
			t := clk.NewTimer(interval)
			select {
			case <-s.scrubStop:
				t.Stop()
				return
			case <-t.C():
			}
			if s.scrub() == errClosed {
				return
			}
		}
	}()
}

// stopScrub ends the scrub's loop; the first Close calls it.
func (s *Store) stopScrub() {
	if s.scrubStop != nil {
		close(s.scrubStop)
	}
}

// scrub verifies every table of the store once; it returns the first
// damage found, errClosed when the store closed meanwhile.
func (s *Store) scrub() error {
	if err := s.enter(); err != nil {
		return err
	}
	infos := s.db.Tables()
	s.leave()
	var found error
	for _, ti := range infos {
		start := time.Now()
		err := s.scrubTable(ti.ID)
		if err == errClosed {
			return err
		}
		if err != nil && found == nil {
			found = err
		}
		pause := time.NewTimer(scrubPause * time.Since(start))
		select {
		case <-s.scrubStop:
			pause.Stop()
			return errClosed
		case <-pause.C:
		}
	}
	return found
}

// scrubTable verifies the table id, if it is still the store's: its
// index, opened anew (badger verifies an index's checksum as it opens
// it), and every block, read in order. A table cut to nothing as badger
// drops it is not damage. Damage is kept as a read's is (readChecker's
// lost).
func (s *Store) scrubTable(id uint64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	c := s.reads
	var left, right []byte
	for _, ti := range s.db.Tables() {
		if ti.ID == id {
			left, right = y.ParseKey(ti.Left), y.ParseKey(ti.Right)
		}
	}
	if left == nil {
		return nil // compacted away since the scrub listed it
	}
	fresh, err := c.openTable(id)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	what, maxVersion := "", uint64(math.MaxUint64)
	if err != nil {
		what = err.Error()
	} else {
		what, maxVersion = verifyBlocks(fresh), fresh.t.MaxVersion()
		fresh.close()
	}
	if what == "" || !c.liveTables()[id] { // sound, or cut as badger dropped it
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.lost[id]; !ok {
		c.lost[id] = lostTable{left: left, right: right, maxVersion: maxVersion}
	}
	return c.damagedLocked(id, what)
}

// verifyBlocks reads every block of the table, each verified as it is
// read; "" when every one is sound, else what is wrong. A table iterator
// stops at a block that fails its checksum as at the table's end, so the
// last key read is the table's biggest only when no block failed.
func verifyBlocks(ct *checkedTable) (what string) {
	defer faultsPanic()()
	defer func() {
		if r := recover(); r != nil {
			what = "reading it fails with " + panicSummary(r)
		}
	}()
	it := ct.t.NewIterator(0)
	defer it.Close()
	var (
		last []byte
		n    int
	)
	for it.Rewind(); it.Valid(); it.Next() {
		last = append(last[:0], it.Key()...)
		n++
	}
	if !bytes.Equal(last, ct.t.Biggest()) {
		if n == 0 {
			return "its first block fails its checksum or does not decode"
		}
		return fmt.Sprintf("the block after its first %d keys (the last %q) fails its checksum or does not decode", n, y.ParseKey(last))
	}
	return ""
}

// DamagedMarker is the file a store writes in its directory when it
// finds damage while open; Open refuses a directory that holds it.
const DamagedMarker = "DAMAGED"

// markDamaged writes DamagedMarker with msg, once; c.mu is held.
func (c *readChecker) markDamaged(msg string) {
	if c.marked {
		return
	}
	c.marked = true
	path := filepath.Join(c.dir, DamagedMarker)
	if err := os.WriteFile(path, []byte(msg+"\n"), 0o600); err != nil {
		logf("store: writing %s: %v", path, err)
		return
	}
	_ = syncDir(c.dir)
}

// checkMarker refuses a directory whose store found damage while it was
// open, when nothing else Open checks names it (a compaction may have
// dropped the damaged table since).
func checkMarker(dir string) error {
	msg, err := os.ReadFile(filepath.Join(dir, DamagedMarker))
	if err != nil {
		return nil
	}
	return &damagedError{dir: dir,
		what: fmt.Sprintf("it found damage while it was open, which %s in it records: %s", DamagedMarker, trimNewline(string(msg))),
		recovery: recoverFromCopy(dir) + fmt.Sprintf("; or, to keep what it holds and lose what the damage took, remove %s",
			filepath.Join(dir, DamagedMarker))}
}

func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
