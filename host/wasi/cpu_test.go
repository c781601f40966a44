package wasi

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// The CPU limit's decision, in virtual time: a guest of 100m may run 10 ms
// of each 100 ms period, and what it overran is repaid by later periods.
func TestCPUQuotaThrottlesToItsShare(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type step struct {
		now, ran int // ms
		until    int // ms: when it may run again (now: at once)
	}
	tests := []struct {
		name  string
		milli int64
		steps []step
	}{
		{"under its quota", 100, []step{{5, 5, 5}, {9, 4, 9}}},
		{"quota spent: sleeps to the next period", 100, []step{{5, 5, 5}, {10, 5, 100}}},
		{"next period repays one quota", 100, []step{{10, 10, 100}, {100, 0, 100}, {105, 5, 105}, {110, 5, 200}}},
		{"an overrun is repaid over periods", 100, []step{{35, 35, 300}, {300, 0, 300}, {305, 4, 305}, {306, 1, 400}}},
		{"idle periods repay at most what was used", 100, []step{{5, 5, 5}, {1000, 0, 1000}, {1009, 9, 1009}, {1010, 1, 1100}}},
		{"500m", 500, []step{{49, 49, 49}, {50, 1, 100}, {150, 50, 200}}},
		{"the kubelet's least quota, 1 ms", 1, []step{{1, 1, 100}}},
		{"a core or more is no limit", 1000, []step{{100, 100, 100}, {1000, 900, 1000}}},
		{"no limit", 0, []step{{100, 100, 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newCPUQuota(tt.milli, t0)
			for k, s := range tt.steps {
				got := q.charge(at(s.now), ms(s.ran))
				if !got.Equal(at(s.until)) {
					t.Fatalf("step %d: charge(%d ms, %d ms) = run again at %v ms, want %d ms",
						k, s.now, s.ran, got.Sub(t0).Milliseconds(), s.until)
				}
			}
		})
	}
}

// Run slots are handed over in the order they were asked for, guests
// back from a wait before those that yielded, and a guest that stops
// waiting (killed) neither keeps nor loses one.
func TestRunSlotsOrder(t *testing.T) {
	s := NewRunSlots(1)
	never := make(chan struct{})
	if !s.acquire(never, true) {
		t.Fatal("acquire of a free slot failed")
	}
	got := make(chan int, 4)
	stop2 := make(chan struct{})
	// 1 and 2 yielded, 3 and 4 are back from a wait; 2 gives up.
	for n := 1; n <= 4; n++ {
		stop := never
		if n == 2 {
			stop = stop2
		}
		go func() {
			if s.acquire(stop, n >= 3) {
				got <- n
			}
		}()
		for int(s.waiters.Load()) != n {
			time.Sleep(time.Millisecond)
		}
	}
	if s.wokenWaiters.Load() != 2 {
		t.Fatalf("%d guests back from a wait, want 2", s.wokenWaiters.Load())
	}
	close(stop2)
	for s.waiters.Load() != 3 {
		time.Sleep(time.Millisecond)
	}
	for _, want := range []int{3, 4, 1} {
		s.release()
		if n := <-got; n != want {
			t.Fatalf("slot went to waiter %d, want %d", n, want)
		}
	}
	s.release()
	if !s.acquire(never, false) || s.free != 0 {
		t.Fatalf("the slot is not free again after every waiter had it: free %d", s.free)
	}
}

// A guest waiting for a run slot is killed at once, and gives back none it
// never had.
func TestKillWhileWaitingForARunSlot(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("wazero has no compiler for " + runtime.GOARCH)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	if err := Instantiate(ctx, rt); err != nil {
		t.Fatal(err)
	}
	// _start: loop br 0 end
	spin := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + "\x03\x02\x01\x00" +
		"\x07\x0a\x01\x06_start\x00\x00" + "\x0a\x09\x01\x07\x00\x03\x40\x0c\x00\x0b\x0b")
	mod, err := Compile(ctx, rt, spin)
	if err != nil {
		t.Fatal(err)
	}
	slots := NewRunSlots(1)
	slots.acquire(nil, true) // held elsewhere
	inst, err := Start(ctx, rt, mod, Config{RunSlots: slots})
	if err != nil {
		t.Fatal(err)
	}
	for slots.waiters.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	inst.Kill()
	select {
	case <-inst.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a guest waiting for a slot was not ended by Kill")
	}
	if st := inst.Wait(); !st.Killed || st.Code != ExitCodeKilled {
		t.Errorf("status %+v, want killed", st)
	}
	slots.release()
	if slots.free != 1 || slots.waiters.Load() != 0 {
		t.Errorf("after the kill: %d slots free, %d waiting; want 1 and 0", slots.free, slots.waiters.Load())
	}
}
