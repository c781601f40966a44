package apiserver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/apiserver"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// node is a server on 127.0.0.1:0 over a store in memory, with a client.
type node struct {
	srv     *apiserver.Server
	reg     *registry.Registry
	cl      *client.Client
	dataDir string
	http    *http.Client
}

func startNode(t *testing.T, logs apiserver.LogFunc) *node {
	t.Helper()
	return startNodeWith(t, apiserver.Options{Logs: logs})
}

// startNodeWith is startNode with options; Listen and DataDir are the
// test's.
func startNodeWith(t *testing.T, opts apiserver.Options) *node {
	t.Helper()
	st, err := store.Open("", store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(st, registry.Options{})
	dir := t.TempDir()
	opts.Listen, opts.DataDir = "127.0.0.1:0", dir
	srv, err := apiserver.New(reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Start: %v", err)
	}
	n := &node{srv: srv, reg: reg, dataDir: dir, http: &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
	t.Cleanup(func() {
		// Connections closed first: the server would give each a second
		// to go away.
		if n.cl != nil {
			n.cl.Close()
		}
		n.http.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start returned %v", err)
		}
		st.Close()
	})
	cl, err := client.FromKubeconfig(filepath.Join(dir, apiserver.KubeconfigFile))
	if err != nil {
		t.Fatal(err)
	}
	n.cl = cl
	return n
}

// raw sends a request with the node's token (unless token is "-") and
// returns the response and its body.
func (n *node) raw(t *testing.T, method, path, contentType, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, n.srv.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+n.srv.Token())
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := n.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func res(t *testing.T, name string) *api.ResourceInfo {
	t.Helper()
	r, ok := api.LookupResource(name)
	if !ok {
		t.Fatalf("no resource %s", name)
	}
	return r
}

func newPod(name string, labels map[string]string) *api.Pod {
	p := &api.Pod{}
	p.Name, p.Labels = name, labels
	p.Spec.Containers = []api.Container{{Name: "app", Image: "app.wasm"}}
	return p
}

func newRS(name string, replicas int32) *api.ReplicaSet {
	rs := &api.ReplicaSet{}
	rs.Name = name
	rs.Spec.Replicas = &replicas
	rs.Spec.Selector = &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	rs.Spec.Template.Labels = map[string]string{"app": "web"}
	rs.Spec.Template.Spec.Containers = []api.Container{{Name: "app", Image: "app.wasm"}}
	return rs
}

func TestAuthentication(t *testing.T) {
	n := startNode(t, nil)
	tok := "Bearer " + n.srv.Token()
	tests := []struct {
		method, path, auth string
		code               int
	}{
		{"GET", "/api/v1/pods", "", 401},
		{"GET", "/api/v1/pods", "Bearer wrong", 401},
		{"GET", "/api/v1/pods", "Basic abc", 401},
		{"GET", "/api/v1/pods", tok, 200},
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/livez", "", 200},
		{"GET", "/version", "", 200},
		{"HEAD", "/version", "", 200},
		{"GET", "/api", "", 401},
		// Only reads are public: anything else on the public paths
		// needs the token, and is then not allowed.
		{"POST", "/version", "", 401},
		{"DELETE", "/healthz", "", 401},
		{"PUT", "/version", tok, 405},
		{"POST", "/healthz", tok, 405},
		{"POST", "/apis", tok, 405},
	}
	for _, tc := range tests {
		resp, body := n.raw(t, tc.method, tc.path, "", "", map[string]string{"Authorization": tc.auth})
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s with %q: %d, want %d", tc.method, tc.path, tc.auth, resp.StatusCode, tc.code)
		}
		if tc.code == 401 && tc.method != "HEAD" {
			var st api.Status
			if json.Unmarshal(body, &st) != nil || st.Reason != api.StatusReasonUnauthorized || st.Kind != "Status" {
				t.Errorf("%s: body %s", tc.path, body)
			}
		}
	}
}

