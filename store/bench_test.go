package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/wasmlet/wasmlet/api"
)

func benchStores(b *testing.B, run func(b *testing.B, s *Store)) {
	b.Run("memory", func(b *testing.B) {
		s, _ := newStore(b, Options{})
		run(b, s)
	})
	b.Run("disk", func(b *testing.B) {
		s, err := Open(b.TempDir(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, s)
	})
}

func BenchmarkCreatePod(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Create(ctx, pod("default", fmt.Sprint("p", i), map[string]string{"app": "web"})); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUpdatePod(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		cur := mustCreate(b, s, pod("default", "p", map[string]string{"app": "web"}))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			cur.Labels["n"] = fmt.Sprint(i)
			out, err := s.Update(ctx, cur)
			if err != nil {
				b.Fatal(err)
			}
			cur = out.(*testObject)
		}
	})
}

func BenchmarkUpdatePodStatusWithWatchers(b *testing.B) {
	s, _ := newStore(b, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 4 {
		w, err := s.Watch(ctx, podsR, "", ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for range w.ResultChan() {
			}
		}()
	}
	cur := mustCreate(b, s, pod("default", "p", nil))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		cur.Status = map[string]any{"phase": "Running", "n": i}
		out, err := s.UpdateStatus(ctx, cur)
		if err != nil {
			b.Fatal(err)
		}
		cur = out.(*testObject)
	}
}

func BenchmarkListPods(b *testing.B) {
	s, _ := newStore(b, Options{})
	ctx := context.Background()
	for i := range 500 {
		mustCreate(b, s, pod("default", fmt.Sprint("p", i), map[string]string{"app": fmt.Sprint(i % 10)}))
	}
	sel := labelSelector{"app": "3"}
	b.ReportAllocs()
	for b.Loop() {
		objs, _, err := s.List(ctx, podsR, "", ListOptions{LabelSelector: sel})
		if err != nil || len(objs) != 50 {
			b.Fatal(len(objs), err)
		}
	}
}

var _ api.Selector = labelSelector{}
