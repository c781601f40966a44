package apiserver_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/apiserver"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// TestStoreDamageIs500 changes the store's table under the running
// server: a list and a get are a 500 whose message names the table file
// and the damage (the store answered a short list and NotFound before).
func TestStoreDamageIs500(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	opts := store.Options{DiskReserve: -1}
	st, err := store.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(st, registry.Options{})
	for i := range 300 {
		if _, err := reg.Create(context.Background(), newPod(fmt.Sprintf("p%05d", i), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil { // flushed into one table
		t.Fatal(err)
	}
	if st, err = store.Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg = registry.New(st, registry.Options{})
	data := t.TempDir()
	srv, err := apiserver.New(reg, apiserver.Options{Listen: "127.0.0.1:0", DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	<-srv.Ready()
	n := &node{srv: srv, reg: reg, dataDir: data, http: &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
	defer func() {
		n.http.CloseIdleConnections()
		cancel()
		<-done
	}()

	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) != 1 {
		t.Fatalf("tables %v, want one", tables)
	}
	fi, err := os.Stat(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(tables[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 16<<10), fi.Size()/3); err != nil {
		t.Fatal(err)
	}
	f.Close()

	want500 := func(path string) {
		t.Helper()
		resp, raw := n.raw(t, "GET", path, "", "", nil)
		var got api.Status
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("GET %s: %d %.300s: %v", path, resp.StatusCode, raw, err)
		}
		if resp.StatusCode != http.StatusInternalServerError || got.Code != 500 ||
			!strings.Contains(got.Message, filepath.Base(tables[0])) || !strings.Contains(got.Message, "damaged") {
			t.Fatalf("GET %s: %d %.300s, want a 500 naming the table and the damage", path, resp.StatusCode, raw)
		}
	}
	want500("/api/v1/namespaces/default/pods")
	bad := 0
	for i := range 300 {
		path := fmt.Sprintf("/api/v1/namespaces/default/pods/p%05d", i)
		resp, raw := n.raw(t, "GET", path, "", "", nil)
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusInternalServerError:
			want500(path)
			bad++
		default:
			t.Fatalf("GET %s: %d %.300s", path, resp.StatusCode, raw)
		}
	}
	if bad == 0 {
		t.Fatal("no get met the damaged block")
	}
}
