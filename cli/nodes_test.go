package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestNodeRecords: a verb finds the node started last that still runs,
// waits for one that is starting, and removes the records of nodes that
// are gone.
func TestNodeRecords(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	ctx := context.Background()
	work := t.TempDir()
	kc := func(name string) string { return filepath.Join(work, name, "kubeconfig.yaml") }
	find := func() string {
		t.Helper()
		p, err := runningKubeconfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	if p := find(); p != "" {
		t.Fatalf("no node recorded, found %q", p)
	}
	a, err := recordNode(filepath.Join(work, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if err := a.serving(kc("a")); err != nil {
		t.Fatal(err)
	}
	if p := find(); p != kc("a") {
		t.Fatalf("found %q, want a's", p)
	}

	// b starts after a: a verb waits until b serves, and takes b.
	b, err := recordNode(filepath.Join(work, "b"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		b.serving(kc("b"))
	}()
	start := time.Now()
	if p := find(); p != kc("b") {
		t.Fatalf("found %q, want b's", p)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("took b before it served (after %v)", d)
	}
	b.close()
	if p := find(); p != kc("a") {
		t.Fatalf("after b stopped, found %q, want a's", p)
	}

	// A record nobody holds is a node that died (kill -9): skipped and
	// removed.
	dead := filepath.Join(state, "wasmlet", "nodes", "9999999999999999999-1")
	if err := os.WriteFile(dead, []byte(filepath.Join(work, "d")+"\n"+kc("d")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p := find(); p != kc("a") {
		t.Fatalf("with a dead record, found %q, want a's", p)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead record is still there: %v", err)
	}

	a.close()
	if p := find(); p != "" {
		t.Fatalf("no node runs, found %q", p)
	}
	if left, _ := os.ReadDir(filepath.Join(state, "wasmlet", "nodes")); len(left) != 0 {
		t.Errorf("records left: %v", left)
	}

	// No node runs: the default data dir's kubeconfig, unless a node
	// records itself meanwhile (`serve &` and a verb started together).
	e := &environment{}
	def := filepath.Join(os.Getenv("XDG_DATA_HOME"), "wasmlet", "kubeconfig.yaml")
	if p, err := e.findKubeconfig(ctx, ""); err != nil || p != def {
		t.Fatalf("findKubeconfig = %q, %v; want %q", p, err, def)
	}
	if p, _ := e.findKubeconfig(ctx, "/x/kubeconfig"); p != "/x/kubeconfig" {
		t.Fatalf("an explicit kubeconfig is not taken: %q", p)
	}
	recorded := make(chan *nodeRecord, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		c, err := recordNode(filepath.Join(work, "c"))
		if err == nil {
			c.serving(kc("c"))
		}
		recorded <- c
	}()
	p, err := e.findKubeconfig(ctx, "")
	(<-recorded).close()
	if err != nil || p != kc("c") {
		t.Fatalf("findKubeconfig = %q, %v; want c's", p, err)
	}
}
