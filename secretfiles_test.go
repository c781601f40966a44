package wasmlet_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/api"
)

// TestSecretValueIsInNoFileOthersCanRead: a Secret's value, written
// through the node's API to a data dir on disk, is found in the node's
// files (as the store writes it: base64 in JSON), and every file that
// holds it is out of reach of other users: the file or a directory on its
// way from the data dir lets no one but the owner read or enter it.
func TestSecretValueIsInNoFileOthersCanRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := wasmlet.New(ctx, wasmlet.NewConfig().WithDataDir(dir).WithListen("127.0.0.1:0").WithPods(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 24)
	rand.Read(raw)
	value := "s3cret-" + hex.EncodeToString(raw)
	s := &api.Secret{ObjectMeta: api.ObjectMeta{Name: "db", Namespace: "default"}, StringData: map[string]string{"password": value}}
	if _, err := wasmlet.Create(ctx, n, s); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	forms := [][]byte{[]byte(value), []byte(base64.StdEncoding.EncodeToString([]byte(value)))}
	found := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		holds := false
		for _, f := range forms {
			holds = holds || bytes.Contains(b, f)
		}
		if !holds {
			return nil
		}
		found++
		fi, _ := os.Stat(p)
		t.Logf("%s (%v) holds the value", p, fi.Mode())
		if guarded(t, dir, p) {
			return nil
		}
		t.Errorf("%s holds the secret's value and other users can read it", p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no file of the data dir holds the secret's value: the test looks in the wrong place")
	}
}

// guarded says whether others cannot read file: the file is not readable
// by group or others, or a directory from root down to it cannot be
// entered by them.
func guarded(t *testing.T, root, file string) bool {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o044 == 0 {
		return true
	}
	rel, err := filepath.Rel(root, filepath.Dir(file))
	if err != nil {
		t.Fatal(err)
	}
	d := root
	for _, part := range append([]string{""}, strings.Split(rel, string(filepath.Separator))...) {
		if part != "" && part != "." {
			d = filepath.Join(d, part)
		}
		di, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if di.Mode().Perm()&0o011 == 0 {
			return true
		}
	}
	return false
}
