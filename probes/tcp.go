package probes

import (
	"context"
	"net"
	"strconv"
	"time"
)

// tcpProbe is the kubelet's DoTCPProbe: a connection that opens is a
// success (and is closed at once); any error, a timeout included, is a
// failure with the dial error's text.
func (m *Manager) tcpProbe(ctx context.Context, host string, port int, timeout time.Duration) (result, string, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ctx, cancel := m.withTimeout(ctx, timeout)
	defer cancel()
	c, err := dialProbe(ctx, "tcp", addr)
	if err != nil {
		if timedOut(ctx) {
			return resultFailure, "dial tcp " + addr + ": i/o timeout", nil
		}
		return resultFailure, err.Error(), nil
	}
	if err := c.Close(); err != nil {
		m.log.Debug("closing a TCP probe's connection", "addr", addr, "err", err)
	}
	return resultSuccess, "", nil
}
