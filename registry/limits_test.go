package registry

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
)

// bigEnv is an env var of n bytes: Kubernetes bounds no value of an env
// var, so that only the object limit bounds them.
func bigEnv(n int) api.EnvVar {
	return api.EnvVar{Name: "BIG", Value: strings.Repeat("x", n)}
}

// TestObjectSizeLimit: no write stores an object over MaxObjectBytes, and
// the answer is 413.
func TestObjectSizeLimit(t *testing.T) {
	ctx := context.Background()
	// On disk: badger keeps no value over 1 MiB in memory.
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := New(st, Options{})
	pods := resource(t, "pods")
	tooLarge := func(t *testing.T, err error) {
		t.Helper()
		if api.ReasonOf(err) != api.StatusReasonRequestEntityTooLarge {
			t.Fatalf("err %v, want RequestEntityTooLarge", err)
		}
	}

	big := newPod("big")
	big.Spec.Containers[0].Env = append(big.Spec.Containers[0].Env, bigEnv(MaxObjectBytes))
	_, err = reg.Create(ctx, big)
	tooLarge(t, err)
	if _, err := reg.Get(ctx, pods, "default", "big"); !api.IsNotFound(err) {
		t.Fatalf("the pod was stored: %v", err)
	}

	// Just under the limit is stored.
	ok := newPod("ok")
	ok.Spec.Containers[0].Env = append(ok.Spec.Containers[0].Env, bigEnv(MaxObjectBytes-4096))
	if _, err := reg.Create(ctx, ok); err != nil {
		t.Fatal(err)
	}

	// A ReplicaSet, whose spec may change.
	rsR := resource(t, "replicasets")
	if _, err := reg.Create(ctx, newRS("web", 1)); err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("y", MaxObjectBytes)
	t.Run("update", func(t *testing.T) {
		cur, err := reg.Get(ctx, rsR, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		rs := cur.(*api.ReplicaSet)
		c := &rs.Spec.Template.Spec.Containers[0]
		c.Env = append(c.Env, bigEnv(MaxObjectBytes))
		_, err = reg.Update(ctx, rs)
		tooLarge(t, err)
	})
	for _, pt := range []PatchType{MergePatch, StrategicMergePatch} {
		t.Run(string(pt), func(t *testing.T) {
			patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"BIG","value":%q}]}]}}}}`, huge)
			if pt == MergePatch {
				patch = fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app.wasm","env":[{"name":"BIG","value":%q}]}]}}}}`, huge)
			}
			_, err := reg.Patch(ctx, rsR, "default", "web", pt, []byte(patch))
			tooLarge(t, err)
		})
	}
	t.Run("json patch", func(t *testing.T) {
		patch := fmt.Sprintf(`[{"op":"add","path":"/spec/template/spec/containers/0/env","value":[{"name":"BIG","value":%q}]}]`, huge)
		_, err := reg.Patch(ctx, rsR, "default", "web", JSONPatch, []byte(patch))
		tooLarge(t, err)
	})
	t.Run("status", func(t *testing.T) {
		if _, err := reg.Create(ctx, newPod("web")); err != nil {
			t.Fatal(err)
		}
		_, _, err := reg.PatchWith(ctx, pods, "default", "web", MergePatch,
			[]byte(fmt.Sprintf(`{"status":{"message":%q}}`, huge)), PatchOptions{Subresource: "status"})
		tooLarge(t, err)
		cur, err := reg.Get(ctx, pods, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		if m := cur.(*api.Pod).Status.Message; m != "" {
			t.Errorf("a refused status was stored: %d bytes", len(m))
		}
	})
	cur, err := reg.Get(ctx, rsR, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	if c := cur.(*api.ReplicaSet).Spec.Template.Spec.Containers; len(c[0].Env) != 0 {
		t.Errorf("a refused write was stored: %d env vars", len(c[0].Env))
	}
}

// doublingPatch is the JSON patch of finding 8: a list copied into itself
// n times, each copy doubling it (6.7 KB of patch that asks for 2^n
// times the list).
func doublingPatch(n int) string {
	var b strings.Builder
	b.WriteString(`[{"op":"add","path":"/metadata/annotations","value":{}},`)
	b.WriteString(`{"op":"add","path":"/spec/containers/0/args","value":["` + strings.Repeat("a", 200) + `"]}`)
	for range n {
		b.WriteString(`,{"op":"copy","from":"/spec/containers/0/args","path":"/spec/containers/0/args/-"}`)
	}
	b.WriteString("]")
	return b.String()
}

// TestJSONPatchCopyBomb: the doubling patch is refused with 413 in a
// moment, and the heap does not grow with what the patch asks for.
func TestJSONPatchCopyBomb(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	pods := resource(t, "pods")
	if _, err := reg.Create(ctx, newPod("web")); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// The peak of the heap while the patch is applied.
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	_, err := reg.Patch(ctx, pods, "default", "web", JSONPatch, []byte(doublingPatch(24)))
	took := time.Since(start)
	close(stop)
	<-sampled

	if took > 10*time.Second {
		t.Errorf("refused after %v", took)
	}
	const bound = 256 << 20
	if grew := int64(peak.Load()) - int64(before.HeapAlloc); grew > bound {
		t.Errorf("the heap grew by %d MiB while the patch was applied (bound %d MiB)", grew>>20, bound>>20)
	}
	if api.ReasonOf(err) != api.StatusReasonRequestEntityTooLarge || !strings.Contains(err.Error(), "copy") {
		t.Fatalf("err %.200v, want RequestEntityTooLarge naming the copies", err)
	}
	t.Logf("refused in %v; heap peak %d MiB over %d MiB before", took, (int64(peak.Load())-int64(before.HeapAlloc))>>20, before.HeapAlloc>>20)
}

// TestJSONPatchOperations: Kubernetes' bound on the operations of one
// patch.
func TestJSONPatchOperations(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	pods := resource(t, "pods")
	if _, err := reg.Create(ctx, newPod("web")); err != nil {
		t.Fatal(err)
	}
	ops := strings.Repeat(`{"op":"test","path":"/metadata/name","value":"web"},`, maxJSONPatchOperations+1)
	_, err := reg.Patch(ctx, pods, "default", "web", JSONPatch, []byte("["+strings.TrimSuffix(ops, ",")+"]"))
	if api.ReasonOf(err) != api.StatusReasonRequestEntityTooLarge {
		t.Fatalf("err %v", err)
	}
	// A patch that does not apply is 422, as in Kubernetes.
	_, err = reg.Patch(ctx, pods, "default", "web", JSONPatch, []byte(`[{"op":"test","path":"/metadata/name","value":"other"}]`))
	if st, ok := err.(*api.Status); !ok || st.Code != 422 || st.Reason != api.StatusReasonInvalid {
		t.Fatalf("a failed test: %v", err)
	}
}

// TestUnknownFieldSelector: a field selector that names a field the kind
// cannot be selected by is a BadRequest for lists, watches and deletions
// of collections, and selects (and deletes) nothing.
func TestUnknownFieldSelector(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	pods := resource(t, "pods")
	for _, name := range []string{"a", "b", "c"} {
		if _, err := reg.Create(ctx, newPod(name)); err != nil {
			t.Fatal(err)
		}
	}
	sel, err := api.ParseFieldSelector("status.phse!=Running")
	if err != nil {
		t.Fatal(err)
	}
	lo := store.ListOptions{FieldSelector: sel}
	want := "field label not supported: status.phse"
	check := func(what string, err error) {
		t.Helper()
		if api.ReasonOf(err) != api.StatusReasonBadRequest || err.Error() != want {
			t.Errorf("%s: %v, want BadRequest %q", what, err, want)
		}
	}
	_, err = reg.List(ctx, pods, "default", lo)
	check("list", err)
	_, err = reg.Watch(ctx, pods, "default", lo)
	check("watch", err)
	_, err = reg.DeleteCollection(ctx, pods, "default", lo, store.DeleteOptions{}, WriteOptions{})
	check("delete collection", err)
	if objs, err := reg.List(ctx, pods, "default", store.ListOptions{}); err != nil || len(objs) != 3 {
		t.Fatalf("after the refused deletion: %d pods, %v", len(objs), err)
	}

	// Every kind: what it can be selected by is accepted, anything else
	// refused.
	for _, res := range api.Resources() {
		for _, tc := range []struct {
			sel string
			ok  bool
		}{
			{"metadata.name=x", true},
			{"metadata.name=x,nope=1", false},
			{"spec.phase=Running", false},
		} {
			sel, err := api.ParseFieldSelector(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			_, err = reg.List(ctx, res, "", store.ListOptions{FieldSelector: sel})
			if (err == nil) != tc.ok {
				t.Errorf("%s %q: %v", res.Resource, tc.sel, err)
			}
		}
	}
	for _, tc := range []struct{ resource, sel string }{
		{"pods", "status.phase=Running,spec.nodeName=n1,spec.restartPolicy=Always,status.podIP=1.2.3.4,metadata.namespace=default"},
		{"events", "involvedObject.kind=Pod,involvedObject.name=a,reason=Started,type=Normal,source=kubelet"},
		{"namespaces", "status.phase=Active"},
		{"nodes", "spec.unschedulable=false"},
		{"replicasets", "status.replicas=1"},
	} {
		sel, _ := api.ParseFieldSelector(tc.sel)
		if _, err := reg.List(ctx, resource(t, tc.resource), "", store.ListOptions{FieldSelector: sel}); err != nil {
			t.Errorf("%s %q: %v", tc.resource, tc.sel, err)
		}
	}
	// As in Kubernetes, cluster-wide kinds are not selected by namespace.
	sel, _ = api.ParseFieldSelector("metadata.namespace=default")
	if _, err := reg.List(ctx, resource(t, "nodes"), "", store.ListOptions{FieldSelector: sel}); api.ReasonOf(err) != api.StatusReasonBadRequest {
		t.Errorf("nodes by namespace: %v", err)
	}
}
