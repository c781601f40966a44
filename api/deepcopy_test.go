package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// richPod sets a value in most fields a pod has, pointers and maps included.
func richPod() *Pod {
	p := validPod()
	Default(p)
	now := NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	p.UID = "u1"
	p.Annotations = map[string]string{"a": "b"}
	p.OwnerReferences = []OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "u0", Controller: ptrTo(true)}}
	p.DeletionTimestamp = &now
	c := &p.Spec.Containers[0]
	c.Command = []string{"a", "b"}
	c.Env = []EnvVar{{Name: "X", ValueFrom: &EnvVarSource{FieldRef: &ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	c.Resources.Limits = ResourceList{ResourceMemory: MustParseQuantity("64Mi")}
	c.LivenessProbe = &Probe{ProbeHandler: ProbeHandler{HTTPGet: &HTTPGetAction{Port: FromString("http"), HTTPHeaders: []HTTPHeader{{Name: "A", Value: "b"}}}}}
	c.Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 1}}}
	p.Spec.Volumes = append(p.Spec.Volumes, Volume{Name: "h", VolumeSource: VolumeSource{HostPath: &HostPathVolumeSource{Path: "/x", Type: ptrTo(HostPathDirectory)}}})
	p.Status = PodStatus{Phase: PodRunning, StartTime: &now, Conditions: []PodCondition{{Type: PodReady, Status: ConditionTrue, LastTransitionTime: now}},
		ContainerStatuses: []ContainerStatus{{Name: "web", Started: ptrTo(true), State: ContainerState{Running: &ContainerStateRunning{StartedAt: now}}}},
		PodIPs:            []PodIP{{IP: "127.0.0.2"}}}
	return p
}

func TestDeepCopySharesNothing(t *testing.T) {
	for _, obj := range []Object{richPod(), validReplicaSet(), validReplicationController(),
		&Node{Status: NodeStatus{Capacity: ResourceList{ResourcePods: MustParseQuantity("110")}, Addresses: []NodeAddress{{Type: NodeHostName, Address: "h"}}}},
		&Event{Series: &EventSeries{Count: 2}, Related: &ObjectReference{Name: "x"}}, &Namespace{Spec: NamespaceSpec{Finalizers: []FinalizerName{"kubernetes"}}},
		&Scale{ObjectMeta: ObjectMeta{Labels: map[string]string{"a": "b"}}}} {
		c := obj.DeepCopyObject()
		if !reflect.DeepEqual(c, obj) {
			t.Errorf("%T: copy differs", obj)
		}
		assertDisjoint(t, reflect.TypeOf(obj).String(), reflect.ValueOf(obj), reflect.ValueOf(c))
	}
}

// assertDisjoint fails when a and b share a pointer, a slice's array or a map.
func assertDisjoint(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return
		}
		// Go gives every zero-size allocation the same address.
		if a.Pointer() == b.Pointer() && a.Type().Elem().Size() > 0 {
			t.Errorf("%s: shared pointer", path)
			return
		}
		assertDisjoint(t, path, a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if a.Type().Field(i).IsExported() {
				assertDisjoint(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	case reflect.Slice:
		if a.Len() == 0 {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: shared slice", path)
		}
		for i := 0; i < a.Len(); i++ {
			assertDisjoint(t, path+"[]", a.Index(i), b.Index(i))
		}
	case reflect.Map:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: shared map", path)
		}
	}
}

func BenchmarkDeepCopyPod(b *testing.B) {
	p := richPod()
	b.Run("handwritten", func(b *testing.B) {
		for b.Loop() {
			p.DeepCopy()
		}
	})
	b.Run("reflection", func(b *testing.B) {
		for b.Loop() {
			deepCopy(p)
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			raw, _ := json.Marshal(p)
			var c Pod
			_ = json.Unmarshal(raw, &c)
		}
	})
}

// fill sets every exported field reachable from v: pointers, slices and maps
// get one element, strings and numbers a value.
func fill(v reflect.Value, depth int) {
	if depth > 12 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Struct:
		switch v.Type() {
		case reflect.TypeFor[Time]():
			v.Set(reflect.ValueOf(NewTime(time.Unix(1e9, 0))))
			return
		case reflect.TypeFor[Quantity]():
			v.Set(reflect.ValueOf(MustParseQuantity("1Ki")))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		k.SetString("k")
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("s")
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint8:
		v.SetUint(1)
	case reflect.Bool:
		v.SetBool(true)
	}
}

func TestDeepCopyPodCoversEveryField(t *testing.T) {
	var p Pod
	fill(reflect.ValueOf(&p).Elem(), 0)
	c := p.DeepCopy()
	if !reflect.DeepEqual(c, &p) {
		t.Error("copy differs")
	}
	assertDisjoint(t, "Pod", reflect.ValueOf(&p), reflect.ValueOf(c))
	if (*Pod)(nil).DeepCopy() != nil {
		t.Error("nil")
	}
}
