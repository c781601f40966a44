package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// memoryNode is a node's API in memory, holding objects as JSON: enough of
// create, get, list, merge patch, delete and scale for the verbs' own
// logic (apply's three-way merge, label's words, delete's wait) to be
// tested without a node. The real node is tested in cli_test.go.
type memoryNode struct {
	mu       sync.Mutex
	objects  map[string][]byte
	rv       int
	now      time.Time
	watchers []*memoryWatch
	// deletes are the options of every Delete, in order.
	deletes []client.DeleteOptions
}

// memoryWatch is one Watch: the changes of one kind in one namespace ("" =
// all), sent on events until ctx ends.
type memoryWatch struct {
	ctx       context.Context
	r         *api.ResourceInfo
	namespace string
	events    chan client.WatchEvent
}

func newMemoryNode(now time.Time) *memoryNode {
	return &memoryNode{objects: map[string][]byte{}, now: now}
}

func key(r *api.ResourceInfo, ns, name string) string {
	return r.GroupResource() + "/" + ns + "/" + name
}

func (m *memoryNode) decode(r *api.ResourceInfo, b []byte) (api.Object, error) {
	obj := r.New()
	if err := json.Unmarshal(b, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func (m *memoryNode) Get(_ context.Context, r *api.ResourceInfo, ns, name string) (api.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key(r, ns, name)]
	if !ok {
		return nil, api.NewNotFound(r.Group, r.Resource, name)
	}
	return m.decode(r, b)
}

func (m *memoryNode) List(_ context.Context, r *api.ResourceInfo, ns string, opts client.ListOptions) ([]api.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []api.Object
	for _, b := range m.objects {
		obj, err := m.decode(r, b)
		if err != nil {
			continue
		}
		ri, _ := api.ResourceOf(obj)
		meta := obj.GetObjectMeta()
		if ri != r || (ns != "" && meta.Namespace != ns) {
			continue
		}
		sel, err := api.ParseSelector(opts.LabelSelector)
		if err != nil {
			return nil, api.NewBadRequest(err.Error())
		}
		if !sel.Matches(meta.Labels) {
			continue
		}
		if name, ok := strings.CutPrefix(opts.FieldSelector, "metadata.name="); ok && meta.Name != name {
			continue
		}
		out = append(out, obj)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].GetObjectMeta(), out[j].GetObjectMeta()
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	return out, nil
}

// ListWithVersion is List with the node's current resourceVersion.
func (m *memoryNode) ListWithVersion(ctx context.Context, r *api.ResourceInfo, ns string, opts client.ListOptions) ([]api.Object, string, error) {
	objs, err := m.List(ctx, r, ns, opts)
	m.mu.Lock()
	defer m.mu.Unlock()
	return objs, strconv.Itoa(m.rv), err
}

// Watch sends the changes made after the call; the channel is closed when
// ctx ends. Only metadata.name=NAME field selectors are understood.
func (m *memoryNode) Watch(ctx context.Context, r *api.ResourceInfo, ns string, opts client.ListOptions) (<-chan client.WatchEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := &memoryWatch{ctx: ctx, r: r, namespace: ns, events: make(chan client.WatchEvent, 100)}
	if name, ok := strings.CutPrefix(opts.FieldSelector, "metadata.name="); ok {
		w.namespace += "\x00" + name
	}
	m.watchers = append(m.watchers, w)
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		for i, x := range m.watchers {
			if x == w {
				m.watchers = append(m.watchers[:i], m.watchers[i+1:]...)
				break
			}
		}
		close(w.events)
	}()
	return w.events, nil
}

// notify sends a change to the watchers of its kind; m.mu is held.
func (m *memoryNode) notify(typ string, r *api.ResourceInfo, obj api.Object) {
	meta := obj.GetObjectMeta()
	for _, w := range m.watchers {
		ns, name, named := strings.Cut(w.namespace, "\x00")
		if w.r != r || (ns != "" && ns != meta.Namespace) || (named && name != meta.Name) {
			continue
		}
		select {
		case w.events <- client.WatchEvent{Type: typ, Object: obj.DeepCopyObject()}:
		default:
		}
	}
}

