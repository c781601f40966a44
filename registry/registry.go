// Package registry is the write path every client of a node goes through:
// the HTTP API and the embeddable Go API alike. It runs, per kind,
// Kubernetes' registry strategy around the store: defaulting and validation
// on create and update, the status that a main-resource update cannot touch
// and the spec that a status update cannot, namespaces defaulted, names
// generated, patches (JSON, merge and strategic merge) and the scale
// subresource.
//
// Every pod is created here, whoever creates it: the API, the embeddable Go
// API and the ReplicaSet and ReplicationController controllers, so that a
// pod is defaulted, validated, given its quality of service class and bound
// to the node in its first version, whichever wrote it. The node agent's
// status writes and the controllers' adoption go to the store directly: they
// are the API's trusted components, as the kubelet and the controller
// manager are.
//
// The registry never speaks HTTP and never runs pods.
package registry

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/internal/events"
	"github.com/wasmlet/wasmlet/store"
)

// Options configures a Registry.
type Options struct {
	// Clock gives the timestamps of dry runs; nil is the real clock.
	Clock clock.Clock
	// AllowedHostPaths are the directories under which hostPath volumes
	// may be mounted; with none, hostPath volumes are refused.
	AllowedHostPaths []string
	// NodeName is the node a pod created without spec.nodeName is bound
	// to as it is created, as the scheduler of a cluster of one node would
	// bind it, with its PodScheduled condition and Scheduled event. Empty
	// leaves pods unbound.
	NodeName string
	// Services are the ranges Services' cluster IPs and node ports come
	// from.
	Services ServiceRanges
}

// Registry runs Kubernetes' strategies in front of a store. It is safe for
// concurrent use.
type Registry struct {
	st        *store.Store
	clk       clock.Clock
	hostPaths []string
	nodeName  string
	scheduler *events.Recorder
	services  *serviceAllocator
}

// New returns a Registry over st.
func New(st *store.Store, opts Options) *Registry {
	r := &Registry{st: st, clk: opts.Clock, nodeName: opts.NodeName, services: newServiceAllocator(opts.Services)}
	if r.clk == nil {
		r.clk = clock.Real()
	}
	if r.nodeName != "" {
		r.scheduler = events.NewRecorder(st, "default-scheduler", "", r.clk)
	}
	for _, d := range opts.AllowedHostPaths {
		if d != "" {
			r.hostPaths = append(r.hostPaths, filepath.Clean(d))
		}
	}
	return r
}

// Store is the store the registry writes to.
func (r *Registry) Store() *store.Store { return r.st }

// WriteOptions are the options of a write request.
type WriteOptions struct {
	// DryRun runs every check and returns what would be stored, without
	// storing it (Kubernetes' dryRun=All).
	DryRun bool
	// FieldValidation applies to the objects a patch produces:
	// FieldValidationStrict, FieldValidationWarn (the default) or
	// FieldValidationIgnore.
	FieldValidation string
}

// Kubernetes' fieldValidation values.
const (
	FieldValidationStrict = "Strict"
	FieldValidationWarn   = "Warn"
	FieldValidationIgnore = "Ignore"
)

// resourceOf is the kind of obj, or a BadRequest naming what it is.
func resourceOf(obj api.Object) (*api.ResourceInfo, error) {
	if obj == nil {
		return nil, api.NewBadRequest("no object given")
	}
	res, ok := api.ResourceOf(obj)
	if !ok {
		tm := obj.GetTypeMeta()
		return nil, api.NewBadRequest(fmt.Sprintf("no kind %q is registered for version %q", tm.Kind, tm.APIVersion))
	}
	return res, nil
}

// namespaceOf is the namespace an object of res lives in: "" for
// cluster-scoped kinds, "default" when a namespaced one names none.
func namespaceOf(res *api.ResourceInfo, ns string) string {
	if !res.Namespaced {
		return ""
	}
	if ns == "" {
		return "default"
	}
	return ns
}

// Get returns one object, or NotFound.
func (r *Registry) Get(ctx context.Context, res *api.ResourceInfo, namespace, name string) (api.Object, error) {
	return r.st.Get(ctx, res, namespaceOf(res, namespace), name)
}

