// Package probes runs the liveness, readiness and startup probes and the
// postStart and preStop hooks of a node's containers, with Kubernetes'
// defaults, thresholds, timing, messages and events.
//
// A Manager is the host's ProbeManager. For each started container instance
// it runs one worker goroutine per probe the container declares, ticking
// on the injected clock, and reports back through a Runtime: the verdict of
// the startup probe (SetContainerStarted), of the readiness probe
// (SetContainerReady), and a kill when the liveness or startup probe failed
// failureThreshold times in a row (KillContainer). exec probes and hooks
// run through the Runtime as a fresh instance of the container's module.
//
// # The kubelet's rules, as followed here
//
//   - A new instance starts with readiness Failure, liveness Success and
//     startup unknown: ContainerStarted answers started only when the
//     container has no startup probe, and ready only when it has no
//     readiness probe.
//   - While the startup probe has not succeeded, only it runs; once it has,
//     it stops and the liveness and readiness probes run.
//   - A result changes the published verdict only after successThreshold
//     equal successes or failureThreshold equal failures in a row. A probe
//     that errored (it could not even be tried: a bad port name, an exec
//     that could not start) is retried at once, up to three times, and then
//     thrown away without counting.
//   - A published liveness failure, or any published startup verdict, ends
//     that probe for the instance. Killing goes through the host, with the
//     probe's terminationGracePeriodSeconds when set.
//   - When the host stops an instance (PreStop), its liveness and startup
//     probes stop quietly; its readiness probe runs until the instance ends.
//
// # Timing
//
// A worker's ticks fall at startedAt + k x periodSeconds (k >= 1), and a
// tick earlier than initialDelaySeconds after the start is skipped. The
// readiness probe also runs once at the start and once right after the
// startup probe succeeded, as the kubelet triggers it whenever it syncs an
// unready container. The kubelet's random first offset is not copied (see
// docs/RATIONALE.md). Timeouts are on the injected clock too, so a virtual
// clock drives every wait of this package.
//
// # What the package never does
//
// It never writes a pod's status (the host owns it), never kills or starts
// an instance itself, and never reads the wall clock.
package probes
