package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/wasmlet/wasmlet/api"
)

// change is one committed write, as the history keeps it. Its objects are
// shared by every watcher and never modified; watchers send copies.
type change struct {
	rv  uint64
	typ EventType // Added, Modified or Deleted
	res *api.ResourceInfo
	obj api.Object // the state after the write; for Deleted the last state
	// prevRaw is the stored state a MODIFIED change replaced. It is kept
	// encoded: it is only read when a watcher filters, and decoded only
	// for the DELETED a watcher gets when the object stops matching.
	prevRaw []byte

	// Computed on first use, under Store.mu.
	fields, prevFields map[string]string
	prevLabels         map[string]string
	prevLabelsRead     bool
}

// previousLabels are the labels of the state a MODIFIED change replaced.
func (c *change) previousLabels() map[string]string {
	if !c.prevLabelsRead {
		var m struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(c.prevRaw, &m) // stored by us: it decodes
		c.prevLabels, c.prevLabelsRead = m.Metadata.Labels, true
	}
	return c.prevLabels
}

// publish appends c to the history and hands it to every watcher. The
// caller holds s.mu.
func (s *Store) publish(c *change) {
	n := len(s.ring)
	if s.ringLen == n {
		s.oldest = s.ring[s.ringHead].rv
		s.ring[s.ringHead] = c
		s.ringHead = (s.ringHead + 1) % n
	} else {
		s.ring[(s.ringHead+s.ringLen)%n] = c
		s.ringLen++
	}
	for w := range s.watchers {
		if ev, ok := w.filter(c); ok && !w.push(ev) {
			delete(s.watchers, w)
		}
	}
}

// watch starts a watch; the caller is inside enter/leave.
func (s *Store) watch(ctx context.Context, r *api.ResourceInfo, namespace string, opts ListOptions) (Watch, error) {
	if !r.Namespaced {
		namespace = ""
	}
	var after uint64
	initial := opts.ResourceVersion == "" || opts.ResourceVersion == "0"
	if !initial {
		v, err := strconv.ParseUint(opts.ResourceVersion, 10, 64)
		if err != nil {
			return nil, api.NewBadRequest(fmt.Sprintf("invalid resource version %q: %v", opts.ResourceVersion, err))
		}
		after = v
	}
	w := &watcher{
		s: s, res: r, namespace: namespace,
		label: opts.LabelSelector, field: opts.FieldSelector,
		out:  make(chan Event),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	if w.label != nil && w.label.Empty() {
		w.label = nil
	}
	if w.field != nil && w.field.Empty() {
		w.field = nil
	}
	s.mu.Lock()
	if initial {
		// Writers hold s.mu, so this snapshot is exactly the state at s.rv
		// and the changes that follow are the ones after it.
		var objs []api.Object
		err := s.guarded(func() error {
			return s.db.View(func(txn *badger.Txn) error {
				var err error
				objs, err = listObjects(s.reads, txn, r, namespace, ListOptions{LabelSelector: w.label, FieldSelector: w.field})
				return err
			})
		})
		if err != nil {
			s.mu.Unlock()
			return nil, storageError(err)
		}
		for _, o := range objs {
			w.queue = append(w.queue, Event{Type: Added, Object: o})
		}
	} else {
		if after < s.oldest {
			s.mu.Unlock()
			return nil, api.NewExpired(fmt.Sprintf("too old resource version: %d (%d)", after, s.oldest))
		}
		n := len(s.ring)
		for i := 0; i < s.ringLen; i++ {
			c := s.ring[(s.ringHead+i)%n]
			if c.rv <= after {
				continue
			}
			if ev, ok := w.filter(c); ok {
				w.queue = append(w.queue, ev)
			}
		}
	}
	// A watcher may fall as far behind as the history reaches, on top of
	// what it starts with.
	w.limit = len(w.queue) + s.history
	s.watchers[w] = struct{}{}
	s.mu.Unlock()

	go w.run()
	stopCtx := context.AfterFunc(ctx, w.Stop)
	w.mu.Lock()
	w.stopCtx = stopCtx
	w.mu.Unlock()
	return w, nil
}

// watcher is one watch: a queue that writers fill without waiting, and a
// goroutine that feeds the queue to ResultChan.
type watcher struct {
	s         *Store
	res       *api.ResourceInfo
	namespace string
	label     api.Selector
	field     api.FieldSelector
	limit     int

	out  chan Event
	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	queue    []Event
	ended    bool // nothing more is queued: the last event is an error
	stopCtx  func() bool
	stopOnce sync.Once
}

func (w *watcher) ResultChan() <-chan Event { return w.out }

// Stop ends the watch; ResultChan is closed when it returns.
func (w *watcher) Stop() {
	w.s.mu.Lock()
	delete(w.s.watchers, w)
	w.s.mu.Unlock()
	w.end()
	<-w.done
	w.mu.Lock()
	stopCtx := w.stopCtx
	w.stopCtx = nil
	w.mu.Unlock()
	if stopCtx != nil {
		stopCtx()
	}
}

// end stops the feeding goroutine, dropping what is queued.
func (w *watcher) end() {
	w.stopOnce.Do(func() { close(w.stop) })
}

// push queues ev; it never blocks. A watcher whose queue is full gets a 410
// error as its last event, and push reports false: it is to be dropped.
// The caller holds Store.mu.
func (w *watcher) push(ev Event) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return false
	}
	ok := true
	if len(w.queue) >= w.limit {
		ev = Event{Type: Error, Object: api.NewExpired(fmt.Sprintf(
			"watch of %s closed: the client fell %d events behind; list again", w.res.GroupResource(), len(w.queue)))}
		w.ended = true
		ok = false
	}
	w.queue = append(w.queue, ev)
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return ok
}

