package controller

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// deploymentEnv is a store, a Manager and a registry on the fake clock; the
// tests play the kubelet by marking pods Ready.
type deploymentEnv struct {
	*env
	reg *registry.Registry
}

func newDeploymentEnv(t *testing.T) *deploymentEnv {
	e := newEnv(t)
	e.startManager()
	return &deploymentEnv{env: e, reg: registry.New(e.store, registry.Options{Clock: e.clock})}
}

func newDeployment(name string, replicas int32, image string) *api.Deployment {
	return &api.Deployment{
		TypeMeta:   api.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.DeploymentSpec{
			Replicas: int32p(replicas),
			Selector: &api.LabelSelector{MatchLabels: web},
			Template: api.PodTemplateSpec{
				ObjectMeta: api.ObjectMeta{Labels: web},
				Spec:       api.PodSpec{Containers: []api.Container{{Name: "myweb", Image: image}}},
			},
		},
	}
}

func rollingUpdate(surge, unavailable api.IntOrString) api.DeploymentStrategy {
	return api.DeploymentStrategy{Type: api.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &api.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}}
}

func (e *deploymentEnv) createDeployment(d *api.Deployment) *api.Deployment {
	e.t.Helper()
	o, err := e.reg.Create(e.ctx, d)
	if err != nil {
		e.t.Fatalf("create deployment: %v", err)
	}
	return o.(*api.Deployment)
}

func (e *deploymentEnv) deployment(name string) *api.Deployment {
	e.t.Helper()
	o, err := e.get("deployments.apps", name)
	if err != nil {
		e.t.Fatalf("get deployment %s: %v", name, err)
	}
	return o.(*api.Deployment)
}

func (e *deploymentEnv) updateDeployment(name string, f func(d *api.Deployment)) {
	e.t.Helper()
	_, err := e.store.GuaranteedUpdate(e.ctx, resource(e.t, "deployments.apps"), "default", name, func(o api.Object) (api.Object, error) {
		f(o.(*api.Deployment))
		return o, nil
	})
	if err != nil {
		e.t.Fatalf("update deployment %s: %v", name, err)
	}
}

func (e *deploymentEnv) replicaSets() []*api.ReplicaSet {
	e.t.Helper()
	objs, _, err := e.store.List(e.ctx, resource(e.t, "replicasets.apps"), "default", store.ListOptions{})
	if err != nil {
		e.t.Fatalf("list replicasets: %v", err)
	}
	out := make([]*api.ReplicaSet, len(objs))
	for i, o := range objs {
		out[i] = o.(*api.ReplicaSet)
	}
	return out
}

func (e *deploymentEnv) replicaSetOf(image string) *api.ReplicaSet {
	for _, rs := range e.replicaSets() {
		if rs.Spec.Template.Spec.Containers[0].Image == image {
			return rs
		}
	}
	return nil
}

// readyPods marks Ready every pod that is not and whose image ok accepts
// (nil: every pod).
func (e *deploymentEnv) readyPods(ok func(image string) bool) {
	for _, p := range e.pods() {
		if p.DeletionTimestamp != nil || isPodReady(p) || (ok != nil && !ok(p.Spec.Containers[0].Image)) {
			continue
		}
		_, err := e.store.GuaranteedUpdate(e.ctx, resource(e.t, "pods"), p.Namespace, p.Name, func(o api.Object) (api.Object, error) {
			q := o.(*api.Pod)
			q.Status.Phase = api.PodRunning
			q.Status.Conditions = []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: api.NewTime(e.clock.Now())}}
			return q, nil
		})
		if err != nil && !api.IsNotFound(err) {
			e.t.Fatalf("ready %s: %v", p.Name, err)
		}
	}
}

