package controller

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/internal/clock"
)

func TestControllerRetryPolicy(t *testing.T) {
	tests := []struct {
		name string
		// behave is called with the attempt number (1-based).
		behave   func(n int32) (Result, error)
		advance  time.Duration // virtual time before the second attempt
		attempts int32
	}{
		{"error retries after the rate limit", func(n int32) (Result, error) {
			if n == 1 {
				return Result{}, errors.New("boom")
			}
			return Result{}, nil
		}, DefaultBaseDelay, 2},
		{"panic is recovered and retried", func(n int32) (Result, error) {
			if n == 1 {
				panic("bad")
			}
			return Result{}, nil
		}, DefaultBaseDelay, 2},
		{"RequeueAfter comes back after that long", func(n int32) (Result, error) {
			if n == 1 {
				return Result{RequeueAfter: time.Minute}, nil
			}
			return Result{}, nil
		}, time.Minute, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(epoch)
			var n atomic.Int32
			calls := make(chan int32, 10)
			c := NewController("test", ReconcilerFunc(func(ctx context.Context, key string) (Result, error) {
				k := n.Add(1)
				calls <- k
				return tt.behave(k)
			}), clk, 2, quiet)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- c.Start(ctx) }()
			c.Queue().Add("default/x")
			<-calls
			clk.BlockUntil(1) // the requeue timer
			clk.Advance(tt.advance - time.Nanosecond)
			select {
			case <-calls:
				t.Fatal("retried before its time")
			case <-time.After(20 * time.Millisecond):
			}
			clk.Advance(time.Nanosecond)
			select {
			case <-calls:
			case <-time.After(5 * time.Second):
				t.Fatal("never retried")
			}
			time.Sleep(10 * time.Millisecond)
			if got := n.Load(); got != tt.attempts {
				t.Errorf("%d attempts, want %d", got, tt.attempts)
			}
			if c.Queue().NumRequeues("default/x") != 0 {
				t.Errorf("success did not forget the failures")
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
