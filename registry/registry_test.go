package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

func newRegistry(t *testing.T, opts Options) *Registry {
	t.Helper()
	st, err := store.Open("", store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, opts)
}

func resource(t *testing.T, name string) *api.ResourceInfo {
	t.Helper()
	r, ok := api.LookupResource(name)
	if !ok {
		t.Fatalf("no resource %s", name)
	}
	return r
}

func newPod(name string) *api.Pod {
	p := &api.Pod{}
	p.Name = name
	p.Labels = map[string]string{"app": "web"}
	p.Spec.Containers = []api.Container{{Name: "app", Image: "app.wasm",
		Env: []api.EnvVar{{Name: "A", Value: "1"}}}}
	return p
}

func newRS(name string, replicas int32) *api.ReplicaSet {
	rs := &api.ReplicaSet{}
	rs.Name = name
	rs.Spec.Replicas = &replicas
	rs.Spec.Selector = &api.LabelSelector{
		MatchLabels: map[string]string{"tier": "frontend"},
		MatchExpressions: []api.LabelSelectorRequirement{
			{Key: "app", Operator: api.LabelSelectorOpIn, Values: []string{"webapp", "web"}},
			{Key: "environment", Operator: api.LabelSelectorOpNotIn, Values: []string{"production"}},
		}}
	rs.Spec.Template.Labels = map[string]string{"app": "web", "tier": "frontend"}
	rs.Spec.Template.Spec.Containers = []api.Container{{Name: "app", Image: "app.wasm"}}
	return rs
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	p := newPod("web")
	p.Status.Phase = api.PodRunning
	p.Status.PodIP = "10.0.0.1"
	out, err := reg.Create(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*api.Pod)
	if got.Namespace != "default" {
		t.Errorf("namespace %q, want default", got.Namespace)
	}
	if got.Status.Phase != api.PodPending || got.Status.PodIP != "" {
		t.Errorf("status %+v, want a reset Pending status", got.Status)
	}
	if got.Status.QOSClass != api.PodQOSBestEffort {
		t.Errorf("qosClass %q", got.Status.QOSClass)
	}
	if got.UID == "" || got.ResourceVersion == "" || got.Generation != 1 || got.CreationTimestamp.IsZero() {
		t.Errorf("system metadata not set: %+v", got.ObjectMeta)
	}
	if got.Kind != "Pod" || got.APIVersion != "v1" {
		t.Errorf("type meta %+v", got.TypeMeta)
	}

	if _, err := reg.Create(ctx, newPod("web")); !api.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}

	withRV := newPod("rv")
	withRV.ResourceVersion = "12"
	if _, err := reg.Create(ctx, withRV); api.ReasonOf(err) != api.StatusReasonBadRequest {
		t.Errorf("create with resourceVersion: %v, want BadRequest", err)
	}

	gen := newPod("")
	gen.GenerateName = "web-"
	out, err = reg.Create(ctx, gen)
	if err != nil {
		t.Fatal(err)
	}
	if n := out.GetObjectMeta().Name; !strings.HasPrefix(n, "web-") || len(n) != len("web-")+5 {
		t.Errorf("generated name %q", n)
	}

	dry := newPod("dry")
	out, err = reg.CreateWith(ctx, dry, WriteOptions{DryRun: true})
	if err != nil || out.GetObjectMeta().UID == "" {
		t.Fatalf("dry run: %v %v", out, err)
	}
	if _, err := reg.Get(ctx, resource(t, "pods"), "default", "dry"); !api.IsNotFound(err) {
		t.Errorf("dry run stored the pod: %v", err)
	}

	rs := newRS("rs", 2)
	rs.Status.Replicas = 7
	out, err = reg.Create(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	if out.(*api.ReplicaSet).Status.Replicas != 0 {
		t.Errorf("rs status kept on create")
	}
}

