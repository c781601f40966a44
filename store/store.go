// Package store is wasmlet's object store: Kubernetes' registry and etcd in
// one, on badger.
//
// Keys follow etcd's layout, /registry/<resource>/<namespace>/<name>, values
// are JSON. One global resourceVersion counter orders every write. Watchers
// see every change after the resourceVersion they start from, as long as it
// is still in the bounded history. The store applies the API's rules that
// belong to storage: uid, creationTimestamp, generation, resourceVersion,
// conflicts, graceful deletion and finalizers. Defaulting and validation are
// the caller's (api.Default, api.Validate) and run before the store is asked.
//
// The store never runs pods or controllers; it only holds what they write.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// Options configures Open. The zero value is a durable store.
type Options struct {
	// InMemory keeps everything in memory (tests); Dir is then ignored.
	InMemory bool
	// WatchHistory is how many changes a watch can start behind the newest
	// one; 0 means the default (10000).
	WatchHistory int
	// Now, when set, replaces time.Now for timestamps (tests).
	Now func() time.Time
}

// ListOptions selects what List and Watch return.
type ListOptions struct {
	// LabelSelector filters by labels; nil matches everything.
	LabelSelector api.Selector
	// FieldSelector filters by metadata.name, metadata.namespace, and for
	// pods status.phase and spec.nodeName; nil matches everything.
	FieldSelector api.FieldSelector
	// ResourceVersion: for Watch, the version after which changes are sent
	// ("" or "0": first the current objects as ADDED, then changes).
	ResourceVersion string
}

// DeleteOptions are Kubernetes' DeleteOptions.
type DeleteOptions struct {
	// GracePeriodSeconds: nil uses the object's default (pods: their
	// terminationGracePeriodSeconds); 0 deletes now.
	GracePeriodSeconds *int64
	// PropagationPolicy: "Background" (default), "Foreground" or "Orphan".
	PropagationPolicy string
	// Preconditions on uid and resourceVersion.
	UID             string
	ResourceVersion string
}

// EventType is the type of a watch event.
type EventType string

const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	// Bookmark carries only a resourceVersion.
	Bookmark EventType = "BOOKMARK"
	// Error carries an *api.Status as Object (e.g. 410 Expired), and ends the
	// watch.
	Error EventType = "ERROR"
)

// Event is one change seen by a watch.
type Event struct {
	Type   EventType
	Object api.Object
}

// Watch is a running watch; Stop ends it and closes ResultChan.
type Watch interface {
	ResultChan() <-chan Event
	Stop()
}

// Store is the object store. It is safe for concurrent use.
type Store struct {
	// implementation fields
}

// errNotImplemented marks the parts of this contract still being written.
var errNotImplemented = errors.New("store: not implemented")

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) { return nil, errNotImplemented }

// Close flushes and closes the store; it is idempotent. Watches end.
func (s *Store) Close() error { return nil }

// Create stores a new object. It sets uid, creationTimestamp, generation 1 and
// resourceVersion, and a name from generateName when name is empty (with
// Kubernetes' 5-character suffix). An existing name is api.NewAlreadyExists;
// a namespaced object in a namespace that does not exist is NotFound
// (`namespaces "x" not found`). It returns the stored object.
func (s *Store) Create(ctx context.Context, obj api.Object) (api.Object, error) {
	return nil, errNotImplemented
}

// Get returns the object, or api.NewNotFound.
func (s *Store) Get(ctx context.Context, r *api.ResourceInfo, namespace, name string) (api.Object, error) {
	return nil, errNotImplemented
}

// List returns the objects of one kind in namespace ("" = all namespaces)
// that match opts, sorted by namespace then name, and the resourceVersion the
// list is consistent with.
func (s *Store) List(ctx context.Context, r *api.ResourceInfo, namespace string, opts ListOptions) ([]api.Object, string, error) {
	return nil, "", errNotImplemented
}

// Update replaces the object's spec and metadata (status is kept as stored).
// A non-empty resourceVersion that is not the stored one is api.NewConflict;
// an empty one updates unconditionally. generation is bumped when the spec
// changes. Removing the last finalizer of an object whose deletionTimestamp is
// set, or whose grace period has run to zero, deletes it.
func (s *Store) Update(ctx context.Context, obj api.Object) (api.Object, error) {
	return nil, errNotImplemented
}

// UpdateStatus replaces only the status (the status subresource), with the
// same conflict rule as Update.
func (s *Store) UpdateStatus(ctx context.Context, obj api.Object) (api.Object, error) {
	return nil, errNotImplemented
}

// GuaranteedUpdate reads the object, calls tryUpdate with a copy, and writes
// the result (spec, metadata and status), retrying on conflict. tryUpdate may
// return an error to abort; it must not keep the object it is given.
func (s *Store) GuaranteedUpdate(ctx context.Context, r *api.ResourceInfo, namespace, name string, tryUpdate func(api.Object) (api.Object, error)) (api.Object, error) {
	return nil, errNotImplemented
}

// Delete deletes the object, Kubernetes' way:
//   - an object with finalizers (including the one Foreground propagation
//     adds, "foregroundDeletion", and Orphan's "orphan") gets
//     deletionTimestamp and stays until they are removed;
//   - a pod bound to a node (spec.nodeName set), not yet Succeeded or
//     Failed, with a grace period > 0 gets deletionTimestamp = now + grace and
//     deletionGracePeriodSeconds, and stays until deleted again with grace 0
//     (the node does that once its containers are gone); a second delete may
//     only shorten the grace period;
//   - anything else is removed now.
//
// It returns the object as it is after the call (still present, or as it
// was when removed) and whether it was removed.
func (s *Store) Delete(ctx context.Context, r *api.ResourceInfo, namespace, name string, opts DeleteOptions) (api.Object, bool, error) {
	return nil, false, errNotImplemented
}

// Watch streams changes of one kind in namespace ("" = all) that match opts.
// It ends when ctx ends, Stop is called or the store closes. A
// resourceVersion older than the history gives api.NewExpired (HTTP 410).
func (s *Store) Watch(ctx context.Context, r *api.ResourceInfo, namespace string, opts ListOptions) (Watch, error) {
	return nil, errNotImplemented
}

// ResourceVersion returns the newest resourceVersion.
func (s *Store) ResourceVersion() string { return "" }
