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
//
// Decisions worth knowing:
//   - Writes are serialised by one mutex and each is one badger transaction
//     that also carries the resourceVersion counter, committed with
//     SyncWrites: a write is acknowledged only once it is on disk, and a
//     crash leaves either all of it or none. The counter is read back at
//     Open, so resourceVersions keep increasing across restarts.
//   - The store reads kind-specific fields (a pod's nodeName, phase and
//     grace period, a namespace's phase, the status of any kind) from the
//     object's JSON rather than from Go types: "status" is the top-level
//     JSON field of that name, and everything else but metadata is spec.
//   - An update that changes nothing is not written and does not bump the
//     resourceVersion, like Kubernetes' storage.
//   - Deleting an object with a grace period or finalizers follows
//     Kubernetes' registry: the object is first written with
//     deletionTimestamp (a MODIFIED event), and removed (a DELETED event)
//     when the grace period is 0 and no finalizer is left; both writes of a
//     delete with grace 0 share one transaction. An update that removes the
//     last finalizer removes the object only when its deletion grace period
//     is already 0 (a pod being terminated by its node keeps its grace
//     period until the node deletes it with grace 0).
//   - Deleting a namespace marks it Terminating, deletes everything in it
//     as DELETE requests would, and removes the namespace once nothing is
//     left (pods terminating gracefully and objects with finalizers keep it
//     Terminating until they are gone). Open resumes an interrupted
//     namespace deletion.
//   - Events expire one hour after their last write (Kubernetes'
//     --event-ttl) through badger's TTL; an expired event disappears from
//     lists without a watch event, as in the watch cache of a restarted
//     API server.
//   - A watcher has its own queue, as long as the history: writers never
//     wait for it. A watcher that falls that far behind is ended with an
//     ERROR event carrying 410 Expired, and lists again.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
)

// Options configures Open. The zero value is a durable store.
type Options struct {
	// InMemory keeps everything in memory (tests); Dir is then ignored.
	InMemory bool
	// WatchHistory is how many changes a watch can start behind the newest
	// one; 0 means the default (10000). It is also how many events a slow
	// watcher may have queued before it is ended with 410 Expired.
	WatchHistory int
	// Now, when set, replaces time.Now for timestamps (tests).
	Now func() time.Time
	// DiskReserve is the free disk space, in bytes, kept for the node's
	// own writes: API clients' writes (deletes excepted) are refused with
	// 507 InsufficientStorage while less than this is free beyond what
	// the store needs for its own work; it is also the size of the
	// reserve file the store gives back when the disk fills. 0 means
	// DefaultDiskReserve; negative, none.
	DiskReserve int64
	// ScrubInterval is how often a durable store reads every table to
	// verify its checksums (scrub.go); 0 means DefaultScrubInterval,
	// negative never.
	ScrubInterval time.Duration
	// Clock times the scrub; nil is the real clock.
	Clock clock.Clock

	diskSlack int64 // replaces defaultDiskSlack (tests on tiny filesystems)
}

// DefaultWatchHistory is the number of changes kept for watches.
const DefaultWatchHistory = 10000

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

// Kubernetes' propagation policies and the finalizers two of them add.
const (
	PropagationBackground = "Background"
	PropagationForeground = "Foreground"
	PropagationOrphan     = "Orphan"

	FinalizerDeleteDependents = "foregroundDeletion"
	FinalizerOrphanDependents = "orphan"
)

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
	db      *badger.DB
	now     func() time.Time
	history int

	// life is held shared by every transaction (never across a caller's
	// function, such as GuaranteedUpdate's tryUpdate) and exclusively by
	// Close, so that Close never pulls the database from under a running
	// call.
	life   sync.RWMutex
	closed bool

	// mu serialises writes and guards everything below.
	mu       sync.Mutex
	rv       uint64
	ring     []*change // the last changes, oldest at ringHead
	ringHead int
	ringLen  int
	oldest   uint64 // every change after this resourceVersion is in ring
	watchers map[*watcher]struct{}

	disk *diskGuard // nil in memory
	// reads finds the table damage badger's reads pass over (nil in
	// memory; readcheck.go).
	reads *readChecker
	// onDiskPressure is told when client writes start or stop being
	// refused; notifiedPressure is what it was last told, notifying
	// whether it is being told now.
	onDiskPressure   func(pressure bool, message string)
	notifiedPressure bool
	notifying        bool
	// scrubStop ends the scrub (scrub.go); closed by Close.
	scrubStop chan struct{}
}