// complete: the Deployment's status shows every replica updated and
// available, for its current generation, and only its new ReplicaSet has
// pods.
func (e *deploymentEnv) complete(name string, replicas int32) bool {
	d := e.deployment(name)
	s := d.Status
	if s.ObservedGeneration != d.Generation || s.Replicas != replicas || s.UpdatedReplicas != replicas ||
		s.AvailableReplicas != replicas || s.ReadyReplicas != replicas || s.UnavailableReplicas != 0 {
		return false
	}
	c := getCondition(&s, api.DeploymentProgressing)
	return c != nil && c.Reason == ReasonNewReplicaSetAvailable && len(e.pods()) == int(replicas)
}

// rollOut plays the kubelet until the Deployment is complete.
func (e *deploymentEnv) rollOut(name string, replicas int32) {
	e.t.Helper()
	e.eventually(func() bool {
		e.readyPods(nil)
		return e.complete(name, replicas)
	}, func() string {
		return fmt.Sprintf("never complete: status %+v, %d pods", e.deployment(name).Status, len(e.pods()))
	})
}

func (e *deploymentEnv) eventMessages(kind string) []string {
	evs, _, err := e.store.List(e.ctx, resource(e.t, "events"), "default", store.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, o := range evs {
		if ev := o.(*api.Event); ev.InvolvedObject.Kind == kind {
			out = append(out, ev.Reason+" "+ev.Message)
		}
	}
	return out
}

// podWatch follows every change of the pods and records the most pods
// there were at once and the fewest Ready ones, from when it is armed.
type podWatch struct {
	mu       sync.Mutex
	pods     map[string]*api.Pod
	armed    bool
	maxPods  int
	minReady int
	check    func(pods map[string]*api.Pod) string
	failure  string
}

func (e *deploymentEnv) watchPods() *podWatch {
	e.t.Helper()
	w, err := e.store.Watch(e.ctx, resource(e.t, "pods"), "default", store.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	pw := &podWatch{pods: map[string]*api.Pod{}, minReady: 1 << 30}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*api.Pod)
			if !ok {
				continue
			}
			pw.mu.Lock()
			if ev.Type == store.Deleted {
				delete(pw.pods, p.Name)
			} else {
				pw.pods[p.Name] = p
			}
			if pw.armed {
				ready := 0
				for _, q := range pw.pods {
					if isPodReady(q) {
						ready++
					}
				}
				pw.maxPods = max(pw.maxPods, len(pw.pods))
				pw.minReady = min(pw.minReady, ready)
				if pw.check != nil && pw.failure == "" {
					pw.failure = pw.check(pw.pods)
				}
			}
			pw.mu.Unlock()
		}
	}()
	return pw
}

func (pw *podWatch) arm(check func(map[string]*api.Pod) string) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.armed, pw.check = true, check
	pw.maxPods, pw.minReady = len(pw.pods), len(pw.pods)
}

func (pw *podWatch) result() (maxPods, minReady int, failure string) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.maxPods, pw.minReady, pw.failure
}

