package host

import "time"

// Back-off numbers of the kubelet (k8s-semantics.md section 2).
const (
	// containerBackOffInitial and containerBackOffMax bound the crash-loop
	// back-off: 10 s doubling to 300 s.
	containerBackOffInitial = 10 * time.Second
	containerBackOffMax     = 300 * time.Second
	// containerBackOffReset: a container that ran longer than this since the
	// back-off was last raised starts over (the kubelet's HasExpiredFunc).
	containerBackOffReset = 600 * time.Second

	// imageBackOffInitial and imageBackOffMax bound the pull back-off; an
	// entry expires 2*max after its last update (client-go's default).
	imageBackOffInitial = 10 * time.Second
	imageBackOffMax     = 300 * time.Second
)

// BackoffEntry is the state of one back-off: the current delay and when it
// was last raised. It is data, persisted in the pod's annotations, so that a
// restarted node continues where it was.
type BackoffEntry struct {
	Delay      time.Duration `json:"delay"`
	LastUpdate time.Time     `json:"lastUpdate"`
}

// Backoff is client-go's flowcontrol.Backoff without jitter, as the kubelet
// uses it, reduced to pure functions of an entry and the time.
type Backoff struct {
	Initial, Max time.Duration
	// Expiry: an entry whose last update is more than Expiry before the
	// event is forgotten (starts over at Initial).
	Expiry time.Duration
}

// RestartBackoff is the crash-loop back-off of containers.
var RestartBackoff = Backoff{Initial: containerBackOffInitial, Max: containerBackOffMax, Expiry: containerBackOffReset}

// ImageBackoff is the back-off of failed image pulls.
var ImageBackoff = Backoff{Initial: imageBackOffInitial, Max: imageBackOffMax, Expiry: 2 * imageBackOffMax}

func (b Backoff) expired(e *BackoffEntry, eventTime time.Time) bool {
	return e == nil || eventTime.Sub(e.LastUpdate) > b.Expiry
}

// Next raises the back-off for an event at eventTime, recorded at now: a new
// or expired entry starts at Initial, otherwise the delay doubles up to Max.
func (b Backoff) Next(e *BackoffEntry, eventTime, now time.Time) BackoffEntry {
	if b.expired(e, eventTime) {
		return BackoffEntry{Delay: b.Initial, LastUpdate: now}
	}
	return BackoffEntry{Delay: min(2*e.Delay, b.Max), LastUpdate: now}
}

// InBackoffSince reports whether, at now, an event at eventTime (a
// container's finishedAt) is still inside the back-off, and when the
// back-off ends.
func (b Backoff) InBackoffSince(e *BackoffEntry, eventTime, now time.Time) (bool, time.Time) {
	if b.expired(e, now) {
		return false, time.Time{}
	}
	until := eventTime.Add(e.Delay)
	return now.Before(until), until
}

// InBackoffSinceUpdate reports whether now is inside the back-off counted
// from the entry's last update (the image puller's rule), and when it ends.
func (b Backoff) InBackoffSinceUpdate(e *BackoffEntry, now time.Time) (bool, time.Time) {
	if b.expired(e, now) {
		return false, time.Time{}
	}
	until := e.LastUpdate.Add(e.Delay)
	return now.Before(until), until
}
