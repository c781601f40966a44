package apiserver_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/apiserver"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// TestFullDiskIs507ToClients runs the server over a store on disk whose
// reserve no filesystem can hold, so that the disk is "nearly full" from
// the start: a client's create is 507 InsufficientStorage with the disk
// named, its delete goes through, and the node's own writes do too.
func TestFullDiskIs507ToClients(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "store"), store.Options{DiskReserve: 1 << 60})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := registry.New(st, registry.Options{})
	dir := t.TempDir()
	srv, err := apiserver.New(reg, apiserver.Options{Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	<-srv.Ready()
	n := &node{srv: srv, reg: reg, dataDir: dir, http: &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
	defer func() {
		n.http.CloseIdleConnections()
		cancel()
		<-done
	}()

	// The node's own write (and the Go API's) uses the reserve.
	if _, err := reg.Create(context.Background(), newPod("mine", nil)); err != nil {
		t.Fatalf("the node's own create: %v", err)
	}

	body, _ := json.Marshal(newPod("theirs", nil))
	resp, raw := n.raw(t, "POST", "/api/v1/namespaces/default/pods", "application/json", string(body), nil)
	var got api.Status
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, raw, err)
	}
	if resp.StatusCode != http.StatusInsufficientStorage || got.Code != 507 ||
		got.Reason != api.StatusReasonInsufficientStorage || !strings.Contains(got.Message, "disk is nearly full") {
		t.Fatalf("a client's create on a full disk: %d %s", resp.StatusCode, raw)
	}

	cl, err := client.FromKubeconfig(filepath.Join(dir, apiserver.KubeconfigFile))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if _, err := cl.Create(rctx, newPod("theirs", nil)); !api.IsInsufficientStorage(err) {
		t.Fatalf("the client's create: %v, want InsufficientStorage", err)
	}
	resp, raw = n.raw(t, "DELETE", "/api/v1/namespaces/default/pods/mine", "", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a client's delete on a full disk: %d %s", resp.StatusCode, raw)
	}
}