func TestDeploymentDefaultsAndValidation(t *testing.T) {
	d := newDeployment("web", 3, "v1.wasm")
	d.Spec.Replicas = nil
	api.Default(d)
	ru := d.Spec.Strategy.RollingUpdate
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != api.RollingUpdateDeploymentStrategyType || ru == nil ||
		ru.MaxSurge.String() != "25%" || ru.MaxUnavailable.String() != "25%" ||
		*d.Spec.RevisionHistoryLimit != 10 || *d.Spec.ProgressDeadlineSeconds != 600 ||
		d.Spec.Template.Spec.RestartPolicy != api.RestartPolicyAlways || d.Spec.Template.Spec.DNSPolicy == "" {
		t.Fatalf("defaults: %+v", d.Spec)
	}
	tests := []struct {
		name string
		edit func(d *api.Deployment)
		want string
	}{
		{"valid", func(*api.Deployment) {}, ""},
		{"empty selector", func(d *api.Deployment) { d.Spec.Selector = &api.LabelSelector{} },
			"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"},
		{"selector does not match", func(d *api.Deployment) { d.Spec.Selector.MatchLabels = map[string]string{"app": "db"} },
			"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"},
		{"restartPolicy", func(d *api.Deployment) { d.Spec.Template.Spec.RestartPolicy = "Never" },
			`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`},
		{"both zero", func(d *api.Deployment) { d.Spec.Strategy = rollingUpdate(api.FromInt32(0), api.FromString("0%")) },
			"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"0%\"}: may not be 0 when `maxSurge` is 0"},
		{"negative surge", func(d *api.Deployment) { d.Spec.Strategy = rollingUpdate(api.FromInt32(-1), api.FromInt32(1)) },
			"spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"},
		{"bad percent", func(d *api.Deployment) { d.Spec.Strategy = rollingUpdate(api.FromString("ten"), api.FromInt32(1)) },
			"spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"ten\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"},
		{"over 100%", func(d *api.Deployment) { d.Spec.Strategy = rollingUpdate(api.FromInt32(1), api.FromString("101%")) },
			"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"101%\"}: must not be greater than 100%"},
		{"recreate with rollingUpdate", func(d *api.Deployment) {
			d.Spec.Strategy = rollingUpdate(api.FromInt32(1), api.FromInt32(1))
			d.Spec.Strategy.Type = api.RecreateDeploymentStrategyType
		}, "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"},
		{"unknown type", func(d *api.Deployment) { d.Spec.Strategy = api.DeploymentStrategy{Type: "BlueGreen"} },
			`spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"`},
		{"deadline within minReadySeconds", func(d *api.Deployment) {
			d.Spec.MinReadySeconds = 600
		}, "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDeployment("web", 3, "v1.wasm")
			tt.edit(d)
			api.Default(d)
			errs := api.Validate(d)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if tt.want == "" {
				if len(got) != 0 {
					t.Fatalf("errors %q", got)
				}
				return
			}
			if !slices.Contains(got, tt.want) {
				t.Fatalf("errors %q\nwant %q", got, tt.want)
			}
		})
	}
	old := newDeployment("web", 3, "v1.wasm")
	api.Default(old)
	upd := old.DeepCopy()
	upd.Spec.Selector.MatchLabels = map[string]string{"app": "web", "v": "2"}
	upd.Spec.Template.Labels = upd.Spec.Selector.MatchLabels
	errs := api.ValidateUpdate(upd, old)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "spec.selector: Invalid value: ") || !strings.HasSuffix(errs[0].Error(), ": field is immutable") {
		t.Fatalf("selector update: %v", errs)
	}
}

func TestComputeHash(t *testing.T) {
	tpl := newDeployment("web", 1, "v1.wasm").Spec.Template
	h := ComputeHash(&tpl, nil)
	if h != ComputeHash(tpl.DeepCopy(), nil) || h == "" || len(h) > 10 || strings.Trim(h, safeEncodeAlphabet) != "" {
		t.Fatalf("hash %q", h)
	}
	one := int32(1)
	if ComputeHash(&tpl, &one) == h {
		t.Fatal("collisionCount does not change the hash")
	}
	other := tpl.DeepCopy()
	other.Spec.Containers[0].Image = "v2.wasm"
	if ComputeHash(other, nil) == h {
		t.Fatal("the image does not change the hash")
	}
}

