// Package hostile writes the hostile guests of issue 12 ("Isolation"):
// WebAssembly modules, each one attack on the node that runs it, and the
// pods that run them. The node's tests and the soak command run them
// against a real node; this package only writes bytes.
//
// It must never run a module itself, nor import the node: a guest that
// escapes must escape from a node, not from the program that wrote it.
package hostile

import (
	"fmt"
	"strings"
)

// Case is one attack as a user would run it: a module and its pod.
type Case struct {
	// Name is the pod's name.
	Name string
	// Finding is the finding of issue 12 it attacks ("1", "4a", ...),
	// "held" for what the node already refused, or "compile" for a module
	// whose compilation is the attack (never compile those outside a
	// node).
	Finding string
	Module  []byte
	// Manifest returns the pod's YAML, named name, with the module at
	// image.
	Manifest func(name, image string) string
	// Unfixed says why the node does not yet hold against the case ("" when
	// it does): the tests skip it and the soak leaves it out unless asked.
	Unfixed string
}

// Sizes of the attacks as the issue reported them.
const (
	TableCount   = 8
	TableEntries = 50_000_000
	FillTotal    = 16 << 20
	OpenHold     = 10 // seconds
	// FDProbeFirst: stdio and the one listener of FDProbe's pod.
	FDProbeFirst = 4
	FDProbeMax   = 1024
	LogTotal     = 24 << 20
	// EmptyFilesMax empty files take well over 1Mi of a disk (inodes and
	// directory blocks).
	EmptyFilesMax = 100_000
)

// Corpus returns every case. secret is an absolute path on the node that
// the escapes try to read (and to write beside).
func Corpus(secret string) []Case {
	never := "  restartPolicy: Never\n"
	volume := "    volumeMounts:\n    - name: v\n      mountPath: /v\n"
	emptyDir := "  volumes:\n  - name: v\n    emptyDir: {}\n"
	return []Case{
		{"symlink-escape", "1", SymlinkEscape(secret), SymlinkEscapePod, ""},
		{"renamed-dir-escape", "1", RenamedDirEscape(secret), RenamedDirEscapePod, ""},
		{"iovec-counts", "2", IovecCounts(), podOf(never, volume, emptyDir), ""},
		{"open-files", "3", OpenFiles(OpenHold), podOf(never, volume, emptyDir), ""},
		{"tables", "4a", Tables(TableCount, TableEntries), podOf(never, limits("memory: 64Mi"), ""), ""},
		{"table-at-start", "4a", TableAtStart(TableEntries), podOf(never, limits("memory: 64Mi"), ""), ""},
		{"memory-grow", "4b", GrowMemory(), podOf(never, "", ""), ""},
		{"memory-at-start", "4b", MemoryAtStart(16384, true), podOf(never, "", ""), ""},
		{"hidden-memory", "4b", MemoryAtStart(16384, false), podOf(never, limits("memory: 64Mi"), ""), ""},
		{"many-containers", "4b", GrowMemory(), manyContainers(8), ""},
		{"empty-files", "5", EmptyFiles(EmptyFilesMax), podOf(never, volume, "  volumes:\n  - name: v\n    emptyDir:\n      sizeLimit: 1Mi\n"), ""},
		{"fill-emptydir", "5", FillEmptyDir(FillTotal), podOf(never, volume, "  volumes:\n  - name: v\n    emptyDir:\n      sizeLimit: 1Mi\n"), ""},
		{"spin", "9", Spin(), podOf(never, limits("cpu: 100m"), ""), ""},
		{"tree-recursion", "9", TreeRecursion(60), podOf(never, limits("cpu: 100m"), ""), ""},
		{"start-trap", "9", StartTrap(), podOf(never, "", ""), ""},
		{"poll-huge", "2", PollHuge(), podOf(never, "", ""), ""},
		{"deep-recursion", "4b", DeepRecursion(DeepRecursionLocals), podOf(never, limits("memory: 16Mi"), ""), ""},
		{"socket-imports", "held", SocketImports(), podOf(never, "", ""), ""},
		{"fd-probe", "held", FDProbe(FDProbeFirst, FDProbeMax), podOf(never, "    ports:\n    - containerPort: 8080\n", ""), ""},
		{"host-paths", "held", HostPaths(), podOf(never, volume, emptyDir), ""},
		{"environ", "held", Environ(), podOf(never, "", ""), ""},
		{"log-flood", "held", LogFlood(LogTotal), podOf(never, "", ""), ""},
		{"compile-locals", "compile", CompileLocals(0x7fffffff), podOf(never, "", ""), ""},
		{"compile-nesting", "compile", CompileNesting(200_000), podOf(never, "", ""), ""},
		{"compile-brtable", "compile", CompileBrTable(1_000_000), podOf(never, "", ""), ""},
		{"compile-size", "compile", CompileSize(12_000_000), podOf(never, "", ""), ""},
	}
}

// manyContainers is a pod of n containers of the module, none with a limit
// of its own: each under the node's default, all of them together over
// the machine's memory unless the node bounds what one pod may take.
func manyContainers(n int) func(name, image string) string {
	return func(name, image string) string {
		var cs strings.Builder
		for k := range n {
			fmt.Fprintf(&cs, "  - name: guest-%d\n    image: %s\n", k, image)
		}
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels:
    hostile: "true"
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
%s`, name, cs.String())
	}
}

// podOf returns a Manifest of one container named guest, with spec lines
// (indented two spaces), container lines (four) and volumes.
func podOf(spec, container, volumes string) func(name, image string) string {
	return func(name, image string) string { return pod(name, image, spec, container, volumes) }
}

func pod(name, image, spec, container, volumes string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels:
    hostile: "true"
spec:
  terminationGracePeriodSeconds: 1
%s  containers:
  - name: guest
    image: %s
%s%s`, name, spec, image, container, volumes)
}

// limits is a container's resources.limits of the given lines.
func limits(lines ...string) string {
	return "    resources:\n      limits:\n        " + strings.Join(lines, "\n        ") + "\n"
}