// seed stores objects as they are, with their own UIDs and times, as a
// node would have written them.
func (m *memoryNode) seed(objs ...api.Object) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, obj := range objs {
		r, _ := api.ResourceOf(obj)
		obj.GetTypeMeta().Kind, obj.GetTypeMeta().APIVersion = r.Kind, r.APIVersion()
		meta := obj.GetObjectMeta()
		b, err := json.Marshal(obj)
		if err != nil {
			panic(err)
		}
		m.objects[key(r, meta.Namespace, meta.Name)] = b
	}
}

func (m *memoryNode) Create(_ context.Context, obj api.Object) (api.Object, error) {
	r, _ := api.ResourceOf(obj)
	m.mu.Lock()
	defer m.mu.Unlock()
	obj = obj.DeepCopyObject()
	meta := obj.GetObjectMeta()
	k := key(r, meta.Namespace, meta.Name)
	if _, ok := m.objects[k]; ok {
		return nil, api.NewAlreadyExists(r.Group, r.Resource, meta.Name)
	}
	m.rv++
	meta.ResourceVersion = strconv.Itoa(m.rv)
	meta.UID = fmt.Sprintf("uid-%d", m.rv)
	meta.CreationTimestamp = api.NewTime(m.now)
	obj.GetTypeMeta().Kind, obj.GetTypeMeta().APIVersion = r.Kind, r.APIVersion()
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	m.objects[k] = b
	m.notify("ADDED", r, obj)
	return obj, nil
}

// Update replaces an object, keeping its uid and creation time; a stale
// resourceVersion is a conflict.
func (m *memoryNode) Update(_ context.Context, obj api.Object) (api.Object, error) {
	r, _ := api.ResourceOf(obj)
	m.mu.Lock()
	defer m.mu.Unlock()
	obj = obj.DeepCopyObject()
	meta := obj.GetObjectMeta()
	k := key(r, meta.Namespace, meta.Name)
	b, ok := m.objects[k]
	if !ok {
		return nil, api.NewNotFound(r.Group, r.Resource, meta.Name)
	}
	cur, err := m.decode(r, b)
	if err != nil {
		return nil, err
	}
	old := cur.GetObjectMeta()
	if meta.ResourceVersion != "" && meta.ResourceVersion != old.ResourceVersion {
		return nil, api.NewConflict(r.Group, r.Resource, meta.Name,
			"the object has been modified; please apply your changes to the latest version and try again")
	}
	m.rv++
	meta.UID, meta.CreationTimestamp, meta.ResourceVersion = old.UID, old.CreationTimestamp, strconv.Itoa(m.rv)
	obj.GetTypeMeta().Kind, obj.GetTypeMeta().APIVersion = r.Kind, r.APIVersion()
	nb, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	m.objects[k] = nb
	m.notify("MODIFIED", r, obj)
	return obj, nil
}

func (m *memoryNode) Patch(_ context.Context, r *api.ResourceInfo, ns, name string, pt client.PatchType, data []byte) (api.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key(r, ns, name)
	b, ok := m.objects[k]
	if !ok {
		return nil, api.NewNotFound(r.Group, r.Resource, name)
	}
	cur, err := toMap(b)
	if err != nil {
		return nil, err
	}
	p, err := toMap(data)
	if err != nil {
		return nil, api.NewBadRequest(err.Error())
	}
	merged := mergePatch(cur, p)
	patched, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	if reflect.DeepEqual(merged, cur) {
		return m.decode(r, b)
	}
	m.rv++
	if md, ok := merged["metadata"].(map[string]any); ok {
		md["resourceVersion"] = strconv.Itoa(m.rv)
		if patched, err = json.Marshal(merged); err != nil {
			return nil, err
		}
	}
	m.objects[k] = patched
	obj, err := m.decode(r, patched)
	if err == nil {
		m.notify("MODIFIED", r, obj)
	}
	return obj, err
}

