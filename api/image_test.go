package api

import (
	"strings"
	"testing"
)

func TestIsRegistryImage(t *testing.T) {
	for _, tc := range []struct {
		image    string
		registry bool
		err      bool
	}{
		{"wasm-examples/bin/myweb.wasm", false, false},
		{"myweb.wasm", false, false},
		{"myweb.wasm@sha256:" + strings.Repeat("a", 64), false, false},
		{"/srv/images/x.wasm", false, false},
		{"./x", false, false},
		{"../x", false, false},
		{".", false, false},
		{"..", false, false},
		{"file:///srv/x.wasm", false, false},
		{"https://example.com/x.wasm", false, false},
		{"myweb", true, false},
		{"myweb:v1", true, false},
		{"ghcr.io/acme/myweb:v1", true, false},
		{"127.0.0.1:5000/myweb@sha256:" + strings.Repeat("b", 64), true, false},
		{"ghcr.io/acme/app.wasm", false, true},
		{"localhost/app.wasm", false, true},
		{"ghcr.io/acme/app.wasm:v1", true, false},
		{"", false, true},
	} {
		reg, err := IsRegistryImage(tc.image)
		if reg != tc.registry || (err != nil) != tc.err {
			t.Errorf("%q: registry %v, err %v; want %v, error %v", tc.image, reg, err, tc.registry, tc.err)
		}
		if err != nil && tc.image != "" && !strings.Contains(err.Error(), "./"+tc.image) {
			t.Errorf("%q: the error does not say how to write a file: %v", tc.image, err)
		}
	}
}

func TestDefaultPullPolicyOfRegistryImages(t *testing.T) {
	for image, want := range map[string]PullPolicy{
		"myweb":                                   PullAlways,
		"ghcr.io/acme/myweb":                      PullAlways,
		"ghcr.io/acme/myweb:latest":               PullAlways,
		"ghcr.io/acme/myweb:v1":                   PullIfNotPresent,
		"localhost:5000/myweb":                    PullAlways,
		"localhost:5000/myweb:v1":                 PullIfNotPresent,
		"myweb@sha256:" + strings.Repeat("a", 64): PullIfNotPresent,
		"wasm-examples/bin/myweb.wasm":            PullIfNotPresent,
	} {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("%s: %s, want %s", image, got, want)
		}
	}
}
