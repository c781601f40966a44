package apiserver

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// serveLog is GET .../pods/{name}/log: the container's log as plain text,
// streamed (and flushed line by line) with follow=true.
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, req request) {
	opts, err := logOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if s.opts.Logs == nil {
		// The pod must exist for the answer to be about logs at all.
		if _, err := s.reg.Get(r.Context(), req.res, req.namespace, req.name); err != nil {
			writeError(w, r, err)
			return
		}
		writeError(w, r, api.NewBadRequest("this node runs no pods: it has no container logs"))
		return
	}
	lw := &logWriter{w: w}
	err = s.opts.Logs(r.Context(), req.namespace, req.name, opts, lw)
	if err != nil && !lw.started {
		writeError(w, r, err)
		return
	}
	if !lw.started {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
	}
	if err != nil && r.Context().Err() == nil {
		s.log.Warn("log stream ended with an error", "namespace", req.namespace, "pod", req.name, "err", err)
	}
}

// logWriter sends the status line with the first byte, so that an error
// before any log line can still be a Status, and flushes every write.
type logWriter struct {
	w       http.ResponseWriter
	started bool
}

func (l *logWriter) Write(b []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", "text/plain")
		l.w.Header().Set("Cache-Control", "no-cache, private")
		l.w.WriteHeader(http.StatusOK)
	}
	n, err := l.w.Write(b)
	flush(l.w)
	return n, err
}

// logOptions reads container, follow, previous, tailLines, sinceSeconds,
// sinceTime, timestamps and limitBytes.
func logOptions(r *http.Request) (LogOptions, error) {
	q := r.URL.Query()
	var opts LogOptions
	opts.Container = q.Get("container")
	var err error
	if opts.Follow, err = boolParam(q.Get("follow"), "follow"); err != nil {
		return opts, err
	}
	if opts.Previous, err = boolParam(q.Get("previous"), "previous"); err != nil {
		return opts, err
	}
	if opts.Timestamps, err = boolParam(q.Get("timestamps"), "timestamps"); err != nil {
		return opts, err
	}
	if opts.TailLines, err = intParam(q.Get("tailLines"), "tailLines"); err != nil {
		return opts, err
	}
	if opts.SinceSeconds, err = intParam(q.Get("sinceSeconds"), "sinceSeconds"); err != nil {
		return opts, err
	}
	if opts.LimitBytes, err = intParam(q.Get("limitBytes"), "limitBytes"); err != nil {
		return opts, err
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return opts, api.NewBadRequest(fmt.Sprintf("sinceTime %q is not an RFC 3339 time", v))
		}
		opts.SinceTime = &t
	}
	if opts.SinceSeconds != nil && opts.SinceTime != nil {
		return opts, api.NewBadRequest("at most one of sinceTime or sinceSeconds may be specified")
	}
	if opts.SinceSeconds != nil && *opts.SinceSeconds < 1 {
		return opts, api.NewBadRequest("sinceSeconds must be greater than 0")
	}
	if opts.TailLines != nil && *opts.TailLines < 0 {
		return opts, api.NewBadRequest("tailLines must be greater than or equal to 0")
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		return opts, api.NewBadRequest("limitBytes must be greater than 0")
	}
	return opts, nil
}

func boolParam(v, name string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, api.NewBadRequest(fmt.Sprintf("%s %q is not a boolean", name, v))
	}
	return b, nil
}

func intParam(v, name string) (*int64, error) {
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, api.NewBadRequest(fmt.Sprintf("%s %q is not an integer", name, v))
	}
	return &n, nil
}