// List returns the objects of res in namespace ("" = every namespace) that
// opts select, sorted by namespace and name.
func (r *Registry) List(ctx context.Context, res *api.ResourceInfo, namespace string, opts store.ListOptions) ([]api.Object, error) {
	objs, _, err := r.ListWithVersion(ctx, res, namespace, opts)
	return objs, err
}

// ListWithVersion is List that also returns the resourceVersion the list is
// consistent with (the list's metadata.resourceVersion, where a watch may
// start). A field selector that names a field res cannot be selected by is
// a BadRequest, as in Kubernetes; so are watches and DeleteCollection.
func (r *Registry) ListWithVersion(ctx context.Context, res *api.ResourceInfo, namespace string, opts store.ListOptions) ([]api.Object, string, error) {
	if !res.Namespaced {
		namespace = ""
	}
	if err := store.CheckFieldSelector(res, opts.FieldSelector); err != nil {
		return nil, "", err
	}
	return r.st.List(ctx, res, namespace, opts)
}

// Watch streams the changes of res in namespace ("" = all) that opts
// select; see store.Watch.
func (r *Registry) Watch(ctx context.Context, res *api.ResourceInfo, namespace string, opts store.ListOptions) (store.Watch, error) {
	if !res.Namespaced {
		namespace = ""
	}
	if err := store.CheckFieldSelector(res, opts.FieldSelector); err != nil {
		return nil, err
	}
	return r.st.Watch(ctx, res, namespace, opts)
}

// Create defaults, validates and stores a new object, and returns it as
// stored.
func (r *Registry) Create(ctx context.Context, obj api.Object) (api.Object, error) {
	return r.CreateWith(ctx, obj, WriteOptions{})
}

