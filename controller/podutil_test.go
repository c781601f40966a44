package controller

import (
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

type podOpt func(*api.Pod)

func onNode(n string) podOpt       { return func(p *api.Pod) { p.Spec.NodeName = n } }
func phase(ph api.PodPhase) podOpt { return func(p *api.Pod) { p.Status.Phase = ph } }
func uid(u string) podOpt          { return func(p *api.Pod) { p.UID = u } }
func created(ago time.Duration) podOpt {
	return func(p *api.Pod) { p.CreationTimestamp = api.Time{Time: epoch.Add(-ago)} }
}
func restarts(n int32) podOpt {
	return func(p *api.Pod) { p.Status.ContainerStatuses = []api.ContainerStatus{{Name: "c", RestartCount: n}} }
}
func cost(v string) podOpt {
	return func(p *api.Pod) { p.Annotations = map[string]string{podDeletionCostAnnotation: v} }
}
func readySince(ago time.Duration) podOpt {
	return func(p *api.Pod) {
		p.Status.Conditions = []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: api.Time{Time: epoch.Add(-ago)}}}
	}
}

func mkPod(opts ...podOpt) *api.Pod {
	p := &api.Pod{}
	p.Spec.NodeName = "node"
	p.Status.Phase = api.PodRunning
	p.CreationTimestamp = api.Time{Time: epoch.Add(-time.Hour)}
	for _, o := range opts {
		o(p)
	}
	return p
}

// TestPodDeletedFirst is Kubernetes' ActivePodsWithRanks table, with
// LogarithmicScaleDown on: a is deleted before b, and never the reverse.
func TestPodDeletedFirst(t *testing.T) {
	tests := []struct {
		name         string
		a, b         *api.Pod
		rankA, rankB int
	}{
		{"unassigned before assigned", mkPod(onNode("")), mkPod(), 0, 0},
		{"pending before running", mkPod(phase(api.PodPending)), mkPod(), 0, 0},
		{"pending before unknown", mkPod(phase(api.PodPending)), mkPod(phase(api.PodUnknown)), 0, 0},
		{"unknown before running", mkPod(phase(api.PodUnknown)), mkPod(), 0, 0},
		{"not ready before ready", mkPod(), mkPod(readySince(time.Hour)), 0, 0},
		{"lower deletion cost first", mkPod(readySince(time.Hour), cost("-5")), mkPod(readySince(time.Hour)), 0, 0},
		{"deletion cost before readiness time", mkPod(readySince(time.Hour), cost("1")), mkPod(readySince(time.Second), cost("100")), 0, 0},
		{"malformed cost counts as 0", mkPod(cost("x")), mkPod(cost("1")), 0, 0},
		{"higher rank first", mkPod(), mkPod(), 3, 1},
		{"rank before readiness time", mkPod(readySince(time.Hour)), mkPod(readySince(time.Second)), 2, 1},
		{"ready for less time first", mkPod(readySince(time.Minute)), mkPod(readySince(time.Hour)), 0, 0},
		{"ready in the same log bucket: by uid", mkPod(readySince(50*time.Second), uid("a")), mkPod(readySince(40*time.Second), uid("b")), 0, 0},
		{"more restarts first", mkPod(restarts(5)), mkPod(restarts(1)), 0, 0},
		{"restarts before age", mkPod(restarts(2), created(time.Hour)), mkPod(created(time.Second)), 0, 0},
		{"newer first", mkPod(created(time.Minute)), mkPod(created(time.Hour)), 0, 0},
		{"created in the same log bucket: by uid", mkPod(created(50*time.Second), uid("a")), mkPod(created(40*time.Second), uid("b")), 0, 0},
		{"zero creation time counts as newest", mkPod(func(p *api.Pod) { p.CreationTimestamp = api.Time{} }), mkPod(created(time.Second)), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := rankedPod{tt.a, tt.rankA}, rankedPod{tt.b, tt.rankB}
			if !podDeletedFirst(a, b, epoch) {
				t.Errorf("a is not deleted before b")
			}
			if podDeletedFirst(b, a, epoch) {
				t.Errorf("b is deleted before a too")
			}
		})
	}
}