// errClosed is what every call on a closed store returns.
var errClosed = api.NewServiceUnavailable("the object store is closed")

// rvKey holds the resourceVersion counter, outside the /registry/ tree.
var rvKey = []byte("/wasmlet/resourceVersion")

// Open opens (creating if needed) the store in dir.
//
// A directory badger would open as an empty or partial store (a missing,
// empty or cut MANIFEST, a missing, cut or corrupt table, a log damaged
// before its last commit) is refused with an error that wraps ErrDamaged
// and says how to recover; every table is read and its checksums
// verified first, and every log replayed. Damage a read meets later is a
// 500 naming it (readcheck.go). A disk too full for the store to
// open without risking a crash gives an error wrapping
// ErrInsufficientStorage.
func Open(dir string, opts Options) (*Store, error) {
	if !opts.InMemory && dir == "" {
		return nil, errors.New("store: no data directory given")
	}
	bo := badgerOptions(dir, opts.InMemory)
	var disk *diskGuard
	if !opts.InMemory {
		disk = newDiskGuard(dir, opts)
		if err := prepareDir(dir, bo, disk); err != nil {
			return nil, err
		}
	}
	db, err := openBadger(bo)
	if errors.Is(err, ErrDamaged) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", dir, err)
	}
	s := &Store{
		db:       db,
		now:      opts.Now,
		history:  opts.WatchHistory,
		watchers: map[*watcher]struct{}{},
		disk:     disk,
	}
	if disk != nil {
		disk.refresh()
		s.reads = newReadChecker(db, dir)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.history <= 0 {
		s.history = DefaultWatchHistory
	}
	s.ring = make([]*change, s.history)
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	s.startScrub(opts.ScrubInterval, opts.Clock)
	return s, nil
}

// badgerOptions are the store's badger options.
func badgerOptions(dir string, inMemory bool) badger.Options {
	var bo badger.Options
	if inMemory {
		bo = badger.DefaultOptions("").WithInMemory(true).WithMemTableSize(8 << 20)
	} else {
		bo = badger.DefaultOptions(dir).WithValueLogFileSize(64 << 20)
	}
	return bo.WithSyncWrites(true).
		WithLogger(badgerLogger{}).
		WithDetectConflicts(false). // writes are serialised by Store.mu
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithNumCompactors(2).
		WithMetricsEnabled(false).
		// Open verifies every table whole (checkDataDir); a block read
		// later is verified before badger parses it.
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true)
}

// prepareDir checks a durable store's directory under its lock before
// badger opens it: damage is refused, and so is a disk too full to open
// on.
func prepareDir(dir string, bo badger.Options, disk *diskGuard) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := checkDataDir(dir, bo); err != nil {
		return err
	}
	if err := checkMarker(dir); err != nil {
		return err
	}
	return disk.openCheck()
}

// openBadger is badger.Open with a panic in this goroutine turned into an
// error. (checkDataDir has read every table, so that badger's own
// goroutines find none that panics.)
func openBadger(bo badger.Options) (db *badger.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &damagedError{dir: bo.Dir,
				what:     fmt.Sprintf("opening it fails with %s", panicSummary(r)),
				recovery: recoverFromCopy(bo.Dir)}
		}
	}()
	return badger.Open(bo)
}

