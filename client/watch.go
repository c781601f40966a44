package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// WatchEvent is one change seen by Watch.
type WatchEvent struct {
	// Type is "ADDED", "MODIFIED", "DELETED", "BOOKMARK" or "ERROR".
	Type string
	// Object is the object after the change (its last state for DELETED).
	Object api.Object
	// Err is set for an ERROR event (an *api.Status, such as 410 Expired:
	// list again) and for a stream that broke; it is the last event.
	Err error
}

// Watch streams the changes of r's objects in namespace ("" = all) that
// opts select. The channel is closed when ctx ends, the node ends the
// watch (after opts.TimeoutSeconds, or the client's request timeout), or
// the connection breaks (after an event with Err).
func (c *Client) Watch(ctx context.Context, r *api.ResourceInfo, namespace string, opts ListOptions) (<-chan WatchEvent, error) {
	if opts.TimeoutSeconds == 0 && c.timeout > 0 {
		opts.TimeoutSeconds = max(int64(c.timeout/time.Second), 1)
	}
	q := opts.query()
	q.Set("watch", "true")
	q.Set("allowWatchBookmarks", "false")
	resp, err := c.do(ctx, http.MethodGet, resourcePath(r, namespace, "", ""), q, "", nil)
	if err != nil {
		return nil, err
	}
	out := make(chan WatchEvent)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		stop := context.AfterFunc(ctx, func() { resp.Body.Close() })
		defer stop()
		dec := json.NewDecoder(bufio.NewReader(resp.Body))
		for {
			var ev struct {
				Type   string          `json:"type"`
				Object json.RawMessage `json:"object"`
			}
			if err := dec.Decode(&ev); err != nil {
				if err == io.EOF || ctx.Err() != nil {
					return
				}
				send(ctx, out, WatchEvent{Type: "ERROR", Err: fmt.Errorf("the watch of %s broke: %w", r.GroupResource(), err)})
				return
			}
			we := WatchEvent{Type: ev.Type}
			if ev.Type == "ERROR" {
				var st api.Status
				if json.Unmarshal(ev.Object, &st) == nil && st.Kind == "Status" {
					we.Err = &st
				} else {
					we.Err = fmt.Errorf("the watch of %s ended with an error: %s", r.GroupResource(), ev.Object)
				}
			} else {
				obj, err := decodeObject(r, ev.Object)
				if err != nil {
					we = WatchEvent{Type: "ERROR", Err: err}
				} else {
					we.Object = obj
				}
			}
			if !send(ctx, out, we) || we.Err != nil {
				return
			}
		}
	}()
	return out, nil
}

func send(ctx context.Context, out chan<- WatchEvent, ev WatchEvent) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// LogOptions select what Logs writes, as `kubectl logs` does.
type LogOptions struct {
	// Container names the container; "" means the only one.
	Container string
	// Follow streams new lines until the container ends or ctx does.
	Follow bool
	// Previous reads the previous (terminated) instance.
	Previous bool
	// TailLines, when set, starts that many lines from the end.
	TailLines *int64
	// SinceSeconds, when set, skips lines older than that.
	SinceSeconds *int64
	// SinceTime, when set, skips lines older than it.
	SinceTime *time.Time
	// Timestamps prefixes each line with its time.
	Timestamps bool
	// LimitBytes, when set, stops after that many bytes.
	LimitBytes *int64
}

func (o LogOptions) query() url.Values {
	q := url.Values{}
	if o.Container != "" {
		q.Set("container", o.Container)
	}
	if o.Follow {
		q.Set("follow", "true")
	}
	if o.Previous {
		q.Set("previous", "true")
	}
	if o.Timestamps {
		q.Set("timestamps", "true")
	}
	if o.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*o.TailLines, 10))
	}
	if o.SinceSeconds != nil {
		q.Set("sinceSeconds", strconv.FormatInt(*o.SinceSeconds, 10))
	}
	if o.SinceTime != nil {
		q.Set("sinceTime", o.SinceTime.UTC().Format(time.RFC3339))
	}
	if o.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*o.LimitBytes, 10))
	}
	return q
}

// Logs copies a container's log to w; with Follow, until the container
// ends or ctx does.
func (c *Client) Logs(ctx context.Context, namespace, pod string, opts LogOptions, w io.Writer) error {
	r, ok := api.LookupResource("pods")
	if !ok {
		return fmt.Errorf("pods are not a registered kind")
	}
	resp, err := c.do(ctx, http.MethodGet, resourcePath(r, c.ns(r, namespace), pod, "log"), opts.query(), "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	stop := context.AfterFunc(ctx, func() { resp.Body.Close() })
	defer stop()
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
