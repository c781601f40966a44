package cli

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/wasmlet/wasmlet/internal/oci"
)

// TestPush: a module pushed with the CLI is pulled back, byte for byte,
// as a wasm artifact; what is not a module or not a reference is refused.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	module := myweb(t)
	ref := host + "/myweb:v1"
	code, out, errOut := wasmletCmd(t, "", "", "push "+module+" "+ref)
	if code != 0 || !strings.HasPrefix(out, ref+" pushed: sha256:") {
		t.Fatalf("push: %d %q %q", code, out, errOut)
	}
	st, err := oci.OpenStore(t.TempDir(), 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	p := &oci.Puller{Store: st, Keychain: authn.NewMultiKeychain()}
	got, err := p.Pull(context.Background(), ref, oci.PullIfNotPresent)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(module)
	if !bytes.Equal(got.Bytes, want) {
		t.Fatalf("pulled %d bytes, pushed %d", len(got.Bytes), len(want))
	}
	notModule := writeFile(t, "x.wasm", "hello")
	for line, msg := range map[string]string{
		"push " + notModule + " " + ref:             "is not a WebAssembly module",
		"push " + module + " myweb.wasm":            "names a file",
		"push " + module:                            "push takes a module file and an image",
		"push /nonexistent.wasm " + ref:             "no such file",
		"push " + module + " ghcr.io/acme/app.wasm": "could be a file or a registry image",
	} {
		code, _, errOut := wasmletCmd(t, "", "", line)
		if code == 0 || !strings.Contains(errOut, msg) {
			t.Errorf("%s: %d %q, want an error with %q", line, code, errOut, msg)
		}
	}
}