// load reads the counter, makes sure the namespaces that always exist do,
// and finishes namespace deletions a crash interrupted.
func (s *Store) load() error {
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(rvKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			s.rv, err = strconv.ParseUint(string(v), 10, 64)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("store: reading the resourceVersion: %w", err)
	}
	s.oldest = s.rv
	for _, ns := range []string{"default", "kube-system"} {
		if err := s.ensureNamespace(ns); err != nil {
			return fmt.Errorf("store: creating namespace %s: %w", ns, err)
		}
	}
	return s.resumeNamespaceDeletions()
}

// Close flushes and closes the store; it is idempotent. Watches end. On a
// disk too full to take the flush, badger is left open rather than
// crashed (its write-ahead logs hold every acknowledged write, and the
// next Open replays them) and the error wraps ErrInsufficientStorage.
func (s *Store) Close() error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		return nil
	}
	s.closed = true
	s.stopScrub()
	s.mu.Lock()
	ws := s.watchers
	s.watchers = map[*watcher]struct{}{}
	s.mu.Unlock()
	var err error
	if s.disk != nil {
		err = s.disk.closeCheck()
	}
	if err == nil {
		err = s.db.Close()
		s.reads.closeAll()
	}
	s.life.Unlock()
	for w := range ws {
		w.end()
	}
	if err != nil {
		return fmt.Errorf("store: closing: %w", err)
	}
	return nil
}

// enter starts an operation; leave ends it.
func (s *Store) enter() error {
	s.life.RLock()
	if s.closed {
		s.life.RUnlock()
		return errClosed
	}
	return nil
}

func (s *Store) leave() { s.life.RUnlock() }

// view runs fn in a read transaction, as one operation. A panic of
// badger's readers (a garbled block) or a fault on a mapped page (a file
// cut short under the node) is an error, not a crash.
func (s *Store) view(fn func(*badger.Txn) error) (err error) {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	defer s.recoverRead(&err)
	defer faultsPanic()()
	return storageError(s.db.View(fn))
}

func (s *Store) recoverRead(err *error) {
	if r := recover(); r != nil {
		cause := s.reads.explain()
		if cause == nil {
			cause = fmt.Errorf("store: reading failed with %s; the store's files may be damaged", panicSummary(r))
			logf("%v", cause)
		}
		*err = api.NewInternalError(cause)
	}
}

