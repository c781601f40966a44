// Package events records Kubernetes v1 Events in the store, as the
// kubelet's and the controllers' event recorders do: one Event object per
// distinct (object, type, reason, message, source), whose count and
// lastTimestamp grow when the same thing happens again.
//
// Recording never fails the caller: an event that cannot be written is
// dropped (and logged), as in Kubernetes, where events are best effort.
package events

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/store"
)

// Event types, as Kubernetes names them.
const (
	Normal  = "Normal"
	Warning = "Warning"
)

// maxCached bounds the aggregation cache: past it, the oldest half is
// dropped and a repeat of a dropped event starts a new Event object.
const maxCached = 4096

// Recorder writes Events about objects. It is safe for concurrent use.
type Recorder struct {
	store     *store.Store
	component string
	host      string
	clock     clock.Clock
	log       *slog.Logger

	mu    sync.Mutex
	seen  map[aggregateKey]*seenEvent
	order []aggregateKey
}

type aggregateKey struct {
	uid, kind, namespace, name, eventType, reason, message string
}

type seenEvent struct {
	namespace, name string
	count           int32
}

// NewRecorder returns a recorder whose events name component (and host, may
// be empty) as their source; clk gives their timestamps.
func NewRecorder(st *store.Store, component, host string, clk clock.Clock) *Recorder {
	return &Recorder{
		store: st, component: component, host: host, clock: clk,
		log:  slog.Default().With("events", component),
		seen: map[aggregateKey]*seenEvent{},
	}
}

// WithLogger returns the recorder logging to log.
func (r *Recorder) WithLogger(log *slog.Logger) *Recorder {
	r.log = log.With("events", r.component)
	return r
}

// Eventf records an event of eventType (Normal or Warning) about obj with
// reason and a message formatted from messageFmt and args.
func (r *Recorder) Eventf(obj api.Object, eventType, reason, messageFmt string, args ...any) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.record(ctx, obj, eventType, reason, fmt.Sprintf(messageFmt, args...)); err != nil {
		r.log.Warn("event dropped", "reason", reason, "err", err)
	}
}

// Event records an event with a fixed message.
func (r *Recorder) Event(obj api.Object, eventType, reason, message string) {
	r.Eventf(obj, eventType, reason, "%s", message)
}

func (r *Recorder) record(ctx context.Context, obj api.Object, eventType, reason, message string) error {
	evr, ok := api.LookupResource("events")
	if !ok {
		return fmt.Errorf("events: the api package serves no events resource")
	}
	ref := Reference(obj)
	ns := ref.Namespace
	if ns == "" {
		ns = "default" // events about cluster-scoped objects live in default
	}
	key := aggregateKey{ref.UID, ref.Kind, ref.Namespace, ref.Name, eventType, reason, message}
	now := api.NewTime(r.clock.Now())

	r.mu.Lock()
	prev := r.seen[key]
	r.mu.Unlock()
	if prev != nil {
		var count int32
		_, err := r.store.GuaranteedUpdate(ctx, evr, prev.namespace, prev.name, func(o api.Object) (api.Object, error) {
			e, ok := o.(*api.Event)
			if !ok {
				return nil, fmt.Errorf("events/%s: not an Event", prev.name)
			}
			e.Count++
			if e.Count < 2 {
				e.Count = 2
			}
			e.LastTimestamp = now
			count = e.Count
			return e, nil
		})
		if err == nil {
			r.mu.Lock()
			prev.count = count
			r.mu.Unlock()
			return nil
		}
		if !api.IsNotFound(err) {
			return err
		}
		// The Event was deleted meanwhile: start a new one.
	}

	t := r.clock.Now()
	e := &api.Event{
		TypeMeta: api.TypeMeta{Kind: "Event", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", ref.Name, t.UnixNano()),
			Namespace: ns,
		},
		InvolvedObject:      ref,
		Reason:              reason,
		Message:             message,
		Source:              api.EventSource{Component: r.component, Host: r.host},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		Type:                eventType,
		ReportingController: r.component,
		ReportingInstance:   r.host,
	}
	created, err := r.store.Create(ctx, e)
	if api.IsAlreadyExists(err) {
		// Two events in the same nanosecond of a fake clock: let the store
		// pick a name.
		e.Name, e.GenerateName = "", ref.Name+"."
		created, err = r.store.Create(ctx, e)
	}
	if err != nil {
		return err
	}
	m := created.GetObjectMeta()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.order) >= maxCached {
		for _, k := range r.order[:maxCached/2] {
			delete(r.seen, k)
		}
		r.order = append([]aggregateKey(nil), r.order[maxCached/2:]...)
	}
	if _, ok := r.seen[key]; !ok {
		r.order = append(r.order, key)
	}
	r.seen[key] = &seenEvent{namespace: m.Namespace, name: m.Name, count: 1}
	return nil
}

// Reference is the ObjectReference of obj that an Event's involvedObject
// holds.
func Reference(obj api.Object) api.ObjectReference {
	m := obj.GetObjectMeta()
	tm := obj.GetTypeMeta()
	kind, apiVersion := tm.Kind, tm.APIVersion
	if kind == "" || apiVersion == "" {
		if r, ok := api.ResourceOf(obj); ok {
			kind, apiVersion = r.Kind, r.APIVersion()
		}
	}
	return api.ObjectReference{
		Kind:            kind,
		APIVersion:      apiVersion,
		Namespace:       m.Namespace,
		Name:            m.Name,
		UID:             m.UID,
		ResourceVersion: m.ResourceVersion,
	}
}
