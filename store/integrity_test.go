package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/api"
)

// noReserve opens a store on disk without the reserve file: tests of
// damage open many.
var noReserve = Options{DiskReserve: -1}

// damagedStore makes a closed store of n pods in a temporary directory;
// closing flushes them into a table named by the MANIFEST.
func damagedStore(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, noReserve)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		mustCreate(t, s, pod("default", fmt.Sprintf("p%05d", i), map[string]string{"i": fmt.Sprint(i)}))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyStore copies the files of a store into a new temporary directory,
// as a crash would leave them when the store is open: of a write-ahead
// or value log (sparse, written from its start), what is on disk.
func copyStore(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == reserveName || e.Name() == lockName {
			continue
		}
		path := filepath.Join(from, e.Name())
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(e.Name(), walExt) || strings.HasSuffix(e.Name(), vlogExt) {
			r = io.LimitReader(f, allocated(path))
		}
		b, err := io.ReadAll(r)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
		// The rest of a log is a hole, as badger made it.
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(filepath.Join(to, e.Name()), fi.Size()); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// snapshot is every file under dir with a hash of its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func onlyTable(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil || len(m) != 1 {
		t.Fatalf("tables %v (%v), want one", m, err)
	}
	return m[0]
}

// wantDamaged opens dir and wants ErrDamaged naming dir, each of names
// and a way to recover, with every file left as it was.
func wantDamaged(t *testing.T, dir string, names ...string) {
	t.Helper()
	before := snapshot(t, dir)
	s, err := Open(dir, noReserve)
	if err == nil {
		objs, _, lerr := s.List(context.Background(), podsR, "", ListOptions{})
		s.Close()
		t.Fatalf("a damaged store opened, with %d pods (%v)", len(objs), lerr)
	}
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("Open: %v, want ErrDamaged", err)
	}
	for _, want := range append([]string{dir, "restore " + dir + " from a copy"}, names...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
	after := snapshot(t, dir)
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("%s changed or went away", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s appeared", name)
		}
	}
}

func TestOpenRefusesAStoreWithoutItsManifest(t *testing.T) {
	dir := damagedStore(t, 100)
	if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	wantDamaged(t, dir, "MANIFEST is missing", filepath.Base(onlyTable(t, dir)))
}

func TestOpenRefusesACutManifest(t *testing.T) {
	store := damagedStore(t, 100)
	for _, tc := range []struct {
		name string
		cut  func(size int64) int64
		says string
	}{
		// In the middle of its only record: badger drops the record, and
		// with it the table.
		{"mid-record", func(size int64) int64 { return size / 2 }, "ends in a record cut at byte 8 of"},
		// After its header, where a record starts: nothing looks cut.
		{"at a record", func(int64) int64 { return 8 }, "hold writes newer than every table it names"},
		{"empty", func(int64) int64 { return 0 }, "MANIFEST is empty"},
		{"in its header", func(int64) int64 { return 5 }, "MANIFEST does not decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyStore(t, store)
			path := filepath.Join(dir, "MANIFEST")
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, tc.cut(fi.Size())); err != nil {
				t.Fatal(err)
			}
			wantDamaged(t, dir, tc.says)
		})
	}
}

