package client

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzFromKubeconfig: any kubeconfig file gives a client or an error.
func FuzzFromKubeconfig(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Config\nclusters:\n- name: wasmlet\n  cluster:\n    server: https://127.0.0.1:7443\n    certificate-authority-data: bm90IGEgY2VydA==\ncontexts:\n- name: wasmlet\n  context:\n    cluster: wasmlet\n    user: wasmlet\ncurrent-context: wasmlet\nusers:\n- name: wasmlet\n  user:\n    token: abc\n"))
	f.Add([]byte("clusters: [{name: a, cluster: {server: 'http://[::1'}}]\ncontexts: [{name: a, context: {cluster: a}}]\n"))
	f.Add([]byte("{}"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "kubeconfig")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = FromKubeconfig(path)
	})
}

// FuzzStatusFromResponse: any error body decodes to a Status with a code.
func FuzzStatusFromResponse(f *testing.F) {
	f.Add(404, []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
	f.Add(500, []byte("plain text"))
	f.Add(422, []byte(`{"kind":"Status","details":{"causes":[{"field":"spec"}]}}`))
	f.Fuzz(func(t *testing.T, code int, b []byte) {
		if st := statusFromResponse(code, b); st == nil || st.Code == 0 && code != 0 {
			t.Errorf("no status for %d %q", code, b)
		}
	})
}
