package apiserver

import (
	"net/http"
	"testing"
)

// FuzzProtobufToJSON: any body must give JSON or an error, never a panic.
func FuzzProtobufToJSON(f *testing.F) {
	f.Add([]byte("k8s\x00\x0a\x13\x0a\x02v1\x12\x09Namespace\x12\x08\x0a\x06\x0a\x04team"))
	f.Add([]byte("k8s\x00\x0a\x0d\x0a\x02v1\x12\x03Pod"))
	f.Add([]byte("k8s\x00\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = protobufToJSON(b)
	})
}

// FuzzAccept: any Accept header is read without a panic.
func FuzzAccept(f *testing.F) {
	f.Add("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	f.Add("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;q=0.9")
	f.Add("application/vnd.kubernetes.protobuf, */*")
	f.Fuzz(func(t *testing.T, h string) {
		r, _ := http.NewRequest("GET", "/api/v1/pods", nil)
		r.Header.Set("Accept", h)
		_ = wantsTable(r)
		_ = acceptable(r)
	})
}
