package api

import (
	"slices"
	"testing"
)

func TestValidateConfigSourcesOfAPod(t *testing.T) {
	mode := func(m int32) *int32 { return &m }
	for _, tc := range []struct {
		name   string
		change func(*Pod)
		want   []string
	}{
		{"configMap and secret volumes with items", func(p *Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes,
				Volume{Name: "cfg", VolumeSource: VolumeSource{ConfigMap: &ConfigMapVolumeSource{
					LocalObjectReference: LocalObjectReference{Name: "web-config"},
					Items:                []KeyToPath{{Key: "index.html", Path: "html/index.html", Mode: mode(0o400)}},
				}}},
				Volume{Name: "creds", VolumeSource: VolumeSource{Secret: &SecretVolumeSource{SecretName: "creds", DefaultMode: mode(0o400)}}})
		}, nil},
		{"two sources", func(p *Pod) {
			p.Spec.Volumes[0].EmptyDir = &EmptyDirVolumeSource{}
			p.Spec.Volumes[0].ConfigMap = &ConfigMapVolumeSource{LocalObjectReference: LocalObjectReference{Name: "x"}}
			p.Spec.Volumes[0].Secret = &SecretVolumeSource{SecretName: "x"}
		}, []string{
			"spec.volumes[0].secret: Forbidden: may not specify more than 1 volume type",
			"spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type",
		}},
		{"names, modes and paths", func(p *Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes,
				Volume{Name: "cfg", VolumeSource: VolumeSource{ConfigMap: &ConfigMapVolumeSource{
					DefaultMode: mode(0o1000),
					Items: []KeyToPath{
						{Key: "a", Path: "/etc/passwd"},
						{Key: "b", Path: "x/../../y"},
						{Key: "c", Path: "..data"},
						{Key: "", Path: "", Mode: mode(-1)},
					},
				}}},
				Volume{Name: "creds", VolumeSource: VolumeSource{Secret: &SecretVolumeSource{}}})
		}, []string{
			"spec.volumes[1].configMap.name: Required value",
			"spec.volumes[1].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
			`spec.volumes[1].configMap.items[0].path: Invalid value: "/etc/passwd": must be a relative path`,
			`spec.volumes[1].configMap.items[1].path: Invalid value: "x/../../y": must not contain '..'`,
			`spec.volumes[1].configMap.items[2].path: Invalid value: "..data": must not start with '..'`,
			"spec.volumes[1].configMap.items[3].key: Required value",
			"spec.volumes[1].configMap.items[3].path: Required value",
			"spec.volumes[1].configMap.items[3].mode: Invalid value: -1: must be a number between 0 and 0777 (octal), both inclusive",
			"spec.volumes[2].secret.secretName: Required value",
		}},
		{"env from a ConfigMap and a Secret", func(p *Pod) {
			c := &p.Spec.Containers[0]
			c.Env = []EnvVar{
				{Name: "GREETING", ValueFrom: &EnvVarSource{ConfigMapKeyRef: &ConfigMapKeySelector{LocalObjectReference: LocalObjectReference{Name: "web-config"}, Key: "greeting"}}},
				{Name: "PASSWORD", ValueFrom: &EnvVarSource{SecretKeyRef: &SecretKeySelector{LocalObjectReference: LocalObjectReference{Name: "creds"}, Key: "password"}}},
			}
			c.EnvFrom = []EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &ConfigMapEnvSource{LocalObjectReference: LocalObjectReference{Name: "web-config"}}}}
		}, nil},
		{"bad references", func(p *Pod) {
			c := &p.Spec.Containers[0]
			c.Env = []EnvVar{
				{Name: "A", ValueFrom: &EnvVarSource{ConfigMapKeyRef: &ConfigMapKeySelector{LocalObjectReference: LocalObjectReference{Name: "Web"}, Key: "a/b"}}},
				{Name: "B", ValueFrom: &EnvVarSource{SecretKeyRef: &SecretKeySelector{LocalObjectReference: LocalObjectReference{Name: "creds"}}}},
			}
			c.EnvFrom = []EnvFromSource{
				{Prefix: "A=", SecretRef: &SecretEnvSource{}},
				{},
			}
		}, []string{
			`spec.containers[0].env[0].valueFrom.configMapKeyRef.name: Invalid value: "Web": ` + subdomainMsg,
			`spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
			"spec.containers[0].env[1].valueFrom.secretKeyRef.key: Required value",
			`spec.containers[0].envFrom[0].prefix: Invalid value: "A=": a valid environment variable name must consist only of printable ASCII characters other than '='`,
			"spec.containers[0].envFrom[0].secretRef.name: Required value",
			`spec.containers[0].envFrom: Invalid value: "": must specify one of: ` + "`configMapRef` or `secretRef`",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			tc.change(p)
			Default(p)
			var got []string
			for _, e := range Validate(p) {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

func TestDefaultConfigVolumes(t *testing.T) {
	p := validPod()
	p.Spec.Volumes = append(p.Spec.Volumes,
		Volume{Name: "cfg", VolumeSource: VolumeSource{ConfigMap: &ConfigMapVolumeSource{LocalObjectReference: LocalObjectReference{Name: "c"}}}},
		Volume{Name: "creds", VolumeSource: VolumeSource{Secret: &SecretVolumeSource{SecretName: "s"}}})
	Default(p)
	cm, s := p.Spec.Volumes[1], p.Spec.Volumes[2]
	if cm.EmptyDir != nil || s.EmptyDir != nil {
		t.Errorf("a configMap or secret volume was given an emptyDir too: %+v %+v", cm, s)
	}
	if cm.ConfigMap.DefaultMode == nil || *cm.ConfigMap.DefaultMode != 0o644 || s.Secret.DefaultMode == nil || *s.Secret.DefaultMode != 0o644 {
		t.Errorf("defaultMode not 0644: %v %v", cm.ConfigMap.DefaultMode, s.Secret.DefaultMode)
	}
}