// TestCreatePodSchedules: a pod is created Pending, with its quality of
// service class and, when the registry has a node, bound to it with its
// PodScheduled condition and Scheduled event, in its first version.
func TestCreatePodSchedules(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	reg := newRegistry(t, Options{NodeName: "vm", Clock: clock.NewFake(now)})
	pod := newPod("web")
	pod.Spec.Containers[0].Resources.Limits = api.ResourceList{api.ResourceCPU: api.MustParseQuantity("1"), api.ResourceMemory: api.MustParseQuantity("64Mi")}
	pod.Status = api.PodStatus{Phase: api.PodRunning, QOSClass: api.PodQOSBestEffort}
	out, err := reg.Create(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*api.Pod)
	if got.Spec.NodeName != "vm" || got.Status.Phase != api.PodPending || got.Status.QOSClass != api.PodQOSGuaranteed {
		t.Errorf("created: node %q, phase %q, qosClass %q; want vm, Pending, Guaranteed", got.Spec.NodeName, got.Status.Phase, got.Status.QOSClass)
	}
	if c := got.Status.Conditions; len(c) != 1 || c[0].Type != api.PodScheduled || c[0].Status != api.ConditionTrue || !c[0].LastTransitionTime.Equal(now) {
		t.Errorf("conditions %+v, want PodScheduled True at %v", c, now)
	}
	evs, err := reg.List(ctx, resource(t, "events"), "default", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("%d events, want the one Scheduled", len(evs))
	}
	if ev := evs[0].(*api.Event); ev.Reason != "Scheduled" || ev.Source.Component != "default-scheduler" ||
		ev.Message != "Successfully assigned default/web to vm" || ev.InvolvedObject.UID != got.UID {
		t.Errorf("event %+v", ev)
	}

	// A pod that names its node keeps it, as one that bypasses the
	// scheduler; a dry run is bound but records nothing.
	other := newPod("elsewhere")
	other.Spec.NodeName = "other"
	if out, err = reg.Create(ctx, other); err != nil || out.(*api.Pod).Spec.NodeName != "other" || len(out.(*api.Pod).Status.Conditions) != 0 {
		t.Errorf("pod naming its node: %+v %v", out, err)
	}
	if out, err = reg.CreateWith(ctx, newPod("dry"), WriteOptions{DryRun: true}); err != nil || out.(*api.Pod).Spec.NodeName != "vm" {
		t.Errorf("dry run: %+v %v", out, err)
	}
	if evs, _ = reg.List(ctx, resource(t, "events"), "default", store.ListOptions{}); len(evs) != 1 {
		t.Errorf("%d events after a dry run and a pod naming its node, want 1", len(evs))
	}

	// Without a node, pods stay unbound.
	out, err = newRegistry(t, Options{}).Create(ctx, newPod("web"))
	if err != nil || out.(*api.Pod).Spec.NodeName != "" || out.(*api.Pod).Status.QOSClass != api.PodQOSBestEffort || out.(*api.Pod).Status.Phase != api.PodPending {
		t.Errorf("without a node: %+v %v", out, err)
	}
}

// TestStatusUpdateKeepsQOSClass: the class is immutable once set.
func TestStatusUpdateKeepsQOSClass(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	out, err := reg.Create(ctx, newPod("web"))
	if err != nil {
		t.Fatal(err)
	}
	p := out.(*api.Pod)
	p.Status.QOSClass = api.PodQOSGuaranteed
	if _, err := reg.UpdateStatus(ctx, p); !api.IsInvalid(err) || !strings.Contains(err.Error(), "status.qosClass") {
		t.Errorf("status update changing qosClass: %v", err)
	}
	if _, _, err := reg.PatchWith(ctx, resource(t, "pods"), "default", "web", MergePatch, []byte(`{"status":{"qosClass":"Burstable"}}`), PatchOptions{Subresource: "status"}); !api.IsInvalid(err) {
		t.Errorf("status patch changing qosClass: %v", err)
	}
}

