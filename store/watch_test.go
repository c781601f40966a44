package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

func TestWatchFromResourceVersion(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	a := mustCreate(t, s, pod("default", "a", nil))
	from := s.ResourceVersion()
	b := mustCreate(t, s, pod("default", "b", nil))
	mustCreate(t, s, obj(rsR, "default", "not-a-pod"))
	a.Labels = map[string]string{"x": "y"}
	au, err := s.Update(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Delete(ctx, podsR, "default", "b", DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		rv   string
		want []string
	}{
		{"from rv", from, []string{
			"ADDED default/b " + b.ResourceVersion,
			"MODIFIED default/a " + au.GetObjectMeta().ResourceVersion,
			// b is first marked (grace 0 for an unscheduled pod), then removed.
			"MODIFIED default/b " + rvPlus(au.GetObjectMeta().ResourceVersion, 1),
			"DELETED default/b " + rvPlus(au.GetObjectMeta().ResourceVersion, 2),
		}},
		{"current state", "0", []string{"ADDED default/a " + au.GetObjectMeta().ResourceVersion}},
		{"current state, empty rv", "", []string{"ADDED default/a " + au.GetObjectMeta().ResourceVersion}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := s.Watch(ctx, podsR, "default", ListOptions{ResourceVersion: tt.rv})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			var got []string
			for range tt.want {
				got = append(got, describe(next(t, w)))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}

	// Changes after the start follow the initial state.
	w, err := s.Watch(ctx, podsR, "", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	next(t, w)
	c := mustCreate(t, s, pod("default", "c", nil))
	if got := describe(next(t, w)); got != "ADDED default/c "+c.ResourceVersion {
		t.Fatalf("got %s", got)
	}
}

func rvPlus(rv string, n int) string {
	v, _ := strconv.Atoi(rv)
	return strconv.Itoa(v + n)
}

func TestWatchExpired(t *testing.T) {
	s, _ := newStore(t, Options{WatchHistory: 5})
	ctx := context.Background()
	for i := range 10 {
		mustCreate(t, s, pod("default", fmt.Sprint("p", i), nil))
	}
	// rv 12 now; the history holds 8..12, so a watch from 7 or later works.
	_, err := s.Watch(ctx, podsR, "", ListOptions{ResourceVersion: "6"})
	wantReason(t, err, api.StatusReasonExpired, "too old resource version: 6 (7)")
	if !api.IsExpired(err) || err.(*api.Status).Code != 410 {
		t.Fatalf("not a 410: %#v", err)
	}
	w, err := s.Watch(ctx, podsR, "", ListOptions{ResourceVersion: "7"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for i := 8; i <= 12; i++ {
		if ev := next(t, w); ev.Object.GetObjectMeta().ResourceVersion != strconv.Itoa(i) {
			t.Fatalf("got %s, want rv %d", describe(ev), i)
		}
	}
	_, err = s.Watch(ctx, podsR, "", ListOptions{ResourceVersion: "abc"})
	wantReason(t, err, api.StatusReasonBadRequest, "")
}

func TestWatchFilterTransitions(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	mustCreate(t, s, obj(namespacesR, "", "other"))
	w, err := s.Watch(ctx, podsR, "default", ListOptions{ResourceVersion: s.ResourceVersion(), LabelSelector: labelSelector{"app": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	fw, err := s.Watch(ctx, podsR, "", ListOptions{ResourceVersion: s.ResourceVersion(), FieldSelector: fieldSelector{"status.phase": "Running"}})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Stop()

	mustCreate(t, s, pod("other", "p", map[string]string{"app": "web"}))  // other namespace
	mustCreate(t, s, pod("default", "p", map[string]string{"app": "db"})) // not matching
	relabel := func(app string) string {
		out, err := s.GuaranteedUpdate(ctx, podsR, "default", "p", func(o api.Object) (api.Object, error) {
			o.GetObjectMeta().Labels["app"] = app
			return o, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.GetObjectMeta().ResourceVersion
	}
	rv1 := relabel("web")
	rv2 := relabel("web2")
	rv3 := relabel("web")
	p := mustGet(t, s, podsR, "default", "p")
	p.Status = map[string]any{"phase": "Running"}
	st, err := s.UpdateStatus(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	rv4 := st.GetObjectMeta().ResourceVersion
	gone, _, err := s.Delete(ctx, podsR, "default", "p", DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv6 := gone.GetObjectMeta().ResourceVersion
	want := []string{
		"ADDED default/p " + rv1,
		"DELETED default/p " + rv2,
		"ADDED default/p " + rv3,
		"MODIFIED default/p " + rv4,
		"MODIFIED default/p " + rvPlus(rv4, 1), // marked for deletion
		"DELETED default/p " + rv6,
	}
	for i, wantEv := range want {
		ev := next(t, w)
		if got := describe(ev); got != wantEv {
			t.Fatalf("event %d: got %s, want %s", i, got, wantEv)
		}
		if i == 1 && ev.Object.GetObjectMeta().Labels["app"] != "web" {
			t.Fatalf("a DELETED for a selector change carries the previous state, got labels %v", ev.Object.GetObjectMeta().Labels)
		}
	}
	// The field selector sees the pod from the status change on.
	for i, wantEv := range []string{"ADDED default/p " + rv4, "MODIFIED default/p " + rvPlus(rv4, 1), "DELETED default/p " + rv6} {
		if got := describe(next(t, fw)); got != wantEv {
			t.Fatalf("field watch event %d: got %s, want %s", i, got, wantEv)
		}
	}
}

func TestWatchSlowWatcherIsEnded(t *testing.T) {
	s, _ := newStore(t, Options{WatchHistory: 4})
	ctx := context.Background()
	w, err := s.Watch(ctx, podsR, "", ListOptions{ResourceVersion: s.ResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for i := range 20 { // nobody reads: the writers must not wait
		mustCreate(t, s, pod("default", fmt.Sprint("p", i), nil))
	}
	var got []EventType
	for ev := range w.ResultChan() {
		got = append(got, ev.Type)
		if ev.Type == Error && !api.IsExpired(ev.Object.(error)) {
			t.Fatalf("error event %v", ev.Object)
		}
	}
	// Four queued (the history), perhaps one more already taken by the
	// goroutine that feeds ResultChan, then the 410.
	n := len(got) - 1
	if n < 4 || n > 5 || got[n] != Error || slices.Contains(got[:n], Error) {
		t.Fatalf("got %v, want 4 or 5 ADDED then ERROR", got)
	}
}

func TestWatchStop(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	w1, err := s.Watch(ctx, podsR, "", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := s.Watch(context.Background(), podsR, "", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	w2.Stop()
	w2.Stop()
	for _, w := range []Watch{w1, w2} {
		select {
		case _, ok := <-w.ResultChan():
			if ok {
				t.Fatal("event after stop")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("watch not ended")
		}
	}
	mustCreate(t, s, pod("default", "p", nil))
	s.mu.Lock()
	n := len(s.watchers)
	s.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d watchers left registered", n)
	}
}

// TestConcurrentWritersAndWatchers runs many writers and watchers at once
// (meant for -race): every watcher sees strictly increasing
// resourceVersions and ends with the state the store lists.
func TestConcurrentWritersAndWatchers(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const writers, perWriter, watchers = 6, 30, 4
	type result struct {
		state map[string]string
		err   error
	}
	results := make(chan result, watchers)
	var ready sync.WaitGroup
	for range watchers {
		ready.Add(1)
		go func() {
			w, err := s.Watch(ctx, podsR, "default", ListOptions{})
			ready.Done()
			if err != nil {
				results <- result{err: err}
				return
			}
			defer w.Stop()
			state := map[string]string{}
			last := 0
			for ev := range w.ResultChan() {
				m := ev.Object.GetObjectMeta()
				rv, _ := strconv.Atoi(m.ResourceVersion)
				if ev.Type == Error {
					results <- result{err: fmt.Errorf("error event: %v", ev.Object)}
					return
				}
				if rv <= last {
					results <- result{err: fmt.Errorf("resourceVersion %d after %d", rv, last)}
					return
				}
				last = rv
				if ev.Type == Deleted {
					delete(state, m.Name)
				} else {
					state[m.Name] = m.ResourceVersion
				}
				if m.Name == "done" {
					results <- result{state: state}
					return
				}
			}
			results <- result{err: fmt.Errorf("watch closed")}
		}()
	}
	ready.Wait()
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perWriter {
				name := fmt.Sprintf("w%d-%d", i, j%5)
				_, err := s.Create(ctx, pod("default", name, nil))
				if api.IsAlreadyExists(err) {
					_, err = s.GuaranteedUpdate(ctx, podsR, "default", name, func(o api.Object) (api.Object, error) {
						o.GetObjectMeta().Labels = map[string]string{"n": strconv.Itoa(j)}
						return o, nil
					})
				}
				if err != nil {
					t.Error(err)
					return
				}
				if j%7 == 0 {
					if _, _, err := s.Delete(ctx, podsR, "default", name, DeleteOptions{}); err != nil && !api.IsNotFound(err) {
						t.Error(err)
						return
					}
				}
				if _, _, err := s.List(ctx, podsR, "default", ListOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	mustCreate(t, s, pod("default", "done", nil))
	objs, _, err := s.List(ctx, podsR, "default", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, o := range objs {
		want[o.GetObjectMeta().Name] = o.GetObjectMeta().ResourceVersion
	}
	for range watchers {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !reflect.DeepEqual(r.state, want) {
			t.Fatalf("watcher state %v\nstore %v", r.state, want)
		}
	}
}
