package apiserver

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/registry"
)

// The OpenAPI v3 documents describe the operations of each group version,
// so that kubectl learns that the server validates fields itself (the
// fieldValidation parameter of each PATCH, found by the
// x-kubernetes-group-version-kind of the operation) and sends
// fieldValidation=Strict instead of validating against a schema of its
// own; and the schemas of the kinds (schema.go), which kubectl explain
// prints and from which kubectl apply reads the patch merge keys.
// /openapi/v2 holds neither (openapi_v2.go); kubectl reads it only for
// kinds v3 does not know.

type openAPIIndex struct {
	Paths map[string]openAPIIndexEntry `json:"paths"`
}

type openAPIIndexEntry struct {
	ServerRelativeURL string `json:"serverRelativeURL"`
}

type gvk struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

type openAPIParameter struct {
	Name        string         `json:"name"`
	In          string         `json:"in"`
	Description string         `json:"description,omitempty"`
	Required    bool           `json:"required,omitempty"`
	Schema      map[string]any `json:"schema"`
}

type openAPIOperation struct {
	Description string             `json:"description,omitempty"`
	OperationID string             `json:"operationId"`
	Parameters  []openAPIParameter `json:"parameters,omitempty"`
	Responses   map[string]any     `json:"responses"`
	Action      string             `json:"x-kubernetes-action"`
	GVK         gvk                `json:"x-kubernetes-group-version-kind"`
}

type openAPIPath struct {
	Get    *openAPIOperation  `json:"get,omitempty"`
	Put    *openAPIOperation  `json:"put,omitempty"`
	Post   *openAPIOperation  `json:"post,omitempty"`
	Patch  *openAPIOperation  `json:"patch,omitempty"`
	Delete *openAPIOperation  `json:"delete,omitempty"`
	Params []openAPIParameter `json:"parameters,omitempty"`
}

type openAPIDoc struct {
	OpenAPI    string                 `json:"openapi"`
	Info       map[string]string      `json:"info"`
	Paths      map[string]openAPIPath `json:"paths"`
	Components map[string]any         `json:"components"`
}

var (
	openAPIOnce sync.Once
	openAPIDocs map[string][]byte // "api/v1" -> document
	openAPIRoot []byte
)

func stringSchema() map[string]any { return map[string]any{"type": "string", "uniqueItems": true} }

func queryParam(name, desc string) openAPIParameter {
	return openAPIParameter{Name: name, In: "query", Description: desc, Schema: stringSchema()}
}

var (
	fieldValidationParam = queryParam("fieldValidation",
		"Ignore, Warn (the default) or Strict: what the server does with unknown fields of the object.")
	dryRunParam   = queryParam("dryRun", "All: run every check and store nothing.")
	okResponse    = map[string]any{"200": map[string]any{"description": "OK"}}
	createdAnswer = map[string]any{"200": map[string]any{"description": "OK"}, "201": map[string]any{"description": "Created"}}
)

// gvDocument builds the document of one group version ("" or "apps").
func gvDocument(group string) openAPIDoc {
	doc := openAPIDoc{OpenAPI: "3.0.0", Info: map[string]string{"title": "wasmlet", "version": "v1"},
		Paths: map[string]openAPIPath{}, Components: map[string]any{}}
	prefix := "/api/v1"
	if group != "" {
		prefix = "/apis/" + group + "/v1"
	}
	sb := &schemaBuilder{schemas: map[string]map[string]any{}}
	doc.Components["schemas"] = sb.schemas
	for _, res := range api.Resources() {
		if res.Group != group || res.Version != "v1" {
			continue
		}
		sb.kind(res)
		k := gvk{Group: res.Group, Version: res.Version, Kind: res.Kind}
		op := func(verb, action string, k gvk, params ...openAPIParameter) *openAPIOperation {
			resp := okResponse
			if action == "post" {
				resp = createdAnswer
			}
			return &openAPIOperation{OperationID: verb + k.Kind, Action: action, GVK: k, Parameters: params, Responses: resp}
		}
		coll, item := prefix+"/"+res.Resource, prefix+"/"+res.Resource+"/{name}"
		if res.Namespaced {
			doc.Paths[coll] = openAPIPath{Get: op("list", "list", k)}
			coll = prefix + "/namespaces/{namespace}/" + res.Resource
			item = prefix + "/namespaces/{namespace}/" + res.Resource + "/{name}"
		}
		doc.Paths[coll] = openAPIPath{
			Get:    op("list", "list", k),
			Post:   op("create", "post", k, fieldValidationParam, dryRunParam),
			Delete: op("deletecollection", "deletecollection", k),
		}
		doc.Paths[item] = openAPIPath{
			Get:    op("read", "get", k),
			Put:    op("replace", "put", k, fieldValidationParam, dryRunParam),
			Patch:  op("patch", "patch", k, fieldValidationParam, dryRunParam),
			Delete: op("delete", "delete", k, dryRunParam),
		}
		subs := map[string]gvk{}
		switch {
		case res.Resource == "pods" && res.Group == "":
			subs["status"] = k
			doc.Paths[item+"/log"] = openAPIPath{Get: op("readLog", "get", k)}
		case registry.HasScale(res):
			subs["status"] = k
			subs["scale"] = gvk{Group: "autoscaling", Version: "v1", Kind: "Scale"}
		case res.Resource == "namespaces" || res.Resource == "nodes":
			subs["status"] = k
		}
		for sub, sk := range subs {
			name := strings.ToUpper(sub[:1]) + sub[1:]
			doc.Paths[item+"/"+sub] = openAPIPath{
				Get:   op("read"+name, "get", sk),
				Put:   op("replace"+name, "put", sk, fieldValidationParam, dryRunParam),
				Patch: op("patch"+name, "patch", sk, fieldValidationParam, dryRunParam),
			}
		}
	}
	return doc
}

func buildOpenAPI() {
	openAPIDocs = map[string][]byte{}
	index := openAPIIndex{Paths: map[string]openAPIIndexEntry{}}
	for _, g := range append([]string{""}, groups()...) {
		key := "api/v1"
		if g != "" {
			key = "apis/" + g + "/v1"
		}
		b, _ := json.Marshal(gvDocument(g))
		openAPIDocs[key] = b
		sum := sha512.Sum512(b)
		index.Paths[key] = openAPIIndexEntry{ServerRelativeURL: "/openapi/v3/" + key + "?hash=" + strings.ToUpper(hex.EncodeToString(sum[:]))}
	}
	openAPIRoot, _ = json.Marshal(index)
}

// serveOpenAPIV3 serves /openapi/v3 and /openapi/v3/<group version>.
func (s *Server) serveOpenAPIV3(w http.ResponseWriter, r *http.Request, path string) {
	openAPIOnce.Do(buildOpenAPI)
	var b []byte
	if path == "" {
		b = openAPIRoot
	} else if b = openAPIDocs[path]; b == nil {
		writeError(w, r, notFoundPath())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Query().Get("hash") != "" {
		w.Header().Set("Cache-Control", "public, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache, private")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
