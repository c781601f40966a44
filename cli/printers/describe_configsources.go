package printers

import "github.com/wasmlet/wasmlet/api"

// The lines kubectl's describe prints for what a pod takes from
// ConfigMaps and Secrets: a container's envFrom and valueFrom keys, and
// configMap and secret volumes.

// envFrom is a container's "Environment Variables from" section, which
// kubectl prints only when there is one.
func (d *describer) envFrom(c *api.Container) {
	if len(c.EnvFrom) == 0 {
		return
	}
	d.line(2, "Environment Variables from:\n")
	for _, e := range c.EnvFrom {
		from, name, optional := "", "", false
		switch {
		case e.ConfigMapRef != nil:
			from, name, optional = "ConfigMap", e.ConfigMapRef.Name, setTrue(e.ConfigMapRef.Optional)
		case e.SecretRef != nil:
			from, name, optional = "Secret", e.SecretRef.Name, setTrue(e.SecretRef.Optional)
		}
		if e.Prefix == "" {
			d.line(3, "%s\t%s\tOptional: %t\n", name, from, optional)
		} else {
			d.line(3, "%s\t%s with prefix '%s'\tOptional: %t\n", name, from, e.Prefix, optional)
		}
	}
}

// envKeyRef is the Environment line of a variable set from a key of a
// Secret or a ConfigMap, whose value describe does not show.
func (d *describer) envKeyRef(e api.EnvVar) {
	switch f := e.ValueFrom; {
	case f.SecretKeyRef != nil:
		d.line(3, "%s:\t<set to the key '%s' in secret '%s'>\tOptional: %t\n", e.Name, f.SecretKeyRef.Key, f.SecretKeyRef.Name, setTrue(f.SecretKeyRef.Optional))
	case f.ConfigMapKeyRef != nil:
		d.line(3, "%s:\t<set to the key '%s' of config map '%s'>\tOptional: %t\n", e.Name, f.ConfigMapKeyRef.Key, f.ConfigMapKeyRef.Name, setTrue(f.ConfigMapKeyRef.Optional))
	}
}

// configVolume is the Volumes entry of a secret or configMap volume.
func (d *describer) configVolume(v api.Volume) {
	switch {
	case v.Secret != nil:
		d.line(2, "Type:\tSecret (a volume populated by a Secret)\n")
		d.line(2, "SecretName:\t%s\n", v.Secret.SecretName)
		d.line(2, "Optional:\t%t\n", setTrue(v.Secret.Optional))
	case v.ConfigMap != nil:
		d.line(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n")
		d.line(2, "Name:\t%s\n", v.ConfigMap.Name)
		d.line(2, "Optional:\t%t\n", setTrue(v.ConfigMap.Optional))
	}
}

func setTrue(b *bool) bool { return b != nil && *b }
