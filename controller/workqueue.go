package controller

import (
	"math"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/internal/clock"
)

// Kubernetes' default controller rate limiter: per item 5 ms doubling to
// 1000 s, and for the whole queue a token bucket of 10 per second with a
// burst of 100; an item waits for the longer of the two.
const (
	DefaultBaseDelay = 5 * time.Millisecond
	DefaultMaxDelay  = 1000 * time.Second
	DefaultQPS       = 10
	DefaultBurst     = 100
)

// RateLimiter decides how long an item waits before it is retried.
type RateLimiter interface {
	// When records one more failure of key and returns its delay.
	When(key string) time.Duration
	// Forget clears key's failures.
	Forget(key string)
	// NumRequeues is the number of failures recorded for key.
	NumRequeues(key string) int
}

// ItemExponentialRateLimiter delays an item base·2^failures, capped at max.
type ItemExponentialRateLimiter struct {
	base, max time.Duration

	mu       sync.Mutex
	failures map[string]int
}

// NewItemExponentialRateLimiter returns a limiter from base to max.
func NewItemExponentialRateLimiter(base, max time.Duration) *ItemExponentialRateLimiter {
	return &ItemExponentialRateLimiter{base: base, max: max, failures: map[string]int{}}
}

func (r *ItemExponentialRateLimiter) When(key string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.failures[key]
	r.failures[key] = n + 1
	d := float64(r.base) * math.Pow(2, float64(n))
	if d > float64(r.max) || math.IsInf(d, 0) {
		return r.max
	}
	return time.Duration(d)
}

func (r *ItemExponentialRateLimiter) Forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.failures, key)
}

func (r *ItemExponentialRateLimiter) NumRequeues(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures[key]
}

// BucketRateLimiter is a token bucket over every item of a queue: burst
// tokens, refilled at qps per second; an item that finds no token waits for
// the one it reserved.
type BucketRateLimiter struct {
	clock clock.Clock
	qps   float64
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// NewBucketRateLimiter returns a full bucket.
func NewBucketRateLimiter(clk clock.Clock, qps float64, burst int) *BucketRateLimiter {
	return &BucketRateLimiter{clock: clk, qps: qps, burst: float64(burst), tokens: float64(burst), last: clk.Now()}
}

func (b *BucketRateLimiter) When(string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(b.burst, b.tokens+elapsed.Seconds()*b.qps)
		b.last = now
	}
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.qps * float64(time.Second))
}

func (b *BucketRateLimiter) Forget(string)          {}
func (b *BucketRateLimiter) NumRequeues(string) int { return 0 }

// MaxOfRateLimiter waits for the longest delay of its limiters.
type MaxOfRateLimiter []RateLimiter

func (m MaxOfRateLimiter) When(key string) time.Duration {
	var d time.Duration
	for _, l := range m {
		d = max(d, l.When(key))
	}
	return d
}

func (m MaxOfRateLimiter) Forget(key string) {
	for _, l := range m {
		l.Forget(key)
	}
}

func (m MaxOfRateLimiter) NumRequeues(key string) int {
	n := 0
	for _, l := range m {
		n = max(n, l.NumRequeues(key))
	}
	return n
}

// DefaultControllerRateLimiter is Kubernetes' default for controllers.
func DefaultControllerRateLimiter(clk clock.Clock) RateLimiter {
	return MaxOfRateLimiter{
		NewItemExponentialRateLimiter(DefaultBaseDelay, DefaultMaxDelay),
		NewBucketRateLimiter(clk, DefaultQPS, DefaultBurst),
	}
}

// Queue is a deduplicating, rate-limited work queue of keys.
//
// A key is in the queue at most once however often it is added. A key that
// a worker got is "processing" until Done: adding it meanwhile marks it dirty,
// and Done puts it back, so that no key is ever handed to two workers at once
// and no change seen while it was processed is lost.
type Queue struct {
	clock   clock.Clock
	limiter RateLimiter

	mu         sync.Mutex
	cond       *sync.Cond
	queue      []string
	dirty      map[string]bool
	processing map[string]bool
	waiting    map[string]*waitingItem
	shutdown   bool
}

type waitingItem struct {
	when  time.Time
	timer clock.Timer
}

// NewQueue returns a queue on clk; a nil limiter is
// DefaultControllerRateLimiter.
func NewQueue(clk clock.Clock, limiter RateLimiter) *Queue {
	if limiter == nil {
		limiter = DefaultControllerRateLimiter(clk)
	}
	q := &Queue{
		clock:      clk,
		limiter:    limiter,
		dirty:      map[string]bool{},
		processing: map[string]bool{},
		waiting:    map[string]*waitingItem{},
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues key now, unless it is already queued.
func (q *Queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *Queue) addLocked(key string) {
	if q.shutdown || q.dirty[key] {
		return
	}
	q.dirty[key] = true
	if q.processing[key] {
		return
	}
	q.queue = append(q.queue, key)
	q.cond.Signal()
}

// AddAfter queues key once d has passed on the queue's clock. A key already
// waiting keeps the earlier of its two times.
func (q *Queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	when := q.clock.Now().Add(d)
	if w, ok := q.waiting[key]; ok {
		if !when.Before(w.when) {
			return
		}
		w.timer.Stop()
	}
	w := &waitingItem{when: when}
	w.timer = q.clock.AfterFunc(d, func() { q.fire(key, w) })
	q.waiting[key] = w
}

func (q *Queue) fire(key string, w *waitingItem) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.waiting[key] != w {
		return // replaced by an earlier time
	}
	delete(q.waiting, key)
	q.addLocked(key)
}

// AddRateLimited queues key after the delay its rate limiter gives.
func (q *Queue) AddRateLimited(key string) {
	q.AddAfter(key, q.limiter.When(key))
}

// Forget clears key's failures: its next AddRateLimited starts from the
// base delay again.
func (q *Queue) Forget(key string) { q.limiter.Forget(key) }

// NumRequeues is the number of rate-limited requeues of key since it was
// last forgotten.
func (q *Queue) NumRequeues(key string) int { return q.limiter.NumRequeues(key) }

// Get blocks until a key is ready and hands it to the caller, who must call
// Done with it. shutdown is true once the queue is shut down and empty.
func (q *Queue) Get() (key string, shutdown bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if len(q.queue) == 0 {
		return "", true
	}
	key = q.queue[0]
	q.queue[0] = ""
	q.queue = q.queue[1:]
	q.processing[key] = true
	delete(q.dirty, key)
	return key, false
}

// Done ends the processing of key; if it was added meanwhile, it is queued
// again.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.dirty[key] {
		q.queue = append(q.queue, key)
		q.cond.Signal()
	}
}

// Len is the number of keys ready to be handed out.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// ShutDown stops accepting keys, drops the delayed ones, and makes Get
// return shutdown once the queued keys are handed out. It is idempotent.
func (q *Queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for k, w := range q.waiting {
		w.timer.Stop()
		delete(q.waiting, k)
	}
	q.cond.Broadcast()
}

// ShuttingDown reports whether ShutDown was called.
func (q *Queue) ShuttingDown() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shutdown
}
