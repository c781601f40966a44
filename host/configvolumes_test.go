package host

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func openTestRoot(t testing.TB) (*os.Root, string) {
	t.Helper()
	dir := t.TempDir()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir
}

func TestWriteConfigPayloadSwapsVersions(t *testing.T) {
	root, dir := openTestRoot(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := map[string]configFile{"greeting": {[]byte("Hi"), 0o644}, "db/password": {[]byte("s3cret"), 0o400}}
	if err := writeConfigPayload(root, a, now, false); err != nil {
		t.Fatal(err)
	}
	v1, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"greeting": "..data/greeting", "db": "..data/db"} {
		if got, err := os.Readlink(filepath.Join(dir, name)); err != nil || got != want {
			t.Errorf("%s links to %q (%v), want %q", name, got, err, want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "db", "password")); err != nil || string(b) != "s3cret" {
		t.Errorf("db/password: %q, %v", b, err)
	}

	// The same payload writes nothing.
	if err := writeConfigPayload(root, a, now.Add(time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if v, _ := os.Readlink(filepath.Join(dir, "..data")); v != v1 {
		t.Errorf("an unchanged payload made a new version %s (was %s)", v, v1)
	}

	// A changed one is a new version; the old one and the names it alone
	// had go.
	b := map[string]configFile{"greeting": {[]byte("Hello"), 0o644}}
	if err := writeConfigPayload(root, b, now.Add(2*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	v2, _ := os.Readlink(filepath.Join(dir, "..data"))
	if v2 == v1 || v2 != "..2026_01_02_03_06_05."+v2[len("..2026_01_02_03_06_05."):] {
		t.Errorf("new version %q after %q", v2, v1)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := fmt.Sprint([]string{v2, "..data", "greeting"}); fmt.Sprint(names) != want {
		t.Errorf("the volume holds %v, want %s", names, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "greeting")); string(b) != "Hello" {
		t.Errorf("greeting: %q", b)
	}
	// A mode change alone is a change.
	c := map[string]configFile{"greeting": {[]byte("Hello"), 0o400}}
	if err := writeConfigPayload(root, c, now.Add(3*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "greeting")); fi.Mode().Perm() != 0o400 {
		t.Errorf("greeting's mode %v after a change to 0400", fi.Mode())
	}
}

func TestConfigPayloadPaths(t *testing.T) {
	for p, ok := range map[string]bool{
		"greeting": true, "db/password": true, "a.b/c-d_e": true, ".hidden": true,
		"": false, "/etc/passwd": false, "../x": false, "a/../../x": false, "..data": false,
		"..2026_01_01": false, "a//b": false, "./a": false, "a/.": false, "a/": false,
	} {
		if got := payloadPath(p); got != ok {
			t.Errorf("payloadPath(%q) = %v, want %v", p, got, ok)
		}
	}
}

// BenchmarkWriteConfigPayload: a volume of 10 keys of 1 KiB, rewritten
// with a change each time (a new version swapped in), and unchanged.
func BenchmarkWriteConfigPayload(b *testing.B) {
	payload := func(v int) map[string]configFile {
		m := map[string]configFile{}
		for i := range 10 {
			data := make([]byte, 1024)
			copy(data, fmt.Sprintf("key %d version %d", i, v))
			m[fmt.Sprintf("key%d", i)] = configFile{data, 0o644}
		}
		return m
	}
	now := time.Now()
	b.Run("changed", func(b *testing.B) {
		root, _ := openTestRoot(b)
		ps := []map[string]configFile{payload(0), payload(1)}
		for i := 0; b.Loop(); i++ {
			if err := writeConfigPayload(root, ps[i%2], now, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		root, _ := openTestRoot(b)
		p := payload(0)
		for b.Loop() {
			if err := writeConfigPayload(root, p, now, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
