package apiserver

import (
	"net/http"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// NodeProxyFunc returns the handler of what the node named answers under
// /api/v1/nodes/{name}/proxy/ (on a cluster, the kubelet's own API); nil
// when no agent runs that node.
type NodeProxyFunc func(node string) http.Handler

// serveNodeProxy is /api/v1/nodes/{name}/proxy/{path}: the request, already
// authenticated, is handed to the node's agent with the path after proxy/.
func (s *Server) serveNodeProxy(w http.ResponseWriter, r *http.Request, node string, rest []string) {
	nodes, ok := api.LookupResource("nodes")
	if !ok {
		writeError(w, r, notFoundPath())
		return
	}
	if _, err := s.reg.Get(r.Context(), nodes, "", node); err != nil {
		writeError(w, r, err)
		return
	}
	var h http.Handler
	if s.opts.NodeProxy != nil {
		h = s.opts.NodeProxy(node)
	}
	if h == nil {
		writeError(w, r, api.NewServiceUnavailable("no agent runs node "+node+" on this server"))
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + strings.Join(rest, "/")
	r2.URL.RawPath = ""
	h.ServeHTTP(w, r2)
}
