package host

import (
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestRestartBackoffSequence(t *testing.T) {
	tests := []struct {
		name string
		runs []time.Duration // how long each instance runs before it crashes
		want []time.Duration // wait between each crash and the next start
	}{
		{
			name: "crash loop doubles to the cap",
			runs: []time.Duration{time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second},
			want: []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second, 300 * time.Second},
		},
		{
			name: "ten minutes of running resets it",
			runs: []time.Duration{time.Second, time.Second, time.Second, 601 * time.Second, time.Second, time.Second},
			want: []time.Duration{0, 10 * time.Second, 20 * time.Second, 0, 10 * time.Second, 20 * time.Second},
		},
		{
			name: "exactly ten minutes does not reset",
			runs: []time.Duration{time.Second, time.Second, 600*time.Second - 20*time.Second, time.Second},
			want: []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *BackoffEntry
			start := t0
			for i, run := range tt.runs {
				finish := start.Add(run)
				in, until := RestartBackoff.InBackoffSince(e, finish, finish)
				next := finish
				if in {
					next = until
					// Still in back-off just before the end, out of it at the end.
					if in2, _ := RestartBackoff.InBackoffSince(e, finish, until.Add(-time.Nanosecond)); !in2 {
						t.Fatalf("crash %d: out of back-off before %v", i, until)
					}
					if in3, _ := RestartBackoff.InBackoffSince(e, finish, until); in3 {
						t.Fatalf("crash %d: still in back-off at %v", i, until)
					}
				}
				if got := next.Sub(finish); got != tt.want[i] {
					t.Fatalf("crash %d: restarted after %v, want %v", i, got, tt.want[i])
				}
				n := RestartBackoff.Next(e, finish, next)
				e = &n
				start = next
			}
		})
	}
}

func TestImageBackoffSequence(t *testing.T) {
	// Each failed pull raises the back-off; the next pull is allowed when
	// the back-off since the last failure is over.
	var e *BackoffEntry
	now := t0
	var got []time.Duration
	for range 8 {
		if in, until := ImageBackoff.InBackoffSinceUpdate(e, now); in {
			got = append(got, until.Sub(now))
			now = until
		} else {
			got = append(got, 0)
		}
		n := ImageBackoff.Next(e, now, now)
		e = &n
	}
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pull %d waited %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
	// Idle for more than 2*max: forgotten.
	if in, _ := ImageBackoff.InBackoffSinceUpdate(e, now.Add(601*time.Second)); in {
		t.Fatal("entry not expired after 601 s")
	}
	if n := ImageBackoff.Next(e, now.Add(601*time.Second), now.Add(601*time.Second)); n.Delay != 10*time.Second {
		t.Fatalf("after expiry delay = %v, want 10s", n.Delay)
	}
}

func running() api.ContainerState {
	return api.ContainerState{Running: &api.ContainerStateRunning{}}
}
func exited(code int32) api.ContainerState {
	return api.ContainerState{Terminated: &api.ContainerStateTerminated{ExitCode: code}}
}
func waiting(reason string) api.ContainerState {
	return api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: reason}}
}