func TestUpdateKeepsStatusAndStatusKeepsSpec(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	pods := resource(t, "pods")
	out, err := reg.Create(ctx, newPod("web"))
	if err != nil {
		t.Fatal(err)
	}
	created := out.(*api.Pod)

	// The node writes a status.
	st := created.DeepCopy()
	st.Status.Phase = api.PodRunning
	st.Spec.Containers[0].Image = "ignored.wasm"
	st.Labels["ignored"] = "yes"
	out, err = reg.UpdateStatus(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	afterStatus := out.(*api.Pod)
	if afterStatus.Status.Phase != api.PodRunning {
		t.Errorf("status not written: %s", afterStatus.Status.Phase)
	}
	if afterStatus.Spec.Containers[0].Image != "app.wasm" || afterStatus.Labels["ignored"] != "" {
		t.Errorf("status update changed spec or metadata: %+v %v", afterStatus.Spec.Containers[0], afterStatus.Labels)
	}

	// A user updates the spec with a stale status.
	up := afterStatus.DeepCopy()
	up.Status.Phase = api.PodFailed
	up.Labels["new"] = "label"
	up.Spec.Containers[0].Image = "new.wasm"
	out, err = reg.Update(ctx, up)
	if err != nil {
		t.Fatal(err)
	}
	updated := out.(*api.Pod)
	if updated.Status.Phase != api.PodRunning {
		t.Errorf("update changed the status to %s", updated.Status.Phase)
	}
	if updated.Labels["new"] != "label" || updated.Spec.Containers[0].Image != "new.wasm" {
		t.Errorf("update not applied")
	}
	if updated.Generation != 2 {
		t.Errorf("generation %d after a spec change, want 2", updated.Generation)
	}

	// A label-only change keeps the generation.
	lab := updated.DeepCopy()
	lab.Labels["other"] = "x"
	out, err = reg.Update(ctx, lab)
	if err != nil {
		t.Fatal(err)
	}
	if g := out.GetObjectMeta().Generation; g != 2 {
		t.Errorf("generation %d after a label change, want 2", g)
	}

	// Stale resourceVersion and wrong uid are conflicts.
	if _, err := reg.Update(ctx, updated); !api.IsConflict(err) {
		t.Errorf("stale update: %v, want Conflict", err)
	}
	wrong := out.(*api.Pod).DeepCopy()
	wrong.UID = "not-the-uid"
	if _, err := reg.Update(ctx, wrong); !api.IsConflict(err) {
		t.Errorf("wrong uid: %v, want Conflict", err)
	}
	// An empty resourceVersion updates unconditionally.
	blind := out.(*api.Pod).DeepCopy()
	blind.ResourceVersion = ""
	blind.Labels["blind"] = "1"
	if _, err := reg.Update(ctx, blind); err != nil {
		t.Errorf("unconditional update: %v", err)
	}
	missing := newPod("missing")
	if _, err := reg.Update(ctx, missing); !api.IsNotFound(err) {
		t.Errorf("update of a missing pod: %v", err)
	}
	got, err := reg.Get(ctx, pods, "", "web")
	if err != nil || got.GetObjectMeta().Labels["blind"] != "1" {
		t.Errorf("get: %v %v", got, err)
	}
}

func TestPatch(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	pods := resource(t, "pods")
	if _, err := reg.Create(ctx, newPod("web")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		pt    PatchType
		patch string
		check func(*api.Pod) bool
		fail  api.StatusReason
	}{
		{"merge labels", MergePatch, `{"metadata":{"labels":{"tier":"front","app":null}}}`,
			func(p *api.Pod) bool { return p.Labels["tier"] == "front" && p.Labels["app"] == "" }, ""},
		{"strategic image", StrategicMergePatch, `{"spec":{"containers":[{"name":"app","image":"s.wasm"}]}}`,
			func(p *api.Pod) bool {
				return len(p.Spec.Containers[0].Env) == 1 && p.Spec.Containers[0].Image == "s.wasm"
			}, ""},
		{"merge replaces lists", MergePatch, `{"spec":{"containers":[{"name":"app","image":"x.wasm"}]}}`,
			nil, api.StatusReasonInvalid},
		{"json patch", JSONPatch, `[{"op":"add","path":"/metadata/annotations","value":{"a":"b"}}]`,
			func(p *api.Pod) bool { return p.Annotations["a"] == "b" }, ""},
		{"status ignored on the main resource", MergePatch, `{"status":{"phase":"Failed"}}`,
			func(p *api.Pod) bool { return p.Status.Phase == api.PodPending }, ""},
		{"stale resourceVersion", MergePatch, `{"metadata":{"resourceVersion":"1","labels":{"x":"y"}}}`, nil, api.StatusReasonConflict},
		{"name change", MergePatch, `{"metadata":{"name":"other"}}`, nil, api.StatusReasonBadRequest},
		{"bad json", MergePatch, `{"metadata":`, nil, api.StatusReasonBadRequest},
		{"apply", ApplyPatch, `{}`, nil, api.StatusReasonUnsupportedMediaType},
		{"unknown type", PatchType("text/plain"), `{}`, nil, api.StatusReasonUnsupportedMediaType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := reg.Patch(ctx, pods, "default", "web", tc.pt, []byte(tc.patch))
			if tc.fail != "" {
				if api.ReasonOf(err) != tc.fail {
					t.Fatalf("err %v, want %s", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(out.(*api.Pod)) {
				t.Errorf("patch not applied as expected: %+v", out)
			}
		})
	}

	// Strategic merge keeps the other elements of a merged list.
	rsR := resource(t, "replicasets")
	if _, err := reg.Create(ctx, newRS("rs", 1)); err != nil {
		t.Fatal(err)
	}
	out, err := reg.Patch(ctx, rsR, "", "rs", StrategicMergePatch,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"2"}]}]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := out.(*api.ReplicaSet).Spec.Template.Spec.Containers; len(c) != 1 || len(c[0].Env) != 1 || c[0].Image != "app.wasm" {
		t.Errorf("strategic patch of the template: %+v", c)
	}
	if g := out.GetObjectMeta().Generation; g != 2 {
		t.Errorf("generation %d", g)
	}

	// The status subresource takes only the status.
	out, _, err = reg.PatchWith(ctx, pods, "default", "web", MergePatch,
		[]byte(`{"status":{"phase":"Running"},"metadata":{"labels":{"ignored":"1"}}}`), PatchOptions{Subresource: "status"})
	if err != nil {
		t.Fatal(err)
	}
	if p := out.(*api.Pod); p.Status.Phase != api.PodRunning || p.Labels["ignored"] != "" {
		t.Errorf("status patch: phase %s labels %v", p.Status.Phase, p.Labels)
	}

	// Field validation of the patched object.
	_, _, err = reg.PatchWith(ctx, pods, "default", "web", MergePatch, []byte(`{"spec":{"bogus":1}}`),
		PatchOptions{WriteOptions: WriteOptions{FieldValidation: FieldValidationStrict}})
	if api.ReasonOf(err) != api.StatusReasonBadRequest || !strings.Contains(err.Error(), `unknown field "spec.bogus"`) {
		t.Errorf("strict: %v", err)
	}
	_, warnings, err := reg.PatchWith(ctx, pods, "default", "web", MergePatch, []byte(`{"spec":{"bogus":1}}`),
		PatchOptions{WriteOptions: WriteOptions{FieldValidation: FieldValidationWarn}})
	if err != nil || len(warnings) != 1 || warnings[0] != `unknown field "spec.bogus"` {
		t.Errorf("warn: %v %q", err, warnings)
	}
}

