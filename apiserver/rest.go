package apiserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// request is one REST request, its path parsed.
type request struct {
	res       *api.ResourceInfo
	namespace string
	name      string
	sub       string // "", "status", "scale", "log"
	watch     bool   // a /watch/ path
}

// route dispatches a request by its path.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p != "/" {
		p = strings.TrimSuffix(p, "/")
	}
	switch p {
	case "/", "/healthz", "/livez", "/readyz", "/version", "/api", "/apis":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, r, methodNotAllowed(r.Method))
			return
		}
	}
	switch p {
	case "/":
		writeJSON(w, http.StatusOK, map[string][]string{"paths": rootPaths()})
		return
	case "/healthz", "/livez", "/readyz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok"))
		return
	case "/version":
		s.serveVersion(w, r)
		return
	case "/api":
		s.serveAPIVersions(w, r)
		return
	case "/apis":
		s.serveAPIGroupList(w, r)
		return
	case "/openapi/v2":
		s.serveOpenAPIV2(w, r)
		return
	}
	if p == "/openapi/v3" || strings.HasPrefix(p, "/openapi/v3/") {
		s.serveOpenAPIV3(w, r, strings.TrimPrefix(strings.TrimPrefix(p, "/openapi/v3"), "/"))
		return
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	var group, ver string
	var rest []string
	switch {
	case segs[0] == "api" && len(segs) >= 2:
		ver, rest = segs[1], segs[2:]
	case segs[0] == "apis" && len(segs) == 2:
		s.serveAPIGroup(w, r, segs[1])
		return
	case segs[0] == "apis" && len(segs) >= 3:
		group, ver, rest = segs[1], segs[2], segs[3:]
	default:
		writeError(w, r, notFoundPath())
		return
	}
	if !servesGroupVersion(group, ver) {
		writeError(w, r, notFoundPath())
		return
	}
	if len(rest) == 0 {
		if r.Method != http.MethodGet {
			writeError(w, r, methodNotAllowed(r.Method))
			return
		}
		s.serveResourceList(w, r, group)
		return
	}
	if group == "" && len(rest) >= 3 && rest[0] == "nodes" && rest[2] == "proxy" {
		s.serveNodeProxy(w, r, rest[1], rest[3:])
		return
	}
	req, ok := parseResourcePath(group, rest)
	if !ok {
		writeError(w, r, notFoundPath())
		return
	}
	if !acceptable(r) {
		writeError(w, r, &api.Status{TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
			Code: http.StatusNotAcceptable, Reason: api.StatusReasonNotAcceptable,
			Message: "only the following media types are accepted: application/json, application/yaml"})
		return
	}
	s.serveResource(w, r, req)
}

