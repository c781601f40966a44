// Package version holds wasmlet's version and the Kubernetes version whose
// behaviour it follows.
package version

// Version is wasmlet's version, set at build time with
// -ldflags "-X github.com/wasmlet/wasmlet/internal/version.Version=...".
var Version = "v0.1.0-dev"

// KubernetesCompat is the Kubernetes release whose API, messages and
// numbers wasmlet follows.
const KubernetesCompat = "v1.32.0"

// RuntimeVersion is the containerRuntimeVersion the node reports.
const RuntimeVersion = "wazero://v1.12.0"