func TestGetPhase(t *testing.T) {
	two := []api.Container{{Name: "a"}, {Name: "b"}}
	one := []api.Container{{Name: "a"}}
	st := func(name string, s api.ContainerState) api.ContainerStatus {
		return api.ContainerStatus{Name: name, State: s}
	}
	stLast := func(name string, s api.ContainerState, last api.ContainerState) api.ContainerStatus {
		return api.ContainerStatus{Name: name, State: s, LastTerminationState: last}
	}
	tests := []struct {
		name       string
		containers []api.Container
		policy     api.RestartPolicy
		statuses   []api.ContainerStatus
		terminal   bool
		want       api.PodPhase
	}{
		{"no statuses", one, "", nil, false, api.PodPending},
		{"creating", one, "", []api.ContainerStatus{st("a", waiting(ReasonContainerCreating))}, false, api.PodPending},
		{"image pull error", one, "", []api.ContainerStatus{st("a", waiting(ReasonErrImagePull))}, false, api.PodPending},
		{"running", one, "", []api.ContainerStatus{st("a", running())}, false, api.PodRunning},
		{"one running one unknown", two, "", []api.ContainerStatus{st("a", running())}, false, api.PodPending},
		{"one running one waiting", two, "", []api.ContainerStatus{st("a", running()), st("b", waiting(ReasonContainerCreating))}, false, api.PodPending},
		{"running and exited", two, api.RestartPolicyNever, []api.ContainerStatus{st("a", running()), st("b", exited(1))}, false, api.PodRunning},
		{"crash loop Always", one, api.RestartPolicyAlways, []api.ContainerStatus{stLast("a", waiting(ReasonCrashLoopBackOff), exited(1))}, false, api.PodRunning},
		{"exited 0 Always", one, api.RestartPolicyAlways, []api.ContainerStatus{st("a", exited(0))}, false, api.PodRunning},
		{"exited 0 default policy", one, "", []api.ContainerStatus{st("a", exited(0))}, false, api.PodRunning},
		{"exited 0 OnFailure", one, api.RestartPolicyOnFailure, []api.ContainerStatus{st("a", exited(0))}, false, api.PodSucceeded},
		{"exited 0 Never", one, api.RestartPolicyNever, []api.ContainerStatus{st("a", exited(0))}, false, api.PodSucceeded},
		{"exited 1 Never", one, api.RestartPolicyNever, []api.ContainerStatus{st("a", exited(1))}, false, api.PodFailed},
		{"exited 1 OnFailure", one, api.RestartPolicyOnFailure, []api.ContainerStatus{st("a", exited(1))}, false, api.PodRunning},
		{"waiting after exit 0 counts as stopped, not succeeded", one, api.RestartPolicyNever, []api.ContainerStatus{stLast("a", waiting(""), exited(0))}, false, api.PodFailed},
		{"both exited 0 Never", two, api.RestartPolicyNever, []api.ContainerStatus{st("a", exited(0)), st("b", exited(0))}, false, api.PodSucceeded},
		{"one failed Never", two, api.RestartPolicyNever, []api.ContainerStatus{st("a", exited(0)), st("b", exited(2))}, false, api.PodFailed},
		{"terminal all 0 Always", one, api.RestartPolicyAlways, []api.ContainerStatus{st("a", exited(0))}, true, api.PodSucceeded},
		{"terminal 137 Always", one, api.RestartPolicyAlways, []api.ContainerStatus{st("a", exited(137))}, true, api.PodFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &api.PodSpec{Containers: tt.containers, RestartPolicy: tt.policy}
			if got := GetPhase(spec, tt.statuses, tt.terminal); got != tt.want {
				t.Errorf("GetPhase = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestShouldContainerBeRestarted(t *testing.T) {
	deleted := api.NewTime(t0)
	tests := []struct {
		policy   api.RestartPolicy
		deleting bool
		state    InstanceState
		code     int32
		want     bool
	}{
		{api.RestartPolicyAlways, false, InstanceNone, 0, true},
		{api.RestartPolicyNever, false, InstanceNone, 0, true},
		{api.RestartPolicyAlways, false, InstanceRunning, 0, false},
		{api.RestartPolicyAlways, false, InstanceExited, 0, true},
		{api.RestartPolicyAlways, false, InstanceExited, 1, true},
		{"", false, InstanceExited, 0, true},
		{api.RestartPolicyOnFailure, false, InstanceExited, 0, false},
		{api.RestartPolicyOnFailure, false, InstanceExited, 1, true},
		{api.RestartPolicyOnFailure, false, InstanceExited, exitCodeNodeCrash, true},
		{api.RestartPolicyNever, false, InstanceExited, 0, false},
		{api.RestartPolicyNever, false, InstanceExited, 1, false},
		{api.RestartPolicyNever, false, InstanceExited, exitCodeNodeCrash, false},
		{api.RestartPolicyAlways, true, InstanceNone, 0, false},
		{api.RestartPolicyAlways, true, InstanceExited, 1, false},
	}
	for _, tt := range tests {
		pod := &api.Pod{Spec: api.PodSpec{RestartPolicy: tt.policy}}
		if tt.deleting {
			pod.DeletionTimestamp = &deleted
		}
		if got := ShouldContainerBeRestarted(pod, tt.state, tt.code); got != tt.want {
			t.Errorf("policy %q deleting %v state %d code %d: got %v, want %v", tt.policy, tt.deleting, tt.state, tt.code, got, tt.want)
		}
	}
}

func i64(v int64) *int64 { return &v }

func TestEffectiveGracePeriodAndKillDeadline(t *testing.T) {
	at := func(d time.Duration) *api.Time { v := api.NewTime(t0.Add(d)); return &v }
	tests := []struct {
		name         string
		spec         *int64
		deletionTS   *api.Time
		deletionGP   *int64
		override     *int64
		stopAt       time.Time
		wantGrace    time.Duration
		wantDeadline time.Time
	}{
		{"default 30 s", nil, nil, nil, nil, t0, 30 * time.Second, t0.Add(30 * time.Second)},
		{"spec 5 s", i64(5), nil, nil, nil, t0, 5 * time.Second, t0.Add(5 * time.Second)},
		{"spec 0 gets the 2 s floor", i64(0), nil, nil, nil, t0, 2 * time.Second, t0.Add(2 * time.Second)},
		{"override (shutdown cap)", i64(30), nil, nil, i64(10), t0, 10 * time.Second, t0.Add(10 * time.Second)},
		{"deletion: the stored deadline", i64(30), at(30 * time.Second), i64(30), nil, t0, 30 * time.Second, t0.Add(30 * time.Second)},
		{"deletion seen late: deadline kept", i64(30), at(30 * time.Second), i64(30), nil, t0.Add(20 * time.Second), 30 * time.Second, t0.Add(30 * time.Second)},
		{"deletion deadline past: 2 s floor", i64(30), at(30 * time.Second), i64(30), nil, t0.Add(40 * time.Second), 30 * time.Second, t0.Add(42 * time.Second)},
		{"deletion grace 1", i64(30), at(time.Second), i64(1), nil, t0, 2 * time.Second, t0.Add(2 * time.Second)},
		{"deletion wins over override", i64(30), at(5 * time.Second), i64(5), i64(10), t0, 5 * time.Second, t0.Add(5 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &api.Pod{Spec: api.PodSpec{TerminationGracePeriodSeconds: tt.spec}}
			pod.DeletionTimestamp, pod.DeletionGracePeriodSeconds = tt.deletionTS, tt.deletionGP
			g := EffectiveGracePeriod(pod, tt.override)
			if g != tt.wantGrace {
				t.Errorf("grace = %v, want %v", g, tt.wantGrace)
			}
			if d := KillDeadline(pod, tt.stopAt, g); !d.Equal(tt.wantDeadline) {
				t.Errorf("deadline = %v, want %v", d, tt.wantDeadline)
			}
		})
	}
}

func TestPodConditions(t *testing.T) {
	pod := &api.Pod{Spec: api.PodSpec{Containers: []api.Container{{Name: "a"}, {Name: "b"}}}}
	statuses := []api.ContainerStatus{{Name: "a", Ready: true}, {Name: "b"}}
	conds := podConditions(pod, api.PodRunning, statuses, true, t0)
	wantTypes := []api.PodConditionType{api.PodReadyToStartContainers, api.PodInitialized, api.PodReady, api.ContainersReady, api.PodScheduled}
	if len(conds) != len(wantTypes) {
		t.Fatalf("got %d conditions, want %d", len(conds), len(wantTypes))
	}
	for i, c := range conds {
		if c.Type != wantTypes[i] {
			t.Errorf("condition %d is %s, want %s", i, c.Type, wantTypes[i])
		}
	}
	if c := conds[2]; c.Status != api.ConditionFalse || c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [b]" {
		t.Errorf("Ready = %+v", c)
	}
	// Succeeded: ContainersReady False PodCompleted, Initialized True PodCompleted.
	conds = podConditions(pod, api.PodSucceeded, statuses, false, t0)
	if conds[1].Reason != "PodCompleted" || conds[3].Reason != "PodCompleted" || conds[3].Status != api.ConditionFalse {
		t.Errorf("succeeded conditions = %+v", conds)
	}
	// lastTransitionTime kept while the status does not change.
	pod.Status.Conditions = podConditions(pod, api.PodRunning, statuses, true, t0)
	later := podConditions(pod, api.PodRunning, statuses, true, t0.Add(time.Hour))
	if !later[2].LastTransitionTime.Equal(t0) {
		t.Errorf("Ready lastTransitionTime moved to %v", later[2].LastTransitionTime)
	}
}
