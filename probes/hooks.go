package probes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/internal/events"
)

// HookError is the failure of a lifecycle hook, with the kubelet's message
// (which the kubelet logs and keeps out of events: it may hold secrets).
type HookError struct {
	Message string // "Exec lifecycle hook ([...]) for Container ... failed - error: ..."
	Err     error
}

func (e *HookError) Error() string { return e.Message }
func (e *HookError) Unwrap() error { return e.Err }

// PostStart runs the container's postStart hook, if it has one, and
// returns its failure; the host then records FailedPostStartHook and kills
// the container.
func (m *Manager) PostStart(ctx context.Context, pod *api.Pod, container, containerID string) error {
	c := findContainer(pod, container)
	if c == nil || c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return nil
	}
	if err := m.runHook(ctx, pod, c, c.Lifecycle.PostStart); err != nil {
		m.log.Error("postStart hook failed", "pod", pod.Namespace+"/"+pod.Name, "container", container, "err", err)
		return err
	}
	return nil
}

// PreStop runs the container's preStop hook, if it has one; the host calls
// it when it stops the instance, before SIGTERM, and ends ctx at the kill
// deadline. The instance's liveness and startup probes stop first. A hook
// that fails before the deadline leaves event FailedPreStopHook.
func (m *Manager) PreStop(ctx context.Context, pod *api.Pod, container, containerID string) {
	if pod == nil {
		return
	}
	if in := m.lookup(pod.UID, container, containerID); in != nil {
		in.markTerminating()
	}
	c := findContainer(pod, container)
	if c == nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		return
	}
	err := m.runHook(ctx, pod, c, c.Lifecycle.PreStop)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// Cut off at the kill deadline: the grace period ran out, which is
		// not the hook's failure.
		m.log.Info("preStop hook cut off at the end of the grace period", "pod", pod.Namespace+"/"+pod.Name, "container", container, "err", err)
	default:
		m.log.Error("preStop hook failed", "pod", pod.Namespace+"/"+pod.Name, "container", container, "err", err)
		m.recorder.Eventf(pod, events.Warning, reasonFailedPreStopHook, "PreStopHook failed")
	}
}

// runHook runs one handler ([k8s] pkg/kubelet/lifecycle handlerRunner.Run).
func (m *Manager) runHook(ctx context.Context, pod *api.Pod, c *api.Container, h *api.LifecycleHandler) error {
	switch {
	case h.Exec != nil:
		out, err := m.execHook(ctx, pod, c, h.Exec.Command)
		if err != nil {
			return &HookError{Err: err, Message: fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q", h.Exec.Command, c.Name, podString(pod), err, out)}
		}
		return nil
	case h.HTTPGet != nil:
		if err := m.httpHook(ctx, pod, c, h.HTTPGet); err != nil {
			return &HookError{Err: err, Message: fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v", h.HTTPGet.Path, c.Name, podString(pod), err)}
		}
		return nil
	case h.Sleep != nil:
		if err := clock.Sleep(ctx, m.clock, time.Duration(h.Sleep.Seconds)*time.Second); err != nil {
			err = errors.New("container terminated before sleep hook finished")
			return &HookError{Err: err, Message: fmt.Sprintf("Sleep lifecycle hook (%d) for Container %q in Pod %q failed - error: %v", h.Sleep.Seconds, c.Name, podString(pod), err)}
		}
		return nil
	default:
		// tcpSocket is accepted by the API for compatibility but never ran.
		err := fmt.Errorf("invalid handler: %s", handlerString(h))
		return &HookError{Err: err, Message: "Cannot run handler: " + err.Error()}
	}
}

func handlerString(h *api.LifecycleHandler) string {
	if h.TCPSocket != nil {
		return "tcpSocket is not supported in lifecycle hooks"
	}
	return "no action"
}

// execHook runs a hook's command (not expanded, as the kubelet leaves it)
// and returns its output; a non-zero exit is an error, as the CRI reports
// it.
func (m *Manager) execHook(ctx context.Context, pod *api.Pod, c *api.Container, cmd []string) (string, error) {
	rt := m.runtime()
	if rt == nil {
		return "", errors.New("no runtime to exec in")
	}
	var stdout, stderr limitedBuffer
	code, err := rt.RunInContainer(ctx, pod, c.Name, cmd, &stdout, &stderr)
	out := combinedOutput(&stdout, &stderr)
	if err != nil {
		return out, err
	}
	if code != 0 {
		return out, fmt.Errorf("command '%s' exited with %d: %s", strings.Join(cmd, " "), code, stderr.Bytes())
	}
	return out, nil
}

// httpHook sends a hook's GET: only a failed request fails the hook, not
// its status code. An HTTPS hook answered in plain HTTP is sent again over
// HTTP, with event LifecycleHTTPFallback.
func (m *Manager) httpHook(ctx context.Context, pod *api.Pod, c *api.Container, a *api.HTTPGetAction) error {
	req, err := newHTTPRequest(a, c, pod.Status.PodIP, "lifecycle")
	if err != nil {
		return err
	}
	res, err := m.hookHTTP.Do(req.WithContext(ctx))
	drain(res)
	if err != nil && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		retry := req.Clone(ctx)
		retry.URL.Scheme = "http"
		retry.Header.Del("Authorization")
		res, httpErr := m.hookHTTP.Do(retry)
		drain(res)
		if httpErr == nil {
			m.recorder.Eventf(pod, events.Warning, reasonHTTPFallback, "request to HTTPS lifecycle hook %s got HTTP response, retry with HTTP succeeded", req.URL.Host)
			err = nil
		}
	}
	return err
}

func drain(res *http.Response) {
	if res == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxBodyLength))
	res.Body.Close()
}
