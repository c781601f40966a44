package probes

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// maxBodyLength is how much of a response body a probe reads (10 KiB).
const maxBodyLength = 10 << 10

// maxRedirects is how many same-host redirects a probe follows.
const maxRedirects = 10

// newProbeTransport is the probes' HTTP transport: a new connection per
// probe, closed with a reset (no TIME_WAIT pile-up at 1,000 probes a
// second), no proxy, no compression, and no certificate verification.
func newProbeTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         dialProbe,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		TLSHandshakeTimeout: 10 * time.Second,
		DisableKeepAlives:   true,
		DisableCompression:  true,
	}
}

var probeDialer net.Dialer

// dialProbe dials with SO_LINGER 0, as the kubelet's probe dialer does.
func dialProbe(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := probeDialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	return c, nil
}

// resolvePort is an IntOrString port as a number, a name looked up in the
// container's ports, or a number written as a string ([k8s]
// ResolveContainerPort).
func resolvePort(p api.IntOrString, c *api.Container) (int, error) {
	port := -1
	switch p.Type {
	case api.Int:
		port = int(p.IntVal)
	case api.String:
		found := false
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				port, found = int(cp.ContainerPort), true
				break
			}
		}
		if !found {
			n, err := strconv.Atoi(p.StrVal)
			if err != nil {
				return n, err
			}
			port = n
		}
	default:
		return port, fmt.Errorf("intOrString had no kind: %+v", p)
	}
	if port > 0 && port < 65536 {
		return port, nil
	}
	return port, fmt.Errorf("invalid port number: %v", port)
}

// newHTTPRequest is the GET of an httpGet action ([k8s]
// NewRequestForHTTPGetAction): scheme://host:port/path, host defaulting to
// the pod IP, the given headers, and User-Agent and Accept unless given
// (an Accept given empty is removed).
func newHTTPRequest(a *api.HTTPGetAction, c *api.Container, podIP, purpose string) (*http.Request, error) {
	scheme := strings.ToLower(string(a.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	host := a.Host
	if host == "" {
		host = podIP
	}
	port, err := resolvePort(a.Port, c)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(a.Path)
	if err != nil {
		// Too late to reject the path: send it as it is.
		u = &url.URL{Path: a.Path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))

	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	headers := http.Header{}
	for _, h := range a.HTTPHeaders {
		headers.Add(h.Name, h.Value)
	}
	if _, ok := headers["User-Agent"]; !ok {
		headers.Set("User-Agent", userAgent(purpose))
	}
	if _, ok := headers["Accept"]; !ok {
		headers.Set("Accept", "*/*")
	} else if headers.Get("Accept") == "" {
		headers.Del("Accept")
	}
	req.Header = headers
	req.Host = headers.Get("Host")
	return req, nil
}

// sameHostRedirects follows redirects to the same host only, at most 10;
// a redirect elsewhere ends with its 3xx response (a warning).
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// httpProbe is the kubelet's DoHTTPProbe: 200-399 succeed (3xx, a redirect
// not followed, with a warning), anything else fails with the status code,
// and a request that fails, times out included, fails with its error.
func (m *Manager) httpProbe(ctx context.Context, req *http.Request, timeout time.Duration) (result, string, error) {
	ctx, cancel := m.withTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: m.transport, CheckRedirect: sameHostRedirects}
	res, err := client.Do(req.WithContext(ctx))
	if err != nil {
		if timedOut(ctx) {
			return resultFailure, clientTimeoutMessage(err), nil
		}
		return resultFailure, err.Error(), nil
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBodyLength))
	if err != nil {
		if timedOut(ctx) {
			err = errors.New("context deadline exceeded (Client.Timeout or context cancellation while reading body)")
		}
		return resultFailure, "", err
	}
	body := string(b)
	if res.StatusCode >= http.StatusOK && res.StatusCode < http.StatusBadRequest {
		if res.StatusCode >= http.StatusMultipleChoices {
			return resultWarning, "Probe terminated redirects, Response body: " + body, nil
		}
		return resultSuccess, body, nil
	}
	// The body stays out of the message: it may hold what the user must
	// not see in events.
	return resultFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode), nil
}

// clientTimeoutMessage is the error of a request cut by its timeout as
// net/http writes it for a client timeout.
func clientTimeoutMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %q: context deadline exceeded (Client.Timeout exceeded while awaiting headers)", ue.Op, ue.URL)
	}
	return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
}
