package api

// DefaultVolumeMode is the mode of the files of a configMap or secret
// volume that names none (0644, Kubernetes' default).
const DefaultVolumeMode int32 = 0o644

// defaultConfigVolume gives a configMap or secret volume its defaultMode.
func defaultConfigVolume(v *Volume) {
	if s := v.Secret; s != nil && s.DefaultMode == nil {
		s.DefaultMode = ptrTo(DefaultVolumeMode)
	}
	if c := v.ConfigMap; c != nil && c.DefaultMode == nil {
		c.DefaultMode = ptrTo(DefaultVolumeMode)
	}
}
