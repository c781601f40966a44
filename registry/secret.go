package registry

import "github.com/wasmlet/wasmlet/api"

// mergeStringData merges a Secret's write-only stringData into its data
// before it is defaulted and validated, on create and on update (patches
// included), as the conversion of a v1 Secret does in Kubernetes: the
// store never holds stringData and no read returns it.
func mergeStringData(obj api.Object) {
	if s, ok := obj.(*api.Secret); ok {
		api.MergeStringData(s)
	}
}