func TestCredentialsPersist(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open("", store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := registry.New(st, registry.Options{})
	a, err := apiserver.New(reg, apiserver.Options{Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	b, err := apiserver.New(reg, apiserver.Options{Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if a.Token() != b.Token() || !bytes.Equal(a.CACertPEM(), b.CACertPEM()) {
		t.Errorf("a restarted server has new credentials")
	}
	c, err := apiserver.New(reg, apiserver.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Token() == a.Token() || len(c.Token()) < 32 {
		t.Errorf("in-memory token %q", c.Token())
	}
}

func TestDiscovery(t *testing.T) {
	n := startNode(t, nil)
	get := func(path string, out any) {
		t.Helper()
		resp, body := n.raw(t, "GET", path, "", "", map[string]string{
			"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatal(err)
		}
	}
	var versions struct {
		Kind     string
		Versions []string
	}
	get("/api", &versions)
	if versions.Kind != "APIVersions" || len(versions.Versions) != 1 || versions.Versions[0] != "v1" {
		t.Errorf("/api: %+v", versions)
	}
	var groups struct {
		Groups []struct {
			Name string
		}
	}
	get("/apis", &groups)
	if len(groups.Groups) != 2 || groups.Groups[0].Name != "apps" || groups.Groups[1].Name != "discovery.k8s.io" {
		t.Errorf("/apis: %+v", groups)
	}
	type resource struct {
		Name, Kind, Group, Version string
		Namespaced                 bool
		Verbs, ShortNames          []string
		Categories                 []string
	}
	var core, apps struct {
		GroupVersion string
		Resources    []resource
	}
	get("/api/v1", &core)
	get("/apis/apps/v1", &apps)
	find := func(list []resource, name string) *resource {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
		t.Errorf("no resource %s", name)
		return &resource{}
	}
	if p := find(core.Resources, "pods"); !p.Namespaced || p.ShortNames[0] != "po" || len(p.Verbs) != 8 || p.Categories[0] != "all" {
		t.Errorf("pods: %+v", p)
	}
	find(core.Resources, "pods/log")
	find(core.Resources, "pods/status")
	find(core.Resources, "replicationcontrollers/scale")
	if ns := find(core.Resources, "namespaces"); ns.Namespaced {
		t.Errorf("namespaces: %+v", ns)
	}
	if s := find(apps.Resources, "replicasets/scale"); s.Group != "autoscaling" || s.Version != "v1" || s.Kind != "Scale" {
		t.Errorf("replicasets/scale: %+v", s)
	}
	for _, p := range []string{"/openapi/v3/apis/batch/v1", "/apis/batch/v1", "/api/v2", "/nope"} {
		if resp, _ := n.raw(t, "GET", p, "", "", nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	v, err := n.cl.ServerVersion(context.Background())
	if err != nil || v.Major != "1" || v.Minor != "32" || !strings.HasPrefix(v.GitVersion, "v1.32.0") {
		t.Errorf("version %+v %v", v, err)
	}
}

func TestClientRoundTrip(t *testing.T) {
	ctx := context.Background()
	n := startNode(t, nil)
	pods := res(t, "pods")
	cl := n.cl

	created, err := cl.Create(ctx, newPod("web", map[string]string{"app": "web"}))
	if err != nil {
		t.Fatal(err)
	}
	if created.GetObjectMeta().Namespace != "default" || created.GetObjectMeta().UID == "" {
		t.Errorf("created %+v", created.GetObjectMeta())
	}
	if _, err := cl.Create(ctx, newPod("db", map[string]string{"app": "db"})); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Create(ctx, newPod("web", nil)); !api.IsAlreadyExists(err) {
		t.Errorf("create twice: %v", err)
	}
	bad := newPod("Bad_Name", nil)
	bad.Spec.Containers = nil
	_, err = cl.Create(ctx, bad)
	var st *api.Status
	if !errors.As(err, &st) || st.Code != 422 || st.Reason != api.StatusReasonInvalid || len(st.Details.Causes) < 2 {
		t.Errorf("invalid pod: %#v", err)
	}
	if _, err := cl.Get(ctx, pods, "default", "nope"); !api.IsNotFound(err) || err.Error() != `pods "nope" not found` {
		t.Errorf("get missing: %v", err)
	}

	list, err := cl.List(ctx, pods, "default", client.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(list) != 1 || list[0].GetObjectMeta().Name != "web" {
		t.Errorf("list app=web: %v %v", list, err)
	}
	list, err = cl.List(ctx, pods, "", client.ListOptions{FieldSelector: "metadata.name=db"})
	if err != nil || len(list) != 1 || list[0].GetObjectMeta().Name != "db" {
		t.Errorf("list metadata.name=db: %v %v", list, err)
	}
	if _, err := cl.List(ctx, pods, "", client.ListOptions{LabelSelector: "a in (b"}); api.ReasonOf(err) != api.StatusReasonBadRequest {
		t.Errorf("bad selector: %v", err)
	}

	p := created.(*api.Pod).DeepCopy()
	p.Labels["tier"] = "front"
	updated, err := cl.Update(ctx, p)
	if err != nil || updated.GetObjectMeta().Labels["tier"] != "front" {
		t.Fatalf("update: %v %v", updated, err)
	}
	if _, err := cl.Update(ctx, p); !api.IsConflict(err) {
		t.Errorf("stale update: %v", err)
	}

	for _, tc := range []struct {
		pt    client.PatchType
		patch string
	}{
		{client.MergePatch, `{"metadata":{"labels":{"m":"1"}}}`},
		{client.JSONPatch, `[{"op":"add","path":"/metadata/labels/j","value":"1"}]`},
		{client.StrategicMergePatch, `{"metadata":{"labels":{"s":"1"}},"spec":{"containers":[{"name":"app","image":"new.wasm"}]}}`},
	} {
		if _, err := cl.Patch(ctx, pods, "default", "web", tc.pt, []byte(tc.patch)); err != nil {
			t.Errorf("%s: %v", tc.pt, err)
		}
	}
	got, _ := cl.Get(ctx, pods, "", "web")
	gp := got.(*api.Pod)
	if gp.Labels["m"] != "1" || gp.Labels["j"] != "1" || gp.Labels["s"] != "1" || gp.Spec.Containers[0].Image != "new.wasm" {
		t.Errorf("patched pod: %v %s", gp.Labels, gp.Spec.Containers[0].Image)
	}
	gp.Status.Phase = api.PodRunning
	if out, err := cl.UpdateStatus(ctx, gp); err != nil || out.(*api.Pod).Status.Phase != api.PodRunning {
		t.Errorf("update status: %v", err)
	}
	if out, err := cl.PatchStatus(ctx, pods, "", "web", client.MergePatch, []byte(`{"status":{"phase":"Succeeded"}}`)); err != nil ||
		out.(*api.Pod).Status.Phase != api.PodSucceeded {
		t.Errorf("patch status: %v", err)
	}

	zero := int64(0)
	if err := cl.Delete(ctx, pods, "default", "web", client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Get(ctx, pods, "default", "web"); !api.IsNotFound(err) {
		t.Errorf("after delete: %v", err)
	}
	if err := cl.Delete(ctx, pods, "default", "web", client.DeleteOptions{}); !api.IsNotFound(err) {
		t.Errorf("delete twice: %v", err)
	}
	rv := "1"
	if err := cl.Delete(ctx, pods, "default", "db", client.DeleteOptions{Preconditions: &client.Preconditions{ResourceVersion: &rv}}); !api.IsConflict(err) {
		t.Errorf("delete precondition: %v", err)
	}

	// Namespaces and cluster-scoped kinds.
	ns := &api.Namespace{}
	ns.Name = "team"
	if _, err := cl.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Create(ctx, &api.Pod{ObjectMeta: api.ObjectMeta{Name: "x", Namespace: "team"},
		Spec: api.PodSpec{Containers: []api.Container{{Name: "a", Image: "a.wasm"}}}}); err != nil {
		t.Fatal(err)
	}
	all, err := cl.List(ctx, pods, "", client.ListOptions{})
	if err != nil || len(all) != 2 {
		t.Errorf("all namespaces: %d %v", len(all), err)
	}
	nss, err := cl.List(ctx, res(t, "namespaces"), "", client.ListOptions{})
	if err != nil || len(nss) != 3 {
		t.Errorf("namespaces: %d %v", len(nss), err)
	}
}

func TestScale(t *testing.T) {
	ctx := context.Background()
	n := startNode(t, nil)
	rsR := res(t, "replicasets")
	if _, err := n.cl.Create(ctx, newRS("web", 2)); err != nil {
		t.Fatal(err)
	}
	s, err := n.cl.GetScale(ctx, rsR, "default", "web")
	if err != nil || s.Spec.Replicas != 2 || s.Status.Selector != "app=web" {
		t.Fatalf("scale %+v %v", s, err)
	}
	s.Spec.Replicas = 4
	if s, err = n.cl.UpdateScale(ctx, rsR, "default", "web", s); err != nil || s.Spec.Replicas != 4 {
		t.Fatalf("update scale %+v %v", s, err)
	}
	resp, body := n.raw(t, "PATCH", "/apis/apps/v1/namespaces/default/replicasets/web/scale",
		"application/merge-patch+json", `{"spec":{"replicas":3}}`, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"replicas":3`) {
		t.Errorf("patch scale: %d %s", resp.StatusCode, body)
	}
	obj, _ := n.cl.Get(ctx, rsR, "default", "web")
	if r := obj.(*api.ReplicaSet).Spec.Replicas; *r != 3 {
		t.Errorf("replicas %d", *r)
	}
	if resp, _ := n.raw(t, "GET", "/api/v1/namespaces/default/pods/web/scale", "", "", nil); resp.StatusCode != 404 {
		t.Errorf("pod scale: %d", resp.StatusCode)
	}
}

func TestBadRequests(t *testing.T) {
	n := startNode(t, nil)
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"a.wasm","bogus":1}]}}`
	tests := []struct {
		name, method, path, ct, body string
		code                         int
		reason                       api.StatusReason
		warning                      string
	}{
		{"malformed body", "POST", "/api/v1/namespaces/default/pods", "application/json", `{"metadata":`, 400, api.StatusReasonBadRequest, ""},
		{"huge body", "POST", "/api/v1/namespaces/default/pods", "application/json", `{"a":"` + strings.Repeat("x", 4<<20) + `"}`, 413, api.StatusReasonRequestEntityTooLarge, ""},
		{"wrong content type", "POST", "/api/v1/namespaces/default/pods", "application/vnd.kubernetes.protobuf", "k8s\x00\x0a\x0d\x0a\x02v1\x12\x03Pod", 415, api.StatusReasonUnsupportedMediaType, ""},
		{"wrong kind", "POST", "/api/v1/namespaces/default/pods", "application/json", `{"apiVersion":"apps/v1","kind":"ReplicaSet"}`, 400, api.StatusReasonBadRequest, ""},
		{"namespace mismatch", "POST", "/api/v1/namespaces/default/pods", "application/json", `{"metadata":{"name":"p","namespace":"other"}}`, 400, api.StatusReasonBadRequest, ""},
		{"strict", "POST", "/api/v1/namespaces/default/pods?fieldValidation=Strict", "application/json", pod, 400, api.StatusReasonBadRequest, ""},
		{"warn", "POST", "/api/v1/namespaces/default/pods?fieldValidation=Warn", "application/json", pod, 201, "", `299 - "unknown field \"spec.containers[0].bogus\""`},
		{"bad fieldValidation", "POST", "/api/v1/namespaces/default/pods?fieldValidation=Loose", "application/json", pod, 400, api.StatusReasonBadRequest, ""},
		{"dry run", "POST", "/api/v1/namespaces/default/pods?dryRun=All&fieldValidation=Ignore", "application/json", strings.Replace(pod, `"p"`, `"dry"`, 1), 201, "", ""},
		{"yaml body", "POST", "/api/v1/namespaces/default/pods", "application/yaml", "metadata:\n  name: yaml-pod\nspec:\n  containers:\n  - name: a\n    image: a.wasm\n", 201, "", ""},
		{"name mismatch", "PUT", "/api/v1/namespaces/default/pods/p", "application/json", `{"metadata":{"name":"q"}}`, 400, api.StatusReasonBadRequest, ""},
		{"unknown patch type", "PATCH", "/api/v1/namespaces/default/pods/p", "text/plain", `{}`, 415, api.StatusReasonUnsupportedMediaType, ""},
		{"apply patch", "PATCH", "/api/v1/namespaces/default/pods/p", "application/apply-patch+yaml", `{}`, 415, api.StatusReasonUnsupportedMediaType, ""},
		{"method", "PUT", "/api/v1/namespaces/default/pods", "application/json", `{}`, 405, api.StatusReasonMethodNotAllowed, ""},
		{"unknown resource", "GET", "/api/v1/namespaces/default/persistentvolumeclaims", "", "", 404, api.StatusReasonNotFound, ""},
		{"unknown subresource", "GET", "/api/v1/namespaces/default/pods/p/exec", "", "", 404, api.StatusReasonNotFound, ""},
		{"cluster kind under a namespace", "GET", "/api/v1/namespaces/default/nodes", "", "", 404, api.StatusReasonNotFound, ""},
		{"bad grace period", "DELETE", "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=x", "", "", 400, api.StatusReasonBadRequest, ""},
		{"bad propagation", "DELETE", "/api/v1/namespaces/default/pods/p?propagationPolicy=Sideways", "", "", 422, api.StatusReasonInvalid, ""},
		{"bad watch timeout", "GET", "/api/v1/pods?watch=true&timeoutSeconds=-1", "", "", 400, api.StatusReasonBadRequest, ""},
		{"expired watch", "GET", "/api/v1/pods?watch=true&resourceVersion=0x", "", "", 400, api.StatusReasonBadRequest, ""},
		{"protobuf only", "GET", "/api/v1/pods", "", "", 406, api.StatusReasonNotAcceptable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.name == "protobuf only" {
				hdr["Accept"] = "application/vnd.kubernetes.protobuf"
			}
			resp, body := n.raw(t, tc.method, tc.path, tc.ct, tc.body, hdr)
			if resp.StatusCode != tc.code {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			if tc.reason != "" {
				var st api.Status
				if err := json.Unmarshal(body, &st); err != nil || st.Reason != tc.reason || st.Kind != "Status" || int(st.Code) != tc.code {
					t.Errorf("body %s", body)
				}
			}
			if tc.warning != "" && resp.Header.Get("Warning") != tc.warning {
				t.Errorf("Warning %q, want %q", resp.Header.Get("Warning"), tc.warning)
			}
		})
	}
}

func TestDeleteResponses(t *testing.T) {
	ctx := context.Background()
	n := startNode(t, nil)
	if _, err := n.cl.Create(ctx, newRS("a", 1)); err != nil {
		t.Fatal(err)
	}
	resp, body := n.raw(t, "DELETE", "/apis/apps/v1/namespaces/default/replicasets/a", "application/json",
		`{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}`, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"deletionTimestamp"`) || !strings.Contains(string(body), "foregroundDeletion") {
		t.Errorf("foreground: %d %s", resp.StatusCode, body)
	}
	if _, err := n.cl.Create(ctx, newRS("b", 1)); err != nil {
		t.Fatal(err)
	}
	resp, body = n.raw(t, "DELETE", "/apis/apps/v1/namespaces/default/replicasets/b", "", "", nil)
	var st api.Status
	if resp.StatusCode != 200 || json.Unmarshal(body, &st) != nil || st.Status != "Success" || st.Details.Name != "b" {
		t.Errorf("background: %d %s", resp.StatusCode, body)
	}
	if _, err := n.cl.Create(ctx, newPod("p", nil)); err != nil {
		t.Fatal(err)
	}
	resp, body = n.raw(t, "DELETE", "/api/v1/namespaces/default/pods/p", "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"kind":"Pod"`) {
		t.Errorf("pod: %d %s", resp.StatusCode, body)
	}

	for _, name := range []string{"x1", "x2", "keep"} {
		p := newPod(name, map[string]string{"del": "yes"})
		if name == "keep" {
			p.Labels = nil
		}
		if _, err := n.cl.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.cl.DeleteCollection(ctx, res(t, "pods"), "default", client.ListOptions{LabelSelector: "del=yes"}, client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	left, _ := n.cl.List(ctx, res(t, "pods"), "default", client.ListOptions{})
	if len(left) != 1 || left[0].GetObjectMeta().Name != "keep" {
		t.Errorf("left after delete collection: %v", left)
	}
}

func TestTable(t *testing.T) {
	ctx := context.Background()
	n := startNode(t, nil)
	if _, err := n.cl.Create(ctx, newPod("web", map[string]string{"app": "web"})); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cl.Create(ctx, newRS("rs", 3)); err != nil {
		t.Fatal(err)
	}
	accept := "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
	type tbl struct {
		Kind, APIVersion  string
		ColumnDefinitions []struct {
			Name, Type, Format string
			Priority           int
		}
		Rows []struct {
			Cells  []any
			Object struct {
				Kind     string
				Metadata struct{ Name, Namespace string }
			}
		}
	}
	var pods tbl
	resp, body := n.raw(t, "GET", "/api/v1/namespaces/default/pods?limit=500", "", "", map[string]string{"Accept": accept})
	if resp.StatusCode != 200 || json.Unmarshal(body, &pods) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var names []string
	for _, c := range pods.ColumnDefinitions {
		names = append(names, c.Name)
		if c.Priority != 0 && (c.Name == "Name" || c.Name == "Age") || c.Priority != 1 && c.Name == "IP" {
			t.Errorf("column %s priority %d", c.Name, c.Priority)
		}
	}
	if got := strings.Join(names, ","); got != "Name,Ready,Status,Restarts,Age,IP,Node,Nominated Node,Readiness Gates" {
		t.Errorf("pod columns %s", got)
	}
	if pods.Kind != "Table" || pods.APIVersion != "meta.k8s.io/v1" || pods.ColumnDefinitions[0].Format != "name" {
		t.Errorf("table %+v", pods)
	}
	if len(pods.Rows) != 1 || pods.Rows[0].Cells[0] != "web" || pods.Rows[0].Cells[1] != "0/1" || pods.Rows[0].Cells[2] != "Pending" ||
		pods.Rows[0].Object.Kind != "PartialObjectMetadata" || pods.Rows[0].Object.Metadata.Namespace != "default" {
		t.Errorf("rows %+v", pods.Rows)
	}
	var rs tbl
	_, body = n.raw(t, "GET", "/apis/apps/v1/namespaces/default/replicasets/rs", "", "", map[string]string{"Accept": accept})
	if json.Unmarshal(body, &rs) != nil || len(rs.Rows) != 1 || rs.Rows[0].Cells[1] != "3" || len(rs.ColumnDefinitions) != 8 {
		t.Errorf("rs table %s", body)
	}
	// Without the Table media type, plain JSON.
	_, body = n.raw(t, "GET", "/api/v1/namespaces/default/pods", "", "", map[string]string{"Accept": "application/json"})
	if !strings.Contains(string(body), `"kind":"PodList"`) {
		t.Errorf("plain list %s", body)
	}
}

// TestWatch checks the stream (initial ADDED, changes, selector) and that
// a client going away ends the server's side of the watch.
func TestWatch(t *testing.T) {
	n := startNode(t, nil)
	pods := res(t, "pods")
	bg := context.Background()
	if _, err := n.cl.Create(bg, newPod("a", map[string]string{"app": "web"})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	ch, err := n.cl.Watch(ctx, pods, "default", client.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	next := func() client.WatchEvent {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("watch closed")
			}
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no watch event")
		}
		return client.WatchEvent{}
	}
	if ev := next(); ev.Type != "ADDED" || ev.Object.GetObjectMeta().Name != "a" {
		t.Errorf("first event %+v", ev)
	}
	if _, err := n.cl.Create(bg, newPod("other", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cl.Create(bg, newPod("b", map[string]string{"app": "web"})); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Type != "ADDED" || ev.Object.GetObjectMeta().Name != "b" {
		t.Errorf("second event %+v", ev)
	}
	if _, err := n.cl.Patch(bg, pods, "default", "b", client.MergePatch, []byte(`{"metadata":{"labels":{"app":"db"}}}`)); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Type != "DELETED" || ev.Object.GetObjectMeta().Name != "b" {
		t.Errorf("event of a pod leaving the selector %+v", ev)
	}
	cancel()
	for range ch {
	}
	for i := 0; n.srv.ActiveWatches() != 0; i++ {
		if i > 500 {
			t.Fatal("the server still serves a watch whose client is gone")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The server notices and ends its side: a new watch from the current
	// resourceVersion sees only what comes after.
	_, rv, err := n.cl.ListWithVersion(bg, pods, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(bg)
	defer cancel2()
	ch2, err := n.cl.Watch(ctx2, pods, "default", client.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.cl.Create(bg, newPod("c", nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch2:
		if ev.Type != "ADDED" || ev.Object.GetObjectMeta().Name != "c" {
			t.Errorf("watch from %s: %+v", rv, ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}

	// timeoutSeconds ends the stream.
	ch3, err := n.cl.Watch(bg, pods, "default", client.ListOptions{ResourceVersion: rv, TimeoutSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-ch3:
		case <-deadline:
			t.Fatal("timeoutSeconds did not end the watch")
		}
	}
}

// TestWatchTable is the stream `kubectl get -w` reads: Tables of one row,
// column definitions in the first only.
func TestWatchTable(t *testing.T) {
	n := startNode(t, nil)
	if _, err := n.cl.Create(context.Background(), newPod("a", nil)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", n.srv.URL()+"/api/v1/namespaces/default/pods?watch=true", nil)
	req.Header.Set("Authorization", "Bearer "+n.srv.Token())
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var ev struct {
		Type   string
		Object struct {
			Kind              string
			ColumnDefinitions []any
			Rows              []struct{ Cells []any }
		}
	}
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "ADDED" || ev.Object.Kind != "Table" || len(ev.Object.ColumnDefinitions) != 9 || ev.Object.Rows[0].Cells[0] != "a" {
		t.Errorf("first %+v", ev)
	}
	if _, err := n.cl.Create(context.Background(), newPod("b", nil)); err != nil {
		t.Fatal(err)
	}
	ev.Object.ColumnDefinitions = nil
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Object.ColumnDefinitions) != 0 || ev.Object.Rows[0].Cells[0] != "b" {
		t.Errorf("second %+v", ev)
	}
}

func TestLogs(t *testing.T) {
	var mu sync.Mutex
	var seen apiserver.LogOptions
	logs := func(ctx context.Context, ns, pod string, opts apiserver.LogOptions, w io.Writer) error {
		mu.Lock()
		seen = opts
		mu.Unlock()
		if pod == "missing" {
			return api.NewNotFound("", "pods", pod)
		}
		_, err := io.WriteString(w, ns+"/"+pod+" line 1\nline 2\n")
		return err
	}
	n := startNode(t, logs)
	var buf bytes.Buffer
	tail := int64(2)
	err := n.cl.Logs(context.Background(), "default", "web", client.LogOptions{Container: "app", TailLines: &tail, Timestamps: true}, &buf)
	if err != nil || buf.String() != "default/web line 1\nline 2\n" {
		t.Errorf("logs %q %v", buf.String(), err)
	}
	mu.Lock()
	if seen.Container != "app" || seen.TailLines == nil || *seen.TailLines != 2 || !seen.Timestamps || seen.Follow {
		t.Errorf("options %+v", seen)
	}
	mu.Unlock()
	if err := n.cl.Logs(context.Background(), "default", "missing", client.LogOptions{}, &buf); !api.IsNotFound(err) {
		t.Errorf("missing pod: %v", err)
	}
	if resp, _ := n.raw(t, "GET", "/api/v1/namespaces/default/pods/web/log?tailLines=x", "", "", nil); resp.StatusCode != 400 {
		t.Errorf("bad tailLines: %d", resp.StatusCode)
	}
}

func TestNoNode(t *testing.T) {
	dir := t.TempDir()
	_, err := client.FromKubeconfig(filepath.Join(dir, "kubeconfig.yaml"))
	if !errors.Is(err, client.ErrNoKubeconfig) || !strings.Contains(err.Error(), "wasmlet serve") {
		t.Errorf("missing kubeconfig: %v", err)
	}
	// A kubeconfig whose node is gone.
	n := startNode(t, nil)
	path := filepath.Join(t.TempDir(), "kc.yaml")
	if err := apiserver.WriteKubeconfig(path, "https://127.0.0.1:1", n.srv.CACertPEM(), "t"); err != nil {
		t.Fatal(err)
	}
	cl, err := client.FromKubeconfig(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.ServerVersion(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "wasmlet serve") {
		t.Errorf("unreachable node: %v", err)
	}
}

// TestNoGoroutineLeft: a node that served lists, watches and writes leaves
// no goroutine behind once it is stopped and its clients are closed.
func TestNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("node", func(t *testing.T) {
		n := startNode(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pods := res(t, "pods")
		ch, err := n.cl.Watch(ctx, pods, "", client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.cl.Create(ctx, newPod("a", nil)); err != nil {
			t.Fatal(err)
		}
		<-ch
		if _, err := n.cl.List(ctx, pods, "", client.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		// The last watch is left open: stopping the server ends it.
	})
	var now int
	for i := 0; i < 200; i++ {
		if now = runtime.NumGoroutine(); now <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("%d goroutines before, %d after:\n%s", before, now, buf[:runtime.Stack(buf, true)])
}
