package api

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// The pod's side of ConfigMaps and Secrets: configMap and secret volumes,
// env valueFrom configMapKeyRef and secretKeyRef, and envFrom, checked with
// Kubernetes' rules and messages. The kinds themselves are checked
// elsewhere.

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

const (
	configKeyFmt    = `[-._a-zA-Z0-9]+`
	configKeyErrMsg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
)

var configKeyRe = regexp.MustCompile("^" + configKeyFmt + "$")

// IsEnvVarName returns why s cannot name an environment variable (none
// when it can), by the rule the API applies to env names, so that the node
// skips the same keys of an envFrom that the API would refuse as names.
func IsEnvVarName(s string) []string { return isEnvVarName(s) }

// configKeyErrors is why s cannot be a key of a ConfigMap or a Secret.
func configKeyErrors(s string) []string {
	var errs []string
	if len(s) > 253 {
		errs = append(errs, maxLenError(253))
	}
	if !configKeyRe.MatchString(s) {
		errs = append(errs, regexError(configKeyErrMsg, configKeyFmt, "key.name", "KEY_NAME", "key-name"))
	}
	switch {
	case s == ".":
		errs = append(errs, `must not be '.'`)
	case s == "..":
		errs = append(errs, `must not be '..'`)
	case strings.HasPrefix(s, ".."):
		errs = append(errs, `must not start with '..'`)
	}
	return errs
}

// validateConfigVolumes checks the configMap and secret sources of a
// volume at p, of which n sources were counted before; it returns the
// count with them. A second source is refused, as any other.
func validateConfigVolumes(v *VolumeSource, p string, n int, errs ErrorList) (int, ErrorList) {
	if s := v.Secret; s != nil {
		if n > 0 {
			errs = append(errs, Forbidden(p+".secret", "may not specify more than 1 volume type"))
		} else {
			n++
			if s.SecretName == "" {
				errs = append(errs, Required(p+".secret.secretName", ""))
			}
			errs = append(errs, validateProjection(s.DefaultMode, s.Items, p+".secret")...)
		}
	}
	if c := v.ConfigMap; c != nil {
		if n > 0 {
			errs = append(errs, Forbidden(p+".configMap", "may not specify more than 1 volume type"))
		} else {
			n++
			if c.Name == "" {
				errs = append(errs, Required(p+".configMap.name", ""))
			}
			errs = append(errs, validateProjection(c.DefaultMode, c.Items, p+".configMap")...)
		}
	}
	return n, errs
}

func validateProjection(defaultMode *int32, items []KeyToPath, p string) ErrorList {
	var errs ErrorList
	if m := defaultMode; m != nil && (*m < 0 || *m > 0o777) {
		errs = append(errs, Invalid(p+".defaultMode", *m, fileModeErrorMsg))
	}
	for i, kp := range items {
		ip := fmt.Sprintf("%s.items[%d]", p, i)
		if kp.Key == "" {
			errs = append(errs, Required(ip+".key", ""))
		}
		if kp.Path == "" {
			errs = append(errs, Required(ip+".path", ""))
		}
		errs = append(errs, validateLocalNonReservedPath(kp.Path, ip+".path")...)
		if m := kp.Mode; m != nil && (*m < 0 || *m > 0o777) {
			errs = append(errs, Invalid(ip+".mode", *m, fileModeErrorMsg))
		}
	}
	return errs
}

// validateLocalNonReservedPath refuses a path that could lead out of its
// volume or onto the names the node keeps in it (..data and the
// directories of each version): absolute, with a '..' element, or
// starting with "..".
func validateLocalNonReservedPath(p, field string) ErrorList {
	var errs ErrorList
	if path.IsAbs(p) {
		errs = append(errs, Invalid(field, p, "must be a relative path"))
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		errs = append(errs, Invalid(field, p, "must not contain '..'"))
	} else if strings.HasPrefix(p, "..") {
		errs = append(errs, Invalid(field, p, "must not start with '..'"))
	}
	return errs
}

// validateEnvKeyRefs checks the configMapKeyRef and secretKeyRef of a
// valueFrom at vp, adding them to the n sources counted before.
func validateEnvKeyRefs(from *EnvVarSource, vp string, n int, errs ErrorList) (int, ErrorList) {
	if r := from.ConfigMapKeyRef; r != nil {
		n++
		errs = append(errs, validateKeySelector(r.Name, r.Key, vp+".configMapKeyRef")...)
	}
	if r := from.SecretKeyRef; r != nil {
		n++
		errs = append(errs, validateKeySelector(r.Name, r.Key, vp+".secretKeyRef")...)
	}
	return n, errs
}

func validateKeySelector(name, key, p string) ErrorList {
	var errs ErrorList
	for _, msg := range IsDNS1123Subdomain(name) {
		errs = append(errs, Invalid(p+".name", name, msg))
	}
	if key == "" {
		errs = append(errs, Required(p+".key", ""))
	} else {
		for _, msg := range configKeyErrors(key) {
			errs = append(errs, Invalid(p+".key", key, msg))
		}
	}
	return errs
}

// validateEnvFrom checks a container's envFrom at p.
func validateEnvFrom(from []EnvFromSource, p string) ErrorList {
	var errs ErrorList
	for i, ef := range from {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if ef.Prefix != "" {
			for _, msg := range isEnvVarName(ef.Prefix) {
				errs = append(errs, Invalid(ip+".prefix", ef.Prefix, msg))
			}
		}
		n := 0
		if r := ef.ConfigMapRef; r != nil {
			n++
			errs = append(errs, validateEnvSourceName(r.Name, ip+".configMapRef.name")...)
		}
		if r := ef.SecretRef; r != nil {
			n++
			errs = append(errs, validateEnvSourceName(r.Name, ip+".secretRef.name")...)
		}
		switch {
		case n == 0:
			errs = append(errs, Invalid(p, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, Invalid(p, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func validateEnvSourceName(name, p string) ErrorList {
	if name == "" {
		return ErrorList{Required(p, "")}
	}
	var errs ErrorList
	for _, msg := range IsDNS1123Subdomain(name) {
		errs = append(errs, Invalid(p, name, msg))
	}
	return errs
}
