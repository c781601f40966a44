package apiserver

import (
	"net/http"
	"runtime"
	"slices"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/version"
	"github.com/wasmlet/wasmlet/registry"
)

// Discovery answers in the legacy (unaggregated) form: /api, /apis and one
// APIResourceList per group version. kubectl asks for the aggregated form
// first (apidiscovery.k8s.io/v2) and falls back to this one when the answer's
// Content-Type is plain application/json.

type groupVersionForDiscovery struct {
	GroupVersion string `json:"groupVersion"`
	Version      string `json:"version"`
}

type apiGroup struct {
	Kind             string                     `json:"kind,omitempty"`
	APIVersion       string                     `json:"apiVersion,omitempty"`
	Name             string                     `json:"name"`
	Versions         []groupVersionForDiscovery `json:"versions"`
	PreferredVersion groupVersionForDiscovery   `json:"preferredVersion"`
}

type apiGroupList struct {
	Kind       string     `json:"kind"`
	APIVersion string     `json:"apiVersion"`
	Groups     []apiGroup `json:"groups"`
}

type serverAddressByClientCIDR struct {
	ClientCIDR    string `json:"clientCIDR"`
	ServerAddress string `json:"serverAddress"`
}

type apiVersions struct {
	Kind                       string                      `json:"kind"`
	Versions                   []string                    `json:"versions"`
	ServerAddressByClientCIDRs []serverAddressByClientCIDR `json:"serverAddressByClientCIDRs"`
}

type apiResource struct {
	Name         string   `json:"name"`
	SingularName string   `json:"singularName"`
	Namespaced   bool     `json:"namespaced"`
	Group        string   `json:"group,omitempty"`
	Version      string   `json:"version,omitempty"`
	Kind         string   `json:"kind"`
	Verbs        []string `json:"verbs"`
	ShortNames   []string `json:"shortNames,omitempty"`
	Categories   []string `json:"categories,omitempty"`
}

type apiResourceList struct {
	Kind         string        `json:"kind"`
	APIVersion   string        `json:"apiVersion"`
	GroupVersion string        `json:"groupVersion"`
	Resources    []apiResource `json:"resources"`
}

// autoscalingGroup is the group of the Scale kind, which lives only as the
// scale subresource of ReplicaSets and ReplicationControllers. The group
// itself is not listed: it would have no resources, and client-go's
// discovery takes an empty group for a broken one.
const autoscalingGroup = "autoscaling"

// groups are the API groups other than the core one, in discovery order.
func groups() []string {
	var out []string
	for _, r := range api.Resources() {
		if r.Group != "" && !slices.Contains(out, r.Group) {
			out = append(out, r.Group)
		}
	}
	return out
}

// servesGroupVersion reports whether group/version is served.
func servesGroupVersion(group, ver string) bool {
	if ver != "v1" {
		return false
	}
	if group == "" {
		return true
	}
	return slices.Contains(groups(), group)
}

func groupOf(name string) apiGroup {
	gv := groupVersionForDiscovery{GroupVersion: name + "/v1", Version: "v1"}
	return apiGroup{Name: name, Versions: []groupVersionForDiscovery{gv}, PreferredVersion: gv}
}

func (s *Server) serveAPIVersions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, apiVersions{
		Kind:     "APIVersions",
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []serverAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: s.Addr()}},
	})
}

func (s *Server) serveAPIGroupList(w http.ResponseWriter, r *http.Request) {
	list := apiGroupList{Kind: "APIGroupList", APIVersion: "v1", Groups: []apiGroup{}}
	for _, g := range groups() {
		list.Groups = append(list.Groups, groupOf(g))
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) serveAPIGroup(w http.ResponseWriter, r *http.Request, group string) {
	if !slices.Contains(groups(), group) {
		writeError(w, r, notFoundPath())
		return
	}
	g := groupOf(group)
	g.Kind, g.APIVersion = "APIGroup", "v1"
	writeJSON(w, http.StatusOK, g)
}

var (
	allVerbs        = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	subresourceRW   = []string{"get", "patch", "update"}
	subresourceRead = []string{"get"}
)

// resourceList is the APIResourceList of group/v1.
func resourceList(group string) apiResourceList {
	gv := "v1"
	if group != "" {
		gv = group + "/v1"
	}
	list := apiResourceList{Kind: "APIResourceList", APIVersion: "v1", GroupVersion: gv, Resources: []apiResource{}}
	for _, res := range api.Resources() {
		if res.Group != group || res.Version != "v1" {
			continue
		}
		verbs := allVerbs
		if res.Resource == "namespaces" {
			verbs = []string{"create", "delete", "get", "list", "patch", "update", "watch"}
		}
		list.Resources = append(list.Resources, apiResource{
			Name: res.Resource, SingularName: res.Singular, Namespaced: res.Namespaced, Kind: res.Kind,
			Verbs: verbs, ShortNames: res.ShortNames, Categories: res.Categories,
		})
		sub := func(name string, verbs []string) apiResource {
			return apiResource{Name: res.Resource + "/" + name, Namespaced: res.Namespaced, Kind: res.Kind, Verbs: verbs}
		}
		switch {
		case res.Resource == "pods" && res.Group == "":
			list.Resources = append(list.Resources, sub("log", subresourceRead), sub("status", subresourceRW))
		case registry.HasScale(res):
			scale := sub("scale", subresourceRW)
			scale.Group, scale.Version, scale.Kind = autoscalingGroup, "v1", "Scale"
			list.Resources = append(list.Resources, scale, sub("status", subresourceRW))
		case res.Resource == "namespaces" || res.Resource == "nodes":
			list.Resources = append(list.Resources, sub("status", subresourceRW))
		}
	}
	return list
}

func (s *Server) serveResourceList(w http.ResponseWriter, r *http.Request, group string) {
	writeJSON(w, http.StatusOK, resourceList(group))
}

// versionInfo is the answer of /version: the Kubernetes release whose API
// the node follows, with wasmlet's own version as build metadata.
func versionInfo() api.VersionInfo {
	k := strings.TrimPrefix(version.KubernetesCompat, "v")
	major, rest, _ := strings.Cut(k, ".")
	minor, _, _ := strings.Cut(rest, ".")
	return api.VersionInfo{
		Major:        major,
		Minor:        minor,
		GitVersion:   version.KubernetesCompat + "+wasmlet-" + strings.TrimPrefix(version.Version, "v"),
		GitCommit:    "",
		GitTreeState: "",
		BuildDate:    "",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, versionInfo())
}

// rootPaths is the answer of GET /, as Kubernetes lists its paths.
func rootPaths() []string {
	paths := []string{"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"}
	for _, g := range groups() {
		paths = append(paths, "/apis/"+g, "/apis/"+g+"/v1")
	}
	slices.Sort(paths)
	return paths
}
