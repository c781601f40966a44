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

	"github.com/wasmlet/wasmlet/api"
)

// crashedStore writes n pods (and big ones of more than badger's value
// threshold, whose values go to the value log) to an open store and
// returns a copy of its directory as kill -9 would leave it: every write
// in the write-ahead log, no table.
func crashedStore(t *testing.T, n, big int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, noReserve)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		mustCreate(t, s, pod("default", fmt.Sprintf("p%05d", i), map[string]string{"i": fmt.Sprint(i)}))
	}
	pad := strings.Repeat("x", 1100<<10)
	for i := range big {
		p := pod("default", fmt.Sprintf("big%d", i), nil)
		p.Annotations = map[string]string{"pad": pad}
		mustCreate(t, s, p)
	}
	return copyStore(t, dir)
}

// logWith is the one log of dir with the extension that holds entries.
func logWith(t *testing.T, dir, ext string) (string, []byte) {
	t.Helper()
	var found []string
	for _, p := range mustGlob(t, filepath.Join(dir, "*"+ext)) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if scanLog(b, ext == walExt).end > logHeaderSize {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("logs with entries %v, want one", found)
	}
	b, _ := os.ReadFile(found[0])
	return found[0], b
}

// entryOffsets are where the entries of a log start, up to where badger's
// replay stops, and the end of the last.
func entryOffsets(data []byte) []int {
	var out []int
	for off := logHeaderSize; ; {
		e, ok := readLogEntry(data, off)
		if !ok {
			return append(out, off)
		}
		out = append(out, off)
		off += e.size
	}
}

func writeAt(t *testing.T, path string, off int, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, int64(off)); err != nil {
		t.Fatal(err)
	}
}

// podCount opens dir and lists its pods.
func podCount(t *testing.T, dir string) int {
	t.Helper()
	s, err := Open(dir, noReserve)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	objs, _, err := s.List(context.Background(), podsR, "", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}

// Badger replays a write-ahead log to its first entry that fails its
// checksum and cuts the file there: a byte changed in the middle of the
// log lost every write after it, with no message.
func TestOpenRefusesADamagedWriteAheadLog(t *testing.T) {
	crashed := crashedStore(t, 300, 0)
	wal, data := logWith(t, crashed, walExt)
	offs := entryOffsets(data)
	mid := offs[len(offs)/3]
	e, _ := readLogEntry(data, mid)
	for _, tc := range []struct {
		name   string
		damage func(path string)
	}{
		{"a flipped byte", func(path string) {
			writeAt(t, path, mid+e.hlen+3, []byte{data[mid+e.hlen+3] ^ 0x10})
		}},
		{"16 KiB zeroed", func(path string) {
			writeAt(t, path, mid, make([]byte, 16<<10))
		}},
		{"a header garbled", func(path string) {
			writeAt(t, path, mid+2, []byte{0xff, 0xff, 0xff, 0xff, 0xff})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyStore(t, crashed)
			tc.damage(filepath.Join(dir, filepath.Base(wal)))
			wantDamaged(t, dir, filepath.Base(wal), "committed writes follow", "truncate -s")
		})
	}
	t.Run("cut short", func(t *testing.T) {
		dir := copyStore(t, crashed)
		if err := os.Truncate(filepath.Join(dir, filepath.Base(wal)), int64(mid+e.size/2)); err != nil {
			t.Fatal(err)
		}
		wantDamaged(t, dir, filepath.Base(wal), "cut short")
	})
	t.Run("undamaged", func(t *testing.T) {
		if got := podCount(t, copyStore(t, crashed)); got != 300 {
			t.Fatalf("%d pods, want 300", got)
		}
	})
}

// A node killed while it writes leaves the last write torn: some entries
// of its transaction, part of one, and zeros. The store opens, without
// that write, which was never acknowledged.
func TestOpenAcceptsAWriteTornByACrash(t *testing.T) {
	crashed := crashedStore(t, 50, 0)
	wal, data := logWith(t, crashed, walExt)
	offs := entryOffsets(data)
	end := offs[len(offs)-1]
	// The last transaction: the last pod's entries, the counter's and its
	// end (an entry whose key is badger's transaction key).
	last := len(offs) - 2
	for last > 0 {
		e, _ := readLogEntry(data, offs[last-1])
		if e.meta&metaFinTxn != 0 {
			break
		}
		last--
	}
	for _, tc := range []struct {
		name string
		cut  int
	}{
		{"inside its first entry", offs[last] + 40},
		{"after its first entry", offs[last+1]},
		{"inside its end", offs[len(offs)-2] + 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyStore(t, crashed)
			writeAt(t, filepath.Join(dir, filepath.Base(wal)), tc.cut, make([]byte, end-tc.cut))
			if got := podCount(t, dir); got != 49 {
				t.Fatalf("%d pods after a torn last write, want 49", got)
			}
		})
	}
}