// parseResourcePath reads [watch/][namespaces/{ns}/]{resource}[/{name}[/{sub}]].
func parseResourcePath(group string, rest []string) (request, bool) {
	var req request
	if rest[0] == "watch" {
		req.watch = true
		rest = rest[1:]
		if len(rest) == 0 {
			return req, false
		}
	}
	if rest[0] == "namespaces" && len(rest) >= 3 && rest[2] != "status" && rest[2] != "finalize" {
		req.namespace = rest[1]
		rest = rest[2:]
	}
	if len(rest) > 3 {
		return req, false
	}
	var res *api.ResourceInfo
	for _, ri := range api.Resources() {
		if ri.Group == group && ri.Version == "v1" && ri.Resource == rest[0] {
			res = ri
		}
	}
	if res == nil {
		return req, false
	}
	req.res = res
	if req.namespace != "" && !res.Namespaced {
		return req, false
	}
	if len(rest) >= 2 {
		req.name = rest[1]
	}
	if len(rest) == 3 {
		req.sub = rest[2]
		switch {
		case req.sub == "status":
		case req.sub == "scale" && registry.HasScale(res):
		case req.sub == "log" && res.Group == "" && res.Resource == "pods":
		default:
			return req, false
		}
	}
	return req, true
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, req request) {
	// A client's writes stop before the node's on a nearly full disk.
	r = r.WithContext(store.ClientRequest(r.Context()))
	q := r.URL.Query()
	if req.watch || (req.name == "" && r.Method == http.MethodGet && isTrue(q.Get("watch"))) {
		if r.Method != http.MethodGet {
			writeError(w, r, methodNotAllowed(r.Method))
			return
		}
		s.serveWatch(w, r, req)
		return
	}
	if req.name == "" {
		switch r.Method {
		case http.MethodGet:
			s.serveList(w, r, req)
		case http.MethodPost:
			s.serveCreate(w, r, req)
		case http.MethodDelete:
			s.serveDeleteCollection(w, r, req)
		default:
			writeError(w, r, methodNotAllowed(r.Method))
		}
		return
	}
	switch req.sub {
	case "log":
		if r.Method != http.MethodGet {
			writeError(w, r, methodNotAllowed(r.Method))
			return
		}
		s.serveLog(w, r, req)
		return
	case "scale":
		s.serveScale(w, r, req)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.serveGet(w, r, req)
	case http.MethodPut:
		s.serveUpdate(w, r, req)
	case http.MethodPatch:
		s.servePatch(w, r, req)
	case http.MethodDelete:
		if req.sub != "" {
			writeError(w, r, methodNotAllowed(r.Method))
			return
		}
		s.serveDelete(w, r, req)
	default:
		writeError(w, r, methodNotAllowed(r.Method))
	}
}

func isTrue(v string) bool { return v == "true" || v == "1" }

// namespaceOf is the request's namespace for a namespaced kind ("" for a
// cluster-wide list).
func (req request) scope() string {
	if !req.res.Namespaced {
		return ""
	}
	return req.namespace
}

// listOptions reads labelSelector, fieldSelector and resourceVersion.
func listOptions(q url.Values) (store.ListOptions, error) {
	var opts store.ListOptions
	if s := q.Get("labelSelector"); s != "" {
		sel, err := api.ParseSelector(s)
		if err != nil {
			return opts, api.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		opts.LabelSelector = sel
	}
	if s := q.Get("fieldSelector"); s != "" {
		sel, err := api.ParseFieldSelector(s)
		if err != nil {
			return opts, api.NewBadRequest(err.Error())
		}
		opts.FieldSelector = sel
	}
	opts.ResourceVersion = q.Get("resourceVersion")
	return opts, nil
}

// writeOptions reads dryRun and fieldValidation.
func writeOptions(q url.Values) (registry.WriteOptions, error) {
	var wo registry.WriteOptions
	for _, d := range q["dryRun"] {
		if d != "All" {
			return wo, api.NewBadRequest(fmt.Sprintf("unsupported dry run value %q: only All is supported", d))
		}
		wo.DryRun = true
	}
	wo.FieldValidation = q.Get("fieldValidation")
	switch wo.FieldValidation {
	case "", registry.FieldValidationStrict, registry.FieldValidationWarn, registry.FieldValidationIgnore:
	default:
		return wo, api.NewBadRequest(fmt.Sprintf("fieldValidation must be one of Ignore, Warn or Strict, not %q", wo.FieldValidation))
	}
	return wo, nil
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, req request) {
	opts, err := listOptions(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	// A list is always the newest state; a resourceVersion only matters to
	// watches.
	opts.ResourceVersion = ""
	objs, rv, err := s.reg.ListWithVersion(r.Context(), req.res, req.scope(), opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, s.table(req.res, objs, rv, includeObject(r), true))
		return
	}
	writeJSON(w, http.StatusOK, newList(req.res, objs, rv))
}

// list is a <Kind>List.
type list struct {
	api.TypeMeta `json:",inline"`
	Metadata     api.ListMeta `json:"metadata"`
	Items        []api.Object `json:"items"`
}

func newList(res *api.ResourceInfo, objs []api.Object, rv string) *list {
	if objs == nil {
		objs = []api.Object{}
	}
	return &list{TypeMeta: api.TypeMeta{Kind: res.Kind + "List", APIVersion: res.APIVersion()},
		Metadata: api.ListMeta{ResourceVersion: rv}, Items: objs}
}

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, req request) {
	obj, err := s.reg.Get(r.Context(), req.res, req.namespace, req.name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, req.res, obj)
}

