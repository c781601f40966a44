package clock

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFakeTimersFireInDeadlineOrder(t *testing.T) {
	f := NewFake(epoch)
	for _, d := range []time.Duration{30 * time.Second, 10 * time.Second, 20 * time.Second} {
		f.NewTimer(d)
	}
	if got := f.Waiters(); got != 3 {
		t.Fatalf("Waiters() = %d, want 3", got)
	}
	f.Advance(15 * time.Second)
	if got := f.Waiters(); got != 2 {
		t.Fatalf("after 15s Waiters() = %d, want 2", got)
	}
	if got, want := f.Now(), epoch.Add(15*time.Second); !got.Equal(want) {
		t.Fatalf("Now() = %v, want %v", got, want)
	}
	f.Advance(time.Hour)
	if got := f.Waiters(); got != 0 {
		t.Fatalf("after 1h Waiters() = %d, want 0", got)
	}
}

func TestFakeTimerChannelCarriesItsDeadline(t *testing.T) {
	f := NewFake(epoch)
	tm := f.NewTimer(10 * time.Second)
	f.Advance(time.Minute)
	select {
	case at := <-tm.C():
		if want := epoch.Add(10 * time.Second); !at.Equal(want) {
			t.Fatalf("fired at %v, want %v", at, want)
		}
	default:
		t.Fatal("timer did not fire")
	}
}

func TestFakeStopAndReset(t *testing.T) {
	tests := []struct {
		name      string
		act       func(Timer) bool
		wantRet   bool
		advance   time.Duration
		wantFired bool
	}{
		{"stop pending", func(t Timer) bool { return t.Stop() }, true, time.Minute, false},
		{"reset later", func(t Timer) bool { return t.Reset(2 * time.Minute) }, true, time.Minute, false},
		{"reset sooner", func(t Timer) bool { return t.Reset(time.Second) }, true, time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFake(epoch)
			tm := f.NewTimer(30 * time.Second)
			if got := tt.act(tm); got != tt.wantRet {
				t.Fatalf("returned %v, want %v", got, tt.wantRet)
			}
			f.Advance(tt.advance)
			fired := false
			select {
			case <-tm.C():
				fired = true
			default:
			}
			if fired != tt.wantFired {
				t.Fatalf("fired = %v, want %v", fired, tt.wantFired)
			}
		})
	}
}

func TestFakeAfterFuncAndSleep(t *testing.T) {
	f := NewFake(epoch)
	var calls atomic.Int32
	done := make(chan struct{})
	f.AfterFunc(5*time.Second, func() { calls.Add(1); close(done) })

	slept := make(chan error, 1)
	go func() { slept <- Sleep(context.Background(), f, 300*time.Second) }()
	f.BlockUntil(2)
	f.Advance(300 * time.Second)
	<-done
	if err := <-slept; err != nil {
		t.Fatalf("Sleep: %v", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("AfterFunc ran %d times", calls.Load())
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	f := NewFake(epoch)
	ctx, cancel := context.WithCancel(context.Background())
	slept := make(chan error, 1)
	go func() { slept <- Sleep(ctx, f, time.Hour) }()
	f.BlockUntil(1)
	cancel()
	if err := <-slept; err == nil {
		t.Fatal("Sleep returned nil after its context ended")
	}
}

func TestFakeNeverGoesBackwards(t *testing.T) {
	f := NewFake(epoch)
	f.Set(epoch.Add(-time.Hour))
	if !f.Now().Equal(epoch) {
		t.Fatalf("Now() = %v after Set in the past", f.Now())
	}
}
