package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/wasmlet/wasmlet/api"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestOpenCreatesNamespaces(t *testing.T) {
	s, _ := newStore(t, Options{})
	objs, rv, err := s.List(context.Background(), namespacesR, "", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(objs), []string{"default", "kube-system"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("namespaces %v, want %v", got, want)
	}
	if rv != "2" || s.ResourceVersion() != "2" {
		t.Fatalf("resourceVersion %s / %s, want 2", rv, s.ResourceVersion())
	}
	ns := objs[0].(*testObject)
	if ns.Status["phase"] != "Active" || !reflect.DeepEqual(ns.Spec["finalizers"], []any{"kubernetes"}) {
		t.Fatalf("namespace default: status %v spec %v", ns.Status, ns.Spec)
	}
}

func TestCreateGet(t *testing.T) {
	s, _ := newStore(t, Options{})
	in := pod("default", "web", map[string]string{"app": "web"})
	in.UID = "caller-chosen"
	in.ResourceVersion = "77"
	in.Generation = 9
	created := mustCreate(t, s, in)
	if in.UID != "caller-chosen" || in.ResourceVersion != "77" {
		t.Fatalf("Create changed the caller's object: %+v", in.ObjectMeta)
	}
	m := created.ObjectMeta
	if !uuidV4.MatchString(m.UID) {
		t.Errorf("uid %q is not a UUID v4", m.UID)
	}
	if !m.CreationTimestamp.Equal(epoch) {
		t.Errorf("creationTimestamp %v, want %v", m.CreationTimestamp, epoch)
	}
	if m.Generation != 1 || m.ResourceVersion != "3" {
		t.Errorf("generation %d resourceVersion %s, want 1 and 3", m.Generation, m.ResourceVersion)
	}
	if created.Kind != "Pod" || created.APIVersion != "v1" {
		t.Errorf("typeMeta %+v", created.TypeMeta)
	}
	got := mustGet(t, s, podsR, "default", "web")
	if !reflect.DeepEqual(got, created) {
		t.Errorf("Get = %+v\nwant %+v", got, created)
	}
	_, err := s.Get(context.Background(), podsR, "default", "nope")
	wantReason(t, err, api.StatusReasonNotFound, `pods "nope" not found`)
	_, err = s.Get(context.Background(), rsR, "default", "nope")
	wantReason(t, err, api.StatusReasonNotFound, `replicasets.apps "nope" not found`)
}

func TestCreateErrors(t *testing.T) {
	s, _ := newStore(t, Options{})
	mustCreate(t, s, pod("default", "web", nil))
	noName := pod("default", "", nil)
	tests := []struct {
		name   string
		obj    api.Object
		reason api.StatusReason
		msg    string
	}{
		{"exists", pod("default", "web", nil), api.StatusReasonAlreadyExists, `pods "web" already exists`},
		{"no namespace object", pod("nope", "web", nil), api.StatusReasonNotFound, `namespaces "nope" not found`},
		{"no namespace", pod("", "web", nil), api.StatusReasonInvalid, `Pod "web" is invalid: metadata.namespace: Required value`},
		{"no name", noName, api.StatusReasonInvalid, `Pod "" is invalid: metadata.name: Required value: name or generateName is required`},
		{"slash", pod("default", "a/b", nil), api.StatusReasonInvalid, `Pod "a/b" is invalid: metadata.name: Invalid value: "a/b": may not contain '/' or '%'`},
		{"unknown kind", &testObject{TypeMeta: api.TypeMeta{Kind: "Gadget", APIVersion: "v1"}}, api.StatusReasonBadRequest, ""},
		{"namespace exists", obj(namespacesR, "", "default"), api.StatusReasonAlreadyExists, `namespaces "default" already exists`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Create(context.Background(), tt.obj)
			wantReason(t, err, tt.reason, tt.msg)
		})
	}
	if rv := s.ResourceVersion(); rv != "3" {
		t.Errorf("failed creates moved the resourceVersion to %s", rv)
	}
}

