package api

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
)

// Validation of ConfigMaps and Secrets with Kubernetes' rules and messages
// (ValidateConfigMap, ValidateSecret and their updates in
// pkg/apis/core/validation).

// MaxSecretSize bounds the bytes of a Secret's data, and of a ConfigMap's
// data and binaryData together (core.MaxSecretSize).
const MaxSecretSize = 1 << 20

// The keys a Secret of a type must hold.
const (
	DockerConfigKey      = ".dockercfg"
	DockerConfigJSONKey  = ".dockerconfigjson"
	BasicAuthUsernameKey = "username"
	BasicAuthPasswordKey = "password"
	SSHAuthPrivateKey    = "ssh-privatekey"
	TLSCertKey           = "tls.crt"
	TLSPrivateKeyKey     = "tls.key"
)

const configMapKeyFmt = `[-._a-zA-Z0-9]+`

var configMapKeyRe = regexp.MustCompile("^" + configMapKeyFmt + "$")

// IsConfigMapKey checks a key of a ConfigMap or Secret, which becomes a
// file name in a volume; it returns Kubernetes' messages, none when key is
// valid.
func IsConfigMapKey(key string) []string {
	var errs []string
	if len(key) > dns1123SubdomainMax {
		errs = append(errs, maxLenError(dns1123SubdomainMax))
	}
	if !configMapKeyRe.MatchString(key) {
		errs = append(errs, regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
			configMapKeyFmt, "key.name", "KEY_NAME", "key-name"))
	}
	switch {
	case key == ".":
		errs = append(errs, "must not be '.'")
	case key == "..":
		errs = append(errs, "must not be '..'")
	case strings.HasPrefix(key, ".."):
		errs = append(errs, "must not start with '..'")
	}
	return errs
}

func validateConfigMap(cm *ConfigMap) ErrorList {
	errs := validateObjectMeta(&cm.ObjectMeta, true, nameIsDNSSubdomain)
	total := 0
	for _, k := range sortedKeys(cm.Data) {
		for _, msg := range IsConfigMapKey(k) {
			errs = append(errs, Invalid("data["+k+"]", k, msg))
		}
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, Invalid("data["+k+"]", k, "duplicate of key present in binaryData"))
		}
		total += len(cm.Data[k])
	}
	for _, k := range sortedKeys(cm.BinaryData) {
		for _, msg := range IsConfigMapKey(k) {
			errs = append(errs, Invalid("binaryData["+k+"]", k, msg))
		}
		total += len(cm.BinaryData[k])
	}
	if total > MaxSecretSize {
		// Kubernetes names the whole object with an empty path, "[]".
		errs = append(errs, TooLong("[]", "", MaxSecretSize))
	}
	return errs
}

func validateConfigMapUpdate(n, o *ConfigMap) ErrorList {
	var errs ErrorList
	if o.Immutable != nil && *o.Immutable {
		if n.Immutable == nil || !*n.Immutable {
			errs = append(errs, Forbidden("immutable", "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(n.Data, o.Data) {
			errs = append(errs, Forbidden("data", "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(n.BinaryData, o.BinaryData) {
			errs = append(errs, Forbidden("binaryData", "field is immutable when `immutable` is set"))
		}
	}
	return errs
}

func validateSecret(s *Secret) ErrorList {
	errs := validateObjectMeta(&s.ObjectMeta, true, nameIsDNSSubdomain)
	total := 0
	for _, k := range sortedKeys(s.Data) {
		for _, msg := range IsConfigMapKey(k) {
			errs = append(errs, Invalid("data["+k+"]", k, msg))
		}
		total += len(s.Data[k])
	}
	if total > MaxSecretSize {
		errs = append(errs, TooLong("data", "", MaxSecretSize))
	}
	key := func(k string) string { return "data[" + k + "]" }
	switch s.Type {
	case SecretTypeDockercfg, SecretTypeDockerConfigJSON:
		k := DockerConfigKey
		if s.Type == SecretTypeDockerConfigJSON {
			k = DockerConfigJSONKey
		}
		b, ok := s.Data[k]
		if !ok {
			errs = append(errs, Required(key(k), ""))
			break
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			errs = append(errs, Invalid(key(k), "<secret contents redacted>", err.Error()))
		}
	case SecretTypeBasicAuth:
		_, user := s.Data[BasicAuthUsernameKey]
		_, password := s.Data[BasicAuthPasswordKey]
		if !user && !password {
			errs = append(errs, Required(key(BasicAuthUsernameKey), ""), Required(key(BasicAuthPasswordKey), ""))
		}
	case SecretTypeSSHAuth:
		if len(s.Data[SSHAuthPrivateKey]) == 0 {
			errs = append(errs, Required(key(SSHAuthPrivateKey), ""))
		}
	case SecretTypeTLS:
		for _, k := range []string{TLSCertKey, TLSPrivateKeyKey} {
			if _, ok := s.Data[k]; !ok {
				errs = append(errs, Required(key(k), ""))
			}
		}
	}
	return errs
}

func validateSecretUpdate(n, o *Secret) ErrorList {
	var errs ErrorList
	if n.Type != o.Type {
		errs = append(errs, Invalid("type", n.Type, "field is immutable"))
	}
	if o.Immutable != nil && *o.Immutable {
		if n.Immutable == nil || !*n.Immutable {
			errs = append(errs, Forbidden("immutable", "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(n.Data, o.Data) {
			errs = append(errs, Forbidden("data", "field is immutable when `immutable` is set"))
		}
	}
	return errs
}
