package controller

import (
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/internal/clock"
)

// ExpectationsTimeout is how long a controller waits for the creations and
// deletions it asked for to show up in its watch before it acts again
// anyway (Kubernetes' ExpectationsTimeout).
const ExpectationsTimeout = 5 * time.Minute

// Expectations remember, per owner key, how many pod creations and which pod
// deletions the controller asked for and has not yet seen in its watch. Until
// they are seen (or 5 minutes pass) the owner is not acted on again, so that
// a sync that runs before the watch caught up never creates or deletes twice.
type Expectations struct {
	clock clock.Clock

	mu      sync.Mutex
	records map[string]*expectation
}

type expectation struct {
	adds      int
	deletions map[string]bool // pod keys
	timestamp time.Time
}

// NewExpectations returns an empty set of expectations.
func NewExpectations(clk clock.Clock) *Expectations {
	return &Expectations{clock: clk, records: map[string]*expectation{}}
}

// Satisfied reports whether key may be acted on: no record, everything seen,
// or the record is older than ExpectationsTimeout.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.records[key]
	if !ok {
		return true
	}
	if r.adds <= 0 && len(r.deletions) == 0 {
		return true
	}
	return e.clock.Since(r.timestamp) > ExpectationsTimeout
}

// ExpectCreations records that n pods are about to be created for key.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.records[key] = &expectation{adds: n, deletions: map[string]bool{}, timestamp: e.clock.Now()}
}

// ExpectDeletions records that the pods podKeys are about to be deleted.
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := &expectation{deletions: map[string]bool{}, timestamp: e.clock.Now()}
	for _, k := range podKeys {
		r.deletions[k] = true
	}
	e.records[key] = r
}

// CreationObserved lowers the creations expected for key by one: a pod was
// seen, or a create was skipped or failed.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.records[key]; ok && r.adds > 0 {
		r.adds--
	}
}

// DeletionObserved marks the deletion of podKey as seen.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.records[key]; ok {
		delete(r.deletions, podKey)
	}
}

// Delete forgets key (its owner is gone).
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.records, key)
}

// pending returns what is still expected for key (tests).
func (e *Expectations) pending(key string) (adds, deletions int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.records[key]; ok {
		return r.adds, len(r.deletions)
	}
	return 0, 0
}
