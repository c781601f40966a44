package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wasmlet/wasmlet/api"
)

// diskFullPhaseEnv, set with crashChildEnv, makes the test binary run one
// phase of TestFullDiskIsAnErrorNotACrash on the small filesystem mounted
// at <crashChildEnv>/mnt.
const diskFullPhaseEnv = "WASMLET_STORE_DISKFULL_PHASE"

// The small filesystem, and the store's options on it: the defaults are
// sized for real disks.
const (
	diskFullSize = "16m"
	diskFullOpts = "reserve 2 MiB, slack 1 MiB"
)

func diskFullOptions() Options {
	return Options{DiskReserve: 2 << 20, diskSlack: 1 << 20}
}

// TestFullDiskIsAnErrorNotACrash fills a 16 MiB tmpfs under the store, in
// a user and mount namespace of its own, first with the store's own
// writes and then with another writer's file, and checks that writes are
// refused with 507 (clients' first, then the node's) and the process
// lives, that closing and opening on the full disk are errors, and that
// the store starts again once there is space, with every acknowledged
// write.
func TestFullDiskIsAnErrorNotACrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two processes on a filesystem of their own")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1): a test of a full disk needs a small filesystem of its own (unshare -Urm, then a tmpfs)")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	probe := exec.Command(unshare, "-Urm", "sh", "-c", `mount -t tmpfs -o size=1m tmpfs "$1"`, "sh", mnt)
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs in a user namespace here (%v: %s): a test of a full disk needs a small filesystem of its own", err, strings.TrimSpace(string(out)))
	}
	script := `mount -t tmpfs -o size=` + diskFullSize + ` tmpfs "$1/mnt" &&
		` + diskFullPhaseEnv + `=1 "$2" -test.run='^$' &&
		` + diskFullPhaseEnv + `=2 exec "$2" -test.run='^$'`
	cmd := exec.Command(unshare, "-Urm", "sh", "-c", script, "sh", dir, os.Args[0])
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	t.Logf("on a %s tmpfs (%s):\n%s", diskFullSize, diskFullOpts, out)
	if err != nil {
		t.Fatalf("the writer did not end well: %v", err)
	}
	if !strings.Contains(string(out), "phase 2 ok") {
		t.Fatal("phase 2 did not finish")
	}
}

