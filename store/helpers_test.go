package store

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// The store reads kind-specific fields from JSON, so one generic test type
// stands for every kind; the kinds below are registered with the store
// only, whatever the api package registers.
type testObject struct {
	api.TypeMeta   `json:",inline"`
	api.ObjectMeta `json:"metadata"`
	Spec           map[string]any `json:"spec,omitempty"`
	Status         map[string]any `json:"status,omitempty"`
	InvolvedObject map[string]any `json:"involvedObject,omitempty"`
	Reason         string         `json:"reason,omitempty"`
}

func (o *testObject) DeepCopyObject() api.Object {
	raw, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	c := &testObject{}
	if err := json.Unmarshal(raw, c); err != nil {
		panic(err)
	}
	return c
}

func newTestObject() api.Object { return &testObject{} }

var (
	podsR       = &api.ResourceInfo{Version: "v1", Kind: "Pod", Resource: "pods", Singular: "pod", Namespaced: true, New: newTestObject}
	namespacesR = &api.ResourceInfo{Version: "v1", Kind: "Namespace", Resource: "namespaces", Singular: "namespace", New: newTestObject}
	rsR         = &api.ResourceInfo{Group: "apps", Version: "v1", Kind: "ReplicaSet", Resource: "replicasets", Singular: "replicaset", Namespaced: true, New: newTestObject}
	eventsR     = &api.ResourceInfo{Version: "v1", Kind: "Event", Resource: "events", Singular: "event", Namespaced: true, New: newTestObject}
	nodesR      = &api.ResourceInfo{Version: "v1", Kind: "Node", Resource: "nodes", Singular: "node", New: newTestObject}
	testKinds   = []*api.ResourceInfo{podsR, namespacesR, rsR, eventsR, nodesR}
)

func useTestKinds() {
	kinds.all = func() []*api.ResourceInfo { return testKinds }
	kinds.lookup = func(name string) (*api.ResourceInfo, bool) {
		for _, r := range testKinds {
			if r.Resource == name {
				return r, true
			}
		}
		return nil, false
	}
	kinds.of = func(o api.Object) (*api.ResourceInfo, bool) {
		tm := o.GetTypeMeta()
		for _, r := range testKinds {
			if r.Kind == tm.Kind && r.APIVersion() == tm.APIVersion {
				return r, true
			}
		}
		return nil, false
	}
}

func TestMain(m *testing.M) {
	useTestKinds()
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

func obj(r *api.ResourceInfo, ns, name string) *testObject {
	o := &testObject{TypeMeta: api.TypeMeta{Kind: r.Kind, APIVersion: r.APIVersion()}}
	o.Name, o.Namespace = name, ns
	return o
}

func pod(ns, name string, labels map[string]string) *testObject {
	o := obj(podsR, ns, name)
	o.Labels = labels
	o.Spec = map[string]any{"containers": []any{map[string]any{"name": "app", "image": "app.wasm"}}, "terminationGracePeriodSeconds": 30}
	return o
}

func boundPod(ns, name string) *testObject {
	p := pod(ns, name, nil)
	p.Spec["nodeName"] = "node-1"
	return p
}

// fakeNow is a settable clock for timestamps.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func (f *fakeNow) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeNow) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func newStore(t testing.TB, opts Options) (*Store, *fakeNow) {
	t.Helper()
	clk := &fakeNow{t: epoch}
	opts.InMemory = true
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	s, err := Open("", opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

func mustCreate(t testing.TB, s *Store, o api.Object) *testObject {
	t.Helper()
	out, err := s.Create(context.Background(), o)
	if err != nil {
		t.Fatalf("Create %s: %v", o.GetObjectMeta().Name, err)
	}
	return out.(*testObject)
}

func mustGet(t testing.TB, s *Store, r *api.ResourceInfo, ns, name string) *testObject {
	t.Helper()
	out, err := s.Get(context.Background(), r, ns, name)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", ns, name, err)
	}
	return out.(*testObject)
}

func wantReason(t testing.TB, err error, reason api.StatusReason, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s %q", reason, msg)
	}
	if got := api.ReasonOf(err); got != reason {
		t.Fatalf("got reason %q (%v), want %q", got, err, reason)
	}
	if msg != "" && err.Error() != msg {
		t.Fatalf("got message\n\t%q\nwant\n\t%q", err.Error(), msg)
	}
}

// labelSelector is an equality-only api.Selector.
type labelSelector map[string]string

func (l labelSelector) Matches(labels map[string]string) bool {
	for k, v := range l {
		if labels[k] != v {
			return false
		}
	}
	return true
}
func (l labelSelector) Empty() bool { return len(l) == 0 }
func (l labelSelector) String() string {
	var parts []string
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// fieldSelector is an equality-only api.FieldSelector.
type fieldSelector map[string]string

func (f fieldSelector) Matches(fields map[string]string) bool {
	return labelSelector(f).Matches(fields)
}
func (f fieldSelector) Empty() bool    { return len(f) == 0 }
func (f fieldSelector) String() string { return labelSelector(f).String() }

func names(objs []api.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		m := o.GetObjectMeta()
		if m.Namespace != "" {
			out[i] = m.Namespace + "/" + m.Name
		} else {
			out[i] = m.Name
		}
	}
	return out
}

// next reads one event or fails after a while.
func next(t testing.TB, w Watch) Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("watch closed, want an event")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no watch event within 5s")
	}
	return Event{}
}

// describe is "TYPE ns/name rv".
func describe(ev Event) string {
	if ev.Type == Error {
		return string(ev.Type) + " " + ev.Object.(*api.Status).Message
	}
	m := ev.Object.GetObjectMeta()
	return string(ev.Type) + " " + m.Namespace + "/" + m.Name + " " + m.ResourceVersion
}

func ptr[T any](v T) *T { return &v }
