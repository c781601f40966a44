package host

import (
	"context"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/oci"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// TestImagePullSecrets: a registry on loopback that wants a login refuses
// the pull of a pod without imagePullSecrets (ErrImagePull naming 401
// Unauthorized); a pod naming a secret that does not exist gets the
// kubelet's FailedToRetrieveImagePullSecret warning and its pull goes on
// without it (refused too); a pod naming a kubernetes.io/dockerconfigjson
// secret with the registry's login runs.
func TestImagePullSecrets(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // the node itself has no login
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var locked atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Open while the test pushes; then every request wants the login.
		if locked.Load() {
			if u, p, ok := r.BasicAuth(); !ok || u != "puller" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="wasmlet-test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	hello, err := os.ReadFile(examples.MustBuild(t, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/private/hello:v1"
	if _, err := (&oci.Puller{}).Push(context.Background(), hello, ref); err != nil {
		t.Fatal(err)
	}
	locked.Store(true)
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	spec := func(secrets ...string) api.PodSpec {
		s := api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: ref}}}
		for _, name := range secrets {
			s.ImagePullSecrets = append(s.ImagePullSecrets, api.LocalObjectReference{Name: name})
		}
		return s
	}
	pullFailed := func(p *api.Pod) bool {
		cs := containerStatus(p, "c")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonErrImagePull
	}

	n.createPod("nosecret", spec())
	p := n.waitPod("nosecret", "ErrImagePull", pullFailed)
	if msg := containerStatus(p, "c").State.Waiting.Message; !strings.Contains(msg, "401") || !strings.Contains(msg, "unauthorized") {
		t.Errorf("message %q names no 401 unauthorized", msg)
	}

	n.createPod("absent", spec("regcred", "othercred"))
	n.waitPod("absent", "ErrImagePull", pullFailed)
	if want := "Warning FailedToRetrieveImagePullSecret Unable to retrieve some image pull secrets (regcred, othercred); attempting to pull the image may not succeed."; !hasEvent(n.events("absent"), want) {
		t.Errorf("events %q, want %q", n.events("absent"), want)
	}

	auth := base64.StdEncoding.EncodeToString([]byte("puller:s3cret"))
	secret := &api.Secret{TypeMeta: api.TypeMeta{Kind: "Secret", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: "regcred", Namespace: "default"},
		Type:       api.SecretTypeDockerConfigJSON,
		Data:       map[string][]byte{".dockerconfigjson": []byte(`{"auths":{"` + host + `":{"auth":"` + auth + `"}}}`)}}
	if _, err := n.st.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	// A secret of another type is not a login, and a login for another
	// registry does not match: neither is tried.
	other := &api.Secret{TypeMeta: api.TypeMeta{Kind: "Secret", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: "opaque", Namespace: "default"}, Type: api.SecretTypeOpaque,
		Data: map[string][]byte{".dockerconfigjson": []byte(`{"auths":{"` + host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("x:y")) + `"}}}`)}}
	if _, err := n.st.Create(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	n.createPod("withsecret", spec("opaque", "regcred"))
	n.waitPod("withsecret", "Succeeded", phaseIs(api.PodSucceeded))
	if evs := n.events("withsecret"); !hasEvent(evs, `Normal Pulled Successfully pulled image "`+ref+`"`) || hasEvent(evs, "Warning FailedToRetrieveImagePullSecret") {
		t.Errorf("events: %q", evs)
	}
}