// The last value log is replayed and cut the same way; older ones are
// not replayed, and must end where their entries do.
func TestOpenRefusesADamagedValueLog(t *testing.T) {
	crashed := crashedStore(t, 5, 3)
	vlog, data := logWith(t, crashed, vlogExt)
	offs := entryOffsets(data)
	if len(offs) != 4 {
		t.Fatalf("value log entries at %v, want 3", offs)
	}
	t.Run("a flipped byte", func(t *testing.T) {
		dir := copyStore(t, crashed)
		writeAt(t, filepath.Join(dir, filepath.Base(vlog)), offs[0]+1000, []byte{data[offs[0]+1000] ^ 1})
		wantDamaged(t, dir, filepath.Base(vlog), "committed writes follow")
	})
	t.Run("a torn last value", func(t *testing.T) {
		// A value written whole before a crash whose entry in the
		// write-ahead log was not: cut short at the tail, it opens.
		dir := copyStore(t, crashed)
		path := filepath.Join(dir, filepath.Base(vlog))
		writeAt(t, path, offs[3], data[offs[0]:offs[0]+5000])
		if got := podCount(t, dir); got != 8 {
			t.Fatalf("%d pods, want 8", got)
		}
	})
	t.Run("an older log", func(t *testing.T) {
		dir := copyStore(t, crashed)
		path := filepath.Join(dir, filepath.Base(vlog))
		// Closed and rotated: cut to its entries, as badger leaves it.
		if err := os.Truncate(path, int64(offs[3])); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "000099.vlog"), data[:logHeaderSize], 0o600); err != nil {
			t.Fatal(err)
		}
		writeAt(t, path, offs[2]+1000, []byte{data[offs[2]+1000] ^ 1})
		wantDamaged(t, dir, filepath.Base(vlog), "values after it are lost")
	})
}

// wantDamageError wants the API's 500 naming the table file and damage.
func wantDamageError(t *testing.T, err error, file string) {
	t.Helper()
	st, ok := err.(*api.Status)
	if !ok || st.Code != 500 || !strings.Contains(st.Message, file) || !strings.Contains(st.Message, "damaged") {
		t.Fatalf("got %v, want a 500 naming %s and the damage", err, file)
	}
}

// A table changed under a running node: badger takes a block that fails
// its checksum for the end of the table, so a list came back short and a
// get answered NotFound for a pod that exists, without an error.
func TestDamageUnderAnOpenStoreIsAnError(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		damage func(path string, size int64)
		allBad bool // every read fails
	}{
		{"16 KiB zeroed", func(path string, size int64) { writeAt(t, path, int(size/3), make([]byte, 16<<10)) }, false},
		{"a flipped byte", func(path string, size int64) {
			b, _ := os.ReadFile(path)
			writeAt(t, path, int(size/2), []byte{b[size/2] ^ 0x40})
		}, false},
		// The pages past the new end fault (SIGBUS), badger's index
		// among them.
		{"cut short", func(path string, size int64) {
			if err := os.Truncate(path, size/2); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := damagedStore(t, 300)
			s, err := Open(dir, noReserve)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var notified []string
			var mu sync.Mutex
			s.NotifyDamage(func(msg string) { mu.Lock(); notified = append(notified, msg); mu.Unlock() })
			sst := onlyTable(t, dir)
			fi, _ := os.Stat(sst)
			tc.damage(sst, fi.Size())

			objs, _, err := s.List(ctx, podsR, "", ListOptions{})
			if err == nil {
				t.Fatalf("a list of a damaged table gave %d of 300 pods and no error", len(objs))
			}
			wantDamageError(t, err, filepath.Base(sst))
			var bad int
			for i := range 300 {
				_, err := s.Get(ctx, podsR, "default", fmt.Sprintf("p%05d", i))
				switch {
				case err == nil:
				case api.IsNotFound(err):
					t.Fatalf("p%05d: NotFound for a pod in a damaged block", i)
				default:
					wantDamageError(t, err, filepath.Base(sst))
					bad++
				}
			}
			if bad == 0 || (bad == 300 && !tc.allBad) {
				t.Fatalf("%d gets failed, want those of the damaged block", bad)
			}
			// A create where the damaged block holds the name is not
			// taken for a new name.
			for i := range 300 {
				name := fmt.Sprintf("p%05d", i)
				if _, err := s.Get(ctx, podsR, "default", name); err == nil {
					continue
				}
				if _, err := s.Create(ctx, pod("default", name, nil)); err == nil || api.IsAlreadyExists(err) {
					t.Fatalf("create of %s over a damaged block: %v, want the damage", name, err)
				}
				break
			}
			waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(notified) == 1 })
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			wantDamaged(t, dir, filepath.Base(sst))
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("timed out")
}

// A value in a value log changed under the running node: badger verifies
// each value it reads (VerifyValueChecksum), logs a mismatch and returns
// an empty value without an error; the read is a 500 naming the damage
// (it was one only by luck: "unexpected end of JSON input").
func TestValueLogDamageUnderAnOpenStoreIsAnError(t *testing.T) {
	ctx := context.Background()
	dir := crashedStore(t, 5, 3)
	s, err := Open(dir, noReserve)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	vlog, data := logWith(t, dir, vlogExt)
	offs := entryOffsets(data)
	writeAt(t, vlog, offs[1]+1000, []byte{data[offs[1]+1000] ^ 1})
	var bad int
	for i := range 3 {
		_, err := s.Get(ctx, podsR, "default", fmt.Sprintf("big%d", i))
		if err == nil {
			continue
		}
		st, ok := err.(*api.Status)
		if !ok || st.Code != 500 || !strings.Contains(st.Message, "value log") || !strings.Contains(st.Message, "damaged") {
			t.Fatalf("big%d: %v, want a 500 naming the damaged value", i, err)
		}
		bad++
	}
	if bad != 1 {
		t.Fatalf("%d gets failed, want 1", bad)
	}
	if _, _, err := s.List(ctx, podsR, "", ListOptions{}); err == nil {
		t.Fatal("a list over a damaged value gave no error")
	}
}