// CreateWith is Create with options.
//
// As Kubernetes' BeforeCreate: the namespace defaults to "default", a
// resourceVersion is refused, uid and the other system fields are cleared,
// a name is generated from generateName, the status of pods, ReplicaSets
// and ReplicationControllers is reset, then the object is defaulted and
// validated, every error reported at once. A pod starts Pending with its
// quality of service class, bound to Options.NodeName if it names no node.
func (r *Registry) CreateWith(ctx context.Context, obj api.Object, opts WriteOptions) (api.Object, error) {
	res, err := resourceOf(obj)
	if err != nil {
		return nil, err
	}
	in := obj.DeepCopyObject()
	tm := in.GetTypeMeta()
	tm.Kind, tm.APIVersion = res.Kind, res.APIVersion()
	m := in.GetObjectMeta()
	m.Namespace = namespaceOf(res, m.Namespace)
	if m.ResourceVersion != "" {
		return nil, api.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	m.UID = ""
	m.SelfLink = ""
	m.DeletionTimestamp = nil
	m.DeletionGracePeriodSeconds = nil
	m.ManagedFields = nil
	m.CreationTimestamp = api.Time{}
	m.Generation = 0
	prepareForCreate(in)
	mergeStringData(in)
	api.Default(in)
	bound := r.schedule(in)

	generated := m.Name == "" && m.GenerateName != ""
	for attempt := 0; ; attempt++ {
		if generated {
			m.Name = store.GenerateName(m.GenerateName)
		}
		if errs := api.Validate(in); len(errs) > 0 {
			return nil, api.NewInvalid(res.Group, res.Kind, m.Name, errs)
		}
		if err := r.checkHostPaths(res, in); err != nil {
			return nil, err
		}
		if err := checkObjectSize(in); err != nil {
			return nil, err
		}
		release, err := r.allocateService(ctx, in)
		if err != nil {
			return nil, err
		}
		var out api.Object
		if opts.DryRun {
			out, err = r.dryRunCreate(ctx, res, in)
		} else {
			out, err = r.st.Create(ctx, in)
		}
		release()
		if err == nil && bound && !opts.DryRun {
			r.scheduler.Eventf(out, events.Normal, "Scheduled", "Successfully assigned %s/%s to %s", m.Namespace, out.GetObjectMeta().Name, r.nodeName)
		}
		if err == nil || !generated || !api.IsAlreadyExists(err) || attempt >= 7 {
			return out, err
		}
	}
}

func (r *Registry) dryRunCreate(ctx context.Context, res *api.ResourceInfo, in api.Object) (api.Object, error) {
	m := in.GetObjectMeta()
	_, err := r.st.Get(ctx, res, m.Namespace, m.Name)
	if err == nil {
		return nil, api.NewAlreadyExists(res.Group, res.Resource, m.Name)
	}
	if !api.IsNotFound(err) {
		return nil, err
	}
	out := in.DeepCopyObject()
	om := out.GetObjectMeta()
	om.UID = newUID()
	om.CreationTimestamp = api.NewTime(r.clk.Now())
	om.Generation = 1
	return out, nil
}

// Update replaces an object's spec and metadata, keeping its status.
func (r *Registry) Update(ctx context.Context, obj api.Object) (api.Object, error) {
	return r.UpdateWith(ctx, obj, WriteOptions{})
}

// UpdateWith is Update with options.
//
// A non-empty resourceVersion must be the stored one, and a non-empty uid
// the stored object's (Conflict otherwise); an empty resourceVersion updates
// whatever is stored. The object is defaulted and validated against the
// stored one (immutable fields, ...). metadata.generation is bumped by the
// store when the spec changes.
func (r *Registry) UpdateWith(ctx context.Context, obj api.Object, opts WriteOptions) (api.Object, error) {
	return r.update(ctx, obj, false, opts)
}

// UpdateStatus replaces an object's status (the /status subresource),
// keeping its spec and metadata.
func (r *Registry) UpdateStatus(ctx context.Context, obj api.Object) (api.Object, error) {
	return r.UpdateStatusWith(ctx, obj, WriteOptions{})
}

// UpdateStatusWith is UpdateStatus with options.
func (r *Registry) UpdateStatusWith(ctx context.Context, obj api.Object, opts WriteOptions) (api.Object, error) {
	return r.update(ctx, obj, true, opts)
}

func (r *Registry) update(ctx context.Context, obj api.Object, status bool, opts WriteOptions) (api.Object, error) {
	res, err := resourceOf(obj)
	if err != nil {
		return nil, err
	}
	in := obj.DeepCopyObject()
	tm := in.GetTypeMeta()
	tm.Kind, tm.APIVersion = res.Kind, res.APIVersion()
	m := in.GetObjectMeta()
	m.Namespace = namespaceOf(res, m.Namespace)
	if m.Name == "" {
		return nil, api.NewBadRequest("name is required for an update")
	}
	return r.guaranteedUpdate(ctx, res, m.Namespace, m.Name, opts, func(cur api.Object) (api.Object, error) {
		if err := checkPreconditions(res, cur, m.UID, m.ResourceVersion); err != nil {
			return nil, err
		}
		if status {
			return r.prepareStatusUpdate(res, in, cur)
		}
		return r.prepareUpdate(res, in, cur)
	})
}

// guaranteedUpdate runs tryUpdate on the stored object and writes (or, in a
// dry run, only returns) its result, if it is not over MaxObjectBytes.
func (r *Registry) guaranteedUpdate(ctx context.Context, res *api.ResourceInfo, ns, name string, opts WriteOptions, update func(cur api.Object) (api.Object, error)) (api.Object, error) {
	tryUpdate := func(cur api.Object) (api.Object, error) {
		next, err := update(cur)
		if err != nil {
			return nil, err
		}
		if err := checkObjectSize(next); err != nil {
			return nil, err
		}
		return next, nil
	}
	if opts.DryRun {
		cur, err := r.st.Get(ctx, res, ns, name)
		if err != nil {
			return nil, err
		}
		return tryUpdate(cur)
	}
	return r.st.GuaranteedUpdate(ctx, res, ns, name, tryUpdate)
}

func checkPreconditions(res *api.ResourceInfo, cur api.Object, uid, rv string) error {
	cm := cur.GetObjectMeta()
	if uid != "" && uid != cm.UID {
		return api.NewConflict(res.Group, res.Resource, cm.Name,
			fmt.Sprintf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, cm.UID))
	}
	if rv != "" && rv != cm.ResourceVersion {
		return api.NewConflict(res.Group, res.Resource, cm.Name,
			"the object has been modified; please apply your changes to the latest version and try again")
	}
	return nil
}

