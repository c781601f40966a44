package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/wasmlet/wasmlet/api"
)

// busyNode answers the first `busy` requests 429 with Retry-After: 0, as
// the node does over its in-flight limit, then answers /version; it
// counts the requests and checks each carries the whole body.
func busyNode(t *testing.T, busy int32, wantBody string) (*Client, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != wantBody {
			t.Errorf("request %d carried %q, want %q", n.Load()+1, b, wantBody)
		}
		if n.Add(1) <= busy {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests","code":429,"message":"too many requests"}`)
			return
		}
		io.WriteString(w, `{"major":"1","minor":"31","gitVersion":"v1.31.0"}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{Server: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c, &n
}

// TestRetryOnTooManyRequests: a 429 with Retry-After is sent again, as
// client-go does, and the caller sees only the answer.
func TestRetryOnTooManyRequests(t *testing.T) {
	c, n := busyNode(t, 3, "")
	v, err := c.ServerVersion(context.Background())
	if err != nil {
		t.Fatalf("a node busy three times: %v", err)
	}
	if v.GitVersion != "v1.31.0" || n.Load() != 4 {
		t.Fatalf("got %+v after %d requests, want v1.31.0 after 4", v, n.Load())
	}
}

// TestRetryResendsBody: a write retried carries its body again.
func TestRetryResendsBody(t *testing.T) {
	body := `{"kind":"DeleteOptions","apiVersion":"v1"}`
	c, n := busyNode(t, 2, body)
	if err := c.doJSON(context.Background(), http.MethodDelete, "/version", nil, "application/json", []byte(body), nil); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 {
		t.Fatalf("%d requests, want 3", n.Load())
	}
}

// TestRetryGivesUp: a node that stays busy is answered with its 429 after
// the retries, not waited on for ever.
func TestRetryGivesUp(t *testing.T) {
	c, n := busyNode(t, 1000, "")
	_, err := c.ServerVersion(context.Background())
	if api.ReasonOf(err) != api.StatusReasonTooManyRequests {
		t.Fatalf("got %v, want TooManyRequests", err)
	}
	if n.Load() != maxRetries+1 {
		t.Fatalf("%d requests, want %d", n.Load(), maxRetries+1)
	}
}

// TestRetryStopsWithContext: a cancelled caller is not kept waiting.
func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
		cancel()
	}))
	defer srv.Close()
	c, err := New(Config{Server: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServerVersion(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
