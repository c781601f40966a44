package controller

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/internal/clock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestQueueDeduplicates(t *testing.T) {
	q := NewQueue(clock.NewFake(epoch), nil)
	for _, k := range []string{"a", "b", "a", "a", "c", "b"} {
		q.Add(k)
	}
	if q.Len() != 3 {
		t.Fatalf("Len = %d, want 3", q.Len())
	}
	for _, want := range []string{"a", "b", "c"} {
		k, shut := q.Get()
		if shut || k != want {
			t.Fatalf("Get = %q, %v; want %q", k, shut, want)
		}
	}
}

func TestQueueAddWhileProcessingRequeuesAfterDone(t *testing.T) {
	q := NewQueue(clock.NewFake(epoch), nil)
	q.Add("a")
	k, _ := q.Get()
	q.Add("a")
	q.Add("a")
	if q.Len() != 0 {
		t.Fatalf("a key being processed was queued again (Len %d)", q.Len())
	}
	q.Done(k)
	if q.Len() != 1 {
		t.Fatalf("after Done Len = %d, want 1", q.Len())
	}
	k, _ = q.Get()
	q.Done(k)
	if q.Len() != 0 {
		t.Fatalf("Len = %d after the second Done, want 0", q.Len())
	}
}

// getAsync hands the next key to a channel, so that tests can wait for keys
// that a clock timer adds from its own goroutine.
func getAsync(q *Queue) <-chan string {
	c := make(chan string, 1)
	go func() {
		k, _ := q.Get()
		c <- k
	}()
	return c
}

func TestQueueAddAfter(t *testing.T) {
	clk := clock.NewFake(epoch)
	q := NewQueue(clk, nil)
	q.AddAfter("a", time.Second)
	q.AddAfter("a", 2*time.Second)        // later: ignored
	q.AddAfter("b", 3*time.Second)        // replaced by the earlier time below
	q.AddAfter("b", 500*time.Millisecond) // earlier: wins
	got := getAsync(q)
	clk.Advance(499 * time.Millisecond)
	select {
	case k := <-got:
		t.Fatalf("got %q before its time", k)
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Millisecond)
	if k := <-got; k != "b" {
		t.Fatalf("first key = %q, want b", k)
	}
	got = getAsync(q)
	clk.Advance(500 * time.Millisecond)
	if k := <-got; k != "a" {
		t.Fatalf("second key = %q, want a", k)
	}
	clk.Advance(10 * time.Second)
	if clk.Waiters() != 0 {
		t.Fatalf("%d timers left", clk.Waiters())
	}
	q.ShutDown()
}

func TestItemExponentialRateLimiter(t *testing.T) {
	r := NewItemExponentialRateLimiter(DefaultBaseDelay, DefaultMaxDelay)
	want := []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
	for i, w := range want {
		if d := r.When("a"); d != w {
			t.Fatalf("failure %d: %v, want %v", i+1, d, w)
		}
	}
	if n := r.NumRequeues("a"); n != 4 {
		t.Fatalf("NumRequeues = %d, want 4", n)
	}
	if d := r.When("b"); d != 5*time.Millisecond {
		t.Fatalf("other key: %v, want 5ms", d)
	}
	// 5ms·2^17 = 655.36 s, 2^18 passes 1000 s.
	for range 13 {
		r.When("a")
	}
	if d := r.When("a"); d != 655360*time.Millisecond {
		t.Fatalf("18th failure: %v, want 655.36s", d)
	}
	for range 100 {
		if d := r.When("a"); d != 1000*time.Second {
			t.Fatalf("capped delay = %v, want 1000s", d)
		}
	}
	r.Forget("a")
	if d := r.When("a"); d != 5*time.Millisecond || r.NumRequeues("a") != 1 {
		t.Fatalf("after Forget: %v, %d requeues", d, r.NumRequeues("a"))
	}
}

func TestBucketRateLimiter(t *testing.T) {
	clk := clock.NewFake(epoch)
	b := NewBucketRateLimiter(clk, DefaultQPS, DefaultBurst)
	for i := range 100 {
		if d := b.When(fmt.Sprint(i)); d != 0 {
			t.Fatalf("item %d of the burst waits %v", i, d)
		}
	}
	tests := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	for i, want := range tests {
		if d := b.When("x"); d != want {
			t.Fatalf("item %d past the burst: %v, want %v", i+1, d, want)
		}
	}
	// 3 reserved tokens are owed; 1 s brings 10.
	clk.Advance(time.Second)
	for i := range 7 {
		if d := b.When("y"); d != 0 {
			t.Fatalf("refilled item %d waits %v", i, d)
		}
	}
	if d := b.When("y"); d != 100*time.Millisecond {
		t.Fatalf("after the refill: %v, want 100ms", d)
	}
}