func TestDeploymentRollingUpdateStaysWithinBounds(t *testing.T) {
	tests := []struct {
		name                  string
		replicas              int32
		surge, unavailable    api.IntOrString
		wantMax, wantMinReady int
	}{
		{"defaults of 25%", 4, api.FromString("25%"), api.FromString("25%"), 5, 3},
		{"surge only", 3, api.FromInt32(1), api.FromInt32(0), 4, 3},
		{"unavailable only", 3, api.FromInt32(0), api.FromInt32(1), 3, 2},
		{"both 2 of 5", 5, api.FromInt32(2), api.FromString("40%"), 7, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDeploymentEnv(t)
			pw := e.watchPods()
			d := newDeployment("web", tt.replicas, "v1.wasm")
			d.Spec.Strategy = rollingUpdate(tt.surge, tt.unavailable)
			created := e.createDeployment(d)
			e.rollOut("web", tt.replicas)

			rs1 := e.replicaSetOf("v1.wasm")
			hash := ComputeHash(&created.Spec.Template, nil)
			if rs1 == nil || rs1.Name != "web-"+hash || rs1.Labels[PodTemplateHashLabel] != hash ||
				rs1.Spec.Selector.MatchLabels[PodTemplateHashLabel] != hash || rs1.Spec.Template.Labels[PodTemplateHashLabel] != hash {
				t.Fatalf("first ReplicaSet %+v, want web-%s with the hash label", rs1, hash)
			}
			if ref := rs1.ControllerRef(); ref == nil || ref.UID != created.UID || ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" {
				t.Fatalf("controllerRef %+v", ref)
			}
			if a := rs1.Annotations; a[RevisionAnnotation] != "1" || a[DesiredReplicasAnnotation] != fmt.Sprint(tt.replicas) ||
				a[MaxReplicasAnnotation] != fmt.Sprint(tt.wantMax) {
				t.Fatalf("annotations %v", a)
			}
			for _, p := range e.pods() {
				if p.Labels[PodTemplateHashLabel] != hash || !strings.HasPrefix(p.Name, rs1.Name+"-") {
					t.Fatalf("pod %s labels %v", p.Name, p.Labels)
				}
			}
			wantEvent := fmt.Sprintf("ScalingReplicaSet Scaled up replica set %s from 0 to %d", rs1.Name, tt.replicas)
			if evs := e.eventMessages("Deployment"); !slices.Contains(evs, wantEvent) {
				t.Fatalf("events %q, want %q", evs, wantEvent)
			}

			e.eventually(func() bool {
				_, _, f := pw.result()
				pw.mu.Lock()
				defer pw.mu.Unlock()
				return len(pw.pods) == int(tt.replicas) && f == ""
			}, func() string { return "the pod watch never caught up" })
			pw.arm(nil)
			e.updateDeployment("web", func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2.wasm" })
			e.rollOut("web", tt.replicas)

			maxPods, minReady, _ := pw.result()
			if maxPods > tt.wantMax || minReady < tt.wantMinReady {
				t.Fatalf("during the rollout: up to %d pods (limit %d), down to %d ready (limit %d)", maxPods, tt.wantMax, minReady, tt.wantMinReady)
			}
			t.Logf("up to %d pods (limit %d), down to %d ready (limit %d)", maxPods, tt.wantMax, minReady, tt.wantMinReady)
			old, cur := e.replicaSetOf("v1.wasm"), e.replicaSetOf("v2.wasm")
			if *old.Spec.Replicas != 0 || *cur.Spec.Replicas != tt.replicas || cur.Annotations[RevisionAnnotation] != "2" {
				t.Fatalf("old %d, new %d revision %s", *old.Spec.Replicas, *cur.Spec.Replicas, cur.Annotations[RevisionAnnotation])
			}
			dep := e.deployment("web")
			if dep.Annotations[RevisionAnnotation] != "2" {
				t.Fatalf("deployment revision %q", dep.Annotations[RevisionAnnotation])
			}
			avail := getCondition(&dep.Status, api.DeploymentAvailable)
			prog := getCondition(&dep.Status, api.DeploymentProgressing)
			if avail == nil || avail.Status != api.ConditionTrue || avail.Reason != ReasonMinimumReplicasAvailable || avail.Message != "Deployment has minimum availability." {
				t.Fatalf("Available %+v", avail)
			}
			if prog.Status != api.ConditionTrue || prog.Message != fmt.Sprintf("ReplicaSet %q has successfully progressed.", cur.Name) {
				t.Fatalf("Progressing %+v", prog)
			}
		})
	}
}

