package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/hostile"
)

// expectCallStackExhausted: the guest ends with a trap (Error, 134) whose
// message names its call stack's budget.
func expectCallStackExhausted(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
	p := n.waitPod(t, c.Name, "terminated", 90*time.Second, isTerminated)
	term := terminated(p)
	if term.Reason != "Error" || term.ExitCode != 134 || !strings.Contains(term.Message, "call stack exhausted") {
		t.Errorf("container ended %s with exit code %d (%.200q), want Error, 134 and the call stack's budget", term.Reason, term.ExitCode, term.Message)
	}
}

// TestHostileCallStack: ten guests limited to 16Mi recurse without end,
// with frames of 1,000 live locals, at once. wazero's compiler kept each
// one's call stack on the node's heap up to its own ceiling (161 MB
// allocated for each, whatever its limit: 1.6 GB for ten); with the
// budget, each ends with a trap that says so, the node's RSS grows by
// little, and myweb keeps serving.
func TestHostileCallStack(t *testing.T) {
	n := startHostileNode(t, nodeOptions{})
	const guests = 10
	var cases []hostile.Case
	for k := range guests {
		cases = append(cases, hostile.Case{Name: fmt.Sprintf("recurse-%d", k), Module: hostile.DeepRecursion(hostile.DeepRecursionLocals), Manifest: func(name, image string) string {
			return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  restartPolicy: Never\n  containers:\n  - name: guest\n    image: %s\n    resources:\n      limits:\n        memory: 16Mi\n", name, image)
		}})
	}
	time.Sleep(time.Second)
	base := procStatus(n.pid, "VmRSS")
	resetPeakRSS(t, n.pid)
	n.apply(t, cases...)
	for _, c := range cases {
		expectCallStackExhausted(t, n, c, "")
	}
	p, err := n.getPod(cases[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	peak := procStatus(n.pid, "VmHWM")
	t.Logf("%d guests recursing under 16Mi: node RSS %d MiB before, peak %d MiB; %.160q", guests, base>>20, peak>>20, terminated(p).Message)
	if growth := peak - base; growth > 160<<20 {
		t.Errorf("the node's RSS grew %d MiB while %d guests limited to 16Mi recursed", growth>>20, guests)
	}
	if p.Status.Phase != api.PodFailed {
		t.Errorf("pod %s is %s, want Failed", p.Name, p.Status.Phase)
	}
	n.mon.check(t)
}
