package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadEnvFile: kubectl's env files: a byte-order mark, comments and
// blank lines skipped, leading spaces trimmed, values holding '=' and
// spaces kept, a key without '=' read from the environment.
func TestReadEnvFile(t *testing.T) {
	t.Setenv("FROM_ENV", "env value")
	p := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(p, []byte("\ufeffA=1\n# comment\n\n   B=x=y \nFROM_ENV\nEMPTY=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := readEnvFile(p, func(k string, v []byte) error { got = append(got, k+"="+string(v)); return nil })
	if want := "A=1|B=x=y |FROM_ENV=env value|EMPTY="; err != nil || strings.Join(got, "|") != want {
		t.Fatalf("got %q (%v), want %q", strings.Join(got, "|"), err, want)
	}
	if err := os.WriteFile(p, []byte("GOOD=1\n1BAD=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = readEnvFile(p, func(string, []byte) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), `"1BAD" is not a valid key name: a valid environment variable name must consist of`) {
		t.Fatalf("got %v", err)
	}
}

// FuzzReadEnvFile: any env file gives keys that are variable names, or
// an error, never a panic.
func FuzzReadEnvFile(f *testing.F) {
	f.Add([]byte("\ufeffA=1\n# c\n\n  B=x=y\nC\n"))
	f.Add([]byte("1BAD=2\n"))
	f.Add([]byte("A=\xff\n"))
	f.Add([]byte(strings.Repeat("K", 70000) + "=v\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.env")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = readEnvFile(p, func(k string, _ []byte) error {
			if !envVarNameRe.MatchString(k) {
				t.Fatalf("key %q", k)
			}
			return nil
		})
	})
}

// FuzzParseFileSource: any --from-file value is a key and a path without
// '=', or an error.
func FuzzParseFileSource(f *testing.F) {
	for _, s := range []string{"index.html", "page=index.html", "=x", "x=", "a=b=c", "dir/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, p, err := parseFileSource(s)
		if err == nil && (strings.Contains(k, "=") || strings.Contains(p, "=")) {
			t.Fatalf("%q: key %q, path %q", s, k, p)
		}
	})
}