// diskFullChild runs one phase in the namespace; it prints what it sees
// and exits 1 at the first thing wrong.
func diskFullChild(dir, phase string) {
	fail := func(f string, a ...any) {
		fmt.Printf("FAIL: "+f+"\n", a...)
		os.Exit(1)
	}
	mnt := filepath.Join(dir, "mnt")
	store := filepath.Join(mnt, "store")
	ackedPath := filepath.Join(dir, "acked") // on the real disk
	// Other writers on the filesystem: one takes 6 MiB from the start,
	// the other what is left at the end.
	others := filepath.Join(mnt, "others")
	filler := filepath.Join(mnt, "filler")
	ctx := context.Background()
	switch phase {
	case "1":
		if err := os.WriteFile(others, make([]byte, 6<<20), 0o600); err != nil {
			fail("%v", err)
		}
		s, err := Open(store, diskFullOptions())
		if err != nil {
			fail("open: %v", err)
		}
		var told []string
		s.NotifyDiskPressure(func(pressure bool, msg string) {
			told = append(told, fmt.Sprint(pressure))
			// The node's event is a write of its own, in the reserve.
			if _, err := s.Create(ctx, obj(eventsR, "default", fmt.Sprintf("disk.%d", len(told)))); err != nil {
				fail("the event of pressure=%v: %v", pressure, err)
			}
		})
		acked, err := os.Create(ackedPath)
		if err != nil {
			fail("%v", err)
		}
		pad := strings.Repeat("x", 1000)
		write := func(ctx context.Context, name string) error {
			p := pod("default", name, nil)
			p.Annotations = map[string]string{"pad": pad}
			_, err := s.Create(ctx, p)
			if err == nil {
				fmt.Fprintln(acked, name)
			}
			return err
		}
		// The store's own growth: clients are refused first...
		client := ClientRequest(ctx)
		n := 0
		for ; ; n++ {
			err := write(client, fmt.Sprintf("c%05d", n))
			if err == nil {
				continue
			}
			if !api.IsInsufficientStorage(err) || !strings.Contains(err.Error(), "disk is nearly full") {
				fail("client write %d: %v, want 507 InsufficientStorage", n, err)
			}
			fmt.Printf("client writes refused after %d: %v\n", n, err)
			break
		}
		if len(told) != 1 || told[0] != "true" {
			fail("told of pressure %v, want [true]", told)
		}
		// ...and deletes are not.
		if _, _, err := s.Delete(client, podsR, "default", "c00000", DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
			fail("a client's delete under pressure: %v", err)
		}
		fmt.Fprintln(acked, "-c00000")
		// ...then the node's own writes, until the store keeps only what
		// it needs for itself.
		m := 0
		for ; ; m++ {
			err := write(ctx, fmt.Sprintf("n%05d", m))
			if err == nil {
				continue
			}
			if !api.IsInsufficientStorage(err) {
				fail("node write %d: %v, want 507 InsufficientStorage", m, err)
			}
			fmt.Printf("node writes refused after %d more: %v\n", m, err)
			break
		}
		if m == 0 {
			fail("the node had no room of its own after clients were refused")
		}
		// Another writer takes every block left.
		if err := fillDisk(filler); err != nil {
			fail("filling: %v", err)
		}
		for i := range 20 {
			err := write(ctx, fmt.Sprintf("f%05d", i))
			if err != nil && !api.IsInsufficientStorage(err) {
				fail("write on a full disk: %v, want 507 InsufficientStorage", err)
			}
			if err := write(client, fmt.Sprintf("g%05d", i)); !api.IsInsufficientStorage(err) {
				fail("client write on a full disk: %v, want 507 InsufficientStorage", err)
			}
		}
		if objs, _, err := s.List(ctx, podsR, "default", ListOptions{}); err != nil || len(objs) < n+m-1 {
			fail("list on a full disk: %d objects, %v", len(objs), err)
		}
		// Closing would flush the logs into a table through a memory
		// map: it is refused, not crashed.
		err = s.Close()
		if !errors.Is(err, ErrInsufficientStorage) {
			fail("close on a full disk: %v, want ErrInsufficientStorage", err)
		}
		fmt.Printf("close on a full disk: %v\n", err)
		acked.Close()
		fmt.Println("phase 1 ok")
	case "2":
		// The disk is still full: the store does not start, and says why.
		_, err := Open(store, diskFullOptions())
		if !errors.Is(err, ErrInsufficientStorage) {
			fail("open on a full disk: %v, want ErrInsufficientStorage", err)
		}
		fmt.Printf("open on a full disk: %v\n", err)
		for _, f := range []string{filler, others} {
			if err := os.Remove(f); err != nil {
				fail("%v", err)
			}
		}
		s, err := Open(store, diskFullOptions())
		if err != nil {
			fail("open once there is space: %v", err)
		}
		raw, err := os.ReadFile(ackedPath)
		if err != nil {
			fail("%v", err)
		}
		present := map[string]bool{}
		for _, line := range strings.Fields(string(raw)) {
			name, gone := strings.CutPrefix(line, "-")
			present[name] = !gone
		}
		for name, want := range present {
			_, err := s.Get(ctx, podsR, "default", name)
			switch {
			case !want && !api.IsNotFound(err):
				fail("deleted pod %s: %v", name, err)
			case want && err != nil:
				fail("acknowledged pod %s lost: %v", name, err)
			}
		}
		count := len(present)
		if _, err := s.Create(ClientRequest(ctx), pod("default", "after", nil)); err != nil {
			fail("client write once there is space: %v", err)
		}
		if err := s.Close(); err != nil {
			fail("close: %v", err)
		}
		fmt.Printf("phase 2 ok: %d acknowledged writes read back\n", count)
	default:
		fail("no phase %q", phase)
	}
	os.Exit(0)
}

// fillDisk writes path until the filesystem has no block left.
func fillDisk(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for size := len(buf); size > 0; {
		_, err := f.Write(buf[:size])
		if errors.Is(err, syscall.ENOSPC) {
			size /= 2
			continue
		}
		if err != nil {
			return err
		}
	}
	return f.Sync()
}

// BenchmarkDiskAdmit is what the free-space check adds to each write on
// disk: a statfs and a listing of the store's directory.
func BenchmarkDiskAdmit(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 100 {
		mustCreate(b, s, pod("default", fmt.Sprint("p", i), nil))
	}
	for b.Loop() {
		if err := s.disk.admit(true); err != nil {
			b.Fatal(err)
		}
	}
}
