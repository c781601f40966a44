// Package oci holds the node's images from OCI registries (which names
// are registry references is api.IsRegistryImage): a content-addressed store of what was
// pulled, and the pull and push of WebAssembly modules over the
// distribution protocol (go-containerregistry speaks the protocol, its
// authentication and its media types; this package decides what a module
// is and where it is kept).
//
// A module reaches the node in one of three layouts (docs/RATIONALE.md,
// "Images from registries"):
//   - the wasm OCI artifact: config application/vnd.wasm.config.v0+json,
//     one layer application/wasm;
//   - a container image whose filesystem holds the module at the path its
//     config's entrypoint names, as runwasi and crun's wasm handlers find
//     it (layers tar, gzip or zstd);
//   - an index whose entry for the wasip1/wasm (or wasi/wasm) platform is
//     one of the above.
package oci

import (
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/wasmlet/wasmlet/api"
)

// ParseReference parses a registry reference with Kubernetes' defaults.
func ParseReference(image string) (name.Reference, error) {
	ref, err := name.ParseReference(strings.TrimSpace(image))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", api.ErrInvalidImageName, image, err)
	}
	return ref, nil
}

// isLoopback says whether a registry host ("127.0.0.1:5000",
// "localhost:5000", "[::1]:5000") is on this machine, where plain HTTP is
// allowed.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