func TestScale(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	rsR := resource(t, "replicasets")
	if _, err := reg.Create(ctx, newRS("web", 2)); err != nil {
		t.Fatal(err)
	}
	s, err := reg.GetScale(ctx, rsR, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	if s.Spec.Replicas != 2 || s.Kind != "Scale" || s.APIVersion != "autoscaling/v1" {
		t.Errorf("scale %+v", s)
	}
	if want := "app in (web,webapp),environment notin (production),tier=frontend"; s.Status.Selector != want {
		t.Errorf("selector %q, want %q", s.Status.Selector, want)
	}
	s.Spec.Replicas = 5
	s2, err := reg.UpdateScale(ctx, rsR, "default", "web", s)
	if err != nil || s2.Spec.Replicas != 5 {
		t.Fatalf("update scale: %+v %v", s2, err)
	}
	if _, err := reg.UpdateScale(ctx, rsR, "default", "web", s); !api.IsConflict(err) {
		t.Errorf("stale scale: %v", err)
	}
	s3, err := reg.PatchScale(ctx, rsR, "default", "web", MergePatch, []byte(`{"spec":{"replicas":3}}`), WriteOptions{})
	if err != nil || s3.Spec.Replicas != 3 {
		t.Fatalf("patch scale: %+v %v", s3, err)
	}
	obj, _ := reg.Get(ctx, rsR, "default", "web")
	if rs := obj.(*api.ReplicaSet); *rs.Spec.Replicas != 3 || rs.Generation != 3 {
		t.Errorf("rs replicas %d generation %d", *rs.Spec.Replicas, rs.Generation)
	}
	neg := &api.Scale{}
	neg.Spec.Replicas = -1
	if _, err := reg.UpdateScale(ctx, rsR, "default", "web", neg); !api.IsInvalid(err) {
		t.Errorf("negative replicas: %v", err)
	}
	if _, err := reg.GetScale(ctx, resource(t, "pods"), "default", "web"); !api.IsNotFound(err) {
		t.Errorf("scale of a pod: %v", err)
	}

	rcR := resource(t, "replicationcontrollers")
	rc := &api.ReplicationController{}
	rc.Name = "rc"
	rc.Spec.Selector = map[string]string{"b": "2", "a": "1"}
	rc.Spec.Template = &api.PodTemplateSpec{}
	rc.Spec.Template.Labels = map[string]string{"a": "1", "b": "2"}
	rc.Spec.Template.Spec.Containers = []api.Container{{Name: "app", Image: "app.wasm"}}
	if _, err := reg.Create(ctx, rc); err != nil {
		t.Fatal(err)
	}
	s, err = reg.GetScale(ctx, rcR, "default", "rc")
	if err != nil || s.Status.Selector != "a=1,b=2" || s.Spec.Replicas != 1 {
		t.Errorf("rc scale %+v %v", s, err)
	}
}

func TestHostPaths(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		allowed []string
		path    string
		ok      bool
	}{
		{nil, dir, false},
		{[]string{dir}, dir, true},
		{[]string{dir}, dir + "/sub", true},
		{[]string{dir}, dir + "-other", false},
		{[]string{dir}, dir + "/../etc", false},
		{[]string{dir}, "relative", false},
	}
	for _, tc := range tests {
		reg := newRegistry(t, Options{AllowedHostPaths: tc.allowed})
		p := newPod("hp")
		p.Spec.Volumes = []api.Volume{{Name: "data", VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: tc.path}}}}
		_, err := reg.Create(ctx, p)
		if tc.ok && err != nil || !tc.ok && err == nil {
			t.Errorf("allowed %v, path %s: %v", tc.allowed, tc.path, err)
		}
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	rsR := resource(t, "replicasets")
	for _, n := range []string{"a", "b", "c"} {
		rs := newRS(n, 1)
		if n == "c" {
			rs.Labels = map[string]string{"keep": "yes"}
		}
		if _, err := reg.Create(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	if _, removed, err := reg.DeleteWith(ctx, rsR, "default", "a", store.DeleteOptions{}, WriteOptions{DryRun: true}); err != nil || removed {
		t.Fatalf("dry run delete: %v %v", removed, err)
	}
	obj, removed, err := reg.DeleteWith(ctx, rsR, "default", "a", store.DeleteOptions{PropagationPolicy: store.PropagationForeground}, WriteOptions{})
	if err != nil || removed || obj.GetObjectMeta().DeletionTimestamp == nil {
		t.Fatalf("foreground delete: %v %v %v", obj, removed, err)
	}
	if _, err := reg.Delete(ctx, rsR, "default", "b", store.DeleteOptions{ResourceVersion: "1"}); !api.IsConflict(err) {
		t.Errorf("precondition: %v", err)
	}
	sel := labelSelector(t, "!keep")
	gone, err := reg.DeleteCollection(ctx, rsR, "default", store.ListOptions{LabelSelector: sel}, store.DeleteOptions{}, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 2 {
		t.Errorf("deleted %d objects, want 2 (a again, b)", len(gone))
	}
	left, err := reg.List(ctx, rsR, "", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, o := range left {
		names = append(names, o.GetObjectMeta().Name)
	}
	if strings.Join(names, ",") != "a,c" {
		t.Errorf("left %v, want a (foreground, finalizer) and c", names)
	}
}

func TestDecode(t *testing.T) {
	pods := resource(t, "pods")
	body := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labelz":{}},"spec":{"containers":[{"name":"a","imagePullPolice":"x"}]}}`
	if _, _, err := Decode(pods, []byte(body), FieldValidationStrict); err == nil ||
		err.Error() != `Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "metadata.labelz", unknown field "spec.containers[0].imagePullPolice"` {
		t.Errorf("strict: %v", err)
	}
	obj, warnings, err := Decode(pods, []byte(body), "")
	if err != nil || len(warnings) != 2 || obj.GetObjectMeta().Name != "p" {
		t.Errorf("warn: %v %v", warnings, err)
	}
	if _, warnings, err := Decode(pods, []byte(body), FieldValidationIgnore); err != nil || len(warnings) != 0 {
		t.Errorf("ignore: %v %v", warnings, err)
	}
	// A field Kubernetes has and wasmlet does not is a warning whatever the
	// validation; a body without kind is taken as the resource's.
	obj, warnings, err = Decode(pods, []byte(`{"metadata":{"name":"p"},"spec":{"tolerations":[]}}`), FieldValidationStrict)
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "spec.tolerations") || obj.GetTypeMeta().Kind != "Pod" {
		t.Errorf("unimplemented field: %v %q", err, warnings)
	}
	if _, _, err := Decode(pods, []byte(`{"apiVersion":"apps/v1","kind":"ReplicaSet"}`), ""); api.ReasonOf(err) != api.StatusReasonBadRequest {
		t.Errorf("wrong kind: %v", err)
	}
	if _, _, err := Decode(pods, []byte(`[1]`), ""); api.ReasonOf(err) != api.StatusReasonBadRequest {
		t.Errorf("not an object: %v", err)
	}
	if _, _, err := Decode(pods, []byte(`{}`), "Loose"); api.ReasonOf(err) != api.StatusReasonBadRequest {
		t.Errorf("bad fieldValidation: %v", err)
	}
}

// absentKey is the selector `!key`, enough for these tests.
type absentKey string

func (k absentKey) Matches(l map[string]string) bool { _, ok := l[string(k)]; return !ok }
func (k absentKey) Empty() bool                      { return false }
func (k absentKey) String() string                   { return "!" + string(k) }

func labelSelector(t *testing.T, s string) api.Selector {
	t.Helper()
	return absentKey(strings.TrimPrefix(s, "!"))
}

// An object written by an older node, without a default added since, is
// read with it, as Kubernetes defaults what it reads from storage.
func TestReadsAreDefaulted(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	p := newPod("old")
	p.Namespace = "default"
	p.Spec.Containers[0].StartupProbe = &api.Probe{ProbeHandler: api.ProbeHandler{GRPC: &api.GRPCAction{Port: 9090}}}
	// Straight into the store: no defaults.
	if _, err := reg.Store().Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	o, err := reg.Get(ctx, resource(t, "pods"), "default", "old")
	if err != nil {
		t.Fatal(err)
	}
	got := o.(*api.Pod).Spec.Containers[0].StartupProbe
	if got.GRPC.Service == nil || *got.GRPC.Service != "" || got.PeriodSeconds != 10 {
		t.Errorf("stored pod read as %+v", got)
	}
}
