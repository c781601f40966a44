// Package client talks to a wasmlet node over its HTTPS API, as client-go
// talks to a Kubernetes API server: objects are the api package's types,
// errors from the node are *api.Status values (so api.IsNotFound and its
// siblings work on this side too), watches are channels.
//
// It knows nothing of the node's internals: only the REST paths, the
// kubeconfig and the wire format.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/wasmlet/wasmlet/api"
)

// DefaultDataDir is where a node keeps its data, and where clients look
// for its kubeconfig, when nothing else is said: $XDG_DATA_HOME/wasmlet, or
// ~/.local/share/wasmlet.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "wasmlet")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(os.TempDir(), "wasmlet")
	}
	return filepath.Join(home, ".local", "share", "wasmlet")
}

// Client is a connection to one node. It is safe for concurrent use.
type Client struct {
	server    *url.URL
	token     string
	namespace string
	http      *http.Client
	warn      func(string)
	timeout   time.Duration // of one request; 0 = none
}

// Config says how to reach a node.
type Config struct {
	// Server is the node's URL, "https://127.0.0.1:7443".
	Server string
	// CAPEM is the PEM of the CA that signed the node's certificate; nil
	// uses the system's roots.
	CAPEM []byte
	// Token is the bearer token.
	Token string
	// Namespace is the default namespace of the kubeconfig's context
	// ("" = "default").
	Namespace string
	// Insecure skips the verification of the node's certificate.
	Insecure bool
}

// New returns a client for cfg. It does not connect.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Server)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("invalid server URL %q", cfg.Server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure}
	if len(cfg.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CAPEM) {
			return nil, errors.New("the certificate authority data holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tc,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = "default"
	}
	return &Client{server: u, token: cfg.Token, namespace: ns, http: &http.Client{Transport: tr}}, nil
}

// kubeconfig is the part of a kubeconfig file the client reads.
type kubeconfig struct {
	CurrentContext string `json:"current-context"`
	Clusters       []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthorityData string `json:"certificate-authority-data"`
			CertificateAuthority     string `json:"certificate-authority"`
			InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify"`
		} `json:"cluster"`
	} `json:"clusters"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster   string `json:"cluster"`
			User      string `json:"user"`
			Namespace string `json:"namespace"`
		} `json:"context"`
	} `json:"contexts"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			Token     string `json:"token"`
			TokenFile string `json:"tokenFile"`
		} `json:"user"`
	} `json:"users"`
}

// ErrNoKubeconfig is returned (wrapped) by FromKubeconfig when the file does
// not exist: no node was ever started there.
var ErrNoKubeconfig = errors.New("no kubeconfig")

