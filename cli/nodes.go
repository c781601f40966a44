package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wasmlet/wasmlet/client"
)

// Which node a verb talks to, when neither --kubeconfig nor KUBECONFIG
// says: the node started last on this machine, by this user, that still
// runs; with none running, the default data dir's.
//
// serve and up record each node they run in a file of their own under
// nodesDir, named by the time it started, and hold an exclusive flock on
// it for as long as the process lives. A record whose lock is free
// belongs to a process that ended, however it ended (kill -9 included):
// the next client to see it removes it. A record holds the node's data
// dir, and its kubeconfig once the node serves; a client that finds the
// node started last still starting waits for it, so that `serve &`
// followed at once by a verb works.

// nodeStartWait bounds how long a verb waits for the node started last
// to serve.
const nodeStartWait = time.Minute

// nodesDir is where running nodes are recorded: $XDG_STATE_HOME/wasmlet/nodes,
// or ~/.local/state/wasmlet/nodes.
func nodesDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "wasmlet", "nodes")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(os.TempDir(), fmt.Sprintf("wasmlet-%d", os.Getuid()), "nodes")
	}
	return filepath.Join(home, ".local", "state", "wasmlet", "nodes")
}

// nodeRecord is a running node's entry in nodesDir, locked while its
// process lives.
type nodeRecord struct {
	f    *os.File
	path string
}

// recordNode records that this process runs the node of dataDir. The
// record is written and locked under a name clients skip, then renamed
// into place, so that no client ever sees it unlocked.
func recordNode(dataDir string) (*nodeRecord, error) {
	dir := nodesDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".new-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*nodeRecord, error) {
		os.Remove(f.Name())
		f.Close()
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fail(err)
	}
	if _, err := f.WriteString(abs + "\n"); err != nil {
		return fail(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%019d-%d", time.Now().UnixNano(), os.Getpid()))
	if err := os.Rename(f.Name(), path); err != nil {
		return fail(err)
	}
	return &nodeRecord{f: f, path: path}, nil
}

// serving adds the node's kubeconfig to the record: clients may use it.
func (r *nodeRecord) serving(kubeconfig string) error {
	abs, err := filepath.Abs(kubeconfig)
	if err != nil {
		return err
	}
	// One write: a reader sees the line whole or not at all, and takes
	// only lines that end in a newline.
	_, err = r.f.WriteString(abs + "\n")
	return err
}

// close removes the record, then lets its lock go.
func (r *nodeRecord) close() {
	if r == nil {
		return
	}
	os.Remove(r.path)
	r.f.Close()
}

// errNodeGone says that a record's process has ended.
var errNodeGone = errors.New("the node is gone")

// runningKubeconfig returns the kubeconfig of the node started last that
// still runs, waiting up to nodeStartWait while it starts; "" when no node
// runs. Records of nodes that are gone are removed on the way.
func runningKubeconfig(ctx context.Context) (string, error) {
	dir := nodesDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", nil
	}
	var names []string
	for _, en := range entries {
		if !strings.HasPrefix(en.Name(), ".") && en.Type().IsRegular() {
			names = append(names, en.Name())
		}
	}
	// The names start with the time, of fixed width: the newest sorts last.
	slices.Sort(names)
	slices.Reverse(names)
	for _, name := range names {
		kubeconfig, err := readRecord(ctx, filepath.Join(dir, name))
		if errors.Is(err, errNodeGone) {
			continue
		}
		return kubeconfig, err
	}
	return "", nil
}

// readRecord waits until the record's node serves and returns its
// kubeconfig; errNodeGone (and the record removed) when its process ended.
func readRecord(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", errNodeGone
	}
	defer f.Close()
	deadline := time.Now().Add(nodeStartWait)
	for {
		switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); {
		case err == nil:
			// Nobody holds it: the process is gone. Remove the record while
			// holding the lock (the closing of f lets it go).
			os.Remove(path)
			return "", errNodeGone
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return "", errNodeGone
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", errNodeGone
		}
		lines := strings.SplitAfter(string(b), "\n")
		if len(lines) >= 2 && strings.HasSuffix(lines[1], "\n") {
			return strings.TrimSuffix(lines[1], "\n"), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the node started last (data dir %s) does not serve after %v", strings.TrimSpace(lines[0]), nodeStartWait)
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
	}
}

// findKubeconfig is where a verb finds its node: the kubeconfig the flags
// or the environment name (explicit), else the node started last that
// still runs, else the default data dir's node. When none of these
// answers, a node may have been started a moment ago (`serve &` and a verb
// on the next line start together): the verb gives it nodeAppearWait to
// record itself before it reports the default data dir's failure.
func (e *environment) findKubeconfig(ctx context.Context, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p, err := runningKubeconfig(ctx); p != "" || err != nil {
		return p, err
	}
	def := filepath.Join(client.DefaultDataDir(), "kubeconfig.yaml")
	if answers(def) {
		return def, nil
	}
	deadline := time.Now().Add(nodeAppearWait)
	for time.Now().Before(deadline) {
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
		if p, err := runningKubeconfig(ctx); p != "" || err != nil {
			return p, err
		}
	}
	return def, nil
}

// nodeAppearWait is how long a verb that finds no node waits for one that
// is starting to record itself.
const nodeAppearWait = 2 * time.Second

// answers says whether the server of the kubeconfig at path accepts
// connections.
func answers(path string) bool {
	cl, err := client.FromKubeconfig(path)
	if err != nil {
		return false
	}
	u, err := url.Parse(cl.Server())
	if err != nil {
		return false
	}
	conn, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
