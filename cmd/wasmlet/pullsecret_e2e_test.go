package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// TestImagePullSecretEndToEnd, as a user runs it with the built binary: a
// registry on loopback that wants a login refuses the pull of a pod
// without imagePullSecrets (401); `create secret docker-registry` makes
// the login a Secret, which get and describe show without its value; a
// pod naming it pulls and runs.
func TestImagePullSecretEndToEnd(t *testing.T) {
	t.Parallel()
	bin := build(t)
	hello, err := examples.Build("hello")
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var locked atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); locked.Load() && (!ok || u != "puller" || p != "s3cret-pw") {
			w.Header().Set("WWW-Authenticate", `Basic realm="wasmlet-test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	image := host + "/private/hello:v1"
	run(t, bin, "", "push", hello, image)
	locked.Store(true)

	dataDir := t.TempDir()
	startServer(t, bin, serveArgs(t, dataDir))
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	pod := func(name, secret string) string {
		f := filepath.Join(t.TempDir(), name+".yaml")
		m := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: %s\n", name, image)
		if secret != "" {
			m += "  imagePullSecrets:\n  - name: " + secret + "\n"
		}
		if err := os.WriteFile(f, []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	run(t, bin, kc, "apply", "-f", pod("nosecret", ""))
	msg := waitOutput(t, bin, kc, "ErrImagePull", func(s string) bool {
		return strings.HasPrefix(s, "ErrImagePull") || strings.HasPrefix(s, "ImagePullBackOff")
	}, "get", "pod", "nosecret", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].state.waiting.message}")
	if !strings.Contains(msg, "401") {
		t.Errorf("without the secret: %q", msg)
	}

	if out := run(t, bin, kc, "create", "secret", "docker-registry", "regcred", "--docker-server="+host,
		"--docker-username=puller", "--docker-password=s3cret-pw"); out != "secret/regcred created\n" {
		t.Errorf("create secret: %q", out)
	}
	if out := run(t, bin, kc, "get", "secrets"); !strings.Contains(out, "NAME      TYPE                             DATA   AGE\nregcred   kubernetes.io/dockerconfigjson   1      ") {
		t.Errorf("get secrets:\n%s", out)
	}
	desc := run(t, bin, kc, "describe", "secret", "regcred")
	if !strings.Contains(desc, "\nType:  kubernetes.io/dockerconfigjson\n\nData\n====\n.dockerconfigjson:  ") || strings.Contains(desc, "s3cret-pw") {
		t.Errorf("describe secret:\n%s", desc)
	}

	run(t, bin, kc, "apply", "-f", pod("withsecret", "regcred"))
	waitOutput(t, bin, kc, "Succeeded", func(s string) bool { return s == "Succeeded" },
		"get", "pod", "withsecret", "-o", "jsonpath={.status.phase}")
	if logs := run(t, bin, kc, "logs", "withsecret"); !strings.Contains(logs, "Hello from withsecret") {
		t.Errorf("logs %q", logs)
	}
}
