// Command soak runs a node under attack for a while and prints how its
// normal pods and its API fared: hostile pods cycling through the corpus of
// internal/hostile next to many myweb pods, each requested continuously,
// and the API listing pods continuously.
//
//	go run ./internal/soak -minutes 2 -hostile 10 -normal 100
//
// The node is the built binary in a process of its own, as a user runs it:
// a guest that takes it down takes down the node, not this program, which
// reports it. Soak never runs a guest itself.
package main

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/internal/hostile"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

func main() {
	minutes := flag.Float64("minutes", 2, "how long the node is under attack")
	nHostile := flag.Int("hostile", 10, "hostile pods at any time, each cycling through the corpus")
	nNormal := flag.Int("normal", 100, "myweb pods, each requested continuously")
	life := flag.Duration("hostile-life", 15*time.Second, "how long a hostile pod lives before the next case replaces it")
	workers := flag.Int("workers", 8, "concurrent requests to the normal pods")
	keep := flag.Bool("keep", false, "keep the node's data dir")
	skip := flag.String("skip", "", "cases of the corpus not to run, comma-separated")
	unfixed := flag.Bool("unfixed", false, "run the cases the node does not hold against yet too")
	flag.Parse()
	if err := run(time.Duration(*minutes*float64(time.Minute)), *nHostile, *nNormal, *life, *workers, *keep, *skip, *unfixed); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// node is the `wasmlet serve` process.
type node struct {
	cmd     *exec.Cmd
	out     *lockedBuffer
	done    chan struct{}
	err     error
	dataDir string
	c       *client.Client
}

func (n *node) alive() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

var pods = func() *api.ResourceInfo {
	r, _ := api.LookupResource("pods")
	return r
}()

func run(d time.Duration, nHostile, nNormal int, life time.Duration, workers int, keep bool, skip string, unfixed bool) error {
	root, err := examples.Dir()
	if err != nil {
		return err
	}
	root = filepath.Dir(root)
	work, err := os.MkdirTemp("", "wasmlet-soak-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("data in", work)
	} else {
		defer os.RemoveAll(work)
	}

	fmt.Println("building the node and myweb")
	bin := filepath.Join(work, "wasmlet")
	build := exec.Command("go", "build", "-o", bin, "./cmd/wasmlet")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	myweb, err := examples.Build("myweb")
	if err != nil {
		return err
	}

	n, err := startNode(bin, work, root)
	if err != nil {
		return err
	}
	defer n.stop()

	// The hostile modules, and the file the escapes try to read.
	images := filepath.Join(work, "images")
	if err := os.MkdirAll(images, 0o755); err != nil {
		return err
	}
	secret := filepath.Join(work, "secret")
	if err := os.WriteFile(secret, []byte("host-secret-"+randomHex(8)), 0o600); err != nil {
		return err
	}
	var corpus []hostile.Case
	for _, c := range hostile.Corpus(secret) {
		if !slices.Contains(strings.Split(skip, ","), c.Name) && (unfixed || c.Unfixed == "") {
			corpus = append(corpus, c)
		} else {
			fmt.Printf("leaving out %s: %s\n", c.Name, cmp.Or(c.Unfixed, "-skip"))
		}
	}
	for _, c := range corpus {
		if err := os.WriteFile(filepath.Join(images, c.Name+".wasm"), c.Module, 0o644); err != nil {
			return err
		}
	}

	ctx := context.Background()
	fmt.Printf("starting %d myweb pods\n", nNormal)
	start := time.Now()
	for k := range nNormal {
		if err := n.create(ctx, fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-%d","labels":{"app":"web"}},
			"spec":{"containers":[{"name":"myweb","image":%q,"ports":[{"name":"http","containerPort":8080}]}]}}`, k, myweb)); err != nil {
			return err
		}
	}
	ips, err := n.waitRunning(ctx, nNormal, 5*time.Minute)
	if err != nil {
		return err
	}
	fmt.Printf("%d myweb pods running after %v; node RSS %d MiB\n", len(ips), time.Since(start).Round(time.Second), rss(n.cmd.Process.Pid)>>20)

	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		web      = &recorder{}
		apiList  = &recorder{}
		peakRSS  atomic.Int64
		statuses sync.Map // case name -> *sync.Map of status -> *atomic.Int64
		cycled   atomic.Int64
	)
	end := time.Now().Add(d)
	fmt.Printf("%d hostile pods cycling through %d cases every %v, for %v\n", nHostile, len(corpus), life, d)

	// Normal pods: each worker requests a random pod, as fast as answers come.
	transport := &http.Transport{MaxIdleConnsPerHost: 2}
	defer transport.CloseIdleConnections()
	webClient := &http.Client{Timeout: 10 * time.Second, Transport: transport}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped(stop) {
				ip := ips[rand.IntN(len(ips))]
				t0 := time.Now()
				resp, err := webClient.Get("http://" + ip + ":8080/")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = errors.New(resp.Status)
					}
				}
				web.add(time.Since(t0), err)
				if err != nil {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	// The API: list the pods, again and again.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stopped(stop) {
			t0 := time.Now()
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := n.c.List(lctx, pods, "default", client.ListOptions{})
			cancel()
			apiList.add(time.Since(t0), err)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	// The node's memory.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stopped(stop) {
			if r := rss(n.cmd.Process.Pid); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
	// Hostile slots: each runs a case for its life, notes its status, deletes
	// it and runs the next.
	for slot := range nHostile {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for gen := 0; !stopped(stop); gen++ {
				c := corpus[(slot+gen*nHostile)%len(corpus)]
				name := fmt.Sprintf("hostile-%d-%d", slot, gen)
				y := c.Manifest(name, filepath.Join(images, c.Name+".wasm"))
				j, err := yaml.YAMLToJSON([]byte(y))
				if err == nil {
					err = n.create(ctx, string(j))
				}
				if err != nil {
					if !n.alive() {
						return
					}
					time.Sleep(time.Second)
					continue
				}
				select {
				case <-stop:
				case <-time.After(life):
				}
				st := "unknown"
				if obj, err := n.c.Get(ctx, pods, "default", name); err == nil {
					st = statusOf(obj.(*api.Pod))
				}
				m, _ := statuses.LoadOrStore(c.Name, &sync.Map{})
				cnt, _ := m.(*sync.Map).LoadOrStore(st, new(atomic.Int64))
				cnt.(*atomic.Int64).Add(1)
				cycled.Add(1)
				_ = n.c.Delete(ctx, pods, "default", name, client.DeleteOptions{})
			}
		}()
	}

	for time.Now().Before(end) && n.alive() {
		time.Sleep(time.Second)
	}
	close(stop)
	wg.Wait()

	// The report.
	pid := n.cmd.Process.Pid
	fmt.Println()
	fmt.Printf("soak: %v, %d normal pods, %d hostile slots (%d hostile pods run)\n", d, nNormal, nHostile, cycled.Load())
	fmt.Printf("normal pods: %s\n", web.summary())
	fmt.Printf("API (list pods): %s\n", apiList.summary())
	alive := n.alive()
	if alive {
		fmt.Printf("node: up; RSS %d MiB now, peak %d MiB sampled, high-water mark %d MiB; CPU %v\n",
			rss(pid)>>20, peakRSS.Load()>>20, procStatus(pid, "VmHWM")>>20, cpuTime(pid).Round(time.Second))
	} else {
		fmt.Printf("node: DIED (%v)\n%s\n", n.err, tail(n.out.String(), 3000))
	}
	fmt.Println("hostile pods, status at the end of their life:")
	var names []string
	statuses.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
	sort.Strings(names)
	for _, name := range names {
		m, _ := statuses.Load(name)
		var parts []string
		m.(*sync.Map).Range(func(k, v any) bool {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, v.(*atomic.Int64).Load()))
			return true
		})
		sort.Strings(parts)
		fmt.Printf("  %-20s %s\n", name, strings.Join(parts, ", "))
	}
	if b, _ := os.ReadFile(secret + ".pwned"); b != nil {
		fmt.Println("ESCAPE: a guest wrote", secret+".pwned")
		alive = false
	}
	if !alive {
		return errors.New("the node did not survive")
	}
	return nil
}

func stopped(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// statusOf is a pod's status in a word or two, as `get pods` shows it.
func statusOf(p *api.Pod) string {
	if p.Status.Reason != "" {
		return p.Status.Reason
	}
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			return cs.State.Waiting.Reason
		case cs.State.Terminated != nil:
			return fmt.Sprintf("%s(%d)", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
	}
	return string(p.Status.Phase)
}

func startNode(bin, work, root string) (*node, error) {
	dataDir := filepath.Join(work, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	// The tests' compilation cache: myweb is compiled once for both.
	if base, err := os.UserCacheDir(); err == nil {
		cache := filepath.Join(base, "wasmlet-test", "wazero")
		if os.MkdirAll(cache, 0o755) == nil {
			_ = os.Symlink(cache, filepath.Join(dataDir, "cache"))
		}
	}
	n := &node{out: &lockedBuffer{}, done: make(chan struct{}), dataDir: dataDir}
	n.cmd = exec.Command(bin, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--node-name", "soak",
		"--image-root", root, "--pod-cidr", fmt.Sprintf("127.46.%d.0/24", 1+rand.IntN(254)), "--shutdown-grace-period", "5s")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { n.err = n.cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(n.out.String(), "serving on https://") {
		if !n.alive() || time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("the node does not serve: %v\n%s", n.err, n.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := client.FromKubeconfig(filepath.Join(dataDir, "kubeconfig.yaml"))
	if err != nil {
		n.stop()
		return nil, err
	}
	c.SetRequestTimeout(30 * time.Second)
	n.c = c
	return n, nil
}

func (n *node) stop() {
	if n.alive() {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(30 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	}
	if n.c != nil {
		n.c.Close()
	}
}

func (n *node) create(ctx context.Context, body string) error {
	_, err := n.c.CreateJSON(ctx, pods, "default", []byte(body), client.WriteOptions{})
	return err
}

// waitRunning waits for want pods labelled app=web to run, and returns
// their IPs.
func (n *node) waitRunning(ctx context.Context, want int, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		objs, err := n.c.List(ctx, pods, "default", client.ListOptions{LabelSelector: "app=web"})
		var ips []string
		for _, o := range objs {
			if p := o.(*api.Pod); p.Status.Phase == api.PodRunning && p.Status.PodIP != "" {
				ips = append(ips, p.Status.PodIP)
			}
		}
		if err == nil && len(ips) == want {
			return ips, nil
		}
		if !n.alive() {
			return nil, fmt.Errorf("the node died: %v\n%s", n.err, tail(n.out.String(), 3000))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d pods running after %v: %v", len(ips), want, timeout, err)
		}
		time.Sleep(time.Second)
	}
}

// recorder collects the latencies and errors of one kind of request.
type recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	errs   int
	sample []string
}

func (r *recorder) add(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs++
		if len(r.sample) < 3 {
			r.sample = append(r.sample, err.Error())
		}
		return
	}
	r.lat = append(r.lat, d)
}

func (r *recorder) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))].Round(100 * time.Microsecond)
	}
	s := fmt.Sprintf("%d requests, p50 %v, p99 %v, max %v, %d errors", len(lat)+r.errs, pct(0.5), pct(0.99), pct(1), r.errs)
	if len(r.sample) > 0 {
		s += " (" + strings.Join(r.sample, "; ") + ")"
	}
	return s
}

// lockedBuffer collects the node's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func rss(pid int) int64 { return procStatus(pid, "VmRSS") }

// procStatus reads a kB field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				x, _ := strconv.ParseInt(f[0], 10, 64)
				return x << 10
			}
		}
	}
	return -1
}

// cpuTime is the process's user and system CPU time.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func randomHex(n int) string {
	b := make([]byte, n)
	crand.Read(b)
	return hex.EncodeToString(b)
}
