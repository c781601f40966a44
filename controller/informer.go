package controller

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

// relistDelay is how long an informer waits before listing again after the
// store refused a list or a watch for another reason than Expired.
const relistDelay = time.Second

// Handler receives an informer's changes. Handlers run one at a time on the
// informer's goroutine and must be quick: they enqueue keys, nothing more.
// The objects are the informer's cached copies and must not be modified.
type Handler struct {
	OnAdd    func(obj api.Object)
	OnUpdate func(old, new api.Object)
	OnDelete func(obj api.Object)
}

// Informer keeps a cache of one kind of object, fed by a store watch, and
// tells its handlers of every change. It lists again when the watch falls
// out of the store's history (Expired), handing the differences to the
// handlers as adds, updates and deletes, and every resync period it hands
// every cached object to OnUpdate(obj, obj), so that level-triggered
// controllers heal whatever they may have missed.
type Informer struct {
	store    *store.Store
	resource *api.ResourceInfo
	clock    clock.Clock
	resync   time.Duration
	log      *slog.Logger

	mu       sync.RWMutex
	items    map[string]map[string]api.Object // namespace → name → object
	handlers []Handler

	syncOnce sync.Once
	synced   chan struct{}
}

// NewInformer returns an informer of resource r; resync 0 disables the
// periodic resync.
func NewInformer(st *store.Store, r *api.ResourceInfo, clk clock.Clock, resync time.Duration, log *slog.Logger) *Informer {
	if log == nil {
		log = slog.Default()
	}
	return &Informer{
		store: st, resource: r, clock: clk, resync: resync,
		log:    log.With("informer", r.GroupResource()),
		items:  map[string]map[string]api.Object{},
		synced: make(chan struct{}),
	}
}

// Resource is the kind this informer caches.
func (i *Informer) Resource() *api.ResourceInfo { return i.resource }

// AddHandler registers h; add handlers before Start.
func (i *Informer) AddHandler(h Handler) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.handlers = append(i.handlers, h)
}

// Synced is closed once the first list is in the cache.
func (i *Informer) Synced() <-chan struct{} { return i.synced }

// Get returns the cached object.
func (i *Informer) Get(namespace, name string) (api.Object, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	o, ok := i.items[namespace][name]
	return o, ok
}

// List returns the cached objects of namespace ("" = every namespace) whose
// labels sel matches (nil matches all), sorted by namespace and name.
func (i *Informer) List(namespace string, sel api.Selector) []api.Object {
	i.mu.RLock()
	var out []api.Object
	add := func(m map[string]api.Object) {
		for _, o := range m {
			if sel == nil || sel.Matches(o.GetObjectMeta().Labels) {
				out = append(out, o)
			}
		}
	}
	if namespace == "" {
		for _, m := range i.items {
			add(m)
		}
	} else {
		add(i.items[namespace])
	}
	i.mu.RUnlock()
	sort.Slice(out, func(a, b int) bool {
		ma, mb := out[a].GetObjectMeta(), out[b].GetObjectMeta()
		if ma.Namespace != mb.Namespace {
			return ma.Namespace < mb.Namespace
		}
		return ma.Name < mb.Name
	})
	return out
}

// Start lists and watches until ctx ends; it always returns nil then.
func (i *Informer) Start(ctx context.Context) error {
	for ctx.Err() == nil {
		rv, err := i.relist(ctx)
		if err != nil {
			if ctx.Err() == nil {
				i.log.Warn("list failed", "err", err)
				_ = clock.Sleep(ctx, i.clock, relistDelay)
			}
			continue
		}
		i.syncOnce.Do(func() { close(i.synced) })
		if err := i.watch(ctx, rv); err != nil && ctx.Err() == nil {
			if !api.IsExpired(err) {
				i.log.Warn("watch failed", "err", err)
				_ = clock.Sleep(ctx, i.clock, relistDelay)
			}
		}
	}
	return nil
}

