package store

import (
	"context"
	"testing"

	"github.com/wasmlet/wasmlet/api"
)

// FuzzWatchResourceVersion: any resourceVersion a client sends gives a
// watch, 400 or 410, never a panic.
func FuzzWatchResourceVersion(f *testing.F) {
	for _, seed := range []string{"", "0", "1", "3", "18446744073709551615", "18446744073709551616", "-1", "abc", " 2", "0x10"} {
		f.Add(seed)
	}
	s, _ := newStore(f, Options{WatchHistory: 2})
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c"} {
		mustCreate(f, s, pod("default", n, nil))
	}
	f.Fuzz(func(t *testing.T, rv string) {
		w, err := s.Watch(ctx, podsR, "", ListOptions{ResourceVersion: rv})
		if err != nil {
			if r := api.ReasonOf(err); r != api.StatusReasonBadRequest && r != api.StatusReasonExpired {
				t.Fatalf("resourceVersion %q: %v", rv, err)
			}
			return
		}
		w.Stop()
	})
}
