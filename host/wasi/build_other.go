//go:build !linux

package wasi

// The layer runs on Linux only (docs/RATIONALE.md, "Files"): it confines
// mounts with Linux's *at system calls and waits with ppoll, and the node
// gives pods addresses of 127.0.0.0/8, which only Linux routes without
// configuration. Building it elsewhere stops here, with this name.
var _ = wasmlet_runs_on_linux_only
