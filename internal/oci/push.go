package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Artifact is module as a wasm OCI artifact: an OCI manifest whose config
// is application/vnd.wasm.config.v0+json and whose one layer is the
// module, application/wasm.
func Artifact(module []byte, created time.Time) (v1.Image, error) {
	layer := static.NewLayer(module, WasmLayerMediaType)
	ld, err := layer.Digest()
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(struct {
		Created      string   `json:"created"`
		Architecture string   `json:"architecture"`
		OS           string   `json:"os"`
		LayerDigests []string `json:"layerDigests"`
	}{created.UTC().Format(time.RFC3339), "wasm", "wasip1", []string{ld.String()}})
	if err != nil {
		return nil, err
	}
	cd, cs, err := v1.SHA256(bytes.NewReader(cfg))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: WasmConfigMediaType, Size: cs, Digest: cd},
		Layers:        []v1.Descriptor{{MediaType: WasmLayerMediaType, Size: int64(len(module)), Digest: ld}},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&artifact{config: cfg, manifest: raw, layer: layer, layerDigest: ld})
}

type artifact struct {
	config, manifest []byte
	layer            v1.Layer
	layerDigest      v1.Hash
}

func (a *artifact) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }

func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == a.layerDigest {
		return a.layer, nil
	}
	cd, _, _ := v1.SHA256(bytes.NewReader(a.config))
	if h == cd {
		return static.NewLayer(a.config, WasmConfigMediaType), nil
	}
	return nil, fmt.Errorf("the artifact has no blob %s", h)
}

// Push publishes module to image (a registry reference) as a wasm OCI
// artifact and returns the manifest's digest.
func (p *Puller) Push(ctx context.Context, module []byte, image string) (string, error) {
	ref, err := ParseReference(image)
	if err != nil {
		return "", err
	}
	img, err := Artifact(module, p.now())
	if err != nil {
		return "", err
	}
	if err := remote.Write(ref, img, p.options(ctx, nil)...); err != nil {
		return "", registryError(ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}
