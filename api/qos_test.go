package api

import "testing"

func TestComputePodQOS(t *testing.T) {
	q := MustParseQuantity
	res := func(req, lim ResourceList) ResourceRequirements {
		return ResourceRequirements{Requests: req, Limits: lim}
	}
	c := func(r ResourceRequirements) Container { return Container{Name: "c", Image: "m.wasm", Resources: r} }
	both := ResourceList{ResourceCPU: q("100m"), ResourceMemory: q("64Mi")}
	tests := []struct {
		name       string
		init, main []Container
		want       PodQOSClass
	}{
		{"nothing requested", nil, []Container{c(res(nil, nil))}, PodQOSBestEffort},
		{"no containers", nil, nil, PodQOSBestEffort},
		{"only other resources", nil, []Container{c(res(
			ResourceList{"ephemeral-storage": q("1Gi")}, ResourceList{"example.com/gpu": q("1")}))}, PodQOSBestEffort},
		{"zero quantities count as unset", nil, []Container{c(res(
			ResourceList{ResourceCPU: q("0")}, ResourceList{ResourceMemory: q("0")}))}, PodQOSBestEffort},
		{"limits only: requests default to them", nil, []Container{c(res(nil, both))}, PodQOSGuaranteed},
		{"requests equal to limits", nil, []Container{c(res(both, both))}, PodQOSGuaranteed},
		{"equal in another unit", nil, []Container{c(res(
			ResourceList{ResourceCPU: q("0.1"), ResourceMemory: q("67108864")}, both))}, PodQOSGuaranteed},
		{"request below limit", nil, []Container{c(res(
			ResourceList{ResourceCPU: q("50m")}, both))}, PodQOSBurstable},
		{"memory limit only", nil, []Container{c(res(nil, ResourceList{ResourceMemory: q("64Mi")}))}, PodQOSBurstable},
		{"cpu request only", nil, []Container{c(res(ResourceList{ResourceCPU: q("1")}, nil))}, PodQOSBurstable},
		{"one container of two limited", nil, []Container{c(res(nil, both)), c(res(nil, nil))}, PodQOSBurstable},
		{"every container limited", nil, []Container{c(res(nil, both)), c(res(both, both))}, PodQOSGuaranteed},
		{"init container limited, main not", []Container{c(res(nil, both))}, []Container{c(res(nil, nil))}, PodQOSBurstable},
		{"init container requests, main nothing", []Container{c(res(ResourceList{ResourceMemory: q("1Mi")}, nil))}, []Container{c(res(nil, nil))}, PodQOSBurstable},
		{"init container unlimited, main limited", []Container{c(res(nil, nil))}, []Container{c(res(nil, both))}, PodQOSBurstable},
		{"init and main limited", []Container{c(res(nil, both))}, []Container{c(res(nil, both))}, PodQOSGuaranteed},
		// Kubernetes compares the sums over the containers, not each
		// container: these add up to 300m requested and limited.
		{"sums equal though containers differ", nil, []Container{
			c(res(ResourceList{ResourceCPU: q("100m")}, ResourceList{ResourceCPU: q("200m"), ResourceMemory: q("1Mi")})),
			c(res(ResourceList{ResourceCPU: q("200m")}, ResourceList{ResourceCPU: q("100m"), ResourceMemory: q("1Mi")})),
		}, PodQOSGuaranteed},
		{"cpu limited, memory requested only", nil, []Container{c(res(
			ResourceList{ResourceMemory: q("1Mi")}, ResourceList{ResourceCPU: q("1")}))}, PodQOSBurstable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := &PodSpec{InitContainers: tc.init, Containers: tc.main}
			if got := ComputePodQOS(spec); got != tc.want {
				t.Errorf("ComputePodQOS = %s, want %s", got, tc.want)
			}
			pod := &Pod{Spec: *spec}
			Default(pod)
			if got := ComputePodQOS(&pod.Spec); got != tc.want {
				t.Errorf("after defaulting: ComputePodQOS = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestGetPodQOS(t *testing.T) {
	pod := &Pod{Spec: PodSpec{Containers: []Container{{Name: "c", Image: "m.wasm"}}}}
	if got := GetPodQOS(pod); got != PodQOSBestEffort {
		t.Errorf("computed: %s", got)
	}
	pod.Status.QOSClass = PodQOSGuaranteed
	if got := GetPodQOS(pod); got != PodQOSGuaranteed {
		t.Errorf("stored: %s, want the stored Guaranteed", got)
	}
}

// TestQOSClassImmutable: a status update cannot change the class a pod was
// created with.
func TestQOSClassImmutable(t *testing.T) {
	old := &Pod{
		TypeMeta:   TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: ObjectMeta{Name: "p", Namespace: "default", ResourceVersion: "1"},
		Spec:       PodSpec{Containers: []Container{{Name: "c", Image: "m.wasm"}}},
		Status:     PodStatus{Phase: PodPending, QOSClass: PodQOSBestEffort},
	}
	Default(old)
	next := old.DeepCopyObject().(*Pod)
	next.Status.QOSClass = PodQOSGuaranteed
	errs := ValidateUpdate(next, old)
	if len(errs) != 1 || errs[0].Field != "status.qosClass" {
		t.Fatalf("errors %v, want one on status.qosClass", errs)
	}
	next.Status.QOSClass = PodQOSBestEffort
	if errs := ValidateUpdate(next, old); len(errs) > 0 {
		t.Fatalf("unchanged class: %v", errs)
	}
	// A pod stored before the class was set gets it.
	old.Status.QOSClass = ""
	if errs := ValidateUpdate(next, old); len(errs) > 0 {
		t.Fatalf("class set on a pod without one: %v", errs)
	}
}
