package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// containerRun is what the restart tests read of a pod's container with
// `wasmlet get pod -o json`.
type containerRun struct {
	RestartCount int32  `json:"restartCount"`
	ContainerID  string `json:"containerID"`
	Ready        bool   `json:"ready"`
	State        struct {
		Running *struct {
			StartedAt string `json:"startedAt"`
		} `json:"running"`
	} `json:"state"`
	LastState struct {
		Terminated *struct {
			ExitCode    int32  `json:"exitCode"`
			Reason      string `json:"reason"`
			Message     string `json:"message"`
			StartedAt   string `json:"startedAt"`
			FinishedAt  string `json:"finishedAt"`
			ContainerID string `json:"containerID"`
		} `json:"terminated"`
	} `json:"lastState"`
}

func containerOf(t *testing.T, bin, kc, pod string) containerRun {
	t.Helper()
	out := run(t, bin, kc, "get", "pod", pod, "-o", "json")
	var p struct {
		Status struct {
			ContainerStatuses []containerRun `json:"containerStatuses"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || len(p.Status.ContainerStatuses) != 1 {
		t.Fatalf("get pod %s -o json: %v\n%s", pod, err, out)
	}
	return p.Status.ContainerStatuses[0]
}

// TestServeKilledNodeShowsThePreviousRun: myweb runs and serves one
// request; the node is killed with SIGKILL and served again on the same
// data dir. The container that was running is terminated Unknown with exit
// code 255 (as containerd reports a container lost in a node restart),
// counted, and runs again after the crash-loop back-off; its last state
// keeps the first run's start, and `logs --previous` prints the first
// run's log (the request), during the back-off and after it, and `logs`
// the second's.
func TestServeKilledNodeShowsThePreviousRun(t *testing.T) {
	t.Parallel()
	bin := build(t)
	dataDir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	args := serveArgs(t, dataDir)
	srv := startServer(t, bin, args)
	run(t, bin, kc, "apply", "-f", filepath.Join(repoRoot(t), "wasm-examples", "manifests", "myweb-pod.yaml"))
	waitOutput(t, bin, kc, "Running", func(s string) bool { return s == "Running,true" }, "get", "pod", "myweb", "-o",
		"jsonpath={.status.phase},{.status.containerStatuses[0].ready}")
	first := containerOf(t, bin, kc, "myweb")
	ip := strings.TrimSpace(run(t, bin, kc, "get", "pod", "myweb", "-o", "jsonpath={.status.podIP}"))
	get(t, ip)
	waitOutput(t, bin, kc, "the request in the log", func(s string) bool { return strings.Contains(s, "GET / 200") }, "logs", "myweb")
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	killedAt := time.Now().UTC().Truncate(time.Second)

	srv = startServer(t, bin, args)
	// During the back-off, the run that died is the one to read.
	waitOutput(t, bin, kc, "in back-off", func(s string) bool { return s == "1,CrashLoopBackOff" }, "get", "pod", "myweb", "-o",
		"jsonpath={.status.containerStatuses[0].restartCount},{.status.containerStatuses[0].state.waiting.reason}")
	if prev, errOut, err := runErr(bin, kc, "logs", "--previous", "myweb"); err != nil || !strings.Contains(prev, "GET / 200") {
		t.Errorf("logs --previous during the back-off: %q, %v %s; want the first run's log", prev, err, errOut)
	}
	waitOutput(t, bin, kc, "running again", func(s string) bool { return s == "Running,1,true" }, "get", "pod", "myweb", "-o",
		"jsonpath={.status.phase},{.status.containerStatuses[0].restartCount},{.status.containerStatuses[0].ready}")
	again := containerOf(t, bin, kc, "myweb")
	last := again.LastState.Terminated
	if last == nil || last.Reason != "Unknown" || last.ExitCode != 255 || last.ContainerID != first.ContainerID ||
		last.StartedAt != first.State.Running.StartedAt || again.ContainerID == first.ContainerID {
		t.Fatalf("after the kill: %+v, last state %+v; first run %+v", again, last, first)
	}
	if end, err := time.Parse(time.RFC3339, last.FinishedAt); err != nil || end.Before(killedAt) {
		t.Errorf("lastState.terminated.finishedAt %q, want the node's return, after %v", last.FinishedAt, killedAt)
	}
	if prev := run(t, bin, kc, "logs", "--previous", "myweb"); !strings.Contains(prev, "GET / 200") || !strings.Contains(prev, "serving on") {
		t.Errorf("logs --previous: %q, want the first run's log", prev)
	}
	if cur := run(t, bin, kc, "logs", "myweb"); strings.Contains(cur, "GET / 200") || !strings.Contains(cur, "serving on") {
		t.Errorf("logs: %q, want the second run's log", cur)
	}
}
