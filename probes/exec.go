package probes

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// maxExecOutput is how much of an exec's output is kept (10 KiB).
const maxExecOutput = 10 << 10

// execProbe runs the command as a fresh instance of the container's module
// ([k8s] pkg/probe/exec): exit 0 succeeds, another exit code fails with the
// output (stdout, then stderr), a timeout fails with the CRI's message, and
// an instance that could not run is an error.
func (m *Manager) execProbe(ctx context.Context, pod *api.Pod, container string, argv []string, timeout time.Duration) (result, string, error) {
	rt := m.runtime()
	if rt == nil {
		return resultUnknown, "", fmt.Errorf("no runtime to exec in container %s", container)
	}
	ctx, cancel := m.withTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr limitedBuffer
	code, err := rt.RunInContainer(ctx, pod, container, argv, &stdout, &stderr)
	if err != nil {
		if timedOut(ctx) {
			return resultFailure, fmt.Sprintf("command %q timed out", strings.Join(argv, " ")), nil
		}
		return resultUnknown, "", err
	}
	out := combinedOutput(&stdout, &stderr)
	if code != 0 {
		return resultFailure, out, nil
	}
	return resultSuccess, out, nil
}

// combinedOutput is stdout then stderr, cut at maxExecOutput.
func combinedOutput(stdout, stderr *limitedBuffer) string {
	b := append(stdout.Bytes(), stderr.Bytes()...)
	if len(b) > maxExecOutput {
		b = b[:maxExecOutput]
	}
	return string(b)
}

// limitedBuffer keeps the first maxExecOutput bytes written to it and
// swallows the rest, so that a chatty command never blocks.
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxExecOutput - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

// expandCommand replaces $(VAR) in a probe's command with the container's
// static env values, as the kubelet does for exec probes: $$ is a literal
// $, a reference to an unknown variable stays as written, and variables
// from valueFrom are not seen.
func expandCommand(cmd []string, env []api.EnvVar) []string {
	vars := map[string]string{}
	for _, e := range env {
		if e.ValueFrom == nil {
			vars[e.Name] = e.Value
		}
	}
	out := make([]string, len(cmd))
	for i, s := range cmd {
		out[i] = expand(s, vars)
	}
	return out
}

func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok && name != "" {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
