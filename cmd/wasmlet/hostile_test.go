package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/internal/hostile"
)

// The hostile tests run the attacks of issue 12 ("Isolation") against the
// binary as a user would meet them: a node in a process of its own, hostile
// pods applied with the CLI, and a normal pod (myweb) that must keep
// serving on its pod IP throughout. Each case asserts that the node stays
// up, that other pods keep serving, and that the attacker's pod gets the
// status a user expects. The guests share one node, which is also the
// point: one pod must not take the others down. -hostile.each runs each
// case on a node of its own, to tell which case does what.

var (
	hostileEach    = flag.Bool("hostile.each", false, "run each hostile guest on a node of its own")
	hostileUnfixed = flag.Bool("hostile.unfixed", false, "run the hostile guests whose fix has not landed too")
)

// rssCap is where the tests kill a node whose memory runs away, so that a
// node without the limits takes its own test down, not the machine.
const rssCap = 2 << 30

// hostileNode is one `wasmlet serve` under attack.
type hostileNode struct {
	srv     *server
	args    []string // of env, which runs prlimit, which runs the binary
	bin     string
	dataDir string
	kc      string
	c       *client.Client
	pid     int
	images  string // modules and manifests written by the test
	mywebIP string
	mon     *monitor
}

type nodeOptions struct {
	// nofile is the node's descriptor limit (soft and hard): low enough
	// that an attack on descriptors shows within seconds.
	nofile int
	// env is added to the node's environment.
	env []string
	// flags are added to serve's.
	flags []string
}

var podsResource = func() *api.ResourceInfo {
	r, ok := api.LookupResource("pods")
	if !ok {
		panic("no pods resource")
	}
	return r
}()