// Create stores a new object. It sets uid, creationTimestamp, generation 1 and
// resourceVersion, and a name from generateName when name is empty (with
// Kubernetes' 5-character suffix). An existing name is api.NewAlreadyExists;
// a namespaced object in a namespace that does not exist is NotFound
// (`namespaces "x" not found`), and one in a namespace being deleted is
// Forbidden. It returns the stored object.
func (s *Store) Create(ctx context.Context, obj api.Object) (api.Object, error) {
	res, err := resourceOf(obj)
	if err != nil {
		return nil, err
	}
	in := obj.DeepCopyObject()
	m := in.GetObjectMeta()
	if !res.Namespaced {
		m.Namespace = ""
	} else if m.Namespace == "" {
		return nil, api.NewInvalid(res.Group, res.Kind, m.Name, api.ErrorList{api.Required("metadata.namespace", "")})
	}
	if m.Name == "" && m.GenerateName == "" {
		return nil, api.NewInvalid(res.Group, res.Kind, "", api.ErrorList{api.Required("metadata.name", "name or generateName is required")})
	}
	generated := m.Name == ""
	var out api.Object
	for attempt := 0; ; attempt++ {
		if generated {
			m.Name = GenerateName(m.GenerateName)
		}
		err = s.writeTxnAs(isClientRequest(ctx), func(w *txnWriter) error {
			var err error
			out, err = w.create(res, in)
			return err
		})
		// A generated name that collides is retried with a new suffix, as
		// Kubernetes does, a few times.
		if err == nil || !generated || !api.IsAlreadyExists(err) || attempt >= maxGenerateAttempts-1 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// maxGenerateAttempts is how many names generateName tries.
const maxGenerateAttempts = 8

// Get returns the object, or api.NewNotFound.
func (s *Store) Get(ctx context.Context, r *api.ResourceInfo, namespace, name string) (api.Object, error) {
	var out api.Object
	err := s.view(func(txn *badger.Txn) error {
		var err error
		out, _, err = getObject(s.reads, txn, r, namespace, name)
		return err
	})
	return out, storageError(err)
}

// List returns the objects of one kind in namespace ("" = all namespaces)
// that match opts, sorted by namespace then name, and the resourceVersion the
// list is consistent with.
func (s *Store) List(ctx context.Context, r *api.ResourceInfo, namespace string, opts ListOptions) ([]api.Object, string, error) {
	var (
		out []api.Object
		rv  uint64
	)
	err := s.view(func(txn *badger.Txn) error {
		var err error
		if rv, err = readRV(txn); err != nil {
			return err
		}
		out, err = listObjects(s.reads, txn, r, namespace, opts)
		return err
	})
	if err != nil {
		return nil, "", storageError(err)
	}
	return out, strconv.FormatUint(rv, 10), nil
}

// Update replaces the object's spec and metadata (status is kept as stored).
// A non-empty resourceVersion that is not the stored one is api.NewConflict;
// an empty one updates unconditionally. generation is bumped when the spec
// changes. uid, creationTimestamp, deletionTimestamp and
// deletionGracePeriodSeconds keep their stored values. Removing the last
// finalizer of an object whose deletionTimestamp is set and whose deletion
// grace period is 0 deletes it.
func (s *Store) Update(ctx context.Context, obj api.Object) (api.Object, error) {
	return s.update(ctx, obj, updateSpec)
}

// UpdateStatus replaces only the status (the status subresource), with the
// same conflict rule as Update.
func (s *Store) UpdateStatus(ctx context.Context, obj api.Object) (api.Object, error) {
	return s.update(ctx, obj, updateStatus)
}

func (s *Store) update(ctx context.Context, obj api.Object, mode updateMode) (api.Object, error) {
	res, err := resourceOf(obj)
	if err != nil {
		return nil, err
	}
	in := obj.DeepCopyObject()
	m := in.GetObjectMeta()
	if !res.Namespaced {
		m.Namespace = ""
	}
	var out api.Object
	err = s.writeTxnAs(isClientRequest(ctx), func(w *txnWriter) error {
		cur, curRaw, err := getObject(s.reads, w.txn, res, m.Namespace, m.Name)
		if err != nil {
			return err
		}
		if m.ResourceVersion != "" && m.ResourceVersion != cur.GetObjectMeta().ResourceVersion {
			return conflict(res, m.Name)
		}
		out, err = w.update(res, cur, curRaw, in, mode)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GuaranteedUpdate reads the object, calls tryUpdate with a copy, and writes
// the result (spec, metadata and status), retrying on conflict. tryUpdate may
// return an error to abort; it must not keep the object it is given. The
// rules of Update on metadata apply.
func (s *Store) GuaranteedUpdate(ctx context.Context, r *api.ResourceInfo, namespace, name string, tryUpdate func(api.Object) (api.Object, error)) (api.Object, error) {
	if !r.Namespaced {
		namespace = ""
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var cur api.Object
		err := s.view(func(txn *badger.Txn) error {
			var err error
			cur, _, err = getObject(s.reads, txn, r, namespace, name)
			return err
		})
		if err != nil {
			return nil, storageError(err)
		}
		seen := cur.GetObjectMeta().ResourceVersion
		next, err := tryUpdate(cur.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		if next == nil {
			return nil, api.NewInternalError(fmt.Errorf("updating %s %q: the update returned no object", r.GroupResource(), name))
		}
		in := next.DeepCopyObject()
		m := in.GetObjectMeta()
		m.Namespace, m.Name = namespace, name
		var out api.Object
		stale := false
		err = s.writeTxnAs(isClientRequest(ctx), func(w *txnWriter) error {
			cur, curRaw, err := getObject(s.reads, w.txn, r, namespace, name)
			if err != nil {
				return err
			}
			if cur.GetObjectMeta().ResourceVersion != seen {
				stale = true
				return nil
			}
			out, err = w.update(r, cur, curRaw, in, updateAll)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !stale {
			return out, nil
		}
	}
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
//   - a namespace becomes Terminating, everything in it is deleted, and it
//     is removed once empty; "default" and "kube-system" are Forbidden;
//   - anything else is removed now.
//
// It returns the object as it is after the call (still present, or as it
// was when removed) and whether it was removed.
func (s *Store) Delete(ctx context.Context, r *api.ResourceInfo, namespace, name string, opts DeleteOptions) (api.Object, bool, error) {
	if !r.Namespaced {
		namespace = ""
	}
	if isNamespaces(r) {
		return s.deleteNamespace(r, name, opts)
	}
	var (
		out     api.Object
		removed bool
	)
	err := s.writeTxn(func(w *txnWriter) error {
		var err error
		out, removed, err = w.delete(r, namespace, name, opts)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, removed, nil
}

// Watch streams changes of one kind in namespace ("" = all) that match opts.
// It ends when ctx ends, Stop is called or the store closes. A
// resourceVersion older than the history gives api.NewExpired (HTTP 410).
func (s *Store) Watch(ctx context.Context, r *api.ResourceInfo, namespace string, opts ListOptions) (Watch, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	return s.watch(ctx, r, namespace, opts)
}

// NotifyDiskPressure makes the store call f when API clients' writes
// start being refused for want of disk space (pressure true, with the
// message clients get) and when they are accepted again; at once if they
// are refused already. f runs in the goroutine of the write that saw the
// change, after the store's locks are released; it may write to the
// store (an event: the node's own write, which may use the reserve), and
// is not called again until it returns. A durable store only.
func (s *Store) NotifyDiskPressure(f func(pressure bool, message string)) {
	s.mu.Lock()
	s.onDiskPressure = f
	s.notifiedPressure = false
	s.mu.Unlock()
	s.notifyDiskPressure()
}

// notifyDiskPressure tells onDiskPressure of a change it has not been
// told of, unless it is being told already (its caller tells it of
// changes made meanwhile, when it returns).
func (s *Store) notifyDiskPressure() {
	if s.disk == nil {
		return
	}
	for {
		s.mu.Lock()
		p, msg, f := s.disk.pressure, s.disk.message, s.onDiskPressure
		due := f != nil && p != s.notifiedPressure && !s.notifying
		if due {
			s.notifiedPressure, s.notifying = p, true
		}
		s.mu.Unlock()
		if !due {
			return
		}
		f(p, msg)
		s.mu.Lock()
		s.notifying = false
		s.mu.Unlock()
	}
}

// ResourceVersion returns the newest resourceVersion.
func (s *Store) ResourceVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strconv.FormatUint(s.rv, 10)
}

// storageError turns what badger says into the api's error: Status errors
// pass, anything else is an internal error naming its cause.
func storageError(err error) error {
	if err == nil {
		return nil
	}
	var st *api.Status
	if errors.As(err, &st) {
		return err
	}
	return api.NewInternalError(err)
}

func conflict(r *api.ResourceInfo, name string) error {
	return api.NewConflict(r.Group, r.Resource, name,
		"the object has been modified; please apply your changes to the latest version and try again")
}

// forbidden is Kubernetes' NewForbidden: `pods "x" is forbidden: <why>`.
func forbidden(r *api.ResourceInfo, name, why string) *api.Status {
	return &api.Status{
		TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   "Failure",
		Code:     403,
		Reason:   api.StatusReasonForbidden,
		Message:  fmt.Sprintf("%s %q is forbidden: %s", r.GroupResource(), name, why),
		Details:  &api.StatusDetails{Name: name, Group: r.Group, Kind: r.Resource},
	}
}

// keyOf is the object's key in etcd's layout.
func keyOf(r *api.ResourceInfo, namespace, name string) []byte {
	if r.Namespaced {
		return []byte("/registry/" + r.Resource + "/" + namespace + "/" + name)
	}
	return []byte("/registry/" + r.Resource + "/" + name)
}

// prefixOf is the key prefix of the kind's objects in namespace ("" = all).
func prefixOf(r *api.ResourceInfo, namespace string) []byte {
	if r.Namespaced && namespace != "" {
		return []byte("/registry/" + r.Resource + "/" + namespace + "/")
	}
	return []byte("/registry/" + r.Resource + "/")
}

func readRV(txn *badger.Txn) (uint64, error) {
	item, err := txn.Get(rvKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var rv uint64
	err = item.Value(func(v []byte) error {
		rv, err = strconv.ParseUint(string(v), 10, 64)
		return err
	})
	return rv, err
}

// getObject reads and decodes one object; NotFound when it is missing.
// rc verifies what badger read (nil: not verified).
func getObject(rc *readChecker, txn *badger.Txn, r *api.ResourceInfo, namespace, name string) (api.Object, []byte, error) {
	key := keyOf(r, namespace, name)
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		if err := rc.checkKey(key, 0); err != nil {
			return nil, nil, err
		}
		return nil, nil, api.NewNotFound(r.Group, r.Resource, name)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := rc.checkKey(key, item.Version()); err != nil {
		return nil, nil, err
	}
	raw, err := rc.readValue(item)
	if err != nil {
		return nil, nil, err
	}
	obj, err := decode(r, raw)
	return obj, raw, err
}

// decode reads a stored object, defaulted as Kubernetes defaults what it
// reads from storage: an object written by an older node gets the
// defaults added since (a grpc probe's service, which kubectl's describe
// needs), and every reader sees objects in the current shape. Objects are
// defaulted when written, so for them this changes nothing.
func decode(r *api.ResourceInfo, raw []byte) (api.Object, error) {
	obj := r.New()
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("decoding stored %s: %w", r.GroupResource(), err)
	}
	api.Default(obj)
	return obj, nil
}

// listObjects reads the kind's objects in namespace that match opts.
// rc verifies what badger read (nil: not verified).
func listObjects(rc *readChecker, txn *badger.Txn, r *api.ResourceInfo, namespace string, opts ListOptions) ([]api.Object, error) {
	prefix := prefixOf(r, namespace)
	// Values are read here, not prefetched: badger prefetches each in a
	// goroutine of its own, which drops the value log's errors and
	// where a fault on a mapped page (a file cut under the node) cannot
	// be recovered (view).
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	out := []api.Object{}
	for it.Rewind(); it.Valid(); it.Next() {
		raw, err := rc.readValue(it.Item())
		if err != nil {
			return nil, err
		}
		if opts.FieldSelector != nil && !opts.FieldSelector.Empty() &&
			!opts.FieldSelector.Matches(fieldsOf(r, raw)) {
			continue
		}
		obj, err := decode(r, raw)
		if err != nil {
			return nil, err
		}
		if opts.LabelSelector != nil && !opts.LabelSelector.Empty() &&
			!opts.LabelSelector.Matches(obj.GetObjectMeta().Labels) {
			continue
		}
		out = append(out, obj)
	}
	if err := rc.checkPrefix(prefix); err != nil {
		return nil, err
	}
	sortObjects(out)
	return out, nil
}

// sortObjects orders by namespace then name; keys alone do not ("a-b/x"
// sorts before "a/y").
func sortObjects(objs []api.Object) {
	sort.Slice(objs, func(i, j int) bool {
		a, b := objs[i].GetObjectMeta(), objs[j].GetObjectMeta()
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}

// badgerLogger passes badger's errors and warnings to the standard logger
// and drops its chatter.
type badgerLogger struct{}

func (badgerLogger) Errorf(f string, a ...any)   { logf("store: badger: "+f, a...) }
func (badgerLogger) Warningf(f string, a ...any) { logf("store: badger: "+f, a...) }
func (badgerLogger) Infof(string, ...any)        {}
func (badgerLogger) Debugf(string, ...any)       {}