// relist replaces the cache with a fresh list and tells the handlers what
// changed.
func (i *Informer) relist(ctx context.Context) (string, error) {
	objs, rv, err := i.store.List(ctx, i.resource, "", store.ListOptions{})
	if err != nil {
		return "", err
	}
	fresh := map[string]map[string]api.Object{}
	for _, o := range objs {
		m := o.GetObjectMeta()
		if fresh[m.Namespace] == nil {
			fresh[m.Namespace] = map[string]api.Object{}
		}
		fresh[m.Namespace][m.Name] = o
	}
	i.mu.Lock()
	old := i.items
	i.items = fresh
	handlers := i.handlers
	i.mu.Unlock()
	for ns, m := range fresh {
		for name, o := range m {
			prev, ok := old[ns][name]
			switch {
			case !ok:
				dispatchAdd(handlers, o)
			case prev.GetObjectMeta().ResourceVersion != o.GetObjectMeta().ResourceVersion:
				dispatchUpdate(handlers, prev, o)
			}
		}
	}
	for ns, m := range old {
		for name, o := range m {
			if _, ok := fresh[ns][name]; !ok {
				dispatchDelete(handlers, o)
			}
		}
	}
	return rv, nil
}

// watch follows changes after rv until ctx ends, the watch ends or fails.
func (i *Informer) watch(ctx context.Context, rv string) error {
	w, err := i.store.Watch(ctx, i.resource, "", store.ListOptions{ResourceVersion: rv})
	if err != nil {
		return err
	}
	defer w.Stop()
	var (
		resync <-chan time.Time
		timer  clock.Timer
	)
	if i.resync > 0 {
		timer = i.clock.NewTimer(i.resync)
		defer timer.Stop()
		resync = timer.C()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-resync:
			i.resyncAll()
			timer.Reset(i.resync)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			if err := i.apply(ev); err != nil {
				return err
			}
		}
	}
}

func (i *Informer) apply(ev store.Event) error {
	switch ev.Type {
	case store.Error:
		// The store sends an *api.Status; it is an error either way.
		if err, ok := any(ev.Object).(error); ok {
			return err
		}
		return api.NewExpired("watch ended with an error")
	case store.Bookmark:
		return nil
	}
	if ev.Object == nil {
		return nil
	}
	m := ev.Object.GetObjectMeta()
	i.mu.Lock()
	prev, had := i.items[m.Namespace][m.Name]
	if ev.Type == store.Deleted {
		delete(i.items[m.Namespace], m.Name)
		if len(i.items[m.Namespace]) == 0 {
			delete(i.items, m.Namespace)
		}
	} else {
		if i.items[m.Namespace] == nil {
			i.items[m.Namespace] = map[string]api.Object{}
		}
		i.items[m.Namespace][m.Name] = ev.Object
	}
	handlers := i.handlers
	i.mu.Unlock()
	switch {
	case ev.Type == store.Deleted:
		dispatchDelete(handlers, ev.Object)
	case had:
		dispatchUpdate(handlers, prev, ev.Object)
	default:
		dispatchAdd(handlers, ev.Object)
	}
	return nil
}

func (i *Informer) resyncAll() {
	i.mu.RLock()
	handlers := i.handlers
	i.mu.RUnlock()
	for _, o := range i.List("", nil) {
		dispatchUpdate(handlers, o, o)
	}
}

func dispatchAdd(hs []Handler, o api.Object) {
	for _, h := range hs {
		if h.OnAdd != nil {
			h.OnAdd(o)
		}
	}
}

func dispatchUpdate(hs []Handler, old, o api.Object) {
	for _, h := range hs {
		if h.OnUpdate != nil {
			h.OnUpdate(old, o)
		}
	}
}

func dispatchDelete(hs []Handler, o api.Object) {
	for _, h := range hs {
		if h.OnDelete != nil {
			h.OnDelete(o)
		}
	}
}
