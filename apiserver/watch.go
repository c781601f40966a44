package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
)

// watchEvent is one line of a watch stream, Kubernetes' WatchEvent in JSON.
type watchEvent struct {
	Type   store.EventType `json:"type"`
	Object any             `json:"object"`
}

// serveWatch streams the changes of req's kind as newline-separated JSON
// watch events until the client goes, the server stops, timeoutSeconds
// passes or the store ends the watch (an ERROR event such as 410 Expired is
// its last line).
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, req request) {
	q := r.URL.Query()
	opts, err := listOptions(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if t := q.Get("timeoutSeconds"); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			writeError(w, r, api.NewBadRequest(fmt.Sprintf("timeoutSeconds %q is not a non-negative integer", t)))
			return
		}
		if n > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(n)*time.Second)
			defer cancel()
		}
	}
	ns := req.scope()
	if req.name != "" {
		// /watch/namespaces/{ns}/pods/{name}: a watch of one object.
		sel, err := api.ParseFieldSelector("metadata.name=" + req.name)
		if err != nil {
			writeError(w, r, err)
			return
		}
		opts.FieldSelector = sel
	}
	wt, err := s.reg.Watch(ctx, req.res, ns, opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer wt.Stop()
	s.watches.Add(1)
	defer s.watches.Add(-1)

	table := wantsTable(r)
	include := includeObject(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	flush(w)
	enc := json.NewEncoder(w)
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wt.ResultChan():
			if !ok {
				return
			}
			out := watchEvent{Type: ev.Type, Object: ev.Object}
			if table && ev.Type != store.Error && ev.Type != store.Bookmark {
				out.Object = s.table(req.res, []api.Object{ev.Object}, ev.Object.GetObjectMeta().ResourceVersion, include, first)
				first = false
			}
			if err := enc.Encode(out); err != nil {
				return
			}
			flush(w)
			if ev.Type == store.Error {
				return
			}
		}
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