func TestPodsToDeleteRanksByPodsOnTheSameNode(t *testing.T) {
	crowded := []*api.Pod{mkPod(onNode("n1"), uid("1")), mkPod(onNode("n1"), uid("2")), mkPod(onNode("n1"), uid("3"))}
	alone := mkPod(onNode("n2"), uid("4"))
	pods := append([]*api.Pod{alone}, crowded...)
	got := podsToDelete(pods, pods, 2, epoch)
	for _, p := range got {
		if p.Spec.NodeName != "n1" {
			t.Errorf("deleted %s on %s; the crowded node's pods go first", p.UID, p.Spec.NodeName)
		}
	}
	if all := podsToDelete(pods, pods, 4, epoch); len(all) != 4 {
		t.Errorf("n = len: %d pods", len(all))
	}
}

func TestIsPodAvailable(t *testing.T) {
	tests := []struct {
		name     string
		pod      *api.Pod
		minReady int32
		want     bool
	}{
		{"not ready", mkPod(), 0, false},
		{"ready, no minReadySeconds", mkPod(readySince(0)), 0, true},
		{"ready for less than minReadySeconds", mkPod(readySince(9 * time.Second)), 10, false},
		{"ready for exactly minReadySeconds", mkPod(readySince(10 * time.Second)), 10, false},
		{"ready for longer", mkPod(readySince(11 * time.Second)), 10, true},
	}
	for _, tt := range tests {
		if got := isPodAvailable(tt.pod, tt.minReady, epoch); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLabelSelectorAsSelector(t *testing.T) {
	tests := []struct {
		name string
		sel  *api.LabelSelector
		lbl  map[string]string
		want bool
	}{
		{"nil matches nothing", nil, map[string]string{"a": "b"}, false},
		{"empty matches everything", &api.LabelSelector{}, map[string]string{"a": "b"}, true},
		{"matchLabels", &api.LabelSelector{MatchLabels: web}, map[string]string{"app": "web", "x": "y"}, true},
		{"matchLabels mismatch", &api.LabelSelector{MatchLabels: web}, map[string]string{"app": "db"}, false},
		{"In", &api.LabelSelector{MatchExpressions: []api.LabelSelectorRequirement{{Key: "app", Operator: "In", Values: []string{"web", "api"}}}}, map[string]string{"app": "api"}, true},
		{"NotIn matches an absent key", &api.LabelSelector{MatchExpressions: []api.LabelSelectorRequirement{{Key: "app", Operator: "NotIn", Values: []string{"web"}}}}, nil, true},
		{"Exists", &api.LabelSelector{MatchExpressions: []api.LabelSelectorRequirement{{Key: "app", Operator: "Exists"}}}, map[string]string{"app": ""}, true},
		{"DoesNotExist", &api.LabelSelector{MatchExpressions: []api.LabelSelectorRequirement{{Key: "app", Operator: "DoesNotExist"}}}, map[string]string{"app": "web"}, false},
		{"ANDed", &api.LabelSelector{MatchLabels: web, MatchExpressions: []api.LabelSelectorRequirement{{Key: "tier", Operator: "Exists"}}}, web, false},
	}
	for _, tt := range tests {
		s, err := api.LabelSelectorAsSelector(tt.sel)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := s.Matches(tt.lbl); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := api.LabelSelectorAsSelector(&api.LabelSelector{MatchExpressions: []api.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}); err == nil {
		t.Error("unknown operator accepted")
	}
}

// A ReplicaSet with minReadySeconds is synced again when its next ready pod
// becomes available, counted from the pod's Ready transition, not from the
// sync: a sync that ran late does not put availability off.
func TestUntilAvailable(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name string
		pods []*api.Pod
		want time.Duration
	}{
		{"ready half a second ago", []*api.Pod{mkPod(readySince(500 * ms))}, 9500*ms + ms},
		{"ready 9.5 s ago (a late sync)", []*api.Pod{mkPod(readySince(9500 * ms))}, 500*ms + ms},
		{"the soonest of several", []*api.Pod{mkPod(readySince(2 * time.Second)), mkPod(readySince(7 * time.Second))}, 3*time.Second + ms},
		{"available pods and pods not ready do not count", []*api.Pod{mkPod(readySince(time.Minute)), mkPod()}, 10 * time.Second},
	} {
		if got := untilAvailable(tc.pods, 10, epoch); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
