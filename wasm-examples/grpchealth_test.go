package examples_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// checkHealth calls grpc.health.v1.Health/Check over h2c, as the grpc probe
// does, and returns the response message's bytes and the grpc-status.
func checkHealth(t *testing.T, addr, service string) ([]byte, string) {
	t.Helper()
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Protocols: protocols}}
	msg := append([]byte{1<<3 | 2, byte(len(service))}, service...)
	body := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
	req, err := http.NewRequest("POST", "http://"+addr+"/grpc.health.v1.Health/Check", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("answered over %s, want HTTP/2", resp.Proto)
	}
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return out, resp.Trailer.Get("Grpc-Status")
}

func TestGRPCHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs grpchealth")
	}
	type check struct {
		service string
		message []byte
		status  string
	}
	tests := []struct {
		name   string
		env    map[string]string
		checks []check
	}{
		{"serving", map[string]string{"SERVICES": "db,web"}, []check{
			{"", []byte{0, 0, 0, 0, 2, 0x08, 1}, "0"},
			{"web", []byte{0, 0, 0, 0, 2, 0x08, 1}, "0"},
			{"cache", nil, "5"},
		}},
		{"not serving", map[string]string{"STATUS": "NOT_SERVING"}, []check{
			{"", []byte{0, 0, 0, 0, 2, 0x08, 2}, "0"},
			{"anything", []byte{0, 0, 0, 0, 2, 0x08, 2}, "0"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGuest(t, "grpchealth", tt.env)
			g.get(t, "/") // waits until it serves (an HTTP/1 call is answered too)
			for _, c := range tt.checks {
				message, status := checkHealth(t, g.addr, c.service)
				if !bytes.Equal(message, c.message) || status != c.status {
					t.Errorf("service %q: got %x grpc-status %q, want %x %q", c.service, message, status, c.message, c.status)
				}
			}
			if code := g.terminate(t); code != 0 {
				t.Errorf("exit code %d after SIGTERM", code)
			}
			// The port's name, not the ":0" Go reports for a socket WASI
			// gives no address of.
			if out := g.stdout.String(); !strings.Contains(out, `grpchealth: serving gRPC health on port "http" (fd 3)`) {
				t.Errorf("the serving line does not name the port:\n%s", out)
			}
		})
	}
}