func (w *watcher) run() {
	defer close(w.done)
	defer close(w.out)
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.mu.Unlock()
			select {
			case <-w.wake:
				continue
			case <-w.stop:
				return
			}
		}
		ev := w.queue[0]
		w.queue[0] = Event{}
		w.queue = w.queue[1:]
		w.mu.Unlock()
		select {
		case w.out <- ev:
		case <-w.stop:
			return
		}
		if ev.Type == Error {
			return
		}
	}
}

// filter turns a change into the event this watcher sees, if any, as
// Kubernetes' watch cache does: an object that starts to match is ADDED,
// one that stops matching is DELETED (its previous state, at the change's
// resourceVersion). The caller holds Store.mu.
func (w *watcher) filter(c *change) (Event, bool) {
	if c.res.Group != w.res.Group || c.res.Resource != w.res.Resource {
		return Event{}, false
	}
	if w.namespace != "" && c.obj.GetObjectMeta().Namespace != w.namespace {
		return Event{}, false
	}
	cur := w.matches(c.obj, &c.fields)
	switch c.typ {
	case Added:
		if cur {
			return Event{Type: Added, Object: c.obj.DeepCopyObject()}, true
		}
	case Deleted:
		if cur {
			return Event{Type: Deleted, Object: c.obj.DeepCopyObject()}, true
		}
	case Modified:
		old := c.prevRaw != nil && w.matchesPrevious(c)
		switch {
		case cur && old:
			return Event{Type: Modified, Object: c.obj.DeepCopyObject()}, true
		case cur:
			return Event{Type: Added, Object: c.obj.DeepCopyObject()}, true
		case old:
			o, err := decode(w.res, c.prevRaw)
			if err != nil {
				return Event{}, false
			}
			o.GetObjectMeta().ResourceVersion = strconv.FormatUint(c.rv, 10)
			return Event{Type: Deleted, Object: o}, true
		}
	}
	return Event{}, false
}

func (w *watcher) matchesPrevious(c *change) bool {
	if w.label != nil && !w.label.Matches(c.previousLabels()) {
		return false
	}
	if w.field != nil {
		if c.prevFields == nil {
			c.prevFields = fieldsOf(w.res, c.prevRaw)
		}
		if !w.field.Matches(c.prevFields) {
			return false
		}
	}
	return true
}

func (w *watcher) matches(obj api.Object, fields *map[string]string) bool {
	if w.label != nil && !w.label.Matches(obj.GetObjectMeta().Labels) {
		return false
	}
	if w.field != nil {
		if *fields == nil {
			*fields = objectFields(w.res, obj)
		}
		if !w.field.Matches(*fields) {
			return false
		}
	}
	return true
}