// FromKubeconfig returns a client for the current context of the
// kubeconfig at path.
func FromKubeconfig(path string) (*Client, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: no node to talk to; start one with 'wasmlet serve' (or point --kubeconfig or KUBECONFIG at one)", ErrNoKubeconfig, path)
	}
	if err != nil {
		return nil, err
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %v", path, err)
	}
	if len(kc.Contexts) == 0 || len(kc.Clusters) == 0 {
		return nil, fmt.Errorf("kubeconfig %s has no context or no cluster", path)
	}
	ctxName := kc.CurrentContext
	if ctxName == "" {
		ctxName = kc.Contexts[0].Name
	}
	ci := -1
	for i, c := range kc.Contexts {
		if c.Name == ctxName {
			ci = i
		}
	}
	if ci < 0 {
		return nil, fmt.Errorf("kubeconfig %s: context %q not found", path, ctxName)
	}
	kctx := kc.Contexts[ci].Context
	var cfg Config
	cfg.Namespace = kctx.Namespace
	found := false
	for _, c := range kc.Clusters {
		if c.Name != kctx.Cluster {
			continue
		}
		found = true
		cfg.Server = c.Cluster.Server
		cfg.Insecure = c.Cluster.InsecureSkipTLSVerify
		switch {
		case c.Cluster.CertificateAuthorityData != "":
			if cfg.CAPEM, err = base64.StdEncoding.DecodeString(c.Cluster.CertificateAuthorityData); err != nil {
				return nil, fmt.Errorf("kubeconfig %s: certificate-authority-data: %v", path, err)
			}
		case c.Cluster.CertificateAuthority != "":
			ca := c.Cluster.CertificateAuthority
			if !filepath.IsAbs(ca) {
				ca = filepath.Join(filepath.Dir(path), ca)
			}
			if cfg.CAPEM, err = os.ReadFile(ca); err != nil {
				return nil, fmt.Errorf("kubeconfig %s: %v", path, err)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("kubeconfig %s: cluster %q not found", path, kctx.Cluster)
	}
	for _, u := range kc.Users {
		if u.Name != kctx.User {
			continue
		}
		cfg.Token = u.User.Token
		if cfg.Token == "" && u.User.TokenFile != "" {
			t, err := os.ReadFile(u.User.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("kubeconfig %s: %v", path, err)
			}
			cfg.Token = strings.TrimSpace(string(t))
		}
	}
	return New(cfg)
}

// Namespace is the default namespace of the client's context.
func (c *Client) Namespace() string { return c.namespace }

// Server is the URL of the node.
func (c *Client) Server() string { return c.server.String() }

// path is the REST path of r's objects in namespace (all when ""), of one
// object when name is set, and of a subresource when sub is set.
func resourcePath(r *api.ResourceInfo, namespace, name, sub string) string {
	var b strings.Builder
	if r.Group == "" {
		b.WriteString("/api/" + r.Version)
	} else {
		b.WriteString("/apis/" + r.Group + "/" + r.Version)
	}
	if r.Namespaced && namespace != "" {
		b.WriteString("/namespaces/" + url.PathEscape(namespace))
	}
	b.WriteString("/" + r.Resource)
	if name != "" {
		b.WriteString("/" + url.PathEscape(name))
		if sub != "" {
			b.WriteString("/" + sub)
		}
	}
	return b.String()
}

// The node answers 429 with Retry-After when it is over its limit of
// requests in flight (it did nothing with the request), and client-go waits
// and sends it again, up to ten times. The client does the same, each wait
// bounded, so that a busy node slows a script down instead of failing it.
const (
	maxRetries    = 10
	maxRetryAfter = 10 * time.Second
)

// do sends a request and returns the response when it is a success; a
// failure is decoded into an *api.Status. A 429 with Retry-After is sent
// again after the wait it names.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, contentType string, body []byte) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := c.send(ctx, method, path, query, contentType, body)
		if err != nil {
			return nil, err
		}
		wait, retry := retryAfter(resp)
		if !retry || attempt > maxRetries {
			return c.answer(resp)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// retryAfter says whether resp asks for the request again (429 with a
// Retry-After in seconds) and after how long.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	if err != nil || secs < 0 {
		return 0, false
	}
	return min(time.Duration(secs)*time.Second, maxRetryAfter), true
}

// send sends one request.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, contentType string, body []byte) (*http.Response, error) {
	u := *c.server
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "wasmlet-client")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connectionError(err)
	}
	return resp, nil
}

// answer returns resp when it is a success, and decodes a failure into an
// *api.Status.
func (c *Client) answer(resp *http.Response) (*http.Response, error) {
	c.warnings(resp)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return nil, statusFromResponse(resp.StatusCode, b)
}

// connectionError words a failure to reach the node as kubectl does, with
// the way to start one.
func (c *Client) connectionError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("the connection to the server %s was refused - is the node running? Start one with 'wasmlet serve'", c.server.Host)
	}
	return fmt.Errorf("cannot reach the node at %s: %w", c.server.Host, err)
}

// statusFromResponse decodes a failure's body as a Status; a body that is
// not one becomes a Status with the reason of the HTTP code.
func statusFromResponse(code int, body []byte) *api.Status {
	var st api.Status
	if err := json.Unmarshal(body, &st); err == nil && st.Kind == "Status" {
		if st.Code == 0 {
			st.Code = int32(code)
		}
		return &st
	}
	reason := reasonForCode(code)
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = http.StatusText(code)
	}
	return &api.Status{TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: int32(code), Reason: reason, Message: msg}
}

func reasonForCode(code int) api.StatusReason {
	switch code {
	case 400:
		return api.StatusReasonBadRequest
	case 401:
		return api.StatusReasonUnauthorized
	case 403:
		return api.StatusReasonForbidden
	case 404:
		return api.StatusReasonNotFound
	case 405:
		return api.StatusReasonMethodNotAllowed
	case 406:
		return api.StatusReasonNotAcceptable
	case 409:
		return api.StatusReasonConflict
	case 410:
		return api.StatusReasonGone
	case 413:
		return api.StatusReasonRequestEntityTooLarge
	case 415:
		return api.StatusReasonUnsupportedMediaType
	case 422:
		return api.StatusReasonInvalid
	case 429:
		return api.StatusReasonTooManyRequests
	case 503:
		return api.StatusReasonServiceUnavailable
	case 504:
		return api.StatusReasonTimeout
	}
	return api.StatusReasonInternalError
}

// doJSON sends a request and decodes the successful answer into out.
func (c *Client) doJSON(ctx context.Context, method, path string, query url.Values, contentType string, body []byte, out any) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.do(ctx, method, path, query, contentType, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decoding the answer of %s %s: %w", method, path, err)
	}
	return nil
}