func TestOpenRefusesAZeroedTable(t *testing.T) {
	dir := damagedStore(t, 100)
	sst := onlyTable(t, dir)
	f, err := os.OpenFile(sst, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if _, err := f.WriteAt(make([]byte, 16<<10), fi.Size()/4); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantDamaged(t, dir, "the table file "+filepath.Base(sst)+" is damaged", "checksum")
}

func TestOpenRefusesACutTable(t *testing.T) {
	dir := damagedStore(t, 100)
	sst := onlyTable(t, dir)
	whole, err := os.ReadFile(sst)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{len(whole) / 2, len(whole) - 1, 10} {
		if err := os.WriteFile(sst, whole[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		// badger panics on it in a goroutine of its own, which no
		// recover can reach.
		wantDamaged(t, dir, "the table file "+filepath.Base(sst)+" is damaged")
	}
}

// TestOpenKeepsTablesAnInterruptedCompactionLeft: a table the MANIFEST
// does not name that holds nothing newer than the tables it does is what
// a compaction the process did not finish leaves; the store opens, and
// the table is kept aside, not deleted.
func TestOpenKeepsTablesAnInterruptedCompactionLeft(t *testing.T) {
	dir := damagedStore(t, 100)
	raw, err := os.ReadFile(onlyTable(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "000009.sst"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, noReserve)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs, _, err := s.List(context.Background(), podsR, "", ListOptions{})
	if err != nil || len(objs) != 100 {
		t.Fatalf("%d pods (%v), want 100", len(objs), err)
	}
	kept, _ := filepath.Glob(filepath.Join(dir, unreferencedDir, "*", "000009.sst"))
	if len(kept) != 1 {
		t.Fatalf("the unreferenced table was not kept aside: %v", kept)
	}
}

// TestOpenKeepsATableAnInterruptedFlushLeft builds what a crash leaves
// between a flush's table and the MANIFEST record naming it: the table
// holds writes newer than every table the MANIFEST names, and so does the
// write-ahead log it was flushed from. The store opens, with every write,
// and keeps the table aside. Without the log, the same table is a lost
// MANIFEST record, and the store is refused.
func TestOpenKeepsATableAnInterruptedFlushLeft(t *testing.T) {
	dir := damagedStore(t, 50) // its table is named by the MANIFEST
	s, err := Open(dir, noReserve)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		mustCreate(t, s, pod("default", fmt.Sprintf("q%05d", i), nil))
	}
	crashed := copyStore(t, dir) // as kill -9 would leave it
	s.Close()
	// The flush the crash interrupted: opening a copy flushes the log
	// into a table the MANIFEST then names.
	flushed := copyStore(t, crashed)
	s, err = Open(flushed, noReserve)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var table string
	for _, name := range mustGlob(t, filepath.Join(flushed, "*.sst")) {
		if _, err := os.Stat(filepath.Join(crashed, filepath.Base(name))); err != nil {
			table = name
		}
	}
	if table == "" {
		t.Fatal("opening the copy flushed no table")
	}
	raw, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crashed, filepath.Base(table)), raw, 0o600); err != nil {
		t.Fatal(err)
	}

	lost := copyStore(t, crashed)
	for _, wal := range mustGlob(t, filepath.Join(lost, "*"+walExt)) {
		os.Remove(wal)
	}
	wantDamaged(t, lost, filepath.Base(table), "no write-ahead log holds")

	s, err = Open(crashed, noReserve)
	if err != nil {
		t.Fatalf("a store a crash left in a flush: %v", err)
	}
	defer s.Close()
	objs, _, err := s.List(context.Background(), podsR, "", ListOptions{})
	if err != nil || len(objs) != 100 {
		t.Fatalf("%d pods (%v), want 100", len(objs), err)
	}
	if kept := mustGlob(t, filepath.Join(crashed, unreferencedDir, "*", filepath.Base(table))); len(kept) != 1 {
		t.Fatal("the flushed table was not kept aside")
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// BenchmarkOpenVerified measures what verifying every table costs a start:
// a store of 10,000 pods of about 2 KB, opened and closed ("open"), and
// the verification alone ("verify"); and a list of them all ("list"),
// every block verified as it is read.
func BenchmarkOpenVerified(b *testing.B) {
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
	// The write-ahead log of all 10,000, replayed and looked past as Open
	// does after a crash.
	b.Run("logs", func(b *testing.B) {
		bo := badgerOptions(dir, false)
		for b.Loop() {
			d, err := readDataDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			if err := checkLogs(d, bo); err != nil {
				b.Fatal(err)
			}
		}
	})
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	var size int64
	for _, t := range tables {
		fi, _ := os.Stat(t)
		size += fi.Size()
	}
	b.Logf("%d tables, %.1f MiB", len(tables), float64(size)/(1<<20))
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			s, err := Open(dir, noReserve)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	// Every block a list or a get reads is verified before badger parses
	// it, and read again by the store's checker (readcheck.go);
	// "unchecked" is without the checker.
	ctx := context.Background()
	for _, checked := range []bool{true, false} {
		suffix := ""
		if !checked {
			suffix = "-unchecked"
		}
		s, err := Open(dir, noReserve)
		if err != nil {
			b.Fatal(err)
		}
		if !checked {
			s.reads = nil
		}
		b.Run("list"+suffix, func(b *testing.B) {
			for b.Loop() {
				objs, _, err := s.List(ctx, podsR, "", ListOptions{})
				if err != nil || len(objs) != 10000 {
					b.Fatal(len(objs), err)
				}
			}
		})
		b.Run("get"+suffix, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := s.Get(ctx, podsR, "default", fmt.Sprintf("p%05d", i*7919%10000)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("get-missing"+suffix, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := s.Get(ctx, podsR, "default", fmt.Sprintf("q%05d", i%10000)); !api.IsNotFound(err) {
					b.Fatal(err)
				}
			}
		})
		s.Close()
	}
	b.Run("verify", func(b *testing.B) {
		bo := badgerOptions(dir, false)
		for b.Loop() {
			if err := checkDataDir(dir, bo); err != nil {
				b.Fatal(err)
			}
		}
	})
}