// writeObject writes one object, as a one-row Table when asked.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, code int, res *api.ResourceInfo, obj api.Object) {
	if wantsTable(r) {
		writeJSON(w, code, s.table(res, []api.Object{obj}, obj.GetObjectMeta().ResourceVersion, includeObject(r), true))
		return
	}
	writeJSON(w, code, obj)
}

// decodeBody reads and decodes the body as an object of req's kind.
func decodeBody(r *http.Request, req request, fieldValidation string) (api.Object, []string, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	return registry.Decode(req.res, body, fieldValidation)
}

func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request, req request) {
	wo, err := writeOptions(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	obj, warnings, err := decodeBody(r, req, wo.FieldValidation)
	if err != nil {
		writeError(w, r, err)
		return
	}
	m := obj.GetObjectMeta()
	if req.res.Namespaced {
		switch {
		case m.Namespace == "":
			m.Namespace = req.namespace
		case req.namespace != "" && m.Namespace != req.namespace:
			writeError(w, r, api.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
			return
		}
		if m.Namespace == "" {
			writeError(w, r, api.NewBadRequest("a namespaced object must be created under /namespaces/{namespace}/"))
			return
		}
	}
	out, err := s.reg.CreateWith(r.Context(), obj, wo)
	addWarnings(w, warnings)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusCreated, req.res, out)
}

// checkIdentity checks the body's name and namespace against the URL's.
func checkIdentity(req request, m *api.ObjectMeta) error {
	if m.Name != "" && m.Name != req.name {
		return api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.Name, req.name))
	}
	m.Name = req.name
	if req.res.Namespaced {
		if m.Namespace != "" && m.Namespace != req.namespace {
			return api.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		m.Namespace = req.namespace
	}
	return nil
}

func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request, req request) {
	wo, err := writeOptions(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	obj, warnings, err := decodeBody(r, req, wo.FieldValidation)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := checkIdentity(req, obj.GetObjectMeta()); err != nil {
		writeError(w, r, err)
		return
	}
	var out api.Object
	if req.sub == "status" {
		out, err = s.reg.UpdateStatusWith(r.Context(), obj, wo)
	} else {
		out, err = s.reg.UpdateWith(r.Context(), obj, wo)
	}
	addWarnings(w, warnings)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, req.res, out)
}

// patchType is the patch format named by the request's Content-Type.
func patchType(r *http.Request) registry.PatchType {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := strings.Cut(ct, ";")
	return registry.PatchType(strings.TrimSpace(mt))
}

func (s *Server) servePatch(w http.ResponseWriter, r *http.Request, req request) {
	wo, err := writeOptions(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, err := readPatch(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out, warnings, err := s.reg.PatchWith(r.Context(), req.res, req.namespace, req.name, patchType(r), body,
		registry.PatchOptions{WriteOptions: wo, Subresource: req.sub})
	addWarnings(w, warnings)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, req.res, out)
}

func readPatch(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, api.NewBadRequest("the request has no body")
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, bodyError(err)
	}
	return b, nil
}