func decodeObject(r *api.ResourceInfo, b []byte) (api.Object, error) {
	obj := r.New()
	if err := json.Unmarshal(b, obj); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", r.Kind, err)
	}
	return obj, nil
}

// objectRequest sends a request whose answer is one object of r.
func (c *Client) objectRequest(ctx context.Context, r *api.ResourceInfo, method, path string, query url.Values, contentType string, body []byte) (api.Object, error) {
	var raw json.RawMessage
	if err := c.doJSON(ctx, method, path, query, contentType, body, &raw); err != nil {
		return nil, err
	}
	return decodeObject(r, raw)
}

// ListOptions select objects as kubectl's -l and --field-selector do.
type ListOptions struct {
	// LabelSelector in kubectl's syntax ("app=web,tier!=db").
	LabelSelector string
	// FieldSelector ("status.phase=Running").
	FieldSelector string
	// ResourceVersion: for Watch, the version after which changes are
	// sent; "" sends the current objects first, as ADDED.
	ResourceVersion string
	// TimeoutSeconds ends a watch after that long; 0 never.
	TimeoutSeconds int64
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.LabelSelector != "" {
		q.Set("labelSelector", o.LabelSelector)
	}
	if o.FieldSelector != "" {
		q.Set("fieldSelector", o.FieldSelector)
	}
	if o.ResourceVersion != "" {
		q.Set("resourceVersion", o.ResourceVersion)
	}
	if o.TimeoutSeconds > 0 {
		q.Set("timeoutSeconds", strconv.FormatInt(o.TimeoutSeconds, 10))
	}
	return q
}

// Get returns one object; a missing one is NotFound. For this and every
// call on one object, namespace "" is the kubeconfig context's namespace
// (for namespaced kinds); for List, Watch and DeleteCollection it is every
// namespace.
func (c *Client) Get(ctx context.Context, r *api.ResourceInfo, namespace, name string) (api.Object, error) {
	return c.objectRequest(ctx, r, http.MethodGet, resourcePath(r, c.ns(r, namespace), name, ""), nil, "", nil)
}

// ns is the namespace of a request on one object: the given one, or the
// context's.
func (c *Client) ns(r *api.ResourceInfo, namespace string) string {
	if !r.Namespaced {
		return ""
	}
	if namespace == "" {
		return c.namespace
	}
	return namespace
}

// List returns the objects of r in namespace ("" = every namespace) that
// opts select, sorted by namespace and name.
func (c *Client) List(ctx context.Context, r *api.ResourceInfo, namespace string, opts ListOptions) ([]api.Object, error) {
	objs, _, err := c.ListWithVersion(ctx, r, namespace, opts)
	return objs, err
}

// ListWithVersion is List that also returns the list's resourceVersion,
// where a Watch may start.
func (c *Client) ListWithVersion(ctx context.Context, r *api.ResourceInfo, namespace string, opts ListOptions) ([]api.Object, string, error) {
	var l struct {
		Metadata api.ListMeta      `json:"metadata"`
		Items    []json.RawMessage `json:"items"`
	}
	q := opts.query()
	q.Del("resourceVersion")
	q.Del("timeoutSeconds")
	if err := c.doJSON(ctx, http.MethodGet, resourcePath(r, namespace, "", ""), q, "", nil, &l); err != nil {
		return nil, "", err
	}
	out := make([]api.Object, 0, len(l.Items))
	for _, raw := range l.Items {
		obj, err := decodeObject(r, raw)
		if err != nil {
			return nil, "", err
		}
		out = append(out, obj)
	}
	return out, l.Metadata.ResourceVersion, nil
}

func resourceOf(obj api.Object) (*api.ResourceInfo, error) {
	r, ok := api.ResourceOf(obj)
	if !ok {
		return nil, fmt.Errorf("%T is not a kind the node serves", obj)
	}
	return r, nil
}

func encode(r *api.ResourceInfo, obj api.Object) ([]byte, error) {
	c := obj.DeepCopyObject()
	tm := c.GetTypeMeta()
	tm.Kind, tm.APIVersion = r.Kind, r.APIVersion()
	return json.Marshal(c)
}

// Create stores a new object and returns it as stored.
func (c *Client) Create(ctx context.Context, obj api.Object) (api.Object, error) {
	r, err := resourceOf(obj)
	if err != nil {
		return nil, err
	}
	body, err := encode(r, obj)
	if err != nil {
		return nil, err
	}
	ns := c.ns(r, obj.GetObjectMeta().Namespace)
	return c.objectRequest(ctx, r, http.MethodPost, resourcePath(r, ns, "", ""), nil, "application/json", body)
}

// Update replaces an object's spec and metadata (its resourceVersion must
// be the stored one, or be empty).
func (c *Client) Update(ctx context.Context, obj api.Object) (api.Object, error) {
	return c.update(ctx, obj, "")
}

