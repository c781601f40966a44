package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/api"
)

// crashChildEnv, when set to a directory, makes the test binary a writer
// that TestAcknowledgedWritesSurviveKill kills (or, with diskFullPhaseEnv,
// the writer of TestFullDiskIsAnErrorNotACrash).
const crashChildEnv = "WASMLET_STORE_CRASH_CHILD_DIR"

// crashChild writes to the store in dir until it is killed, printing each
// acknowledged write: "ack <name> <resourceVersion> <uid>" for a pod that
// is never written again, "upd <resourceVersion>" for the updates of one
// ReplicaSet.
func crashChild(dir string) {
	if phase := os.Getenv(diskFullPhaseEnv); phase != "" {
		diskFullChild(dir, phase)
		return
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	rs := obj(rsR, "default", "counter")
	rs.Spec = map[string]any{"replicas": 0}
	if _, err := s.Create(ctx, rs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		p := pod("default", fmt.Sprintf("p%06d", i), map[string]string{"i": strconv.Itoa(i)})
		out, err := s.Create(ctx, p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		m := out.GetObjectMeta()
		fmt.Printf("ack %s %s %s\n", m.Name, m.ResourceVersion, m.UID)
		if i%3 == 0 {
			out, err := s.GuaranteedUpdate(ctx, rsR, "default", "counter", func(o api.Object) (api.Object, error) {
				r := o.(*testObject)
				r.Spec["replicas"] = r.Spec["replicas"].(float64) + 1
				return r, nil
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			fmt.Printf("upd %s\n", out.GetObjectMeta().ResourceVersion)
		}
	}
}

func TestAcknowledgedWritesSurviveKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct{ rv, uid string }
	acked := map[string]ack{}
	lastUpd := 0
	r := bufio.NewReader(out)
	killed := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break // a line cut by the kill was never acknowledged
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[0] == "ack":
			acked[f[1]] = ack{f[2], f[3]}
		case len(f) == 2 && f[0] == "upd":
			lastUpd, _ = strconv.Atoi(f[1])
		default:
			t.Fatalf("child printed %q", line)
		}
		if len(acked) == 150 && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d writes without being killed", len(acked))
	}

	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	maxRV := 0
	for name, a := range acked {
		got, err := s.Get(ctx, podsR, "default", name)
		if err != nil {
			t.Fatalf("acknowledged pod %s lost: %v", name, err)
		}
		m := got.GetObjectMeta()
		if m.ResourceVersion != a.rv || m.UID != a.uid {
			t.Fatalf("pod %s: rv %s uid %s, acknowledged rv %s uid %s", name, m.ResourceVersion, m.UID, a.rv, a.uid)
		}
		n, _ := strconv.Atoi(a.rv)
		maxRV = max(maxRV, n)
	}
	counter, err := s.Get(ctx, rsR, "default", "counter")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(counter.GetObjectMeta().ResourceVersion); n < lastUpd {
		t.Fatalf("counter at rv %d, acknowledged %d", n, lastUpd)
	}
	if n, _ := strconv.Atoi(s.ResourceVersion()); n < max(maxRV, lastUpd) {
		t.Fatalf("store resourceVersion %d below acknowledged %d", n, maxRV)
	}
	// New writes continue after every acknowledged version.
	p := mustCreate(t, s, pod("default", "after", nil))
	if n, _ := strconv.Atoi(p.ResourceVersion); n <= max(maxRV, lastUpd) {
		t.Fatalf("new write got rv %d, not after %d", n, maxRV)
	}
}