// TestDeploymentRevisions: a template that becomes current again takes a
// new revision and keeps its old one in the history; old ReplicaSets past
// revisionHistoryLimit go.
func TestDeploymentRevisions(t *testing.T) {
	e := newDeploymentEnv(t)
	d := newDeployment("web", 2, "v1.wasm")
	d.Spec.RevisionHistoryLimit = int32p(2)
	e.createDeployment(d)
	e.rollOut("web", 2)
	for _, image := range []string{"v2.wasm", "v1.wasm"} {
		e.updateDeployment("web", func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image })
		e.rollOut("web", 2)
	}
	v1 := e.replicaSetOf("v1.wasm")
	if v1.Annotations[RevisionAnnotation] != "3" || v1.Annotations[RevisionHistoryAnnotation] != "1" {
		t.Fatalf("v1 after undo: annotations %v", v1.Annotations)
	}
	if got := e.deployment("web").Annotations[RevisionAnnotation]; got != "3" {
		t.Fatalf("deployment revision %q", got)
	}
	if n := len(e.replicaSets()); n != 2 {
		t.Fatalf("%d ReplicaSets, want 2", n)
	}
	for _, image := range []string{"v3.wasm", "v4.wasm", "v5.wasm"} {
		e.updateDeployment("web", func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image })
		e.rollOut("web", 2)
	}
	e.eventually(func() bool { return len(e.replicaSets()) == 3 }, func() string {
		return fmt.Sprint(len(e.replicaSets()), " ReplicaSets, want the new one and 2 old")
	})
	var revs []string
	for _, rs := range e.replicaSets() {
		revs = append(revs, rs.Spec.Template.Spec.Containers[0].Image+"="+rs.Annotations[RevisionAnnotation])
	}
	slices.Sort(revs)
	if want := []string{"v3.wasm=4", "v4.wasm=5", "v5.wasm=6"}; !slices.Equal(revs, want) {
		t.Fatalf("ReplicaSets %v, want %v", revs, want)
	}
}