// UpdateStatus replaces an object's status.
func (c *Client) UpdateStatus(ctx context.Context, obj api.Object) (api.Object, error) {
	return c.update(ctx, obj, "status")
}

func (c *Client) update(ctx context.Context, obj api.Object, sub string) (api.Object, error) {
	r, err := resourceOf(obj)
	if err != nil {
		return nil, err
	}
	body, err := encode(r, obj)
	if err != nil {
		return nil, err
	}
	m := obj.GetObjectMeta()
	return c.objectRequest(ctx, r, http.MethodPut, resourcePath(r, c.ns(r, m.Namespace), m.Name, sub), nil, "application/json", body)
}

// PatchType names a patch format by its content type.
type PatchType string

// The patch formats the node accepts.
const (
	JSONPatch           PatchType = "application/json-patch+json"
	MergePatch          PatchType = "application/merge-patch+json"
	StrategicMergePatch PatchType = "application/strategic-merge-patch+json"
)

// Patch applies a patch to an object and returns the result.
func (c *Client) Patch(ctx context.Context, r *api.ResourceInfo, namespace, name string, pt PatchType, data []byte) (api.Object, error) {
	return c.objectRequest(ctx, r, http.MethodPatch, resourcePath(r, c.ns(r, namespace), name, ""), nil, string(pt), data)
}

// PatchStatus applies a patch to an object's status.
func (c *Client) PatchStatus(ctx context.Context, r *api.ResourceInfo, namespace, name string, pt PatchType, data []byte) (api.Object, error) {
	return c.objectRequest(ctx, r, http.MethodPatch, resourcePath(r, c.ns(r, namespace), name, "status"), nil, string(pt), data)
}

// DeleteOptions are Kubernetes' DeleteOptions.
type DeleteOptions struct {
	// GracePeriodSeconds: nil uses the object's own (a pod's
	// terminationGracePeriodSeconds); 0 deletes at once.
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
	// PropagationPolicy: "Background" (the default), "Foreground" or
	// "Orphan".
	PropagationPolicy string `json:"propagationPolicy,omitempty"`
	// Preconditions on the object's uid and resourceVersion.
	Preconditions *Preconditions `json:"preconditions,omitempty"`
}

// Preconditions of a delete.
type Preconditions struct {
	UID             *string `json:"uid,omitempty"`
	ResourceVersion *string `json:"resourceVersion,omitempty"`
}

func (o DeleteOptions) body() []byte {
	b, _ := json.Marshal(struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
		DeleteOptions
	}{"DeleteOptions", "v1", o})
	return b
}

// Delete deletes an object. A pod being deleted gracefully, or an object
// with finalizers, stays (with a deletionTimestamp) for a while after.
func (c *Client) Delete(ctx context.Context, r *api.ResourceInfo, namespace, name string, opts DeleteOptions) error {
	return c.doJSON(ctx, http.MethodDelete, resourcePath(r, c.ns(r, namespace), name, ""), nil, "application/json", opts.body(), nil)
}

// DeleteCollection deletes every object of r in namespace that opts
// select.
func (c *Client) DeleteCollection(ctx context.Context, r *api.ResourceInfo, namespace string, lo ListOptions, opts DeleteOptions) error {
	q := lo.query()
	q.Del("resourceVersion")
	q.Del("timeoutSeconds")
	return c.doJSON(ctx, http.MethodDelete, resourcePath(r, namespace, "", ""), q, "application/json", opts.body(), nil)
}

// GetScale reads the scale subresource of a ReplicaSet or
// ReplicationController.
func (c *Client) GetScale(ctx context.Context, r *api.ResourceInfo, namespace, name string) (*api.Scale, error) {
	var s api.Scale
	if err := c.doJSON(ctx, http.MethodGet, resourcePath(r, c.ns(r, namespace), name, "scale"), nil, "", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// UpdateScale writes the scale subresource; a resourceVersion in s must be
// the object's.
func (c *Client) UpdateScale(ctx context.Context, r *api.ResourceInfo, namespace, name string, s *api.Scale) (*api.Scale, error) {
	in := *s
	in.Kind, in.APIVersion = "Scale", "autoscaling/v1"
	body, err := json.Marshal(&in)
	if err != nil {
		return nil, err
	}
	var out api.Scale
	if err := c.doJSON(ctx, http.MethodPut, resourcePath(r, c.ns(r, namespace), name, "scale"), nil, "application/json", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ServerVersion reads /version.
func (c *Client) ServerVersion(ctx context.Context) (*api.VersionInfo, error) {
	var v api.VersionInfo
	if err := c.doJSON(ctx, http.MethodGet, "/version", nil, "", nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Close closes the client's idle connections. A closed client may still
// be used; it opens new ones.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}
