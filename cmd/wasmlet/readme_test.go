package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// TestReadmeUseIt runs the `sh` code blocks of the README's "Use it"
// section as they are written, in `bash -e`, as a user pastes them into a
// fresh shell: a new HOME (so no node of the user's is found, and the
// node records itself in the new HOME), no KUBECONFIG, the working
// directory a tree of the repository's files (symbolic links to them) so
// that `go build` and the node's data dir (./n1) stay out of the
// repository. Only the kubectl lines are left out, and only when kubectl
// is not installed. The node, started in the background by the block,
// is killed at the end if the block did not stop it.
func TestReadmeUseIt(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := shellBlocks(string(readme), "## Use it")
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```sh block under \"## Use it\"")
	}
	script := strings.Join(blocks, "\n")
	if _, err := exec.LookPath("kubectl"); err != nil {
		var kept []string
		for _, line := range strings.Split(script, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "kubectl ") {
				kept = append(kept, line)
			}
		}
		script = strings.Join(kept, "\n")
		t.Log("kubectl is not installed: its lines are left out")
	}

	// The README assumes `make run` or `make test` built the guests.
	if _, err := examples.Build("myweb"); err != nil {
		t.Fatal(err)
	}
	// The block's node listens where a user's does; runs of this test in
	// other processes wait for each other, and a node of the user's
	// holding the addresses is named rather than met as a failure later.
	unlock := lockFile(t, filepath.Join(os.TempDir(), "wasmlet-readme-test.lock"))
	defer unlock()
	for _, addr := range []string{"127.0.0.1:7443", "127.42.0.2:8080"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("the README's node needs %s, which another process holds (a node of yours?): %v", addr, err)
		}
		l.Close()
	}

	work := t.TempDir()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		switch en.Name() {
		case ".git", "wasmlet", "n1":
			continue
		}
		if err := os.Symlink(filepath.Join(root, en.Name()), filepath.Join(work, en.Name())); err != nil {
			t.Fatal(err)
		}
	}
	// The node compiles myweb into ./n1/cache: the cache the other tests
	// of this package share saves the minute it takes on a busy machine.
	build(t)
	if err := os.MkdirAll(filepath.Join(work, "n1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(cacheDir, filepath.Join(work, "n1", "cache")); err != nil {
		t.Fatal(err)
	}
	scriptPath := filepath.Join(t.TempDir(), "use-it.sh")
	if err := os.WriteFile(scriptPath, []byte(script+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"TMPDIR=" + t.TempDir(),
		"PATH=" + os.Getenv("PATH"),
		"LANG=C.UTF-8",
		// go build in the fresh HOME uses the go command's caches of
		// this machine, and builds the binary as `make build` does
		// (static, no paths), which the cache keeps whatever the tree's
		// directory.
		"CGO_ENABLED=0",
		"GOFLAGS=-trimpath",
		"GOTOOLCHAIN=local",
	}
	for _, v := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOROOT"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", v, err)
		}
		env = append(env, v+"="+strings.TrimSpace(string(out)))
	}
	if goroot := env[len(env)-1][len("GOROOT="):]; goroot != "" {
		env[2] = "PATH=" + filepath.Join(goroot, "bin") + string(os.PathListSeparator) + os.Getenv("PATH")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", scriptPath)
	cmd.Dir = work
	cmd.Env = env
	// The block's node runs in the shell's process group (a shell
	// without job control), which the test kills at the end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A file, not a pipe: the node in the background keeps its copy of
	// the descriptor, and a pipe would hold Wait until the node ends.
	outPath := filepath.Join(t.TempDir(), "output")
	outFile, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, outFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	runErr := cmd.Wait()
	// `kill %1` asked the node to stop: it has its grace period (the
	// pods are gone by then), then is killed.
	stopped := waitGroupGone(pgid, 30*time.Second)
	if !stopped {
		syscall.Kill(-pgid, syscall.SIGKILL)
		waitGroupGone(pgid, 10*time.Second)
	}
	output, _ := os.ReadFile(outPath)
	if runErr != nil {
		t.Fatalf("the README's Use it block failed in bash -e: %v\n--- script\n%s\n--- output\n%s", runErr, script, output)
	}
	got := string(output)
	t.Logf("output of the block:\n%s", got)
	for _, want := range []string{"pod/myweb condition met", "Hello World! I'm myweb", `pod "myweb" deleted`,
		`deployment "web" successfully rolled out`, "service/web exposed", "Hello World! I'm web-", "deployment.apps/web restarted",
		"deployment.apps/web rolled back", "configmap/web-config created", `service "web" deleted`} {
		if !strings.Contains(got, want) {
			t.Errorf("the output of the block lacks %q:\n%s", want, got)
		}
	}
	if !stopped {
		t.Errorf("the node did not stop after the block's kill:\n%s", got)
	}
	// The node recorded itself in the fresh HOME, and took its record
	// away when it stopped.
	if left, _ := os.ReadDir(filepath.Join(home, ".local", "state", "wasmlet", "nodes")); len(left) != 0 {
		t.Errorf("records of nodes left after the node stopped: %v", left)
	}
}

// shellBlocks returns the fenced ```sh blocks of the markdown section
// whose heading is heading, up to the next heading of the same level.
func shellBlocks(md, heading string) []string {
	var blocks []string
	var cur []string
	in, inBlock := false, false
	level := strings.Count(strings.Fields(heading)[0], "#")
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		if !inBlock && strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			if len(f) > 0 && strings.Trim(f[0], "#") == "" && len(f[0]) <= level {
				in = strings.TrimSpace(line) == heading
				continue
			}
		}
		if !in {
			continue
		}
		switch {
		case !inBlock && strings.HasPrefix(line, "```sh"):
			inBlock, cur = true, nil
		case inBlock && strings.HasPrefix(line, "```"):
			inBlock = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case inBlock:
			cur = append(cur, line)
		}
	}
	return blocks
}

// lockFile holds an exclusive lock on path until the returned function
// is called.
func lockFile(t *testing.T, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// waitGroupGone waits until no process of process group pgid is left.
func waitGroupGone(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