// decodeBody decodes the JSON of a write as the node does (strictly, by
// o.FieldValidation), so that a file with an unknown field fails here too.
func (m *memoryNode) decodeBody(r *api.ResourceInfo, body []byte, o client.WriteOptions) (api.Object, error) {
	v := o.FieldValidation
	if v == "" {
		v = api.FieldValidationWarn
	}
	obj, _, err := api.DecodeWith(body, v)
	if err != nil {
		return nil, err
	}
	if got, _ := api.ResourceOf(obj); got != r {
		return nil, api.NewBadRequest("the object's kind does not match the resource " + r.GroupResource())
	}
	return obj, nil
}

func (m *memoryNode) CreateJSON(ctx context.Context, r *api.ResourceInfo, ns string, body []byte, o client.WriteOptions) (api.Object, error) {
	obj, err := m.decodeBody(r, body, o)
	if err != nil {
		return nil, err
	}
	if r.Namespaced && obj.GetObjectMeta().Namespace == "" {
		obj.GetObjectMeta().Namespace = ns
	}
	if o.DryRun {
		return obj, nil
	}
	return m.Create(ctx, obj)
}

func (m *memoryNode) UpdateJSON(ctx context.Context, r *api.ResourceInfo, ns, name string, body []byte, o client.WriteOptions) (api.Object, error) {
	obj, err := m.decodeBody(r, body, o)
	if err != nil {
		return nil, err
	}
	return m.Update(ctx, obj)
}

func (m *memoryNode) PatchWith(ctx context.Context, r *api.ResourceInfo, ns, name string, pt client.PatchType, data []byte, o client.WriteOptions) (api.Object, error) {
	if o.DryRun {
		return nil, api.NewBadRequest("the memory node has no dry run")
	}
	return m.Patch(ctx, r, ns, name, pt, data)
}

// mergePatch is RFC 7386.
func mergePatch(target, patch map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range target {
		out[k] = v
	}
	for k, pv := range patch {
		if pv == nil {
			delete(out, k)
			continue
		}
		if pm, ok := pv.(map[string]any); ok {
			tm, _ := out[k].(map[string]any)
			out[k] = mergePatch(tm, pm)
			continue
		}
		out[k] = pv
	}
	return out
}

func (m *memoryNode) Delete(_ context.Context, r *api.ResourceInfo, ns, name string, opts client.DeleteOptions) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deletes = append(m.deletes, opts)
	k := key(r, ns, name)
	b, ok := m.objects[k]
	if !ok {
		return api.NewNotFound(r.Group, r.Resource, name)
	}
	delete(m.objects, k)
	m.rv++
	if obj, err := m.decode(r, b); err == nil {
		m.notify("DELETED", r, obj)
	}
	return nil
}

func (m *memoryNode) GetScale(ctx context.Context, r *api.ResourceInfo, ns, name string) (*api.Scale, error) {
	obj, err := m.Get(ctx, r, ns, name)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(obj)
	var v struct {
		Spec struct {
			Replicas int32 `json:"replicas"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	s := &api.Scale{}
	s.Name, s.Namespace = name, ns
	s.Spec.Replicas = v.Spec.Replicas
	return s, nil
}

func (m *memoryNode) UpdateScale(ctx context.Context, r *api.ResourceInfo, ns, name string, s *api.Scale) (*api.Scale, error) {
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, s.Spec.Replicas)
	if _, err := m.Patch(ctx, r, ns, name, client.MergePatch, []byte(patch)); err != nil {
		return nil, err
	}
	return s, nil
}

func (m *memoryNode) ServerVersion(context.Context) (*api.VersionInfo, error) {
	return &api.VersionInfo{GitVersion: "v1.32.0"}, nil
}

func (m *memoryNode) Logs(ctx context.Context, ns, pod string, opts client.LogOptions, w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(w, "log of %s/%s container %s\n", ns, pod, opts.Container)
	return nil
}

func (m *memoryNode) watcherCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.watchers)
}

func clientDelete() client.DeleteOptions { return client.DeleteOptions{} }

// lastDelete returns the options of the last Delete.
func (m *memoryNode) lastDelete() client.DeleteOptions {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.deletes) == 0 {
		return client.DeleteOptions{}
	}
	return m.deletes[len(m.deletes)-1]
}
