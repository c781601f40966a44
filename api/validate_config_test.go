package api

import (
	"strings"
	"testing"
)

const configKeyMsg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"

func errorStrings(errs ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestValidateConfigMapAndSecret(t *testing.T) {
	meta := ObjectMeta{Name: "web-config", Namespace: "default"}
	big := strings.Repeat("x", MaxSecretSize)
	for _, tc := range []struct {
		name string
		obj  Object
		want []string
	}{
		{"valid configmap", &ConfigMap{ObjectMeta: meta, Data: map[string]string{"GREETING": "Hi", "index.html": "<p>"}, BinaryData: map[string][]byte{"logo.png": {1}}}, nil},
		{"bad keys", &ConfigMap{ObjectMeta: meta, Data: map[string]string{"a/b": "", ".": "", "..x": "", strings.Repeat("k", 254): ""}}, []string{
			`data[.]: Invalid value: ".": must not be '.'`,
			`data[..x]: Invalid value: "..x": must not start with '..'`,
			`data[a/b]: Invalid value: "a/b": ` + configKeyMsg,
			`data[` + strings.Repeat("k", 254) + `]: Invalid value: "` + strings.Repeat("k", 254) + `": must be no more than 253 characters`,
		}},
		{"empty key", &ConfigMap{ObjectMeta: meta, BinaryData: map[string][]byte{"": nil}}, []string{`binaryData[]: Invalid value: "": ` + configKeyMsg}},
		{"key in both", &ConfigMap{ObjectMeta: meta, Data: map[string]string{"k": "v"}, BinaryData: map[string][]byte{"k": {1}}}, []string{
			`data[k]: Invalid value: "k": duplicate of key present in binaryData`}},
		{"configmap at the limit", &ConfigMap{ObjectMeta: meta, Data: map[string]string{"k": big}}, nil},
		{"configmap over the limit", &ConfigMap{ObjectMeta: meta, Data: map[string]string{"k": big}, BinaryData: map[string][]byte{"b": {1}}}, []string{
			"[]: Too long: must have at most 1048576 bytes"}},
		{"secret over the limit", &Secret{ObjectMeta: meta, Type: SecretTypeOpaque, Data: map[string][]byte{"k": []byte(big + "x")}}, []string{
			"data: Too long: must have at most 1048576 bytes"}},
		{"secret bad key", &Secret{ObjectMeta: meta, Type: SecretTypeOpaque, Data: map[string][]byte{"..": nil}}, []string{`data[..]: Invalid value: "..": must not be '..'`}},
		{"dockerconfigjson without its key", &Secret{ObjectMeta: meta, Type: SecretTypeDockerConfigJSON}, []string{"data[.dockerconfigjson]: Required value"}},
		{"dockerconfigjson not JSON", &Secret{ObjectMeta: meta, Type: SecretTypeDockerConfigJSON, Data: map[string][]byte{".dockerconfigjson": []byte("{")}}, []string{
			`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input`}},
		{"dockerconfigjson", &Secret{ObjectMeta: meta, Type: SecretTypeDockerConfigJSON, Data: map[string][]byte{".dockerconfigjson": []byte(`{"auths":{}}`)}}, nil},
		{"dockercfg without its key", &Secret{ObjectMeta: meta, Type: SecretTypeDockercfg}, []string{"data[.dockercfg]: Required value"}},
		{"tls without keys", &Secret{ObjectMeta: meta, Type: SecretTypeTLS}, []string{"data[tls.crt]: Required value", "data[tls.key]: Required value"}},
		{"basic-auth without either", &Secret{ObjectMeta: meta, Type: SecretTypeBasicAuth}, []string{"data[username]: Required value", "data[password]: Required value"}},
		{"basic-auth with an empty password only", &Secret{ObjectMeta: meta, Type: SecretTypeBasicAuth, Data: map[string][]byte{"password": {}}}, nil},
		{"ssh-auth with an empty key", &Secret{ObjectMeta: meta, Type: SecretTypeSSHAuth, Data: map[string][]byte{"ssh-privatekey": {}}}, []string{"data[ssh-privatekey]: Required value"}},
		{"a type of the user's", &Secret{ObjectMeta: meta, Type: "example.com/mine"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorStrings(Validate(tc.obj))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestValidateConfigUpdate(t *testing.T) {
	yes, no := true, false
	meta := ObjectMeta{Name: "c", Namespace: "default", UID: "u"}
	cm := func(imm *bool, v string) *ConfigMap {
		return &ConfigMap{ObjectMeta: meta, Immutable: imm, Data: map[string]string{"k": v}}
	}
	sec := func(imm *bool, typ SecretType, v string) *Secret {
		return &Secret{ObjectMeta: meta, Immutable: imm, Type: typ, Data: map[string][]byte{"k": []byte(v)}}
	}
	for _, tc := range []struct {
		name     string
		new, old Object
		want     []string
	}{
		{"mutable configmap changes", cm(nil, "b"), cm(nil, "a"), nil},
		{"configmap made immutable", cm(&yes, "a"), cm(nil, "a"), nil},
		{"immutable configmap kept", cm(&yes, "a"), cm(&yes, "a"), nil},
		{"immutable configmap changed", cm(&yes, "b"), cm(&yes, "a"), []string{"data: Forbidden: field is immutable when `immutable` is set"}},
		{"immutable configmap unset", cm(&no, "b"), cm(&yes, "a"), []string{
			"immutable: Forbidden: field is immutable when `immutable` is set",
			"data: Forbidden: field is immutable when `immutable` is set"}},
		{"immutable configmap binaryData", &ConfigMap{ObjectMeta: meta, Immutable: &yes, BinaryData: map[string][]byte{"b": {1}}}, cm(&yes, "a"), []string{
			"data: Forbidden: field is immutable when `immutable` is set",
			"binaryData: Forbidden: field is immutable when `immutable` is set"}},
		{"secret type changed", sec(nil, "x.io/b", "a"), sec(nil, "x.io/a", "a"), []string{`type: Invalid value: "x.io/b": field is immutable`}},
		{"immutable secret changed", sec(nil, SecretTypeOpaque, "b"), sec(&yes, SecretTypeOpaque, "a"), []string{
			"immutable: Forbidden: field is immutable when `immutable` is set",
			"data: Forbidden: field is immutable when `immutable` is set"}},
		{"immutable secret kept", sec(&yes, SecretTypeOpaque, "a"), sec(&yes, SecretTypeOpaque, "a"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorStrings(ValidateUpdate(tc.new, tc.old))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestSecretDefaultsAndStringData(t *testing.T) {
	s := &Secret{Data: map[string][]byte{"a": []byte("1"), "b": []byte("2")}, StringData: map[string]string{"b": "two", "c": "3"}}
	MergeStringData(s)
	Default(s)
	if s.Type != SecretTypeOpaque || s.StringData != nil {
		t.Fatalf("type %q, stringData %v", s.Type, s.StringData)
	}
	if got := string(s.Data["a"]) + string(s.Data["b"]) + string(s.Data["c"]); got != "1two3" {
		t.Fatalf("data %q", got)
	}
	tls := &Secret{Type: SecretTypeTLS}
	Default(tls)
	if tls.Type != SecretTypeTLS {
		t.Fatalf("type %q", tls.Type)
	}
}