// startHostileNode starts a node with myweb running, and a monitor that
// requests myweb and the API until the test ends.
func startHostileNode(t *testing.T, o nodeOptions) *hostileNode {
	t.Helper()
	bin := build(t)
	n := &hostileNode{bin: bin, dataDir: t.TempDir(), images: t.TempDir()}
	// A data dir that others can read: the node must make its own private.
	if err := os.Chmod(n.dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	linkCache(t, n.dataDir)
	n.kc = filepath.Join(n.dataDir, "kubeconfig.yaml")
	if o.nofile == 0 {
		o.nofile = 8192
	}
	// env and prlimit exec the binary: the process is the node's. Without
	// prlimit the node keeps the test's descriptor limit, and the attacks on
	// descriptors take longer to show.
	n.args = append([]string{}, o.env...)
	if _, err := exec.LookPath("prlimit"); err == nil {
		n.args = append(n.args, "prlimit", fmt.Sprintf("--nofile=%d:%d", o.nofile, o.nofile), "--")
	} else {
		t.Logf("no prlimit: the node runs with the test's descriptor limit")
	}
	n.args = append(n.args, bin)
	n.args = append(n.args, serveArgs(t, n.dataDir)...)
	n.args = append(n.args, o.flags...)
	n.start(t)
	myweb := filepath.Join(repoRoot(t), "wasm-examples", "manifests", "myweb-pod.yaml")
	run(t, bin, n.kc, "apply", "-f", myweb)
	n.watch(t)
	return n
}

// start starts the node's process and its client.
func (n *hostileNode) start(t *testing.T) {
	t.Helper()
	n.srv = startServer(t, "env", n.args)
	n.pid = n.srv.cmd.Process.Pid
	c, err := client.FromKubeconfig(n.kc)
	if err != nil {
		t.Fatal(err)
	}
	c.SetRequestTimeout(10 * time.Second)
	n.c = c
	t.Cleanup(c.Close)
}

// watch waits for myweb to serve and starts the monitor.
func (n *hostileNode) watch(t *testing.T) {
	t.Helper()
	p := n.waitPod(t, "myweb", "Running", time.Minute, func(p *api.Pod) bool { return p.Status.Phase == api.PodRunning && p.Status.PodIP != "" })
	n.mywebIP = p.Status.PodIP
	if got := get(t, n.mywebIP); got != "Hello World! I'm myweb" {
		t.Fatalf("myweb answers %q", got)
	}
	n.mon = startMonitor(t, n)
}

// linkCache makes the shared compilation cache the data dir's, so that
// the nodes of the tests compile each module once.
func linkCache(t *testing.T, dataDir string) {
	t.Helper()
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(cacheDir, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
}

// alive reports whether the node's process still runs.
func (n *hostileNode) alive() bool {
	select {
	case <-n.srv.done:
		return false
	default:
		return true
	}
}

// stderrTail is the end of the node's output, for failure messages.
func (n *hostileNode) stderrTail() string {
	s := n.srv.stderr.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

func (n *hostileNode) getPod(name string) (*api.Pod, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	obj, err := n.c.Get(ctx, podsResource, "default", name)
	if err != nil {
		return nil, err
	}
	p, ok := obj.(*api.Pod)
	if !ok {
		return nil, fmt.Errorf("%T, not a pod", obj)
	}
	return p, nil
}

// waitPod polls the pod until ok accepts it, and fails the test when the
// node dies or the timeout passes first.
func (n *hostileNode) waitPod(t *testing.T, name, what string, timeout time.Duration, ok func(*api.Pod) bool) *api.Pod {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p, err := n.getPod(name)
		if err == nil && ok(p) {
			return p
		}
		if !n.alive() {
			t.Fatalf("pod %s: the node died before it was %s: %v\n%s", name, what, n.srv.err, n.stderrTail())
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s is not %s after %v: %v\n%s", name, what, timeout, err, describe(p))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// apply writes the modules and manifests of the cases and applies them
// with one `wasmlet apply -f DIR`.
func (n *hostileNode) apply(t *testing.T, cases ...hostile.Case) {
	t.Helper()
	dir, err := os.MkdirTemp(n.images, "manifests-")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		image := filepath.Join(n.images, c.Name+".wasm")
		if c.Module != nil {
			if err := os.WriteFile(image, c.Module, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, c.Name+".yaml"), []byte(c.Manifest(c.Name, image)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A node that dies of one of them dies during the apply: the cases
	// report it.
	if out, errOut, err := runErr(n.bin, n.kc, "apply", "-f", dir); err != nil {
		t.Errorf("apply: %v\n%s%s", err, out, errOut)
	}
}

// podDir is where the node keeps the pod's logs and volumes.
func (n *hostileNode) podDir(p *api.Pod) string { return filepath.Join(n.dataDir, "pods", p.UID) }

// logs is every log the pod's container wrote, all instances.
func (n *hostileNode) logs(p *api.Pod) string {
	files, _ := filepath.Glob(filepath.Join(n.podDir(p), "logs", "*", "*"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// procStatus reads a field of /proc/PID/status in bytes (kB fields) or as
// a number.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return -1
			}
			x, _ := strconv.ParseInt(f[0], 10, 64)
			if len(f) > 1 && f[1] == "kB" {
				x <<= 10
			}
			return x
		}
	}
	return -1
}

// openFDs counts the process's open descriptors.
func openFDs(pid int) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(entries)
}

// cpuTime is the process's user and system CPU time.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command (which may hold spaces), from field 3.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// resetPeakRSS starts the process's VmHWM over from its current RSS.
func resetPeakRSS(t *testing.T, pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Logf("cannot reset the peak RSS: %v", err)
	}
}

// monitor requests myweb and the API every 250 ms for as long as the test
// runs, and watches the node's memory and descriptors every 100 ms.
type monitor struct {
	n    *hostileNode
	a    *rawAPI
	stop chan struct{}
	done sync.WaitGroup

	mu        sync.Mutex
	errs      []string
	requests  int
	api       []time.Duration
	peakRSS   int64
	peakFDs   int
	killedRSS int64
}

func startMonitor(t *testing.T, n *hostileNode) *monitor {
	m := &monitor{n: n, a: newRawAPI(t, n.kc), stop: make(chan struct{})}
	m.done.Add(2)
	go m.watchProcess()
	go m.request()
	t.Cleanup(m.close)
	return m
}

func (m *monitor) close() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	m.done.Wait()
}

func (m *monitor) fail(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) < 20 {
		m.errs = append(m.errs, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
	}
}

func (m *monitor) watchProcess() {
	defer m.done.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-m.n.srv.done:
			m.fail("the node exited: %v", m.n.srv.err)
			return
		case <-tick.C:
		}
		rss := procStatus(m.n.pid, "VmRSS")
		fds := openFDs(m.n.pid)
		m.mu.Lock()
		m.peakRSS = max(m.peakRSS, rss)
		m.peakFDs = max(m.peakFDs, fds)
		m.mu.Unlock()
		if rss > rssCap {
			m.mu.Lock()
			m.killedRSS = rss
			m.mu.Unlock()
			m.fail("the node's RSS reached %d MiB: killed by the test", rss>>20)
			_ = m.n.srv.cmd.Process.Kill()
			return
		}
	}
}

func (m *monitor) request() {
	defer m.done.Done()
	// Every request on a new connection, as a new client's: a node out of
	// descriptors still answers on the connections it has.
	web := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	apiTransport := &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	m.a.http = &http.Client{Timeout: 5 * time.Second, Transport: apiTransport}
	want := "Hello World! I'm myweb"
	for {
		select {
		case <-m.stop:
			return
		case <-m.n.srv.done:
			return
		case <-time.After(250 * time.Millisecond):
		}
		resp, err := web.Get("http://" + m.n.mywebIP + ":8080/")
		if err != nil {
			m.fail("GET myweb: %v", err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.TrimSpace(string(b)) != want {
				m.fail("GET myweb: %s %q", resp.Status, b)
			}
		}
		start := time.Now()
		code, body, err := m.a.do("GET", "/api/v1/namespaces/default/pods/myweb", m.a.token, "", nil)
		d := time.Since(start)
		m.mu.Lock()
		m.requests++
		m.api = append(m.api, d)
		m.mu.Unlock()
		if err != nil || code != http.StatusOK {
			m.fail("GET pod myweb from the API: %d %v %.100s (%v)", code, err, body, d.Round(time.Millisecond))
		}
	}
}

// check fails t unless the node stayed up, myweb answered every request
// and the API answered every request within the monitor's 5 s.
func (m *monitor) check(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	lat := slices.Clone(m.api)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))].Round(time.Millisecond)
	}
	t.Logf("node: %d rounds of requests, API p50 %v p99 %v max %v; peak RSS %d MiB, peak descriptors %d",
		m.requests, pct(0.5), pct(0.99), pct(1), m.peakRSS>>20, m.peakFDs)
	if !m.n.alive() {
		t.Errorf("the node died: %v\n%s", m.n.srv.err, m.n.stderrTail())
	}
	if len(m.errs) > 0 {
		t.Errorf("while under attack:\n%s", strings.Join(m.errs, "\n"))
	}
}

// describe is what a failure shows of a pod.
func describe(p *api.Pod) string {
	if p == nil {
		return "(no pod)"
	}
	b, _ := yaml.Marshal(p.Status)
	return string(b)
}

// containerStatus is the pod's one container's status.
func containerStatus(p *api.Pod) *api.ContainerStatus {
	if len(p.Status.ContainerStatuses) == 0 {
		return nil
	}
	return &p.Status.ContainerStatuses[0]
}