func TestGenerateName(t *testing.T) {
	s, _ := newStore(t, Options{})
	tests := []struct{ base, prefix string }{
		{"web-", "web-"},
		{strings.Repeat("a", 70), strings.Repeat("a", 58)},
	}
	suffix := regexp.MustCompile(`^[bcdfghjklmnpqrstvwxz2456789]{5}$`)
	for _, tt := range tests {
		p := pod("default", "", nil)
		p.GenerateName = tt.base
		got := mustCreate(t, s, p)
		if !strings.HasPrefix(got.Name, tt.prefix) || !suffix.MatchString(got.Name[len(tt.prefix):]) {
			t.Errorf("generateName %q gave %q", tt.base, got.Name)
		}
		if got.GenerateName != tt.base {
			t.Errorf("generateName not kept: %q", got.GenerateName)
		}
	}
}

func TestClusterScopedKeys(t *testing.T) {
	s, _ := newStore(t, Options{})
	n := obj(nodesR, "ignored", "node-1")
	got := mustCreate(t, s, n)
	if got.Namespace != "" {
		t.Fatalf("cluster-scoped object kept namespace %q", got.Namespace)
	}
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte("/registry/nodes/node-1"))
		if err != nil {
			return err
		}
		_, err = txn.Get([]byte("/registry/namespaces/default"))
		return err
	})
	if err != nil {
		t.Fatalf("keys are not in etcd's layout: %v", err)
	}
	mustCreate(t, s, pod("default", "p", nil))
	err = s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte("/registry/pods/default/p"))
		return err
	})
	if err != nil {
		t.Fatalf("pod key: %v", err)
	}
}

