package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
)

// stringData is merged into data on create, update and patch, and is
// never stored: what the store holds and what a read returns have data
// only.
func TestSecretStringDataIsMergedAndNeverStored(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	secrets := resource(t, "secrets")
	s := &api.Secret{Data: map[string][]byte{"user": []byte("admin"), "pw": []byte("old")},
		StringData: map[string]string{"pw": "s3cret"}}
	s.Name = "db"
	created, err := reg.Create(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, obj api.Object, want map[string]string) {
		t.Helper()
		got := obj.(*api.Secret)
		if got.StringData != nil || got.Type != api.SecretTypeOpaque || len(got.Data) != len(want) {
			t.Fatalf("%s: %+v", what, got)
		}
		for k, v := range want {
			if string(got.Data[k]) != v {
				t.Fatalf("%s: data[%s] = %q, want %q", what, k, got.Data[k], v)
			}
		}
	}
	check("create", created, map[string]string{"user": "admin", "pw": "s3cret"})
	stored, err := reg.Store().Get(ctx, secrets, "default", "db")
	if err != nil {
		t.Fatal(err)
	}
	check("stored", stored, map[string]string{"user": "admin", "pw": "s3cret"})

	upd := stored.(*api.Secret).DeepCopyObject().(*api.Secret)
	upd.StringData = map[string]string{"user": "root"}
	updated, err := reg.Update(ctx, upd)
	if err != nil {
		t.Fatal(err)
	}
	check("update", updated, map[string]string{"user": "root", "pw": "s3cret"})

	patched, err := reg.Patch(ctx, secrets, "default", "db", MergePatch, []byte(`{"stringData":{"token":"t"}}`))
	if err != nil {
		t.Fatal(err)
	}
	check("patch", patched, map[string]string{"user": "root", "pw": "s3cret", "token": "t"})
	stored, _ = reg.Store().Get(ctx, secrets, "default", "db")
	check("stored after the patch", stored, map[string]string{"user": "root", "pw": "s3cret", "token": "t"})
}

// A secret's stringData is validated as its data: a dockerconfigjson
// secret may be written with stringData only.
func TestSecretStringDataIsValidatedAsData(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, Options{})
	s := &api.Secret{Type: api.SecretTypeDockerConfigJSON, StringData: map[string]string{".dockerconfigjson": `{"auths":{}}`}}
	s.Name = "pull"
	if _, err := reg.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	bad := &api.Secret{Type: api.SecretTypeDockerConfigJSON, StringData: map[string]string{".dockerconfigjson": `{`}}
	bad.Name = "bad"
	_, err := reg.Create(ctx, bad)
	if want := `Secret "bad" is invalid: data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input`; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	imm := true
	c := &api.ConfigMap{Immutable: &imm, Data: map[string]string{"k": "v"}}
	c.Name = "frozen"
	if _, err := reg.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	_, err = reg.Patch(ctx, resource(t, "configmaps"), "default", "frozen", MergePatch, []byte(`{"data":{"k":"w"}}`))
	if err == nil || !strings.Contains(err.Error(), "data: Forbidden: field is immutable when `immutable` is set") {
		t.Fatalf("got %v", err)
	}
}

// A Secret of 1 MiB of data is stored (its JSON, base64, is larger, and
// under the registry's own bound); one byte more is Kubernetes' Too long.
// The store is on disk: badger in memory holds no value over 1 MiB.
func TestSecretOfOneMiB(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := New(st, Options{})
	s := &api.Secret{Data: map[string][]byte{"blob": make([]byte, api.MaxSecretSize)}}
	s.Name = "big"
	if _, err := reg.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Name, s.Data["one-more"] = "bigger", []byte{1}
	_, err = reg.Create(ctx, s)
	if want := `Secret "bigger" is invalid: data: Too long: must have at most 1048576 bytes`; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	cm := &api.ConfigMap{Data: map[string]string{"k": strings.Repeat("x", api.MaxSecretSize)}, BinaryData: map[string][]byte{"b": {1}}}
	cm.Name = "bigger"
	_, err = reg.Create(ctx, cm)
	if want := `ConfigMap "bigger" is invalid: []: Too long: must have at most 1048576 bytes`; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}