// prepareUpdate is the strategy of a main-resource update: next is in with
// the stored status and the stored system metadata, defaulted and
// validated against cur.
func (r *Registry) prepareUpdate(res *api.ResourceInfo, in, cur api.Object) (api.Object, error) {
	next, err := withStatusOf(res, in, cur)
	if err != nil {
		return nil, err
	}
	keepSystemMeta(next.GetObjectMeta(), cur.GetObjectMeta())
	mergeStringData(next)
	api.Default(next)
	if err := r.prepareServiceUpdate(next, cur); err != nil {
		return nil, err
	}
	if errs := api.ValidateUpdate(next, cur); len(errs) > 0 {
		return nil, api.NewInvalid(res.Group, res.Kind, cur.GetObjectMeta().Name, errs)
	}
	if err := r.checkHostPaths(res, next); err != nil {
		return nil, err
	}
	return next, nil
}

// prepareStatusUpdate is the strategy of a status update: cur with in's
// status; metadata and spec stay as stored.
func (r *Registry) prepareStatusUpdate(res *api.ResourceInfo, in, cur api.Object) (api.Object, error) {
	next, err := withStatusOf(res, cur, in)
	if err != nil {
		return nil, err
	}
	if errs := api.ValidateUpdate(next, cur); len(errs) > 0 {
		return nil, api.NewInvalid(res.Group, res.Kind, cur.GetObjectMeta().Name, errs)
	}
	return next, nil
}

// keepSystemMeta copies what no update may change from the stored object.
func keepSystemMeta(next, cur *api.ObjectMeta) {
	next.Name, next.Namespace = cur.Name, cur.Namespace
	next.UID = cur.UID
	next.CreationTimestamp = cur.CreationTimestamp
	next.DeletionTimestamp = cur.DeletionTimestamp
	next.DeletionGracePeriodSeconds = cur.DeletionGracePeriodSeconds
	next.Generation = cur.Generation
	next.ResourceVersion = cur.ResourceVersion
	next.SelfLink = ""
}

// Delete deletes an object as store.Delete does (graceful deletion of
// pods, finalizers, propagation), and returns the object as it is after the
// call.
func (r *Registry) Delete(ctx context.Context, res *api.ResourceInfo, namespace, name string, opts store.DeleteOptions) (api.Object, error) {
	obj, _, err := r.DeleteWith(ctx, res, namespace, name, opts, WriteOptions{})
	return obj, err
}

// DeleteWith is Delete with options; it also reports whether the object is
// gone (false: it stays, with a deletionTimestamp, until its grace period
// ends or its finalizers are removed).
func (r *Registry) DeleteWith(ctx context.Context, res *api.ResourceInfo, namespace, name string, opts store.DeleteOptions, wo WriteOptions) (api.Object, bool, error) {
	ns := namespaceOf(res, namespace)
	if wo.DryRun {
		cur, err := r.st.Get(ctx, res, ns, name)
		if err != nil {
			return nil, false, err
		}
		if err := checkPreconditions(res, cur, opts.UID, opts.ResourceVersion); err != nil {
			return nil, false, err
		}
		return cur, false, nil
	}
	return r.st.Delete(ctx, res, ns, name, opts)
}

// DeleteCollection deletes every object of res in namespace that opts
// select, and returns what it deleted (as each Delete returned it).
func (r *Registry) DeleteCollection(ctx context.Context, res *api.ResourceInfo, namespace string, lo store.ListOptions, opts store.DeleteOptions, wo WriteOptions) ([]api.Object, error) {
	objs, err := r.List(ctx, res, namespace, lo)
	if err != nil {
		return nil, err
	}
	out := []api.Object{}
	for _, o := range objs {
		m := o.GetObjectMeta()
		d, _, err := r.DeleteWith(ctx, res, m.Namespace, m.Name, opts, wo)
		if api.IsNotFound(err) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}

// withStatusOf returns dst with the "status" of src (or none if src has
// none).
func withStatusOf(res *api.ResourceInfo, dst, src api.Object) (api.Object, error) {
	dm, err := toMap(dst)
	if err != nil {
		return nil, err
	}
	sm, err := toMap(src)
	if err != nil {
		return nil, err
	}
	if st, ok := sm["status"]; ok {
		dm["status"] = st
	} else {
		delete(dm, "status")
	}
	return fromMap(res, dm)
}

// toMap is obj as decoded JSON, numbers kept exact.
func toMap(obj api.Object) (map[string]any, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, api.NewInternalError(fmt.Errorf("encoding %q: %w", obj.GetObjectMeta().Name, err))
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, api.NewInternalError(err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, api.NewInternalError(fmt.Errorf("%q does not encode to a JSON object", obj.GetObjectMeta().Name))
	}
	return m, nil
}

// fromMap decodes m as an object of res, leniently.
func fromMap(res *api.ResourceInfo, m map[string]any) (api.Object, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, api.NewInternalError(err)
	}
	obj := res.New()
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, api.NewBadRequest(fmt.Sprintf("decoding %s: %v", res.Kind, err))
	}
	return obj, nil
}