func TestDeploymentRecreate(t *testing.T) {
	e := newDeploymentEnv(t)
	pw := e.watchPods()
	d := newDeployment("web", 3, "v1.wasm")
	d.Spec.Strategy = api.DeploymentStrategy{Type: api.RecreateDeploymentStrategyType}
	e.createDeployment(d)
	e.rollOut("web", 3)
	pw.arm(func(pods map[string]*api.Pod) string {
		images := map[string]bool{}
		for _, p := range pods {
			images[p.Spec.Containers[0].Image] = true
		}
		if len(images) > 1 {
			return fmt.Sprintf("old and new pods at once: %v", images)
		}
		return ""
	})
	e.updateDeployment("web", func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2.wasm" })
	e.rollOut("web", 3)
	if _, _, failure := pw.result(); failure != "" {
		t.Fatal(failure)
	}
	old := e.replicaSetOf("v1.wasm")
	evs := e.eventMessages("Deployment")
	want := fmt.Sprintf("ScalingReplicaSet Scaled down replica set %s from 3 to 0", old.Name)
	if !slices.Contains(evs, want) {
		t.Fatalf("events %q, want %q", evs, want)
	}
}

func TestDeploymentPaused(t *testing.T) {
	e := newDeploymentEnv(t)
	// Every reason the Progressing condition takes, however briefly.
	w, err := e.store.Watch(e.ctx, resource(t, "deployments.apps"), "default", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	reasons := map[string]bool{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if d, ok := ev.Object.(*api.Deployment); ok {
				if c := getCondition(&d.Status, api.DeploymentProgressing); c != nil {
					mu.Lock()
					reasons[c.Reason+" "+c.Message] = true
					mu.Unlock()
				}
			}
		}
	}()
	e.createDeployment(newDeployment("web", 2, "v1.wasm"))
	e.rollOut("web", 2)
	e.updateDeployment("web", func(d *api.Deployment) { d.Spec.Paused = true })
	e.eventually(func() bool {
		c := getCondition(&e.deployment("web").Status, api.DeploymentProgressing)
		return c != nil && c.Status == api.ConditionUnknown && c.Reason == ReasonDeploymentPaused && c.Message == "Deployment is paused"
	}, func() string { return fmt.Sprintf("conditions %+v", e.deployment("web").Status.Conditions) })
	e.updateDeployment("web", func(d *api.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "v2.wasm"
		d.Spec.Replicas = int32p(4)
	})
	// Scaling applies while paused; the rollout waits.
	e.eventually(func() bool {
		e.readyPods(nil)
		d := e.deployment("web")
		return d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == 4
	}, func() string { return fmt.Sprintf("status %+v", e.deployment("web").Status) })
	e.consistently(func() bool { return len(e.replicaSets()) == 1 }, func() string { return "a paused Deployment rolled out" })

	e.updateDeployment("web", func(d *api.Deployment) { d.Spec.Paused = false })
	e.rollOut("web", 4)
	e.eventually(func() bool {
		mu.Lock()
		defer mu.Unlock()
		return reasons[ReasonDeploymentResumed+" Deployment is resumed"]
	}, func() string { return fmt.Sprintf("Progressing never said resumed: %v", reasons) })
	if e.replicaSetOf("v2.wasm") == nil || *e.replicaSetOf("v1.wasm").Spec.Replicas != 0 {
		t.Fatal("the resumed rollout did not finish")
	}
}

func TestDeploymentProgressDeadline(t *testing.T) {
	e := newDeploymentEnv(t)
	d := newDeployment("web", 4, "v1.wasm")
	d.Spec.ProgressDeadlineSeconds = int32p(30)
	e.createDeployment(d)
	e.rollOut("web", 4)
	e.updateDeployment("web", func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2.wasm" })
	// The new pods never become ready: the rollout stops at maxSurge and
	// maxUnavailable.
	e.eventually(func() bool {
		rs := e.replicaSetOf("v2.wasm")
		d := e.deployment("web")
		c := getCondition(&d.Status, api.DeploymentProgressing)
		return rs != nil && rs.Status.Replicas == 2 && d.Status.UpdatedReplicas == 2 && d.Status.Replicas == 5 && c != nil && c.Reason == ReasonReplicaSetUpdated
	}, func() string { return fmt.Sprintf("status %+v", e.deployment("web").Status) })
	e.clock.Advance(29 * time.Second)
	e.consistently(func() bool {
		return getCondition(&e.deployment("web").Status, api.DeploymentProgressing).Reason == ReasonReplicaSetUpdated
	}, func() string { return "timed out before the deadline" })
	e.eventually(func() bool {
		e.clock.Advance(time.Second)
		c := getCondition(&e.deployment("web").Status, api.DeploymentProgressing)
		return c.Reason == ReasonProgressDeadlineExceeded
	}, func() string { return fmt.Sprintf("conditions %+v", e.deployment("web").Status.Conditions) })
	c := getCondition(&e.deployment("web").Status, api.DeploymentProgressing)
	if want := fmt.Sprintf("ReplicaSet %q has timed out progressing.", e.replicaSetOf("v2.wasm").Name); c.Status != api.ConditionFalse || c.Message != want {
		t.Fatalf("condition %+v, want False %q", c, want)
	}
	if elapsed := c.LastUpdateTime.Sub(epoch); elapsed < 30*time.Second || elapsed > 40*time.Second {
		t.Fatalf("timed out %v after the start", elapsed)
	}
	// Progress after the deadline does not clear it until a new rollout.
	e.readyPods(nil)
	e.updateDeployment("web", func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v3.wasm" })
	e.rollOut("web", 4)
}

func TestDeploymentScaleAndProportionalScaling(t *testing.T) {
	e := newDeploymentEnv(t)
	d := newDeployment("web", 10, "v1.wasm")
	d.Spec.Strategy = rollingUpdate(api.FromInt32(3), api.FromInt32(2))
	e.createDeployment(d)
	e.rollOut("web", 10)
	res := resource(t, "deployments.apps")
	s, err := e.reg.GetScale(e.ctx, res, "default", "web")
	if err != nil || s.Spec.Replicas != 10 || s.Status.Replicas != 10 || s.Status.Selector != "app=web" {
		t.Fatalf("scale %+v, %v", s, err)
	}

	// A rollout to pods that never become ready stops at old 8, new 5.
	e.updateDeployment("web", func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2.wasm" })
	onlyV1 := func(image string) bool { return image == "v1.wasm" }
	sizes := func() (int32, int32) {
		o, n := e.replicaSetOf("v1.wasm"), e.replicaSetOf("v2.wasm")
		if o == nil || n == nil {
			return -1, -1
		}
		return *o.Spec.Replicas, *n.Spec.Replicas
	}
	e.eventually(func() bool {
		e.readyPods(onlyV1)
		o, n := sizes()
		return o == 8 && n == 5 && len(e.pods()) == 13
	}, func() string { o, n := sizes(); return fmt.Sprintf("old %d new %d", o, n) })

	// Scaling to 15 shares the 5 more (18 allowed) by size: 3 and 2.
	s.Spec.Replicas = 15
	s.ResourceVersion = ""
	if _, err := e.reg.UpdateScale(e.ctx, res, "default", "web", s); err != nil {
		t.Fatal(err)
	}
	e.eventually(func() bool { o, n := sizes(); return o == 11 && n == 7 }, func() string {
		o, n := sizes()
		return fmt.Sprintf("old %d new %d, want 11 and 7", o, n)
	})
	for _, want := range []string{
		fmt.Sprintf("ScalingReplicaSet Scaled up replica set %s from 8 to 11", e.replicaSetOf("v1.wasm").Name),
		fmt.Sprintf("ScalingReplicaSet Scaled up replica set %s from 5 to 7", e.replicaSetOf("v2.wasm").Name),
	} {
		e.eventually(func() bool { return slices.Contains(e.eventMessages("Deployment"), want) },
			func() string { return fmt.Sprintf("events %q lack %q", e.eventMessages("Deployment"), want) })
	}
	e.rollOut("web", 15)
}

func TestDeploymentAdoptsAndReleasesReplicaSets(t *testing.T) {
	e := newDeploymentEnv(t)
	orphan := newRS("orphan", 2, &api.LabelSelector{MatchLabels: web}, web)
	orphan.Labels = web
	orphan.Spec.Template.Spec.Containers[0].Image = "v0.wasm"
	orphanRS := e.create(orphan).(*api.ReplicaSet)
	d := e.createDeployment(newDeployment("web", 2, "v1.wasm"))
	e.rollOut("web", 2)
	o, _ := e.get("replicasets.apps", "orphan")
	rs := o.(*api.ReplicaSet)
	if ref := rs.ControllerRef(); ref == nil || ref.UID != d.UID || *rs.Spec.Replicas != 0 {
		t.Fatalf("orphan not adopted and scaled down: ref %+v replicas %d", rs.ControllerRef(), *rs.Spec.Replicas)
	}
	if rs.UID != orphanRS.UID {
		t.Fatal("the orphan was replaced")
	}
	// A ReplicaSet relabeled out of the selector is released.
	_, err := e.store.GuaranteedUpdate(e.ctx, resource(t, "replicasets.apps"), "default", "orphan", func(o api.Object) (api.Object, error) {
		o.(*api.ReplicaSet).Labels = map[string]string{"app": "other"}
		return o, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually(func() bool {
		o, _ := e.get("replicasets.apps", "orphan")
		return o.(*api.ReplicaSet).ControllerRef() == nil
	}, func() string { return "never released" })
}

func TestDeploymentDeletionCascades(t *testing.T) {
	e := newDeploymentEnv(t)
	e.createDeployment(newDeployment("web", 3, "v1.wasm"))
	e.rollOut("web", 3)
	if _, _, err := e.store.Delete(e.ctx, resource(t, "deployments.apps"), "default", "web", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(func() bool { return len(e.replicaSets()) == 0 && len(e.pods()) == 0 }, func() string {
		return fmt.Sprintf("%d ReplicaSets and %d pods left", len(e.replicaSets()), len(e.pods()))
	})
}

// TestNewRSNewReplicasCountsPodsNotYetDeleted: an old ReplicaSet just
// scaled from 3 to 2 still has 3 pods until its controller deleted one;
// the new one may not grow into that room yet.
func TestNewRSNewReplicasCountsPodsNotYetDeleted(t *testing.T) {
	d := newDeployment("web", 3, "v2.wasm")
	d.Spec.Strategy = rollingUpdate(api.FromInt32(1), api.FromInt32(0))
	rs := func(spec, status int32) *api.ReplicaSet {
		r := newRS("rs", spec, &api.LabelSelector{MatchLabels: web}, web)
		r.Status.Replicas = status
		return r
	}
	tests := []struct {
		name     string
		old, new *api.ReplicaSet
		want     int32
	}{
		{"old pods still there", rs(2, 3), rs(1, 1), 1},
		{"old pods gone", rs(2, 2), rs(1, 1), 2},
		{"new pods not yet made count their spec", rs(2, 2), rs(2, 0), 2},
		{"never past replicas", rs(0, 0), rs(2, 2), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newRSNewReplicas(d, []*api.ReplicaSet{tt.old, tt.new}, tt.new); got != tt.want {
				t.Fatalf("newRSNewReplicas = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestDeploymentRollingUpdateWaitsMinReadySeconds: a new pod counts as
// available minReadySeconds after it became Ready, and only then does an
// old pod go.
func TestDeploymentRollingUpdateWaitsMinReadySeconds(t *testing.T) {
	e := newDeploymentEnv(t)
	d := newDeployment("web", 2, "v1.wasm")
	d.Spec.MinReadySeconds = 10
	d.Spec.Strategy = rollingUpdate(api.FromInt32(1), api.FromInt32(0))
	e.createDeployment(d)
	e.eventually(func() bool {
		e.readyPods(nil)
		rs := e.replicaSetOf("v1.wasm")
		return rs != nil && rs.Spec.MinReadySeconds == 10 && rs.Status.ReadyReplicas == 2
	}, func() string { return "the first pods never ready" })
	e.clock.Advance(11 * time.Second)
	e.rollOut("web", 2)

	e.updateDeployment("web", func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2.wasm" })
	e.eventually(func() bool {
		e.readyPods(nil)
		rs := e.replicaSetOf("v2.wasm")
		return rs != nil && rs.Status.ReadyReplicas == 1
	}, func() string { return "the first new pod never ready" })
	sizes := func() string {
		return fmt.Sprintf("old %d new %d", *e.replicaSetOf("v1.wasm").Spec.Replicas, *e.replicaSetOf("v2.wasm").Spec.Replicas)
	}
	e.clock.Advance(9 * time.Second)
	e.consistently(func() bool { return sizes() == "old 2 new 1" }, func() string { return "before minReadySeconds: " + sizes() })
	e.clock.Advance(2 * time.Second)
	e.eventually(func() bool { return sizes() == "old 1 new 2" }, func() string { return "after minReadySeconds: " + sizes() })
}

// TestDeploymentHashCollision: a ReplicaSet of another template already
// has the name of the new one; the Deployment counts a collision and
// names its ReplicaSet with the next hash.
func TestDeploymentHashCollision(t *testing.T) {
	e := newDeploymentEnv(t)
	d := newDeployment("web", 1, "v1.wasm")
	defaulted := d.DeepCopy()
	api.Default(defaulted)
	taken := "web-" + ComputeHash(&defaulted.Spec.Template, nil)
	other := map[string]string{"app": "other"}
	e.create(newRS(taken, 0, &api.LabelSelector{MatchLabels: other}, other))
	e.createDeployment(d)
	e.rollOut("web", 1)
	one := int32(1)
	want := "web-" + ComputeHash(&defaulted.Spec.Template, &one)
	dep := e.deployment("web")
	if dep.Status.CollisionCount == nil || *dep.Status.CollisionCount != 1 {
		t.Fatalf("collisionCount %v, want 1", dep.Status.CollisionCount)
	}
	if rs := e.replicaSetOf("v1.wasm"); rs == nil || rs.Name != want {
		t.Fatalf("ReplicaSet %+v, want %s", rs, want)
	}
}