func TestDefaultControllerRateLimiterIsTheMaxOfBoth(t *testing.T) {
	clk := clock.NewFake(epoch)
	r := DefaultControllerRateLimiter(clk)
	// The per-item delay dominates while the bucket has tokens.
	for i := range 10 {
		want := DefaultBaseDelay << i
		if d := r.When("a"); d != want {
			t.Fatalf("failure %d: %v, want %v", i+1, d, want)
		}
	}
	// Drain the bucket with other keys: then the bucket dominates a fresh key.
	for i := range 90 {
		r.When(fmt.Sprint(i))
	}
	if d := r.When("fresh"); d != 100*time.Millisecond {
		t.Fatalf("fresh key past the burst: %v, want 100ms", d)
	}
	r.Forget("a")
	if r.NumRequeues("a") != 0 {
		t.Fatalf("Forget kept %d requeues", r.NumRequeues("a"))
	}
}

func TestQueueAddRateLimitedAndForget(t *testing.T) {
	clk := clock.NewFake(epoch)
	q := NewQueue(clk, nil)
	q.AddRateLimited("a")
	q.AddRateLimited("a") // 10ms, later than the waiting 5ms: kept at 5ms
	if q.NumRequeues("a") != 2 {
		t.Fatalf("NumRequeues = %d, want 2", q.NumRequeues("a"))
	}
	got := getAsync(q)
	clk.Advance(5 * time.Millisecond)
	if k := <-got; k != "a" {
		t.Fatalf("got %q", k)
	}
	q.Forget("a")
	q.Done("a")
	if q.NumRequeues("a") != 0 {
		t.Fatalf("NumRequeues after Forget = %d", q.NumRequeues("a"))
	}
}

func TestQueueShutDown(t *testing.T) {
	clk := clock.NewFake(epoch)
	q := NewQueue(clk, nil)
	q.Add("a")
	q.AddAfter("later", time.Minute)
	blocked := make(chan bool)
	q.ShutDown()
	q.Add("b") // ignored after shut down
	if k, shut := q.Get(); shut || k != "a" {
		t.Fatalf("queued key not handed out after ShutDown: %q %v", k, shut)
	}
	go func() {
		_, shut := q.Get()
		blocked <- shut
	}()
	if !<-blocked {
		t.Fatal("Get did not report shutdown")
	}
	if clk.Waiters() != 0 {
		t.Fatalf("delayed keys left %d timers", clk.Waiters())
	}
	q.ShutDown()
}

func TestQueueShutDownWakesBlockedGet(t *testing.T) {
	q := NewQueue(clock.NewFake(epoch), nil)
	done := make(chan bool)
	go func() {
		_, shut := q.Get()
		done <- shut
	}()
	time.Sleep(10 * time.Millisecond)
	q.ShutDown()
	if !<-done {
		t.Fatal("blocked Get did not report shutdown")
	}
}

// TestQueueNeverHandsAKeyToTwoWorkers runs workers over keys added from many
// goroutines and checks that no key is ever processed twice at once, and
// that every key added after its last processing began is processed again.
func TestQueueNeverHandsAKeyToTwoWorkers(t *testing.T) {
	q := NewQueue(clock.NewFake(epoch), nil)
	const keys, adders, addsEach, workers = 8, 8, 500, 6
	var (
		mu       sync.Mutex
		inFlight = map[string]bool{}
		overlap  atomic.Int32
		// lastAdd / lastStart order adds and processing per key.
		addSeq   = map[string]int{}
		startSeq = map[string]int{}
		seq      int
	)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, shut := q.Get()
				if shut {
					return
				}
				mu.Lock()
				if inFlight[k] {
					overlap.Add(1)
				}
				inFlight[k] = true
				seq++
				startSeq[k] = seq
				mu.Unlock()
				time.Sleep(10 * time.Microsecond)
				mu.Lock()
				inFlight[k] = false
				mu.Unlock()
				q.Done(k)
			}
		}()
	}
	var adds sync.WaitGroup
	for a := 0; a < adders; a++ {
		adds.Add(1)
		go func() {
			defer adds.Done()
			for i := 0; i < addsEach; i++ {
				k := fmt.Sprint("k", (a+i)%keys)
				mu.Lock()
				seq++
				addSeq[k] = seq
				mu.Unlock()
				q.Add(k)
			}
		}()
	}
	adds.Wait()
	// Let the workers drain what the adders left, then stop.
	for q.Len() > 0 {
		time.Sleep(time.Millisecond)
	}
	for {
		mu.Lock()
		busy := false
		for _, v := range inFlight {
			busy = busy || v
		}
		mu.Unlock()
		q.mu.Lock()
		pending := len(q.queue) + len(q.processing)
		q.mu.Unlock()
		if !busy && pending == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	q.ShutDown()
	wg.Wait()
	if n := overlap.Load(); n != 0 {
		t.Fatalf("%d times a key was handed to a second worker", n)
	}
	for k, a := range addSeq {
		if startSeq[k] < a {
			t.Errorf("key %s was added after its last processing began and never processed again", k)
		}
	}
}