// terminated is the container's terminated state, nil while it has none.
func terminated(p *api.Pod) *api.ContainerStateTerminated {
	if cs := containerStatus(p); cs != nil {
		return cs.State.Terminated
	}
	return nil
}

// waiting is the container's waiting reason ("" when not waiting).
func waiting(p *api.Pod) (reason, message string) {
	if cs := containerStatus(p); cs != nil && cs.State.Waiting != nil {
		return cs.State.Waiting.Reason, cs.State.Waiting.Message
	}
	return "", ""
}

func isTerminated(p *api.Pod) bool { return terminated(p) != nil }

// expectation is what a case asserts once its pod is applied.
type expectation func(t *testing.T, n *hostileNode, c hostile.Case, secret string)

// expectExit waits for the container to end and checks how.
func expectExit(reason string, codes ...int32) expectation {
	return func(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
		p := n.waitPod(t, c.Name, "terminated", 90*time.Second, isTerminated)
		term := terminated(p)
		if term.Reason != reason || !slices.Contains(codes, term.ExitCode) {
			t.Errorf("container ended %s with exit code %d (%q), want %s with %v", term.Reason, term.ExitCode, term.Message, reason, codes)
		}
	}
}

// expectNotRunning: the container must not run with what it asked for; it
// ends over its limit (OOMKilled), or is refused (its own exit 12, a start
// error, or its module refused as an image).
func expectNotRunning(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
	p := n.waitPod(t, c.Name, "ended or refused", 45*time.Second, func(p *api.Pod) bool {
		r, _ := waiting(p)
		return isTerminated(p) || r == "RunContainerError" || r == "CreateContainerError" || r == "ErrImagePull" || r == "ImagePullBackOff"
	})
	if term := terminated(p); term != nil {
		if !(term.Reason == "OOMKilled" || term.Reason == "Error" && term.ExitCode == 12 || term.Reason == "StartError") {
			t.Errorf("container ended %s with exit code %d (%q), want OOMKilled, a refused growth (Error, 12) or a start error", term.Reason, term.ExitCode, term.Message)
		}
		t.Logf("%s: %s, exit code %d: %s", c.Name, term.Reason, term.ExitCode, term.Message)
	} else {
		r, msg := waiting(p)
		t.Logf("%s: %s: %s", c.Name, r, msg)
	}
}

// expectNoEscape: the guest read nothing of the host and wrote nothing
// there, by its second run (the one with the remade mount) or by a refusal
// to make the mount.
func expectNoEscape(t *testing.T, n *hostileNode, c hostile.Case, secret string) {
	content, err := os.ReadFile(secret)
	if err != nil {
		t.Fatal(err)
	}
	escaped := func(p *api.Pod) bool {
		l := n.logs(p)
		return strings.Contains(l, "ESCAPED") || strings.Contains(l, string(content))
	}
	p := n.waitPod(t, c.Name, "started twice or refused", 90*time.Second, func(p *api.Pod) bool {
		if escaped(p) {
			return true
		}
		cs := containerStatus(p)
		if cs == nil {
			return false
		}
		if r, _ := waiting(p); r == "CreateContainerConfigError" || r == "CreateContainerError" || r == "RunContainerError" {
			return true
		}
		r, _ := waiting(p)
		return cs.RestartCount >= 1 && (cs.State.Terminated != nil || r == "CrashLoopBackOff")
	})
	if escaped(p) {
		t.Errorf("the guest read the host's %s:\n%s", secret, n.logs(p))
	}
	if _, err := os.Lstat(secret + ".pwned"); err == nil {
		t.Errorf("the guest created %s.pwned on the host", secret)
	}
	r, msg := waiting(p)
	t.Logf("%s: restarts %d, waiting %s %s", c.Name, containerStatus(p).RestartCount, r, msg)
}

// expectCompiled: a module whose compilation is the attack is refused, or
// compiled and run, within a minute, and the node stays up.
func expectCompiled(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
	p := n.waitPod(t, c.Name, "refused or completed", time.Minute, func(p *api.Pod) bool {
		r, _ := waiting(p)
		return isTerminated(p) || r == "ErrImagePull" || r == "ImagePullBackOff" || r == "RunContainerError"
	})
	if term := terminated(p); term != nil {
		t.Logf("%s: %s, exit code %d %s", c.Name, term.Reason, term.ExitCode, term.Message)
	} else {
		r, msg := waiting(p)
		t.Logf("%s: %s: %.300s", c.Name, r, msg)
	}
}

