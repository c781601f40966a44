package api

import (
	"encoding/json"
	"testing"
)

func TestDefaultPod(t *testing.T) {
	pod := &Pod{Spec: PodSpec{
		Volumes: []Volume{{Name: "scratch"}, {Name: "data", VolumeSource: VolumeSource{HostPath: &HostPathVolumeSource{Path: "/srv"}}}},
		Containers: []Container{{
			Name:           "web",
			Image:          "myweb.wasm",
			Ports:          []ContainerPort{{ContainerPort: 8080}},
			Resources:      ResourceRequirements{Limits: ResourceList{ResourceMemory: MustParseQuantity("64Mi")}},
			LivenessProbe:  &Probe{ProbeHandler: ProbeHandler{HTTPGet: &HTTPGetAction{Port: FromInt32(8080)}}},
			ReadinessProbe: &Probe{ProbeHandler: ProbeHandler{TCPSocket: &TCPSocketAction{Port: FromString("http")}}, PeriodSeconds: 2},
			StartupProbe:   &Probe{ProbeHandler: ProbeHandler{GRPC: &GRPCAction{Port: 9090}}},
			Env:            []EnvVar{{Name: "POD", ValueFrom: &EnvVarSource{FieldRef: &ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		}},
	}}
	Default(pod)
	got, _ := json.Marshal(pod)
	want := `{"kind":"Pod","apiVersion":"v1","metadata":{"creationTimestamp":null},"spec":{"volumes":[{"name":"scratch","emptyDir":{}},{"name":"data","hostPath":{"path":"/srv","type":""}}],` +
		`"containers":[{"name":"web","image":"myweb.wasm","ports":[{"containerPort":8080,"protocol":"TCP"}],` +
		`"env":[{"name":"POD","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}}],` +
		`"resources":{"limits":{"memory":"64Mi"},"requests":{"memory":"64Mi"}},` +
		`"livenessProbe":{"httpGet":{"path":"/","port":8080,"scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},` +
		`"readinessProbe":{"tcpSocket":{"port":"http"},"timeoutSeconds":1,"periodSeconds":2,"successThreshold":1,"failureThreshold":3},` +
		`"startupProbe":{"grpc":{"port":9090,"service":""},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},` +
		`"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],` +
		`"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler","enableServiceLinks":true},"status":{}}`
	if string(got) != want {
		t.Errorf("defaulted pod\n got %s\nwant %s", got, want)
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for _, tc := range []struct {
		image string
		want  PullPolicy
	}{
		{"myweb.wasm", PullIfNotPresent},
		{"/opt/modules/myweb.wasm", PullIfNotPresent},
		{"file:///opt/modules/myweb.wasm", PullIfNotPresent},
		{"https://example.com/myweb.wasm", PullAlways},
		{"https://example.com/myweb.wasm@sha256:0123", PullIfNotPresent},
		{"HTTP://example.com/m.wasm", PullAlways},
		{"registry/myweb:latest", PullAlways},
	} {
		if got := defaultPullPolicy(tc.image); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.image, got, tc.want)
		}
	}
}

func TestDefaultControllers(t *testing.T) {
	labels := map[string]string{"app": "web"}
	rc := &ReplicationController{Spec: ReplicationControllerSpec{Template: &PodTemplateSpec{ObjectMeta: ObjectMeta{Labels: labels}}}}
	Default(rc)
	if *rc.Spec.Replicas != 1 || rc.Spec.Selector["app"] != "web" || rc.Labels["app"] != "web" {
		t.Errorf("rc defaults: replicas %d selector %v labels %v", *rc.Spec.Replicas, rc.Spec.Selector, rc.Labels)
	}
	if rc.Spec.Template.Spec.RestartPolicy != RestartPolicyAlways {
		t.Errorf("rc template restartPolicy %q", rc.Spec.Template.Spec.RestartPolicy)
	}
	// A set selector and set labels stay.
	rc = &ReplicationController{ObjectMeta: ObjectMeta{Labels: map[string]string{"x": "y"}},
		Spec: ReplicationControllerSpec{Replicas: ptrTo(int32(0)), Selector: map[string]string{"a": "b"},
			Template: &PodTemplateSpec{ObjectMeta: ObjectMeta{Labels: labels}}}}
	Default(rc)
	if *rc.Spec.Replicas != 0 || rc.Spec.Selector["a"] != "b" || rc.Labels["x"] != "y" || len(rc.Labels) != 1 {
		t.Errorf("rc defaults overwrote: %+v", rc)
	}
	// apps/v1 defaults only replicas: its labels are not taken from the template.
	rs := &ReplicaSet{Spec: ReplicaSetSpec{Template: PodTemplateSpec{ObjectMeta: ObjectMeta{Labels: labels}}}}
	Default(rs)
	if *rs.Spec.Replicas != 1 || rs.Labels != nil || rs.Spec.Template.Spec.SchedulerName != DefaultSchedulerName {
		t.Errorf("rs defaults: %+v", rs)
	}
	if rs.Kind != "ReplicaSet" || rs.APIVersion != "apps/v1" {
		t.Errorf("rs type meta %+v", rs.TypeMeta)
	}
}

func TestDefaultNamespace(t *testing.T) {
	ns := &Namespace{ObjectMeta: ObjectMeta{Name: "team"}}
	Default(ns)
	if ns.Labels[NamespaceNameLabel] != "team" || ns.Status.Phase != NamespaceActive {
		t.Errorf("namespace defaults: %+v", ns)
	}
}
