package api

// defaultSecret gives a Secret without a type the type Opaque, as
// SetDefaults_Secret does.
func defaultSecret(s *Secret) {
	if s.Type == "" {
		s.Type = SecretTypeOpaque
	}
}

// MergeStringData moves a Secret's stringData into its data, a value of
// stringData replacing the one of data under the same key, and clears it:
// stringData is write-only, as Kubernetes' conversion of a v1 Secret makes
// it. The API server calls it before defaulting a Secret it is given.
func MergeStringData(s *Secret) {
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}