func TestList(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	for _, ns := range []string{"a", "a-b"} {
		mustCreate(t, s, obj(namespacesR, "", ns))
	}
	mk := func(ns, name, app, phase string) {
		p := pod(ns, name, map[string]string{"app": app})
		p.Status = map[string]any{"phase": phase}
		mustCreate(t, s, p)
	}
	mk("a-b", "z", "web", "Running")
	mk("a", "y", "db", "Pending")
	mk("a", "x", "web", "Running")
	mk("default", "w", "web", "Failed")
	mustCreate(t, s, obj(rsR, "a", "rs"))
	tests := []struct {
		name string
		ns   string
		opts ListOptions
		want []string
	}{
		{"all", "", ListOptions{}, []string{"a/x", "a/y", "a-b/z", "default/w"}},
		{"namespace", "a", ListOptions{}, []string{"a/x", "a/y"}},
		{"labels", "", ListOptions{LabelSelector: labelSelector{"app": "web"}}, []string{"a/x", "a-b/z", "default/w"}},
		{"empty selector", "", ListOptions{LabelSelector: labelSelector{}}, []string{"a/x", "a/y", "a-b/z", "default/w"}},
		{"phase", "", ListOptions{FieldSelector: fieldSelector{"status.phase": "Running"}}, []string{"a/x", "a-b/z"}},
		{"name", "", ListOptions{FieldSelector: fieldSelector{"metadata.name": "y"}}, []string{"a/y"}},
		{"both", "a", ListOptions{LabelSelector: labelSelector{"app": "web"}, FieldSelector: fieldSelector{"metadata.namespace": "a"}}, []string{"a/x"}},
		{"none", "nope", ListOptions{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, rv, err := s.List(ctx, podsR, tt.ns, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(objs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if rv != s.ResourceVersion() {
				t.Errorf("list resourceVersion %s, store at %s", rv, s.ResourceVersion())
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	s, clk := newStore(t, Options{})
	ctx := context.Background()
	p := pod("default", "web", map[string]string{"app": "web"})
	p.Status = map[string]any{"phase": "Pending"}
	created := mustCreate(t, s, p)
	clk.Advance(time.Minute)

	// Labels only: no generation bump; status, uid and creationTimestamp
	// stay as stored.
	in := created.DeepCopyObject().(*testObject)
	in.Labels["tier"] = "front"
	in.Status = map[string]any{"phase": "Running"}
	in.UID = "forged"
	in.CreationTimestamp = api.NewTime(epoch.Add(time.Hour))
	in.DeletionTimestamp = api.NewTimePtr(epoch)
	out, err := s.Update(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	u := out.(*testObject)
	if u.Generation != 1 || u.Labels["tier"] != "front" || u.Status["phase"] != "Pending" ||
		u.UID != created.UID || !u.CreationTimestamp.Equal(epoch) || u.DeletionTimestamp != nil {
		t.Fatalf("after a label update: %+v status %v", u.ObjectMeta, u.Status)
	}
	if u.ResourceVersion == created.ResourceVersion {
		t.Fatalf("resourceVersion not bumped")
	}

	// Stale resourceVersion: conflict.
	_, err = s.Update(ctx, created)
	wantReason(t, err, api.StatusReasonConflict,
		`Operation cannot be fulfilled on pods "web": the object has been modified; please apply your changes to the latest version and try again`)

	// Spec change with no resourceVersion: unconditional, generation 2.
	in = u.DeepCopyObject().(*testObject)
	in.ResourceVersion = ""
	in.Spec["terminationGracePeriodSeconds"] = 5
	out, err = s.Update(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if g := out.GetObjectMeta().Generation; g != 2 {
		t.Fatalf("generation %d after a spec change, want 2", g)
	}

	// The same object again: nothing written.
	rv := s.ResourceVersion()
	again, err := s.Update(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if s.ResourceVersion() != rv || again.GetObjectMeta().ResourceVersion != out.GetObjectMeta().ResourceVersion {
		t.Fatalf("a no-op update was written")
	}

	// Status: only status changes, generation stays.
	st := out.DeepCopyObject().(*testObject)
	st.Status = map[string]any{"phase": "Running"}
	st.Spec["nodeName"] = "elsewhere"
	st.Labels = nil
	out, err = s.UpdateStatus(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	u = out.(*testObject)
	if u.Status["phase"] != "Running" || u.Spec["nodeName"] != nil || u.Labels["app"] != "web" || u.Generation != 2 {
		t.Fatalf("after UpdateStatus: %+v spec %v status %v", u.ObjectMeta, u.Spec, u.Status)
	}
	_, err = s.UpdateStatus(ctx, created)
	wantReason(t, err, api.StatusReasonConflict, "")

	_, err = s.Update(ctx, pod("default", "missing", nil))
	wantReason(t, err, api.StatusReasonNotFound, `pods "missing" not found`)
}

func TestGuaranteedUpdate(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	rs := obj(rsR, "default", "rs")
	rs.Spec = map[string]any{"replicas": 0}
	mustCreate(t, s, rs)
	const writers, each = 8, 20
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := s.GuaranteedUpdate(ctx, rsR, "default", "rs", func(o api.Object) (api.Object, error) {
					r := o.(*testObject)
					r.Spec["replicas"] = r.Spec["replicas"].(float64) + 1
					r.Status = map[string]any{"observed": r.Spec["replicas"]}
					return r, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := mustGet(t, s, rsR, "default", "rs")
	if got.Spec["replicas"] != float64(writers*each) || got.Status["observed"] != float64(writers*each) {
		t.Fatalf("spec %v status %v, want %d", got.Spec, got.Status, writers*each)
	}
	if got.Generation != 1+writers*each {
		t.Fatalf("generation %d, want %d", got.Generation, 1+writers*each)
	}
	abort := errors.New("no thanks")
	_, err := s.GuaranteedUpdate(ctx, rsR, "default", "rs", func(api.Object) (api.Object, error) { return nil, abort })
	if !errors.Is(err, abort) {
		t.Fatalf("abort: got %v", err)
	}
	_, err = s.GuaranteedUpdate(ctx, rsR, "default", "nope", func(o api.Object) (api.Object, error) { return o, nil })
	wantReason(t, err, api.StatusReasonNotFound, `replicasets.apps "nope" not found`)
}

func TestPodGracefulDeletion(t *testing.T) {
	ctx := context.Background()
	type step struct {
		grace       *int64
		wantRemoved bool
		wantGrace   int64 // deletionGracePeriodSeconds when not removed
		wantAfter   time.Duration
	}
	tests := []struct {
		name  string
		pod   func() *testObject
		steps []step
	}{
		{"unscheduled", func() *testObject { return pod("default", "p", nil) },
			[]step{{nil, true, 0, 0}}},
		{"bound, spec grace", func() *testObject { return boundPod("default", "p") },
			[]step{{nil, false, 30, 30 * time.Second}, {nil, false, 30, 30 * time.Second}, {ptr[int64](0), true, 0, 0}}},
		{"shorter only", func() *testObject { return boundPod("default", "p") },
			[]step{{ptr[int64](20), false, 20, 20 * time.Second}, {ptr[int64](60), false, 20, 20 * time.Second},
				{ptr[int64](5), false, 5, 5 * time.Second}}},
		{"negative is 1", func() *testObject { return boundPod("default", "p") },
			[]step{{ptr[int64](-3), false, 1, time.Second}}},
		{"grace 0", func() *testObject { return boundPod("default", "p") },
			[]step{{ptr[int64](0), true, 0, 0}}},
		{"succeeded", func() *testObject {
			p := boundPod("default", "p")
			p.Status = map[string]any{"phase": "Succeeded"}
			return p
		}, []step{{nil, true, 0, 0}}},
		{"failed", func() *testObject {
			p := boundPod("default", "p")
			p.Status = map[string]any{"phase": "Failed"}
			return p
		}, []step{{ptr[int64](10), true, 0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t, Options{})
			created := mustCreate(t, s, tt.pod())
			for i, st := range tt.steps {
				out, removed, err := s.Delete(ctx, podsR, "default", "p", DeleteOptions{GracePeriodSeconds: st.grace})
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if removed != st.wantRemoved {
					t.Fatalf("step %d: removed %v, want %v", i, removed, st.wantRemoved)
				}
				m := out.GetObjectMeta()
				if removed {
					if _, err := s.Get(ctx, podsR, "default", "p"); !api.IsNotFound(err) {
						t.Fatalf("step %d: still there: %v", i, err)
					}
					if m.ResourceVersion != s.ResourceVersion() {
						t.Fatalf("step %d: removed object has resourceVersion %s, store %s", i, m.ResourceVersion, s.ResourceVersion())
					}
					continue
				}
				if m.DeletionTimestamp == nil || m.DeletionGracePeriodSeconds == nil {
					t.Fatalf("step %d: not marked: %+v", i, m)
				}
				if *m.DeletionGracePeriodSeconds != st.wantGrace || !m.DeletionTimestamp.Equal(epoch.Add(st.wantAfter)) {
					t.Fatalf("step %d: grace %d at %v, want %d at %v", i, *m.DeletionGracePeriodSeconds, m.DeletionTimestamp, st.wantGrace, epoch.Add(st.wantAfter))
				}
				if m.Generation != created.Generation+1 {
					t.Fatalf("step %d: generation %d, want %d", i, m.Generation, created.Generation+1)
				}
			}
		})
	}
}

func TestDeletePreconditions(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	p := mustCreate(t, s, pod("default", "p", nil))
	_, _, err := s.Delete(ctx, podsR, "default", "p", DeleteOptions{UID: "other"})
	wantReason(t, err, api.StatusReasonConflict,
		fmt.Sprintf(`Operation cannot be fulfilled on pods "p": Precondition failed: UID in precondition: other, UID in object meta: %s`, p.UID))
	_, _, err = s.Delete(ctx, podsR, "default", "p", DeleteOptions{ResourceVersion: "1"})
	wantReason(t, err, api.StatusReasonConflict, "")
	_, _, err = s.Delete(ctx, podsR, "default", "p", DeleteOptions{PropagationPolicy: "Sideways"})
	wantReason(t, err, api.StatusReasonInvalid, "")
	_, removed, err := s.Delete(ctx, podsR, "default", "p", DeleteOptions{UID: p.UID, ResourceVersion: p.ResourceVersion})
	if err != nil || !removed {
		t.Fatalf("delete with matching preconditions: %v %v", removed, err)
	}
	_, _, err = s.Delete(ctx, podsR, "default", "p", DeleteOptions{})
	wantReason(t, err, api.StatusReasonNotFound, `pods "p" not found`)
}

func TestFinalizers(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		fins   []string
		policy string
		want   []string // finalizers after the delete; nil: removed
	}{
		{"none", nil, "", nil},
		{"own finalizer", []string{"example.com/keep"}, "", []string{"example.com/keep"}},
		{"foreground", nil, PropagationForeground, []string{FinalizerDeleteDependents}},
		{"orphan", nil, PropagationOrphan, []string{FinalizerOrphanDependents}},
		{"background drops orphan", []string{FinalizerOrphanDependents}, PropagationBackground, nil},
		{"orphan replaces foreground", []string{"x/y", FinalizerDeleteDependents}, PropagationOrphan, []string{"x/y", FinalizerOrphanDependents}},
		{"no policy keeps orphan", []string{FinalizerOrphanDependents}, "", []string{FinalizerOrphanDependents}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newStore(t, Options{})
			rs := obj(rsR, "default", "rs")
			rs.Finalizers = tt.fins
			mustCreate(t, s, rs)
			clk.Advance(time.Second)
			out, removed, err := s.Delete(ctx, rsR, "default", "rs", DeleteOptions{PropagationPolicy: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if !removed {
					t.Fatalf("not removed: %+v", out.GetObjectMeta())
				}
				return
			}
			m := out.GetObjectMeta()
			if removed || !reflect.DeepEqual(m.Finalizers, tt.want) {
				t.Fatalf("removed %v finalizers %v, want %v", removed, m.Finalizers, tt.want)
			}
			if m.DeletionTimestamp == nil || !m.DeletionTimestamp.Equal(epoch.Add(time.Second)) ||
				m.DeletionGracePeriodSeconds == nil || *m.DeletionGracePeriodSeconds != 0 {
				t.Fatalf("deletion not marked: %+v", m)
			}
			// A second delete changes nothing.
			rv := s.ResourceVersion()
			if _, removed, err := s.Delete(ctx, rsR, "default", "rs", DeleteOptions{}); err != nil || removed || s.ResourceVersion() != rv {
				t.Fatalf("second delete: removed %v err %v rv %s→%s", removed, err, rv, s.ResourceVersion())
			}
			// No new finalizer while deleting.
			cur := mustGet(t, s, rsR, "default", "rs")
			cur.Finalizers = append(cur.Finalizers, "late/one")
			_, err = s.Update(ctx, cur)
			wantReason(t, err, api.StatusReasonInvalid, "")
			// Removing them one by one: gone with the last.
			for len(cur.Finalizers) > 0 {
				cur = mustGet(t, s, rsR, "default", "rs")
				cur.Finalizers = cur.Finalizers[1:]
				if _, err := s.Update(ctx, cur); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Get(ctx, rsR, "default", "rs"); !api.IsNotFound(err) {
				t.Fatalf("still there after its last finalizer: %v", err)
			}
		})
	}
}

func TestPodFinalizerAndGrace(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	p := boundPod("default", "p")
	p.Finalizers = []string{"example.com/hold"}
	mustCreate(t, s, p)
	if _, removed, err := s.Delete(ctx, podsR, "default", "p", DeleteOptions{}); err != nil || removed {
		t.Fatalf("delete: removed %v err %v", removed, err)
	}
	// The finalizer goes while the pod is still terminating: it stays.
	cur := mustGet(t, s, podsR, "default", "p")
	cur.Finalizers = nil
	if _, err := s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	cur = mustGet(t, s, podsR, "default", "p")
	if *cur.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("grace %d", *cur.DeletionGracePeriodSeconds)
	}
	// The node's delete with grace 0 removes it.
	if _, removed, err := s.Delete(ctx, podsR, "default", "p", DeleteOptions{GracePeriodSeconds: ptr[int64](0)}); err != nil || !removed {
		t.Fatalf("final delete: removed %v err %v", removed, err)
	}

	// The other order: grace 0 first keeps it for its finalizer.
	p = boundPod("default", "q")
	p.Finalizers = []string{"example.com/hold"}
	mustCreate(t, s, p)
	if _, removed, err := s.Delete(ctx, podsR, "default", "q", DeleteOptions{GracePeriodSeconds: ptr[int64](0)}); err != nil || removed {
		t.Fatalf("delete: removed %v err %v", removed, err)
	}
	cur = mustGet(t, s, podsR, "default", "q")
	cur.Finalizers = nil
	if _, err := s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, podsR, "default", "q"); !api.IsNotFound(err) {
		t.Fatalf("still there: %v", err)
	}
}

func TestNamespaceDeletion(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	_, _, err := s.Delete(ctx, namespacesR, "", "default", DeleteOptions{})
	wantReason(t, err, api.StatusReasonForbidden, `namespaces "default" is forbidden: this namespace may not be deleted`)
	_, _, err = s.Delete(ctx, namespacesR, "", "kube-system", DeleteOptions{})
	wantReason(t, err, api.StatusReasonForbidden, `namespaces "kube-system" is forbidden: this namespace may not be deleted`)

	mustCreate(t, s, obj(namespacesR, "", "empty"))
	if _, removed, err := s.Delete(ctx, namespacesR, "", "empty", DeleteOptions{}); err != nil || !removed {
		t.Fatalf("empty namespace: removed %v err %v", removed, err)
	}

	mustCreate(t, s, obj(namespacesR, "", "team"))
	mustCreate(t, s, pod("team", "pending", nil))
	mustCreate(t, s, boundPod("team", "running"))
	mustCreate(t, s, obj(rsR, "team", "rs"))
	mustCreate(t, s, obj(eventsR, "team", "ev"))
	mustCreate(t, s, pod("default", "bystander", nil))
	out, removed, err := s.Delete(ctx, namespacesR, "", "team", DeleteOptions{})
	if err != nil || removed {
		t.Fatalf("delete team: removed %v err %v", removed, err)
	}
	if ns := out.(*testObject); ns.DeletionTimestamp == nil || ns.Status["phase"] != "Terminating" {
		t.Fatalf("namespace not Terminating: %+v %v", ns.ObjectMeta, ns.Status)
	}
	_, err = s.Create(ctx, pod("team", "late", nil))
	wantReason(t, err, api.StatusReasonForbidden,
		`pods "late" is forbidden: unable to create new content in namespace team because it is being terminated`)
	for _, r := range []*api.ResourceInfo{podsR, rsR, eventsR} {
		objs, _, err := s.List(ctx, r, "team", ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{}
		if r == podsR {
			want = []string{"team/running"}
		}
		if got := names(objs); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s left in team: %v, want %v", r.Resource, got, want)
		}
	}
	if p := mustGet(t, s, podsR, "team", "running"); p.DeletionTimestamp == nil {
		t.Fatalf("bound pod not terminating")
	}
	// Deleting again changes nothing.
	if _, removed, err := s.Delete(ctx, namespacesR, "", "team", DeleteOptions{}); err != nil || removed {
		t.Fatalf("second delete: %v %v", removed, err)
	}
	// The node finishes the pod: the namespace goes with it.
	if _, removed, err := s.Delete(ctx, podsR, "team", "running", DeleteOptions{GracePeriodSeconds: ptr[int64](0)}); err != nil || !removed {
		t.Fatalf("pod: %v %v", removed, err)
	}
	if _, err := s.Get(ctx, namespacesR, "", "team"); !api.IsNotFound(err) {
		t.Fatalf("namespace still there: %v", err)
	}
	mustGet(t, s, podsR, "default", "bystander")
}

func TestNamespaceDeletionResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustCreate(t, s, obj(namespacesR, "", "team"))
	mustCreate(t, s, obj(rsR, "team", "rs"))
	// Only the mark is written, as if the node stopped right after it.
	err = s.writeTxn(func(w *txnWriter) error {
		cur, raw, err := getObject(nil, w.txn, namespacesR, "", "team")
		if err != nil {
			return err
		}
		next := cur.DeepCopyObject()
		next.GetObjectMeta().DeletionTimestamp = api.NewTimePtr(epoch)
		_, err = w.putIfChanged(namespacesR, next, cur, raw)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, namespacesR, "", "team"); !api.IsNotFound(err) {
		t.Fatalf("namespace deletion not resumed: %v", err)
	}
	if _, err := s.Get(ctx, rsR, "team", "rs"); !api.IsNotFound(err) {
		t.Fatalf("content not deleted: %v", err)
	}
}

func TestEventsExpire(t *testing.T) {
	s, _ := newStore(t, Options{})
	mustCreate(t, s, obj(eventsR, "default", "ev"))
	mustCreate(t, s, pod("default", "p", nil))
	ttl := func(key string) time.Duration {
		var exp uint64
		err := s.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get([]byte(key))
			if err == nil {
				exp = item.ExpiresAt()
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if exp == 0 {
			return 0
		}
		return time.Until(time.Unix(int64(exp), 0))
	}
	if d := ttl("/registry/events/default/ev"); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("event expires in %v, want about an hour", d)
	}
	if d := ttl("/registry/pods/default/p"); d != 0 {
		t.Errorf("pod expires in %v", d)
	}
}

func TestCloseAndAfter(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	w, err := s.Watch(ctx, podsR, "", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case _, ok := <-w.ResultChan():
		if ok {
			t.Fatal("event after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch not ended by Close")
	}
	w.Stop()
	_, err = s.Create(ctx, pod("default", "p", nil))
	wantReason(t, err, api.StatusReasonServiceUnavailable, "")
	_, err = s.Get(ctx, podsR, "default", "p")
	wantReason(t, err, api.StatusReasonServiceUnavailable, "")
	_, err = s.Watch(ctx, podsR, "", ListOptions{})
	wantReason(t, err, api.StatusReasonServiceUnavailable, "")
}

func TestStorageErrorIsInternal(t *testing.T) {
	err := storageError(badger.ErrTxnTooBig)
	wantReason(t, err, api.StatusReasonInternalError, "Internal error occurred: "+badger.ErrTxnTooBig.Error())
	nf := api.NewNotFound("", "pods", "x")
	if storageError(nf) != error(nf) {
		t.Fatal("a Status error was rewrapped")
	}
}

func TestResourceVersionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	created := mustCreate(t, s, pod("default", "p", nil))
	rv1 := s.ResourceVersion()
	s.Close()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ResourceVersion() != rv1 {
		t.Fatalf("resourceVersion %s after restart, want %s", s.ResourceVersion(), rv1)
	}
	got := mustGet(t, s, podsR, "default", "p")
	if !reflect.DeepEqual(got, created) {
		t.Fatalf("after restart %+v, want %+v", got, created)
	}
	// The history starts at the current resourceVersion.
	_, err = s.Watch(ctx, podsR, "", ListOptions{ResourceVersion: "1"})
	wantReason(t, err, api.StatusReasonExpired, "too old resource version: 1 ("+rv1+")")
	w, err := s.Watch(ctx, podsR, "", ListOptions{ResourceVersion: rv1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	p2 := mustCreate(t, s, pod("default", "q", nil))
	if n, _ := strconv.Atoi(p2.ResourceVersion); strconv.Itoa(n-1) != rv1 {
		t.Fatalf("resourceVersion after restart %s, want %s+1", p2.ResourceVersion, rv1)
	}
	if ev := next(t, w); describe(ev) != "ADDED default/q "+p2.ResourceVersion {
		t.Fatalf("got %s", describe(ev))
	}
}
