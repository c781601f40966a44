package api

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidImageName: an image that is neither a module file of the node
// nor a registry reference, or could be either.
var ErrInvalidImageName = errors.New("invalid image name")

// IsRegistryImage says whether a container's image names a registry image
// ("ghcr.io/acme/myweb:v1", "myweb@sha256:…") rather than a module of the
// node. The rule, which keeps every manifest written for files working:
//   - http://, https:// and file:// are URLs and files;
//   - a name that begins with "/", "./" or "../", or is "." or "..", is a
//     file;
//   - a name that ends in ".wasm" (before an @sha256: pin) is a file,
//     unless its first part names a registry host ("ghcr.io/acme/app.wasm"
//     could be either, and is refused with the two ways to write it);
//   - anything else is a registry reference, with Kubernetes' defaults
//     (docker.io, library/, :latest).
func IsRegistryImage(image string) (bool, error) {
	s := strings.TrimSpace(image)
	switch {
	case s == "":
		return false, fmt.Errorf("%w: empty", ErrInvalidImageName)
	case strings.Contains(s, "://"), strings.HasPrefix(s, "/"), strings.HasPrefix(s, "./"), strings.HasPrefix(s, "../"), s == ".", s == "..":
		return false, nil
	}
	path, _, _ := strings.Cut(s, "@")
	if !strings.HasSuffix(path, ".wasm") {
		return true, nil
	}
	if first, _, ok := strings.Cut(path, "/"); ok && looksLikeRegistryHost(first) {
		return false, fmt.Errorf("%w %q: it could be a file or a registry image; write ./%s for a file under the node's image root, or %s:latest for the registry image",
			ErrInvalidImageName, image, s, path)
	}
	return false, nil
}

// looksLikeRegistryHost: the first part of a reference is a registry when
// it has a dot or a port, or is localhost, as Docker decides.
func looksLikeRegistryHost(s string) bool {
	return strings.ContainsAny(s, ".:") || s == "localhost"
}

// registryImageTagged says whether a registry reference names a tag or a
// digest; one that names neither means :latest.
func registryImageTagged(image string) bool {
	if strings.Contains(image, "@") {
		return true
	}
	last := image[strings.LastIndex(image, "/")+1:]
	return strings.Contains(last, ":")
}
