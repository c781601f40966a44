package wasmlet_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/internal/clock"
)

// A table of the store damaged under a running node: the node records a
// StoreDamaged event about its Node object, naming the file, which a
// client reads through the API; whether a read met the damage (a list,
// which is a 500) or the hourly scrub of the store's tables found it on
// the node's clock, with no read.
func TestStoreDamagedEventOnTheNode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		clock *clock.Fake // nil: the real clock
	}{
		{"a read", nil},
		{"the scrub", clock.NewFake(time.Now())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cfg := wasmlet.NewConfig().WithDataDir(dir).WithListen("127.0.0.1:0").WithNodeName("n1").
				WithPods(false).WithControllers(false)
			if tc.clock != nil {
				cfg = cfg.WithClock(tc.clock)
			}
			// 300 pods, flushed into a table as the first node closes.
			node, err := wasmlet.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 300 {
				p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("p%05d", i), Namespace: "default"},
					Spec: api.PodSpec{Containers: []api.Container{{Name: "app", Image: "app.wasm"}}}}
				if _, err := wasmlet.Create(ctx, node, p); err != nil {
					t.Fatal(err)
				}
			}
			if err := node.Close(); err != nil {
				t.Fatal(err)
			}
			node, err = wasmlet.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close()
			if err := node.Start(ctx); err != nil {
				t.Fatal(err)
			}
			cl, err := client.FromKubeconfig(node.KubeconfigPath())
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			podsR, _ := api.LookupResource("pods")
			eventsR, _ := api.LookupResource("events")

			sst := largestTable(t, filepath.Join(dir, "store"))
			file := filepath.Base(sst)
			b, err := os.ReadFile(sst)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(sst, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte{b[len(b)/2] ^ 0x40}, int64(len(b)/2)); err != nil {
				t.Fatal(err)
			}
			f.Close()

			if tc.clock == nil {
				_, err := cl.List(ctx, podsR, "default", client.ListOptions{})
				st, ok := err.(*api.Status)
				if !ok || st.Code != 500 || !strings.Contains(st.Message, file) {
					t.Fatalf("a list of the damaged pods: %v, want a 500 naming %s", err, file)
				}
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				if tc.clock != nil {
					tc.clock.Advance(time.Hour)
				}
				evs, err := cl.List(ctx, eventsR, "", client.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var found []*api.Event
				for _, o := range evs {
					if e := o.(*api.Event); e.Reason == "StoreDamaged" {
						found = append(found, e)
					}
				}
				if len(found) > 0 {
					e := found[0]
					if len(found) != 1 || e.InvolvedObject.Kind != "Node" || e.InvolvedObject.Name != "n1" ||
						e.Type != "Warning" || !strings.Contains(e.Message, file) {
						t.Fatalf("StoreDamaged events %+v, want one Warning about Node n1 naming %s", found, file)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no StoreDamaged event after 30 s")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func largestTable(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	var best string
	var size int64
	for _, p := range m {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			best, size = p, fi.Size()
		}
	}
	if best == "" {
		t.Fatalf("no table in %s", dir)
	}
	return best
}
