package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/apiserver"
)

// TestNodeProxy: /api/v1/nodes/{name}/proxy/{path} reaches the node's
// agent with the path after proxy/ and the query, after the token is
// checked; a node that does not exist is NotFound, one without an agent
// ServiceUnavailable.
func TestNodeProxy(t *testing.T) {
	var got string
	agent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
		w.WriteHeader(http.StatusOK)
	})
	n := startNodeWith(t, apiserver.Options{NodeProxy: func(node string) http.Handler {
		if node == "n1" {
			return agent
		}
		return nil
	}})
	for _, name := range []string{"n1", "n2"} {
		if _, err := n.cl.Create(context.Background(), &api.Node{TypeMeta: api.TypeMeta{Kind: "Node", APIVersion: "v1"}, ObjectMeta: api.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	resp, _ := n.raw(t, http.MethodDelete, "/api/v1/nodes/n1/proxy/images?image=a%2Fb%3Av1", "", "", nil)
	if resp.StatusCode != http.StatusOK || got != "DELETE /images?image=a%2Fb%3Av1" {
		t.Errorf("proxied: %s, the agent got %q", resp.Status, got)
	}
	got = ""
	resp, _ = n.raw(t, http.MethodDelete, "/api/v1/nodes/n1/proxy/images?image=x", "", "", map[string]string{"Authorization": ""})
	if resp.StatusCode != http.StatusUnauthorized || got != "" {
		t.Errorf("without the token: %s, the agent got %q", resp.Status, got)
	}
	resp, body := n.raw(t, http.MethodDelete, "/api/v1/nodes/n3/proxy/images?image=x", "", "", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `nodes \"n3\" not found`) {
		t.Errorf("unknown node: %s %s", resp.Status, body)
	}
	resp, body = n.raw(t, http.MethodDelete, "/api/v1/nodes/n2/proxy/images?image=x", "", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a node without an agent: %s %s", resp.Status, body)
	}
}