// prepareForCreate resets what a client may not set on create, as the
// kinds' PrepareForCreate do.
func prepareForCreate(obj api.Object) {
	switch o := obj.(type) {
	case *api.Pod:
		o.Status = api.PodStatus{}
	case *api.ReplicaSet:
		o.Status = api.ReplicaSetStatus{}
	case *api.ReplicationController:
		o.Status = api.ReplicationControllerStatus{}
	case *api.Deployment:
		o.Status = api.DeploymentStatus{}
	}
}

// schedule gives a defaulted pod being created its first status: Pending,
// with the quality of service class of its requests and limits, and, when
// it names no node and the registry has one, binds it to that node with
// its PodScheduled condition, as the scheduler would before any client saw
// it. It reports whether it bound the pod.
func (r *Registry) schedule(obj api.Object) bool {
	pod, ok := obj.(*api.Pod)
	if !ok {
		return false
	}
	pod.Status.Phase = api.PodPending
	pod.Status.QOSClass = api.ComputePodQOS(&pod.Spec)
	if pod.Spec.NodeName != "" || r.nodeName == "" {
		return false
	}
	pod.Spec.NodeName = r.nodeName
	pod.Status.Conditions = []api.PodCondition{{
		Type:               api.PodScheduled,
		Status:             api.ConditionTrue,
		LastTransitionTime: api.NewTime(r.clk.Now()),
	}}
	return true
}

// checkHostPaths refuses hostPath volumes outside the allowed directories.
func (r *Registry) checkHostPaths(res *api.ResourceInfo, obj api.Object) error {
	var spec *api.PodSpec
	switch o := obj.(type) {
	case *api.Pod:
		spec = &o.Spec
	case *api.ReplicaSet:
		spec = &o.Spec.Template.Spec
	case *api.Deployment:
		spec = &o.Spec.Template.Spec
	case *api.ReplicationController:
		if o.Spec.Template != nil {
			spec = &o.Spec.Template.Spec
		}
	}
	if spec == nil {
		return nil
	}
	for _, v := range spec.Volumes {
		if v.HostPath == nil {
			continue
		}
		if r.hostPathAllowed(v.HostPath.Path) {
			continue
		}
		why := fmt.Sprintf("hostPath volume %q (%s) is not under a directory this node allows", v.Name, v.HostPath.Path)
		if len(r.hostPaths) == 0 {
			why += " (none are allowed; see serve --allow-host-path)"
		} else {
			why += " (" + strings.Join(r.hostPaths, ", ") + ")"
		}
		name := obj.GetObjectMeta().Name
		return &api.Status{
			TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   "Failure",
			Code:     403,
			Reason:   api.StatusReasonForbidden,
			Message:  fmt.Sprintf("%s %q is forbidden: %s", res.GroupResource(), name, why),
			Details:  &api.StatusDetails{Name: name, Group: res.Group, Kind: res.Resource},
		}
	}
	return nil
}

func (r *Registry) hostPathAllowed(p string) bool {
	if !filepath.IsAbs(p) {
		return false
	}
	p = filepath.Clean(p)
	for _, d := range r.hostPaths {
		if p == d || strings.HasPrefix(p, d+string(filepath.Separator)) || d == string(filepath.Separator) {
			return true
		}
	}
	return false
}

func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
