// Package oci holds the node's images from OCI registries: which image
// names are registry references, a content-addressed store of what was
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
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ErrInvalidReference: an image name that is neither a file of the node
// nor a registry reference, or could be either.
var ErrInvalidReference = errors.New("invalid image name")

// IsRegistryReference says whether a container's image names a registry
// image ("ghcr.io/acme/myweb:v1", "myweb@sha256:…") rather than a module
// on the node. The rule, which keeps every manifest written for files
// working:
//   - http://, https:// and file:// are URLs and files, as before;
//   - a name that begins with "/", "./" or "../" is a file;
//   - a name that ends in ".wasm" (before any @sha256: pin) is a file,
//     unless its first part names a registry host ("ghcr.io/acme/app.wasm"
//     could be either, and is refused with the two ways to write it);
//   - anything else is a registry reference, with Kubernetes' defaults
//     (docker.io, library/, :latest).
func IsRegistryReference(image string) (bool, error) {
	s := strings.TrimSpace(image)
	switch {
	case s == "":
		return false, fmt.Errorf("%w: empty", ErrInvalidReference)
	case strings.Contains(s, "://"), strings.HasPrefix(s, "/"), strings.HasPrefix(s, "./"), strings.HasPrefix(s, "../"):
		return false, nil
	}
	path, _, _ := strings.Cut(s, "@")
	if !strings.HasSuffix(path, ".wasm") {
		return true, nil
	}
	if first, _, ok := strings.Cut(path, "/"); ok && looksLikeHost(first) {
		return false, fmt.Errorf("%w %q: it could be a file or a registry image; write ./%s for a file under the node's image root, or %s:latest for the registry image",
			ErrInvalidReference, image, s, path)
	}
	return false, nil
}

// looksLikeHost: the first part of a reference is a registry when it has a
// dot or a port, or is localhost, as Docker decides.
func looksLikeHost(s string) bool {
	return strings.ContainsAny(s, ".:") || s == "localhost"
}

// ParseReference parses a registry reference with Kubernetes' defaults.
func ParseReference(image string) (name.Reference, error) {
	ref, err := name.ParseReference(strings.TrimSpace(image))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidReference, image, err)
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
