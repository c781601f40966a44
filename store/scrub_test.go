package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
)

// A table damaged under the open store, where no read goes: the scrub,
// every ScrubInterval of the store's clock, finds it, says so once and
// marks the store; a compaction that then passes over the bad block (and
// deletes the file) loses nothing silently: gets of the table's pods are
// still a 500 naming the file, never NotFound, and the next Open refuses.
func TestScrubFindsDamageUnderAnOpenStore(t *testing.T) {
	ctx := context.Background()
	dir := damagedStore(t, 300)
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := Open(dir, Options{DiskReserve: -1, ScrubInterval: time.Hour, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var (
		mu       sync.Mutex
		notified []string
	)
	s.NotifyDamage(func(msg string) { mu.Lock(); notified = append(notified, msg); mu.Unlock() })
	if err := s.scrub(); err != nil {
		t.Fatalf("the scrub of a sound store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, DamagedMarker)); err == nil {
		t.Fatal("a sound store was marked damaged")
	}

	sst := onlyTable(t, dir)
	file := filepath.Base(sst)
	b, err := os.ReadFile(sst)
	if err != nil {
		t.Fatal(err)
	}
	writeAt(t, sst, len(b)/2, []byte{b[len(b)/2] ^ 0x40})

	fc.BlockUntil(1) // the scrub's timer
	fc.Advance(time.Hour)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(notified) > 0 })
	mu.Lock()
	if len(notified) != 1 || !strings.Contains(notified[0], file) || !strings.Contains(notified[0], "damaged") {
		t.Errorf("told %q, want once, naming %s and the damage", notified, file)
	}
	mu.Unlock()
	marker, err := os.ReadFile(filepath.Join(dir, DamagedMarker))
	if err != nil || !strings.Contains(string(marker), file) {
		t.Fatalf("the marker: %q, %v; want it naming %s", marker, err, file)
	}
	// A second pass finds the same file and says nothing more.
	if err := s.scrub(); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("the second scrub: %v, want the damage of %s", err, file)
	}

	mustCreate(t, s, pod("default", "q00000", nil))
	// badger's compaction reads the table, drops what the bad block held
	// without an error, and deletes the file: five more tables flushed
	// (DropPrefix flushes the memtable; it is given a prefix of scratch
	// keys outside the store's tree, so that there is something to drop).
	for round := range 5 {
		err := s.db.Update(func(txn *badger.Txn) error {
			return txn.Set([]byte(fmt.Sprintf("/scratch/%d", round)), []byte("x"))
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.db.DropPrefix([]byte("/scratch/")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sst); err == nil {
		m, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
		for _, ti := range s.db.Tables() {
			t.Logf("table %d level %d", ti.ID, ti.Level)
		}
		t.Fatalf("%s is still there after the compaction: %v", file, m)
	}
	var bad int
	for i := range 300 {
		_, err := s.Get(ctx, podsR, "default", fmt.Sprintf("p%05d", i))
		switch {
		case err == nil:
		case api.IsNotFound(err):
			t.Fatalf("p%05d: NotFound for a pod in the damaged block", i)
		default:
			wantDamageError(t, err, file)
			bad++
		}
	}
	// What the bad block held is known to be in the dropped table's
	// range only: every pod there is the damage.
	if bad != 300 {
		t.Errorf("%d of 300 gets failed, want every one in the dropped table's range", bad)
	}
	if _, err := s.Get(ctx, podsR, "default", "q00000"); err != nil {
		t.Errorf("a pod out of the damaged table's range: %v", err)
	}
	mu.Lock()
	if len(notified) != 1 {
		t.Errorf("told %d times, want once", len(notified))
	}
	mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantDamaged(t, dir, DamagedMarker, file)
}

// The scrub ends with the store, and a store whose scrub is off has none.
func TestScrubEndsWithTheStore(t *testing.T) {
	dir := damagedStore(t, 10)
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := Open(dir, Options{DiskReserve: -1, ScrubInterval: time.Minute, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	fc.BlockUntil(1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return fc.Waiters() == 0 })
	off, err := Open(dir, Options{DiskReserve: -1, ScrubInterval: -1, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	time.Sleep(20 * time.Millisecond)
	if n := fc.Waiters(); n != 0 {
		t.Errorf("%d timers with the scrub off", n)
	}
}

// BenchmarkScrub measures a scrub of a store of 10,000 pods of about 2 KB
// (about 23 MiB of tables): the verification of every table, without the
// pauses between tables ("verify"), and a list of every pod while the
// scrub runs in a loop beside it ("list-during") against one without
// ("list").
func BenchmarkScrub(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, noReserve)
	if err != nil {
		b.Fatal(err)
	}
	pad := strings.Repeat("x", 2000)
	for i := range 10000 {
		p := pod("default", fmt.Sprintf("p%05d", i), nil)
		p.Annotations = map[string]string{"pad": pad}
		mustCreate(b, s, p)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	s, err = Open(dir, Options{DiskReserve: -1, ScrubInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			for _, ti := range s.db.Tables() {
				if err := s.scrubTable(ti.ID); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	ctx := context.Background()
	list := func(b *testing.B) {
		for b.Loop() {
			if objs, _, err := s.List(ctx, podsR, "default", ListOptions{}); err != nil || len(objs) != 10000 {
				b.Fatalf("%d pods, %v", len(objs), err)
			}
		}
	}
	b.Run("list", list)
	b.Run("list-during", func(b *testing.B) {
		stop := make(chan struct{})
		s.scrubStop = stop
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				s.scrub()
			}
		}()
		list(b)
		close(stop)
		<-done
		s.scrubStop = nil
	})
}
