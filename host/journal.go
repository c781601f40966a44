package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The run journal records, in each pod's directory, which container
// instances are alive in the node's process: a file
// <data>/pods/<uid>/running/<container>.<id>, written before the instance
// starts (before its module's start section runs) and removed once the
// instance has ended. A file left behind by a process that is gone names an
// instance that was alive when the node died: with a kill -9, the kernel's
// OOM killer, a Go fatal error or a SIGBUS, the node cannot tell whether
// the guest caused the death, and the next start treats every such
// container as having crashed with the node (see restore).
//
// The store cannot be the record: the container's Running status is
// written after the instance started, and a guest that kills the node in
// its first instructions dies before that write, at every start.
//
// The files are written without fsync: they must outlive the node's
// process, which a completed write does (the kernel has the page), not the
// machine, whose end takes every guest with it.

// runningDir is the journal directory of a pod directory.
func runningDir(podDir string) string { return filepath.Join(podDir, "running") }

// runRecord is one journal file's content. The file's existence says the
// instance was alive; the content is what the store may not have yet when
// the node dies: the instance's ID, its restart count and the crash-loop
// back-off raised for its start.
type runRecord struct {
	Container    string        `json:"container"`
	ContainerID  string        `json:"containerID"`
	RestartCount int32         `json:"restartCount"`
	StartedAt    time.Time     `json:"startedAt"`
	Backoff      *BackoffEntry `json:"backoff,omitempty"`
}

func runRecordPath(podDir, container, id string) string {
	return filepath.Join(runningDir(podDir), container+"."+id)
}

// journalStart records that an instance of container is about to start.
// An error means the node cannot keep the record, and must not start it.
func journalStart(podDir string, rec runRecord) error {
	dir := runningDir(podDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("recording the container's start: %w", err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("recording the container's start: %w", err)
	}
	if err := os.WriteFile(runRecordPath(podDir, rec.Container, rec.ContainerID), b, 0o600); err != nil {
		return fmt.Errorf("recording the container's start: %w", err)
	}
	return nil
}

// journalEnd removes the record of an instance that has ended.
func journalEnd(podDir, container, id string) error {
	err := os.Remove(runRecordPath(podDir, container, id))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// journalRead returns the instances recorded as alive, by container (the
// newest instance when there are several), with the paths of every record
// read. A record that cannot be parsed (the node died while writing it)
// still names its container and instance in its file name.
func journalRead(podDir string) (map[string]runRecord, []string) {
	entries, err := os.ReadDir(runningDir(podDir))
	if err != nil {
		return nil, nil
	}
	recs := map[string]runRecord{}
	var paths []string
	for _, e := range entries {
		name, id, ok := strings.Cut(e.Name(), ".")
		if !ok || e.IsDir() {
			continue
		}
		path := filepath.Join(runningDir(podDir), e.Name())
		paths = append(paths, path)
		rec := runRecord{Container: name, ContainerID: id}
		if b, err := os.ReadFile(path); err == nil {
			var r runRecord
			if json.Unmarshal(b, &r) == nil && r.Container == name && r.ContainerID == id {
				rec = r
			}
		}
		if old, ok := recs[name]; !ok || rec.RestartCount > old.RestartCount ||
			(rec.RestartCount == old.RestartCount && rec.StartedAt.After(old.StartedAt)) {
			recs[name] = rec
		}
	}
	return recs, paths
}