// deleteOptions reads DeleteOptions from the body (if any) and the query.
func deleteOptions(r *http.Request) (store.DeleteOptions, bool, error) {
	var opts store.DeleteOptions
	dryRun := false
	var body struct {
		GracePeriodSeconds *int64 `json:"gracePeriodSeconds"`
		PropagationPolicy  string `json:"propagationPolicy"`
		OrphanDependents   *bool  `json:"orphanDependents"`
		Preconditions      *struct {
			UID             *string `json:"uid"`
			ResourceVersion *string `json:"resourceVersion"`
		} `json:"preconditions"`
		DryRun []string `json:"dryRun"`
	}
	if r.Body != nil && r.ContentLength != 0 {
		b, err := readPatch(r)
		if err != nil {
			return opts, false, err
		}
		if len(strings.TrimSpace(string(b))) > 0 {
			if err := json.Unmarshal(b, &body); err != nil {
				return opts, false, api.NewBadRequest(fmt.Sprintf("the DeleteOptions in the body could not be decoded: %v", err))
			}
		}
	}
	opts.GracePeriodSeconds = body.GracePeriodSeconds
	opts.PropagationPolicy = body.PropagationPolicy
	if body.OrphanDependents != nil && opts.PropagationPolicy == "" {
		if *body.OrphanDependents {
			opts.PropagationPolicy = store.PropagationOrphan
		} else {
			opts.PropagationPolicy = store.PropagationBackground
		}
	}
	if pc := body.Preconditions; pc != nil {
		if pc.UID != nil {
			opts.UID = *pc.UID
		}
		if pc.ResourceVersion != nil {
			opts.ResourceVersion = *pc.ResourceVersion
		}
	}
	for _, d := range body.DryRun {
		if d != "All" {
			return opts, false, api.NewBadRequest(fmt.Sprintf("unsupported dry run value %q: only All is supported", d))
		}
		dryRun = true
	}
	q := r.URL.Query()
	if g := q.Get("gracePeriodSeconds"); g != "" {
		n, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return opts, false, api.NewBadRequest(fmt.Sprintf("gracePeriodSeconds %q is not an integer", g))
		}
		opts.GracePeriodSeconds = &n
	}
	if p := q.Get("propagationPolicy"); p != "" {
		opts.PropagationPolicy = p
	}
	wo, err := writeOptions(q)
	if err != nil {
		return opts, false, err
	}
	return opts, dryRun || wo.DryRun, nil
}

func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request, req request) {
	opts, dryRun, err := deleteOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	obj, removed, err := s.reg.DeleteWith(r.Context(), req.res, req.namespace, req.name, opts, registry.WriteOptions{DryRun: dryRun})
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Kubernetes returns the object for pods, and for anything that is
	// still there (graceful deletion, finalizers); otherwise a Status.
	if !removed || req.res.Resource == "pods" && req.res.Group == "" {
		writeJSON(w, http.StatusOK, obj)
		return
	}
	m := obj.GetObjectMeta()
	writeJSON(w, http.StatusOK, &api.Status{
		TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   "Success",
		Details:  &api.StatusDetails{Name: m.Name, Group: req.res.Group, Kind: req.res.Resource, UID: m.UID},
	})
}

func (s *Server) serveDeleteCollection(w http.ResponseWriter, r *http.Request, req request) {
	lo, err := listOptions(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	lo.ResourceVersion = ""
	opts, dryRun, err := deleteOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	objs, err := s.reg.DeleteCollection(r.Context(), req.res, req.scope(), lo, opts, registry.WriteOptions{DryRun: dryRun})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(req.res, objs, ""))
}

func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, req request) {
	ctx := r.Context()
	var (
		sc  *api.Scale
		err error
	)
	switch r.Method {
	case http.MethodGet:
		sc, err = s.reg.GetScale(ctx, req.res, req.namespace, req.name)
	case http.MethodPut:
		var wo registry.WriteOptions
		if wo, err = writeOptions(r.URL.Query()); err != nil {
			break
		}
		var body []byte
		if body, err = readBody(r); err != nil {
			break
		}
		in := &api.Scale{}
		if err = json.Unmarshal(body, in); err != nil {
			err = api.NewBadRequest(fmt.Sprintf("the body could not be decoded as a Scale: %v", err))
			break
		}
		if in.Namespace != "" && in.Namespace != req.namespace {
			err = api.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
			break
		}
		sc, err = s.reg.UpdateScaleWith(ctx, req.res, req.namespace, req.name, in, wo)
	case http.MethodPatch:
		var wo registry.WriteOptions
		if wo, err = writeOptions(r.URL.Query()); err != nil {
			break
		}
		var body []byte
		if body, err = readPatch(r); err != nil {
			break
		}
		sc, err = s.reg.PatchScale(ctx, req.res, req.namespace, req.name, patchType(r), body, wo)
	default:
		err = methodNotAllowed(r.Method)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}
