package registry

import (
	"encoding/json"
	"fmt"

	"github.com/wasmlet/wasmlet/api"
)

// MaxObjectBytes is the largest object the registry writes, measured in
// its JSON encoding: etcd's default request limit (1.5 MiB), which is what
// bounds every object of a Kubernetes cluster. The node keeps every object
// in memory while it works on it, and lists hold many: one client must not
// be able to store an object that costs the node more than this to read.
const MaxObjectBytes = 3 << 19

// maxPatchedBytes bounds the result of a patch before it is decoded: twice
// an object, as kube-apiserver allows a request body twice etcd's limit.
// A larger result is refused without building it as a Go value.
const maxPatchedBytes = 2 * MaxObjectBytes

// objectTooLarge is the answer to a write of n bytes over the limit:
// 413, as Kubernetes answers a request body over its own limit.
func objectTooLarge(n int) error {
	return api.NewRequestEntityTooLarge(fmt.Sprintf(
		"Request entity too large: the object is %d bytes, more than the %d bytes an object may have", n, MaxObjectBytes))
}

// checkObjectSize refuses obj when its JSON encoding is over
// MaxObjectBytes. Every write of the registry (create, update, status,
// patch, scale) runs it on the object it is about to store.
func checkObjectSize(obj api.Object) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return api.NewInternalError(fmt.Errorf("encoding %q: %w", obj.GetObjectMeta().Name, err))
	}
	if len(b) > MaxObjectBytes {
		return objectTooLarge(len(b))
	}
	return nil
}
