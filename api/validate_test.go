package api

import (
	"strings"
	"testing"
)

func validPod() *Pod {
	return &Pod{
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: PodSpec{
			Volumes: []Volume{{Name: "scratch"}},
			Containers: []Container{{
				Name:         "web",
				Image:        "myweb.wasm",
				Ports:        []ContainerPort{{Name: "http", ContainerPort: 8080}},
				VolumeMounts: []VolumeMount{{Name: "scratch", MountPath: "/scratch"}},
			}},
		},
	}
}

func validReplicaSet() *ReplicaSet {
	p := validPod()
	return &ReplicaSet{
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"},
		Spec: ReplicaSetSpec{
			Selector: &LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: PodTemplateSpec{ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: p.Spec},
		},
	}
}

func validReplicationController() *ReplicationController {
	p := validPod()
	return &ReplicationController{
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"},
		Spec: ReplicationControllerSpec{
			Selector: map[string]string{"app": "web"},
			Template: &PodTemplateSpec{ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: p.Spec},
		},
	}
}

const (
	subdomainMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
	labelMsg     = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
	labelValMsg  = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
	nameKeyMsg   = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  func() Object
		want []string
	}{
		{"valid pod", func() Object { return validPod() }, nil},
		{"valid replicaset", func() Object { return validReplicaSet() }, nil},
		{"valid replicationcontroller", func() Object { return validReplicationController() }, nil},
		{"valid namespace", func() Object { return &Namespace{ObjectMeta: ObjectMeta{Name: "team-a"}} }, nil},
		{"pod name", func() Object { p := validPod(); p.Name = "My_Pod"; return p }, []string{
			`metadata.name: Invalid value: "My_Pod": ` + subdomainMsg}},
		{"pod without name", func() Object { p := validPod(); p.Name = ""; return p }, []string{
			`metadata.name: Required value: name or generateName is required`}},
		{"generateName with a dash", func() Object { p := validPod(); p.Name, p.GenerateName = "", "web-"; return p }, []string{
			`metadata.name: Required value: name or generateName is required`}},
		{"pod without namespace", func() Object { p := validPod(); p.Namespace = ""; return p }, []string{
			`metadata.namespace: Required value`}},
		{"namespace name is a label", func() Object { return &Namespace{ObjectMeta: ObjectMeta{Name: "a.b"}} }, []string{
			`metadata.name: Invalid value: "a.b": ` + labelMsg}},
		{"labels", func() Object {
			p := validPod()
			p.Labels = map[string]string{"a/b/c": "x", "ok": "-bad", "example.com/": "v"}
			return p
		}, []string{
			`metadata.labels: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
			`metadata.labels: Invalid value: "example.com/": name part must be non-empty`,
			`metadata.labels: Invalid value: "example.com/": ` + nameKeyMsg,
			`metadata.labels: Invalid value: "-bad": ` + labelValMsg}},
		{"long label value", func() Object { p := validPod(); p.Labels["app"] = strings.Repeat("a", 64); return p }, []string{
			`metadata.labels: Invalid value: "` + strings.Repeat("a", 64) + `": must be no more than 63 characters`}},
		{"annotations too big", func() Object {
			p := validPod()
			p.Annotations = map[string]string{"big": strings.Repeat("x", 256*1024)}
			return p
		}, []string{`metadata.annotations: Too long: must have at most 262144 bytes`}},
		{"containers", func() Object {
			p := validPod()
			c := p.Spec.Containers[0]
			c.Image = ""
			c.Ports = []ContainerPort{{Name: "http", ContainerPort: 0}, {Name: "http", ContainerPort: 70000}, {Name: "Web--1", ContainerPort: 80}}
			p.Spec.Containers = append(p.Spec.Containers, c)
			return p
		}, []string{
			`spec.containers[1].name: Duplicate value: "web"`,
			`spec.containers[1].image: Required value`,
			`spec.containers[1].ports[0].containerPort: Required value`,
			`spec.containers[1].ports[1].name: Duplicate value: "http"`,
			`spec.containers[1].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`,
			`spec.containers[1].ports[2].name: Invalid value: "Web--1": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
			`spec.containers[1].ports[2].name: Invalid value: "Web--1": must not contain consecutive hyphens`}},
		{"no containers", func() Object { p := validPod(); p.Spec.Containers = nil; return p }, []string{
			`spec.containers: Required value`}},
		{"volumes and mounts", func() Object {
			p := validPod()
			p.Spec.Volumes = append(p.Spec.Volumes, Volume{Name: "scratch"}, Volume{Name: "both", VolumeSource: VolumeSource{HostPath: &HostPathVolumeSource{Path: "/x"}, EmptyDir: &EmptyDirVolumeSource{}}})
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts,
				VolumeMount{Name: "nope", MountPath: "/scratch"}, VolumeMount{Name: "scratch", MountPath: "/b", SubPath: "../etc"})
			return p
		}, []string{
			`spec.volumes[1].name: Duplicate value: "scratch"`,
			`spec.volumes[2].emptyDir: Forbidden: may not specify more than 1 volume type`,
			`spec.containers[0].volumeMounts[1].name: Not found: "nope"`,
			`spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/scratch": must be unique`,
			`spec.containers[0].volumeMounts[2].subPath: Invalid value: "../etc": must not contain '..'`}},
		{"probes", func() Object {
			p := validPod()
			c := &p.Spec.Containers[0]
			c.LivenessProbe = &Probe{SuccessThreshold: 2, ProbeHandler: ProbeHandler{Exec: &ExecAction{Command: []string{"x"}}, TCPSocket: &TCPSocketAction{Port: FromInt32(80)}}}
			c.ReadinessProbe = &Probe{}
			c.StartupProbe = &Probe{ProbeHandler: ProbeHandler{HTTPGet: &HTTPGetAction{Port: FromString("no_such"), Scheme: "FTP"}}, FailureThreshold: -1}
			return p
		}, []string{
			`spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type`,
			`spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1`,
			`spec.containers[0].readinessProbe: Required value: must specify a handler type`,
			`spec.containers[0].startupProbe.httpGet.port: Invalid value: "no_such": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
			`spec.containers[0].startupProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"`,
			`spec.containers[0].startupProbe.failureThreshold: Invalid value: -1: must be greater than or equal to 0`}},
		{"restartPolicy", func() Object { p := validPod(); p.Spec.RestartPolicy = "Sometimes"; return p }, []string{
			`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`}},
		{"memory limit below request", func() Object {
			p := validPod()
			p.Spec.Containers[0].Resources = ResourceRequirements{
				Limits:   ResourceList{ResourceMemory: MustParseQuantity("64Mi"), "gpu": MustParseQuantity("1")},
				Requests: ResourceList{ResourceMemory: MustParseQuantity("128Mi")},
			}
			return p
		}, []string{
			`spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers`,
			`spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers`,
			`spec.containers[0].resources.requests: Invalid value: "128Mi": must be less than or equal to memory limit of 64Mi`}},
		{"negative memory", func() Object {
			p := validPod()
			p.Spec.Containers[0].Resources.Limits = ResourceList{ResourceMemory: MustParseQuantity("-1Mi")}
			return p
		}, []string{
			`spec.containers[0].resources.limits[memory]: Invalid value: "-1Mi": must be greater than or equal to 0`,
			`spec.containers[0].resources.requests[memory]: Invalid value: "-1Mi": must be greater than or equal to 0`}},
		{"init container with probe", func() Object {
			p := validPod()
			p.Spec.InitContainers = []Container{{Name: "init", Image: "init.wasm", ReadinessProbe: &Probe{}},
				{Name: "side", Image: "side.wasm", RestartPolicy: ptrTo(ContainerRestartPolicy("Never"))}}
			p.Spec.Containers[0].RestartPolicy = ptrTo(ContainerRestartPolicyAlways)
			return p
		}, []string{
			`spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always`,
			`spec.initContainers[1].restartPolicy: Unsupported value: "Never": supported values: "Always"`,
			`spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers`}},
		{"replicaset selector mismatch", func() Object {
			rs := validReplicaSet()
			rs.Spec.Template.Labels = map[string]string{"app": "other"}
			rs.Spec.Template.Spec.RestartPolicy = RestartPolicyOnFailure
			rs.Spec.Replicas = ptrTo(int32(-1))
			return rs
		}, []string{
			`spec.replicas: Invalid value: -1: must be greater than or equal to 0`,
			`spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: ` + "`selector` does not match template `labels`",
			`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`}},
		{"replicaset without selector", func() Object { rs := validReplicaSet(); rs.Spec.Selector = nil; return rs }, []string{
			`spec.selector: Required value`,
			`spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: ` + "`selector` does not match template `labels`"}},
		{"replicaset empty selector", func() Object { rs := validReplicaSet(); rs.Spec.Selector = &LabelSelector{}; return rs }, []string{
			`spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment`}},
		{"replicaset expressions", func() Object {
			rs := validReplicaSet()
			rs.Spec.Selector.MatchExpressions = []LabelSelectorRequirement{{Key: "tier", Operator: "In"}, {Key: "x", Operator: "Exists", Values: []string{"a"}}, {Key: "y", Operator: "Maybe"}}
			return rs
		}, []string{
			"spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
			"spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
			`spec.selector.matchExpressions[2].operator: Invalid value: "Maybe": not a valid selector operator`,
			`spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"tier", Operator:"In", Values:[]string(nil)}, v1.LabelSelectorRequirement{Key:"x", Operator:"Exists", Values:[]string{"a"}}, v1.LabelSelectorRequirement{Key:"y", Operator:"Maybe", Values:[]string(nil)}}}: invalid label selector`}},
		{"replicationcontroller", func() Object {
			rc := validReplicationController()
			rc.Spec.Template.Spec.ActiveDeadlineSeconds = ptrTo(int64(5))
			rc.Spec.Template.Labels = nil
			return rc
		}, []string{
			`spec.template.metadata.labels: Invalid value: map[string]string(nil): ` + "`selector` does not match template `labels`",
			`spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicationController is not Supported`}},
		{"replicationcontroller without template", func() Object {
			rc := validReplicationController()
			rc.Spec.Template = nil
			rc.Spec.Selector = nil
			return rc
		}, []string{`spec.selector: Required value`, `spec.template: Required value`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := tc.obj()
			Default(obj)
			errs := Validate(obj)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		old    func() Object
		update func(Object)
		want   []string
	}{
		{"pod image may change", func() Object { return validPod() }, func(o Object) { o.(*Pod).Spec.Containers[0].Image = "v2.wasm" }, nil},
		{"pod labels may change", func() Object { return validPod() }, func(o Object) { o.(*Pod).Labels["v"] = "2" }, nil},
		{"pod port may not change", func() Object { return validPod() }, func(o Object) { o.(*Pod).Spec.Containers[0].Ports[0].ContainerPort = 9090 }, []string{
			"spec: Forbidden: pod updates may not change fields other than " + podUpdatableFields + "\n  spec.containers[0].ports[0].containerPort: 8080 -> 9090"}},
		{"pod activeDeadlineSeconds may only shrink", func() Object { p := validPod(); p.Spec.ActiveDeadlineSeconds = ptrTo(int64(10)); return p },
			func(o Object) { o.(*Pod).Spec.ActiveDeadlineSeconds = ptrTo(int64(20)) }, []string{
				"spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"}},
		{"name is immutable", func() Object { return validPod() }, func(o Object) { o.(*Pod).Name = "other" }, []string{
			`metadata.name: Invalid value: "other": field is immutable`}},
		{"replicaset selector is immutable", func() Object { return validReplicaSet() }, func(o Object) {
			rs := o.(*ReplicaSet)
			rs.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"app": "web", "v": "2"}}
			rs.Spec.Template.Labels = map[string]string{"app": "web", "v": "2"}
		}, []string{
			`spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`}},
		{"replicaset replicas and template may change", func() Object { return validReplicaSet() }, func(o Object) {
			rs := o.(*ReplicaSet)
			rs.Spec.Replicas = ptrTo(int32(5))
			rs.Spec.Template.Spec.Containers[0].Ports = nil
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := tc.old()
			Default(old)
			n := old.DeepCopyObject()
			tc.update(n)
			Default(n)
			var got []string
			for _, e := range ValidateUpdate(n, old) {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}

func TestValidateLabelsUsedByLabelVerb(t *testing.T) {
	errs := ValidateLabels(map[string]string{"app": "a b"}, "metadata.labels")
	if len(errs) != 1 || errs[0].Error() != `metadata.labels: Invalid value: "a b": `+labelValMsg {
		t.Errorf("got %v", errs)
	}
}

func TestNewInvalidAggregates(t *testing.T) {
	p := validPod()
	p.Name = ""
	p.Spec.Containers[0].Image = ""
	Default(p)
	st := NewInvalid("", "Pod", "", Validate(p))
	want := `Pod "" is invalid: [metadata.name: Required value: name or generateName is required, spec.containers[0].image: Required value]`
	if st.Message != want || st.Code != 422 || len(st.Details.Causes) != 2 {
		t.Errorf("got %q (%d, %d causes)", st.Message, st.Code, len(st.Details.Causes))
	}
}
