package host

import (
	"context"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/events"
	"github.com/wasmlet/wasmlet/internal/oci"
)

// pullCredentials are the logins of the pod's imagePullSecrets that match
// image, a registry image: the kubernetes.io/dockerconfigjson and
// kubernetes.io/dockercfg Secrets of the pod's namespace, read as the
// kubelet reads them before each pull. Secrets of other types are
// ignored; a secret that cannot be read is a FailedToRetrieveImagePullSecret
// warning, and the pull goes on without it, as the kubelet's does.
func (w *podWorker) pullCredentials(ctx context.Context, pod *api.Pod, image string) oci.Credentials {
	if len(pod.Spec.ImagePullSecrets) == 0 {
		return oci.Credentials{}
	}
	if reg, err := api.IsRegistryImage(image); err != nil || !reg {
		return oci.Credentials{}
	}
	secrets, ok := api.LookupResource("secrets")
	if !ok {
		return oci.Credentials{}
	}
	var configs []oci.DockerConfig
	var failed []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue
		}
		obj, err := w.h.st.Get(ctx, secrets, pod.Namespace, ref.Name)
		s, isSecret := obj.(*api.Secret)
		if err != nil || !isSecret {
			failed = append(failed, ref.Name)
			continue
		}
		if b := s.Data[api.DockerConfigJSONKey]; s.Type == api.SecretTypeDockerConfigJSON && len(b) > 0 {
			configs = append(configs, oci.DockerConfig{Data: b})
		} else if b := s.Data[api.DockerConfigKey]; s.Type == api.SecretTypeDockercfg && len(b) > 0 {
			configs = append(configs, oci.DockerConfig{Data: b, Legacy: true})
		}
	}
	if len(failed) > 0 {
		w.h.recorder.Eventf(pod, events.Warning, "FailedToRetrieveImagePullSecret",
			"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(failed, ", "))
	}
	return oci.CredentialsFor(image, configs)
}