// expectations: one per case of the corpus.
var expectations = map[string]expectation{
	"compile-locals":     expectCompiled,
	"compile-nesting":    expectCompiled,
	"compile-brtable":    expectCompiled,
	"compile-size":       expectCompiled,
	"symlink-escape":     expectNoEscape,
	"hostpath-escape":    expectNoEscape,
	"renamed-dir-escape": expectNoEscape,
	// Each of the 12 calls is refused with an errno, none allocates.
	"iovec-counts": expectExit("Error", hostile.IovecCountsRefused),
	"open-files": func(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
		p := n.waitPod(t, c.Name, "terminated", 90*time.Second, isTerminated)
		n.mon.mu.Lock()
		peak := n.mon.peakFDs
		n.mon.mu.Unlock()
		// The guest held what it could open for 10 s: the node's
		// descriptors stay near one container's limit (1024) plus its own.
		if peak > 2048 {
			t.Errorf("the node held %d descriptors while the guest opened files", peak)
		}
		if term := terminated(p); term.Reason != "Error" || term.ExitCode != 33 {
			t.Errorf("container ended %s with exit code %d, want Error with 33 (EMFILE: path_open refused at its limit)", term.Reason, term.ExitCode)
		}
	},
	"tables":         expectNotRunning,
	"table-at-start": expectNotRunning,
	// No limit of its own: the node's default (512Mi) ends it.
	"memory-grow":     expectExit("OOMKilled", 137),
	"memory-at-start": expectNotRunning,
	"hidden-memory":   expectNotRunning,
	// Each container under the node's default, all of them over what one
	// pod may take: each ends OOMKilled, and the node's RSS stays under the
	// tests' cap (2 GiB) with 8 containers of 512Mi.
	"many-containers": func(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
		p := n.waitPod(t, c.Name, "all ended", 90*time.Second, func(p *api.Pod) bool {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Terminated == nil {
					return false
				}
			}
			return len(p.Status.ContainerStatuses) > 0
		})
		for _, cs := range p.Status.ContainerStatuses {
			if term := cs.State.Terminated; term.Reason != "OOMKilled" {
				t.Errorf("container %s ended %s with exit code %d, want OOMKilled", cs.Name, term.Reason, term.ExitCode)
			}
		}
	},
	// Empty files under a sizeLimit of 1Mi: inodes and directory blocks
	// are disk too.
	"empty-files": func(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
		p := n.waitPod(t, c.Name, "terminated", 90*time.Second, isTerminated)
		dir := filepath.Join(n.podDir(p), "volumes", "v")
		entries, _ := os.ReadDir(dir)
		used := diskUsage(dir)
		term := terminated(p)
		t.Logf("%s: %s, exit code %d; %d files, %d KiB on disk", c.Name, term.Reason, term.ExitCode, len(entries), used>>10)
		if used > 1<<20+64<<10 {
			t.Errorf("%d empty files take %d KiB of disk in an emptyDir whose sizeLimit is 1Mi", len(entries), used>>10)
		}
	},
	"fill-emptydir": func(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
		var used int64
		p := n.waitPod(t, c.Name, "ended, evicted or done writing", 60*time.Second, func(p *api.Pod) bool {
			used = dirSize(filepath.Join(n.podDir(p), "volumes", "v"))
			return isTerminated(p) || p.Status.Phase == api.PodFailed || used >= hostile.FillTotal
		})
		if used > 1<<20+64<<10 {
			t.Errorf("the guest wrote %d bytes to an emptyDir whose sizeLimit is 1Mi", used)
		}
		if term := terminated(p); term != nil {
			t.Logf("%s: %s, exit code %d %s; pod %s %s", c.Name, term.Reason, term.ExitCode, term.Message, p.Status.Reason, p.Status.Message)
			if term.ExitCode == 0 {
				t.Errorf("container ended %s with exit code 0", term.Reason)
			}
		}
	},
	"spin": func(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
		n.waitPod(t, c.Name, "Running", 30*time.Second, func(p *api.Pod) bool { return p.Status.Phase == api.PodRunning })
	},
	// A recursion without loops: the node keeps answering for 10 s (its
	// garbage collector reaches the guest at the yields of its calls; it
	// waited for ever, and the node froze), and deleting the pod ends the
	// guest, which Kill reaches at the same yields.
	"tree-recursion": func(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
		n.waitPod(t, c.Name, "Running", 30*time.Second, func(p *api.Pod) bool { return p.Status.Phase == api.PodRunning })
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if _, err := n.getPod(c.Name); err != nil {
				t.Fatalf("the API does not answer under a recursion without loops: %v (node alive: %v)", err, n.alive())
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.c.Delete(ctx, podsResource, "default", c.Name, client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			_, err := n.getPod(c.Name)
			if api.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pod is not gone 30 s after its deletion: %v", err)
			}
		}
	},
	"start-trap": func(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
		p := n.waitPod(t, c.Name, "terminated", 60*time.Second, isTerminated)
		term := terminated(p)
		if term.Reason != "Error" || term.ExitCode != 134 || !strings.Contains(term.Message, "unreachable") {
			t.Errorf("container ended %s with exit code %d (%q), want Error, 134 and the trap", term.Reason, term.ExitCode, term.Message)
		}
	},
	"poll-huge": expectExit("Error", hostile.PollHugeRefused),
	// Its call stack's budget (a quarter of 16Mi) ends it with a trap
	// that says so; TestHostileCallStack measures the node meanwhile.
	"deep-recursion": expectCallStackExhausted,
	"socket-imports": func(t *testing.T, n *hostileNode, c hostile.Case, _ string) {
		p := n.waitPod(t, c.Name, "refused", 60*time.Second, func(p *api.Pod) bool {
			r, _ := waiting(p)
			return isTerminated(p) || r == "RunContainerError"
		})
		msg := ""
		if term := terminated(p); term != nil {
			msg = term.Message
			if term.Reason != "StartError" {
				t.Errorf("container ended %s, exit code %d: a module that does not link must not start", term.Reason, term.ExitCode)
			}
		} else {
			_, msg = waiting(p)
		}
		if !strings.Contains(msg, "sock_open") {
			t.Errorf("the start error does not name the missing import: %q", msg)
		}
	},
	"fd-probe": expectExit("Completed", 0),
	"host-paths": func(t *testing.T, n *hostileNode, c hostile.Case, s string) {
		expectExit("Completed", 0)(t, n, c, s)
		p, err := n.getPod(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		if l := n.logs(p); strings.Contains(l, "OPENED") {
			t.Errorf("the guest opened paths outside its volume:\n%s", l)
		}
	},
	"environ": func(t *testing.T, n *hostileNode, c hostile.Case, s string) {
		expectExit("Completed", 0)(t, n, c, s)
		p, err := n.getPod(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		l := n.logs(p)
		if !strings.Contains(l, "POD_NAME=environ") {
			t.Errorf("the guest's environment has no POD_NAME:\n%q", l)
		}
		if strings.Contains(l, canaryValue) || strings.Contains(l, "WASMLET_HOSTILE_CANARY") {
			t.Errorf("the guest sees the node's environment:\n%q", l)
		}
	},
	"log-flood": func(t *testing.T, n *hostileNode, c hostile.Case, s string) {
		expectExit("Completed", 0)(t, n, c, s)
		p, err := n.getPod(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		// One file rotated at 10 MiB and the current one.
		if used := dirSize(filepath.Join(n.podDir(p), "logs")); used > 21<<20 {
			t.Errorf("%d MiB of logs kept for a container", used>>20)
		}
	},
}

// canaryValue is in the node's environment and must not reach a guest.
var canaryValue = "canary-" + randomHex(8)

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// dirSize is the bytes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// diskUsage is the disk that dir and everything under it take, as du
// counts it: allocated blocks, directories' included.
func diskUsage(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

// hostileSecret is a file on the host that the escapes try to read.
func hostileSecret(t *testing.T) string {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host-secret-"+randomHex(8)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestHostileGuests runs every guest of the corpus on one node, next to
// myweb.
//
// The hostile tests do not call t.Parallel: each asserts that a node's
// other pods keep answering while its guests attack it, which other
// tests on the same two cores would turn into a test of the machine (a
// myweb unanswered for 30 s under TestHostileGuests, with the package's
// other tests beside it). Go runs them one by one before the parallel
// tests of the package start.
func TestHostileGuests(t *testing.T) {
	secret := hostileSecret(t)
	hostPaths := t.TempDir()
	corpus := append(hostile.Corpus(secret),
		hostile.Case{Name: "hostpath-escape", Finding: "1", Module: hostile.SymlinkEscape(secret), Manifest: hostile.HostPathEscapePod(hostPaths)})
	for _, c := range corpus {
		if expectations[c.Name] == nil {
			t.Fatalf("case %s has no expectation", c.Name)
		}
	}
	opts := nodeOptions{env: []string{"WASMLET_HOSTILE_CANARY=" + canaryValue}, flags: []string{"--allow-host-path", hostPaths,
		// The guests' memory together, as an admin sizes it for the
		// machine: under the monitor's 2 GiB, so that the many-containers
		// case meets the node's bound rather than the test's.
		"--pods-memory", "1Gi"}}
	skip := func(c hostile.Case) string {
		if *hostileUnfixed {
			return ""
		}
		return c.Unfixed
	}
	var shared *hostileNode
	if !*hostileEach {
		shared = startHostileNode(t, opts)
		var applied []hostile.Case
		for _, c := range corpus {
			if skip(c) == "" {
				applied = append(applied, c)
			}
		}
		shared.apply(t, applied...)
	}
	t.Run("cases", func(t *testing.T) {
		for _, c := range corpus {
			t.Run(c.Name+"/finding-"+c.Finding, func(t *testing.T) {
				if reason := skip(c); reason != "" {
					t.Skip(reason)
				}
				t.Parallel()
				n := shared
				if n == nil {
					n = startHostileNode(t, opts)
					n.apply(t, c)
				}
				expectations[c.Name](t, n, c, secret)
				if shared == nil {
					n.mon.check(t)
				}
			})
		}
	})
	if shared == nil {
		return
	}
	// The node's data is private whatever the data dir's mode was: logs
	// and volumes hold what guests wrote.
	for _, dir := range []string{shared.dataDir, filepath.Join(shared.dataDir, "pods")} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("finding 9: %s: mode %v (%v), want no access for group and others", dir, fi.Mode().Perm(), err)
		}
	}
	// A spinning guest leaves when deleted.
	run(t, shared.bin, shared.kc, "delete", "pod", "spin")
	shared.mon.check(t)
}

// TestHostileSpin: guests that never call the host are held to their CPU
// limit (finding 9): six spinning guests of 25m each take 0.15 of a core,
// and the API keeps answering.
func TestHostileSpin(t *testing.T) {
	n := startHostileNode(t, nodeOptions{})
	cores := func(d time.Duration) float64 {
		start, cpu0 := time.Now(), cpuTime(n.pid)
		time.Sleep(d)
		return (cpuTime(n.pid) - cpu0).Seconds() / time.Since(start).Seconds()
	}
	idle := cores(3 * time.Second)
	var cases []hostile.Case
	for k := range 6 {
		cases = append(cases, hostile.Case{Name: fmt.Sprintf("spin-%d", k), Module: hostile.Spin(), Manifest: func(name, image string) string {
			return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: guest\n    image: %s\n    resources:\n      limits:\n        cpu: 25m\n", name, image)
		}})
	}
	n.apply(t, cases...)
	for _, c := range cases {
		n.waitPod(t, c.Name, "Running", 30*time.Second, func(p *api.Pod) bool { return p.Status.Phase == api.PodRunning })
	}
	time.Sleep(time.Second)
	busy := cores(5 * time.Second)
	t.Logf("the node used %.2f cores idle, %.2f with 6 spinning guests of 25m", idle, busy)
	// 0.15 for the guests, with room for the throttle's granularity.
	if busy-idle > 0.3 {
		t.Errorf("6 guests limited to 25m each took %.2f cores", busy-idle)
	}
	n.mon.check(t)
}

// TestHostileNodeMemory: what the node allocates for a guest counts
// against the guest's limit (finding 4), and an image that is not a module
// file costs nothing to refuse (finding 8).
func TestHostileNodeMemory(t *testing.T) {
	n := startHostileNode(t, nodeOptions{})
	grow := hostile.Case{Name: "grow-256mi", Module: hostile.GrowMemory(), Manifest: func(name, image string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: Never
  containers:
  - name: guest
    image: %s
    resources:
      limits:
        memory: 256Mi
`, name, image)
	}}
	// Where the limit held, the node's RSS still grew 2.3 times it.
	time.Sleep(time.Second)
	base := procStatus(n.pid, "VmRSS")
	resetPeakRSS(t, n.pid)
	n.apply(t, grow)
	p := n.waitPod(t, grow.Name, "terminated", 60*time.Second, isTerminated)
	if term := terminated(p); term.Reason != "OOMKilled" {
		t.Errorf("container ended %s with exit code %d, want OOMKilled", term.Reason, term.ExitCode)
	}
	peak := procStatus(n.pid, "VmHWM")
	t.Logf("a guest limited to 256Mi: node RSS %d MiB before, peak %d MiB", base>>20, peak>>20)
	if growth := peak - base; growth > 256<<20*3/2 {
		t.Errorf("finding 4: the node's RSS grew %d MiB for a guest limited to 256 MiB", growth>>20)
	}

	// /dev/zero and a FIFO as images: refused at once, without reading.
	fifo := filepath.Join(n.images, "fifo.wasm")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	imagePod := func(image string) func(string, string) string {
		return func(name, _ string) string {
			return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  restartPolicy: Never\n  containers:\n  - name: guest\n    image: %s\n", name, image)
		}
	}
	time.Sleep(time.Second)
	base = procStatus(n.pid, "VmRSS")
	resetPeakRSS(t, n.pid)
	n.apply(t, hostile.Case{Name: "dev-zero", Manifest: imagePod("/dev/zero")}, hostile.Case{Name: "fifo", Manifest: imagePod(fifo)})
	for _, name := range []string{"dev-zero", "fifo"} {
		p := n.waitPod(t, name, "refused", 30*time.Second, func(p *api.Pod) bool {
			r, _ := waiting(p)
			return r == "ErrImagePull" || r == "ImagePullBackOff"
		})
		_, msg := waiting(p)
		t.Logf("%s: %s", name, msg)
	}
	peak = procStatus(n.pid, "VmHWM")
	t.Logf("images /dev/zero and a FIFO: node RSS %d MiB before, peak %d MiB", base>>20, peak>>20)
	if growth := peak - base; growth > 128<<20 {
		t.Errorf("finding 8: refusing /dev/zero as an image grew the node's RSS by %d MiB", growth>>20)
	}
	n.mon.check(t)
}

// rawAPI is an HTTPS client of the node that sends what it is told, token
// or not.
type rawAPI struct {
	server string
	token  string
	http   *http.Client
}

func newRawAPI(t *testing.T, kubeconfig string) *rawAPI {
	b, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var kc struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			User struct {
				Token string `json:"token"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := yaml.Unmarshal(b, &kc); err != nil || len(kc.Clusters) == 0 || len(kc.Users) == 0 {
		t.Fatalf("kubeconfig: %v", err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // loopback, a test's own node
	t.Cleanup(tr.CloseIdleConnections)
	return &rawAPI{server: kc.Clusters[0].Cluster.Server, token: kc.Users[0].User.Token,
		http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends a request; token "" sends none.
func (a *rawAPI) do(method, path, token, contentType string, body io.Reader) (int, string, error) {
	req, err := http.NewRequest(method, a.server+path, body)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), nil
}

// TestHostileAPI: hostile clients of the API, with the token and without
// (findings 7, 8 and 9, and what held).
func TestHostileAPI(t *testing.T) {
	n := startHostileNode(t, nodeOptions{nofile: 4096})
	a := newRawAPI(t, n.kc)

	t.Run("unauthenticated/held", func(t *testing.T) {
		// /version, /healthz, /livez and /readyz are public, as in
		// Kubernetes.
		paths := []string{"/", "/api", "/apis", "/api/v1", "/apis/apps/v1", "/openapi/v2",
			"/api/v1/pods", "/api/v1/namespaces", "/api/v1/nodes", "/api/v1/events",
			"/api/v1/namespaces/default/pods", "/api/v1/namespaces/default/pods/myweb",
			"/api/v1/namespaces/default/pods/myweb/log", "/api/v1/namespaces/default/pods/myweb/status",
			"/api/v1/namespaces/default/pods?watch=true", "/api/v1/namespaces/default/replicationcontrollers",
			"/apis/apps/v1/namespaces/default/replicasets", "/apis/apps/v1/namespaces/default/replicasets/x/scale",
			"/api/v1/namespaces/default/pods/../../../../etc/passwd"}
		var n401, total int
		for _, p := range paths {
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
				for _, token := range []string{"", "not-the-token"} {
					code, body, err := a.do(m, p, token, "application/json", strings.NewReader("{}"))
					total++
					if err == nil && code == http.StatusUnauthorized {
						n401++
					} else {
						t.Errorf("%s %s with token %q: %d %v %.200s", m, p, token, code, err, body)
					}
				}
			}
		}
		t.Logf("%d of %d unauthenticated requests answered 401", n401, total)
	})

	t.Run("subpath/held", func(t *testing.T) {
		// The API refuses a subPath that climbs or is absolute, as
		// Kubernetes does; the node resolves the rest under the volume.
		for _, sub := range []string{"../../etc", "/etc", "a/../../b"} {
			body := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"sub"},"spec":{"containers":[{"name":"c","image":"x.wasm",
				"volumeMounts":[{"name":"v","mountPath":"/v","subPath":"` + sub + `"}]}],"volumes":[{"name":"v","emptyDir":{}}]}}`
			code, resp, err := a.do("POST", "/api/v1/namespaces/default/pods", a.token, "application/json", strings.NewReader(body))
			if err != nil || code != http.StatusUnprocessableEntity {
				t.Errorf("a pod with subPath %q: %d %v %.300s", sub, code, err, resp)
			}
		}
	})

	t.Run("connection-flood/finding-7", func(t *testing.T) {
		// Idle connections that never start TLS, and connections that got
		// a 401 and stay open: more than the node has descriptors for.
		addr := strings.TrimPrefix(a.server, "https://")
		n.mon.mu.Lock()
		n.mon.peakFDs = 0
		n.mon.mu.Unlock()
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for range 5000 {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				t.Logf("connection %d: %v", len(conns), err)
				break
			}
			conns = append(conns, c)
		}
		for range 100 {
			c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				break
			}
			fmt.Fprintf(c, "GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n\r\n")
			conns = append(conns, c)
		}
		// The node has had time to take them all.
		time.Sleep(time.Second)
		for range 5 {
			start := time.Now()
			fresh := newRawAPI(t, n.kc)
			fresh.http.Timeout = 5 * time.Second
			code, body, err := fresh.do("GET", "/api/v1/namespaces/default/pods/myweb", fresh.token, "", nil)
			t.Logf("%d connections held, the node %d descriptors; a request with the token: %d in %v",
				len(conns), openFDs(n.pid), code, time.Since(start).Round(time.Millisecond))
			if err != nil || code != http.StatusOK {
				t.Errorf("a valid request while %d connections are held: %d %v %.200s", len(conns), code, err, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
		n.mon.mu.Lock()
		peak := n.mon.peakFDs
		n.mon.mu.Unlock()
		if peak > 2048 {
			t.Errorf("the node held up to %d descriptors for %d idle connections", peak, len(conns))
		}
	})

	t.Run("field-selector-typo/finding-9", func(t *testing.T) {
		dir := t.TempDir()
		for k := range 3 {
			m := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: keep-%d\n  labels:\n    typo: test\nspec:\n  containers:\n  - name: c\n    image: missing.wasm\n", k)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("keep-%d.yaml", k)), []byte(m), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run(t, n.bin, n.kc, "apply", "-f", dir)
		out, errOut, err := runErr(n.bin, n.kc, "get", "pods", "--field-selector=status.phse!=Running")
		if err == nil {
			t.Errorf("get pods --field-selector=status.phse!=Running succeeded:\n%s", out)
		}
		t.Logf("get with a typo: %s", strings.TrimSpace(errOut))
		code, body, _ := a.do("DELETE", "/api/v1/namespaces/default/pods?fieldSelector=status.phse%21%3DRunning", a.token, "", nil)
		if code != http.StatusBadRequest {
			t.Errorf("DELETE collection with an unknown field selector: %d %.300s", code, body)
		}
		left := run(t, n.bin, n.kc, "get", "pods", "-l", "typo=test", "-o", "name")
		if strings.Count(left, "pod/keep-") != 3 {
			t.Errorf("pods left after the refused deletes:\n%s", left)
		}
		if _, err := n.getPod("myweb"); err != nil {
			t.Errorf("myweb after the refused deletes: %v", err)
		}
	})

	t.Run("big-objects/finding-8", func(t *testing.T) {
		n.apply(t, hostile.Case{Name: "bomb", Manifest: func(name, _ string) string {
			return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  containers:\n  - name: c\n    image: missing.wasm\n"
		}})
		resetPeakRSS(t, n.pid)
		base := procStatus(n.pid, "VmRSS")
		// A JSON patch of 24 copies, each doubling a list: 6.7 KB that
		// expands to gigabytes.
		ops := []string{`{"op":"add","path":"/metadata/annotations","value":{"a":"` + strings.Repeat("x", 200) + `"}}`,
			`{"op":"add","path":"/spec/containers/0/args","value":["` + strings.Repeat("y", 200) + `"]}`}
		for range 24 {
			ops = append(ops, `{"op":"copy","from":"/spec/containers/0/args","path":"/spec/containers/0/args/-"}`)
		}
		code, body, err := a.do("PATCH", "/api/v1/namespaces/default/pods/bomb", a.token, "application/json-patch+json",
			strings.NewReader("["+strings.Join(ops, ",")+"]"))
		if err != nil || !slices.Contains([]int{400, 413, 422}, code) {
			t.Errorf("a JSON patch of 24 doubling copies: %d %v %.300s", code, err, body)
		}
		// A pod of 10,000 containers.
		var cs []string
		for k := range 10000 {
			cs = append(cs, fmt.Sprintf(`{"name":"c%d","image":"missing.wasm"}`, k))
		}
		code, body, err = a.do("POST", "/api/v1/namespaces/default/pods", a.token, "application/json",
			strings.NewReader(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"many"},"spec":{"containers":[`+strings.Join(cs, ",")+`]}}`))
		if err != nil || !slices.Contains([]int{400, 413, 422}, code) {
			t.Errorf("a pod of 10,000 containers: %d %v %.300s", code, err, body)
		}
		// A 100 MB body (what held): refused, by a status or by closing.
		code, body, err = a.do("POST", "/api/v1/namespaces/default/pods", a.token, "application/json",
			io.LimitReader(zeros{}, 100<<20))
		if err == nil && code != http.StatusRequestEntityTooLarge {
			t.Errorf("a 100 MB body: %d %.300s", code, body)
		}
		peak := procStatus(n.pid, "VmHWM")
		t.Logf("patch bomb, 10,000 containers, 100 MB body: node RSS %d MiB before, peak %d MiB", base>>20, peak>>20)
		if peak-base > 256<<20 {
			t.Errorf("the node's RSS grew %d MiB for requests it refused", (peak-base)>>20)
		}
	})

	t.Run("aborted-upload/finding-9", func(t *testing.T) {
		before := len(n.srv.stderr.String())
		addr := strings.TrimPrefix(a.server, "https://")
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"kind\":", a.token)
		time.Sleep(200 * time.Millisecond)
		c.Close()
		time.Sleep(500 * time.Millisecond)
		if logged := n.srv.stderr.String()[before:]; strings.Contains(logged, "level=ERROR") || strings.Contains(logged, "code=5") {
			t.Errorf("a client that gave up its upload is logged as a server error:\n%s", logged)
		}
	})
	n.mon.check(t)
}

// zeros is an endless reader of '0' bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// TestHostileStore: a damaged store is refused with a message, never
// opened empty nor left to a panic (finding 6).
func TestHostileStore(t *testing.T) {
	bin := build(t)
	dataDir := t.TempDir()
	linkCache(t, dataDir)
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	args := serveArgs(t, dataDir)
	srv := startServer(t, bin, args)
	// 300 objects, as the store: ReplicaSets of no replicas, which
	// cost the node nothing to keep.
	const objects = 300
	var docs []string
	for k := range objects {
		docs = append(docs, fmt.Sprintf(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs-%d
  annotations:
    note: %s
spec:
  replicas: 0
  selector:
    matchLabels:
      app: rs-%d
  template:
    metadata:
      labels:
        app: rs-%d
    spec:
      containers:
      - name: c
        image: missing.wasm
`, k, strings.Repeat("x", 500), k, k))
	}
	manifest := filepath.Join(t.TempDir(), "rs.yaml")
	if err := os.WriteFile(manifest, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, bin, kc, "apply", "-f", manifest)
	stop := func(s *server) {
		t.Helper()
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("serve does not stop")
		}
	}
	stop(srv)
	storeDir := filepath.Join(dataDir, "store")
	backup := t.TempDir()
	snapshot := func() {
		os.RemoveAll(backup)
		if err := os.CopyFS(backup, os.DirFS(storeDir)); err != nil {
			t.Fatal(err)
		}
	}
	restore := func() {
		t.Helper()
		os.RemoveAll(storeDir)
		if err := os.CopyFS(storeDir, os.DirFS(backup)); err != nil {
			t.Fatal(err)
		}
	}
	snapshot()
	files, _ := os.ReadDir(storeDir)
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	t.Logf("store: %v", names)

	// count starts the node and counts its ReplicaSets; a start that ends
	// with an error instead gives -1 and the node's output.
	count := func(t *testing.T) (int, string) {
		s := &server{cmd: exec.Command(bin, args...), stderr: &lockedBuffer{}, done: make(chan struct{})}
		s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { s.err = s.cmd.Wait(); close(s.done) }()
		defer func() {
			select {
			case <-s.done:
			default:
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		}()
		deadline := time.After(60 * time.Second)
		for !strings.Contains(s.stderr.String(), "serving on https://") {
			select {
			case <-s.done:
				if strings.Contains(s.stderr.String(), "panic:") {
					t.Errorf("the node panicked on a damaged store:\n%s", s.stderr.String())
				}
				return -1, s.stderr.String()
			case <-deadline:
				t.Fatalf("serve neither serves nor ends after 60 s:\n%s", s.stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
		out := run(t, bin, kc, "get", "rs", "-o", "name")
		stop(s)
		return strings.Count(out, "replicaset.apps/"), ""
	}

	damage := []struct {
		name   string
		damage func(t *testing.T) bool // false: not applicable to this store
	}{
		{"truncated-manifest", func(t *testing.T) bool {
			p := filepath.Join(storeDir, "MANIFEST")
			fi, err := os.Stat(p)
			if err != nil {
				return false
			}
			return os.Truncate(p, fi.Size()/2) == nil
		}},
		{"missing-manifest", func(t *testing.T) bool { return os.Remove(filepath.Join(storeDir, "MANIFEST")) == nil }},
		{"zeroed-table", func(t *testing.T) bool {
			ssts, _ := filepath.Glob(filepath.Join(storeDir, "*.sst"))
			if len(ssts) == 0 {
				return false
			}
			f, err := os.OpenFile(ssts[0], os.O_WRONLY, 0)
			if err != nil {
				return false
			}
			defer f.Close()
			fi, _ := f.Stat()
			_, err = f.WriteAt(make([]byte, min(16<<10, fi.Size()/2)), fi.Size()/4)
			return err == nil
		}},
		{"truncated-table", func(t *testing.T) bool {
			ssts, _ := filepath.Glob(filepath.Join(storeDir, "*.sst"))
			if len(ssts) == 0 {
				return false
			}
			fi, _ := os.Stat(ssts[0])
			return os.Truncate(ssts[0], fi.Size()/2) == nil
		}},
	}
	for _, d := range damage {
		t.Run(d.name+"/finding-6", func(t *testing.T) {
			restore()
			if !d.damage(t) {
				t.Skipf("this store has nothing to damage that way: %v", names)
			}
			before, _ := os.ReadDir(storeDir)
			n, refusal := count(t)
			switch {
			case n == objects:
				t.Logf("the node read past the damage: %d objects", n)
			case n >= 0:
				t.Errorf("the node started on a damaged store with %d of %d objects", n, objects)
			default:
				t.Logf("refused: %s", lastLines(refusal, 3))
				if !strings.Contains(strings.ToLower(refusal), "store") {
					t.Errorf("the refusal does not name the store:\n%s", refusal)
				}
				after, _ := os.ReadDir(storeDir)
				if len(after) < len(before) {
					t.Errorf("the refused start removed store files: %d before, %d after", len(before), len(after))
				}
			}
		})
	}
	restore()
	if n, refusal := count(t); n != objects {
		t.Errorf("the undamaged store: %d objects %s", n, refusal)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
