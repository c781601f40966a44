package controller

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
)

// Result tells the controller what to do with a key after a successful
// reconcile.
type Result struct {
	// RequeueAfter > 0 reconciles the key again after that long.
	RequeueAfter time.Duration
}

// Reconciler brings the world in line with one object, named by key
// ("namespace/name"). It reads the current state itself and never assumes it
// saw every change: the same key may come any number of times.
type Reconciler interface {
	Reconcile(ctx context.Context, key string) (Result, error)
}

// ReconcilerFunc makes a function a Reconciler.
type ReconcilerFunc func(ctx context.Context, key string) (Result, error)

func (f ReconcilerFunc) Reconcile(ctx context.Context, key string) (Result, error) {
	return f(ctx, key)
}

// Controller runs workers over a Reconciler. Its retry policy is the only
// one: an error or a panic requeues the key rate-limited, RequeueAfter
// requeues it after that long, success forgets its failures.
type Controller struct {
	name       string
	reconciler Reconciler
	queue      *Queue
	workers    int
	log        *slog.Logger
	waitFor    []*Informer
}

// NewController returns a controller of workers workers (at least one) on a
// queue on clk with Kubernetes' default rate limiter.
func NewController(name string, r Reconciler, clk clock.Clock, workers int, log *slog.Logger) *Controller {
	if log == nil {
		log = slog.Default()
	}
	return &Controller{
		name: name, reconciler: r, queue: NewQueue(clk, nil),
		workers: max(workers, 1), log: log.With("controller", name),
	}
}

// Queue is the controller's work queue.
func (c *Controller) Queue() *Queue { return c.queue }

// Watch feeds the controller from inf: every added, changed, resynced or
// deleted object is mapped by keys to the keys to reconcile (nil keys: the
// object's own "namespace/name"). The controller's workers start only once
// every watched informer has synced. Informers are started by their owner
// (the Manager), not by the controller.
func (c *Controller) Watch(inf *Informer, keys func(obj api.Object) []string) {
	if keys == nil {
		keys = func(o api.Object) []string { return []string{KeyOf(o)} }
	}
	enqueue := func(o api.Object) {
		for _, k := range keys(o) {
			c.queue.Add(k)
		}
	}
	inf.AddHandler(Handler{
		OnAdd:    enqueue,
		OnUpdate: func(_, o api.Object) { enqueue(o) },
		OnDelete: enqueue,
	})
	c.WaitFor(inf)
}

// WaitFor makes the workers wait until inf has synced.
func (c *Controller) WaitFor(inf *Informer) { c.waitFor = append(c.waitFor, inf) }

// Start runs the workers until ctx ends, then shuts the queue down and waits
// for them; it returns nil.
func (c *Controller) Start(ctx context.Context) error {
	for _, inf := range c.waitFor {
		select {
		case <-inf.Synced():
		case <-ctx.Done():
			c.queue.ShutDown()
			return nil
		}
	}
	var wg sync.WaitGroup
	for range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	return nil
}

// processNext reconciles one key; it returns false once the queue is shut
// down.
func (c *Controller) processNext(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	if ctx.Err() != nil {
		return true // shutting down: drain without acting
	}
	res, err := c.reconcile(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			c.log.Info("reconcile failed, will retry", "key", key, "err", err, "requeues", c.queue.NumRequeues(key))
		}
		c.queue.AddRateLimited(key)
	case res.RequeueAfter > 0:
		c.queue.Forget(key)
		c.queue.AddAfter(key, res.RequeueAfter)
	default:
		c.queue.Forget(key)
	}
	return true
}

func (c *Controller) reconcile(ctx context.Context, key string) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("reconcile panicked", "key", key, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("reconcile of %s panicked: %v", key, p)
		}
	}()
	return c.reconciler.Reconcile(ctx, key)
}

// KeyOf is "namespace/name", or "name" for objects without a namespace.
func KeyOf(o api.Object) string {
	m := o.GetObjectMeta()
	if m.Namespace == "" {
		return m.Name
	}
	return m.Namespace + "/" + m.Name
}

// SplitKey splits a key made by KeyOf.
func SplitKey(key string) (namespace, name string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}
