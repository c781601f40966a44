package host

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/internal/clock"
)

// Container logs are kept in the CRI log format, one line per line the
// guest wrote: `<RFC 3339 nano time> <stdout|stderr> <F|P> <text>`, where P
// marks a line split because it was too long (or the guest ended without a
// newline) and F a complete one.
const (
	// maxLogLine splits longer lines into P records, as the CRI runtimes do.
	maxLogLine = 16 * 1024
	// defaultMaxLogSize rotates a log file once it is this big; one rotated
	// file (<n>.log.1) is kept per instance.
	defaultMaxLogSize = 10 << 20
)

// Log files are private to the node's user (0600 in directories of 0700):
// a guest's output is its own. Every log path is resolved under an os.Root
// at the directory of the pods, so that nothing on the way to a log file (a
// name from a pod's spec, a link) can make the node write or read outside
// it.
const (
	logDirMode  = 0o700
	logFileMode = 0o600
)

// containerLog is the log of one container instance: two writers (stdout,
// stderr) that turn the guest's bytes into CRI log lines in one file.
type containerLog struct {
	root    *os.Root // the directory the log's name is relative to
	name    string
	maxSize int64
	clock   clock.Clock

	mu      sync.Mutex
	f       *os.File
	size    int64
	closed  bool
	changed chan struct{} // closed and replaced on every write; followers wait on it
	err     error
}

// openContainerLog opens the log file name (relative) under the directory
// dir, creating it and its directories.
func openContainerLog(dir, name string, maxSize int64, clk clock.Clock) (*containerLog, error) {
	if name == "" {
		return nil, errors.New("container log: the pod's UID or the container's name cannot name a file")
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("container log %s: %w", name, err)
	}
	fail := func(err error) (*containerLog, error) {
		root.Close()
		return nil, fmt.Errorf("container log %s: %w", name, err)
	}
	if err := root.MkdirAll(filepath.Dir(name), logDirMode); err != nil {
		return fail(err)
	}
	f, err := openLogFile(root, name, os.O_APPEND)
	if err != nil {
		return fail(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fail(err)
	}
	if maxSize <= 0 {
		maxSize = defaultMaxLogSize
	}
	return &containerLog{root: root, name: name, maxSize: maxSize, clock: clk, f: f, size: fi.Size(), changed: make(chan struct{})}, nil
}

// openLogFile opens a log file for writing, private whatever its mode was.
func openLogFile(root *os.Root, name string, flag int) (*os.File, error) {
	f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|flag, logFileMode)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(logFileMode); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Stream returns the writer of one stream ("stdout" or "stderr").
func (l *containerLog) Stream(name string) io.WriteCloser {
	return &logStream{log: l, name: name}
}

// waitChan returns a channel closed at the next write or at Close, and
// whether the log is already closed.
func (l *containerLog) waitChan() (<-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed, l.closed
}

func (l *containerLog) writeRecord(stream string, partial bool, text []byte) {
	tag := "F"
	if partial {
		tag = "P"
	}
	var b bytes.Buffer
	b.Grow(len(text) + 48)
	b.WriteString(l.clock.Now().UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(stream)
	b.WriteByte(' ')
	b.WriteString(tag)
	b.WriteByte(' ')
	b.Write(text)
	b.WriteByte('\n')

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.err != nil {
		return
	}
	if l.size+int64(b.Len()) > l.maxSize && l.size > 0 {
		l.rotateLocked()
	}
	n, err := l.f.Write(b.Bytes())
	l.size += int64(n)
	if err != nil {
		l.err = err
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// rotateLocked moves the current file to <path>.1 (replacing an older one)
// and starts a new one.
func (l *containerLog) rotateLocked() {
	l.f.Close()
	if err := l.root.Rename(l.name, l.name+".1"); err != nil {
		l.err = err
		return
	}
	f, err := openLogFile(l.root, l.name, os.O_TRUNC)
	if err != nil {
		l.err = err
		return
	}
	l.f, l.size = f, 0
}

// Close ends the log; followers see the end.
func (l *containerLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.changed)
	err := l.f.Close()
	l.root.Close()
	return err
}

type logStream struct {
	log  *containerLog
	name string
	mu   sync.Mutex
	buf  []byte
}

func (s *logStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.buf = append(s.buf, p...)
			p = nil
		} else {
			s.buf = append(s.buf, p[:i]...)
			p = p[i+1:]
			s.flushLocked(false)
		}
		// Whole records are cut from the front first and the rest moved
		// once: moving it after each record made a long line cost the
		// square of its length.
		off := 0
		for len(s.buf)-off >= maxLogLine {
			s.log.writeRecord(s.name, true, s.buf[off:off+maxLogLine])
			off += maxLogLine
		}
		if off > 0 {
			s.buf = append(s.buf[:0], s.buf[off:]...)
		}
	}
	return n, nil
}

func (s *logStream) flushLocked(partial bool) {
	s.log.writeRecord(s.name, partial, s.buf)
	s.buf = s.buf[:0]
}

// Close writes what is left of an unfinished line as a partial record.
func (s *logStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) > 0 {
		s.flushLocked(true)
	}
	return nil
}

// logRecord is one parsed line of a log file.
type logRecord struct {
	time    time.Time
	stream  string
	partial bool
	text    []byte
}

// errBadLogLine is returned by parseLogLine for a line not in the format.
var errBadLogLine = errors.New("not a CRI log line")

// parseLogLine parses one line (without its newline).
func parseLogLine(line []byte) (logRecord, error) {
	var r logRecord
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return r, errBadLogLine
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:i]))
	if err != nil {
		return r, errBadLogLine
	}
	rest := line[i+1:]
	j := bytes.IndexByte(rest, ' ')
	if j < 0 {
		return r, errBadLogLine
	}
	stream := string(rest[:j])
	if stream != "stdout" && stream != "stderr" {
		return r, errBadLogLine
	}
	rest = rest[j+1:]
	if len(rest) < 1 || (rest[0] != 'F' && rest[0] != 'P') {
		return r, errBadLogLine
	}
	partial := rest[0] == 'P'
	rest = rest[1:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return r, errBadLogLine
		}
		rest = rest[1:]
	}
	return logRecord{time: t, stream: stream, partial: partial, text: rest}, nil
}

// LogOptions are the log subresource's options (kubectl logs' flags).
type LogOptions struct {
	// Container names the container; "" means the only one.
	Container string
	// Follow streams new lines until the container instance ends or the
	// context does.
	Follow bool
	// Previous reads the previous (terminated) instance.
	Previous bool
	// TailLines, when set, starts that many lines from the end.
	TailLines *int64
	// SinceSeconds, when set, skips lines older than that.
	SinceSeconds *int64
	// SinceTime, when set, skips lines older than it.
	SinceTime *time.Time
	// Timestamps prefixes each line with its RFC 3339 nano time.
	Timestamps bool
	// LimitBytes, when set, stops after that many bytes.
	LimitBytes *int64
}

// logFiles returns the files of one instance, oldest first.
func logFiles(root *os.Root, name string) []string {
	var files []string
	if _, err := root.Stat(name + ".1"); err == nil {
		files = append(files, name+".1")
	}
	if _, err := root.Stat(name); err == nil {
		files = append(files, name)
	}
	return files
}

// errLimitReached ends a read at LimitBytes.
var errLimitReached = errors.New("log limit reached")

// logWriter applies Timestamps and LimitBytes to what is written to w.
type logWriter struct {
	w          io.Writer
	timestamps bool
	limit      int64 // <0: none
}

func (lw *logWriter) write(r logRecord) error {
	var b []byte
	if lw.timestamps {
		b = append(b, r.time.UTC().Format(time.RFC3339Nano)...)
		b = append(b, ' ')
	}
	b = append(b, r.text...)
	if !r.partial {
		b = append(b, '\n')
	}
	if lw.limit >= 0 {
		if int64(len(b)) > lw.limit {
			b = b[:lw.limit]
		}
		lw.limit -= int64(len(b))
	}
	if _, err := lw.w.Write(b); err != nil {
		return err
	}
	if lw.limit == 0 {
		return errLimitReached
	}
	return nil
}

// readLog writes the log at path (relative to dir) to w, with opts; live,
// when not nil, is the instance's open log, followed when opts.Follow is
// set.
func readLog(ctx context.Context, dir, path string, opts LogOptions, now time.Time, live *containerLog, w io.Writer) error {
	if path == "" {
		return errors.New("reading log: the pod's UID or the container's name cannot name a file")
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("reading log %s: %w", path, err)
	}
	defer root.Close()
	lw := &logWriter{w: w, timestamps: opts.Timestamps, limit: -1}
	if opts.LimitBytes != nil {
		lw.limit = *opts.LimitBytes
		if lw.limit <= 0 {
			return nil
		}
	}
	var since time.Time
	if opts.SinceSeconds != nil {
		since = now.Add(-time.Duration(*opts.SinceSeconds) * time.Second)
	}
	if opts.SinceTime != nil && opts.SinceTime.After(since) {
		since = *opts.SinceTime
	}
	keep := func(r logRecord) bool { return since.IsZero() || !r.time.Before(since) }

	// Tail: read everything once, keep the last N complete lines.
	var records []logRecord
	var offset int64
	var waitCh <-chan struct{}
	var closed bool
	if live != nil {
		waitCh, closed = live.waitChan() // taken before reading: a write after it wakes us
	}
	files := logFiles(root, path)
	for i, f := range files {
		recs, end, err := readLogFile(root, f, 0)
		if err != nil {
			return err
		}
		if i == len(files)-1 {
			offset = end
		}
		for _, r := range recs {
			if keep(r) {
				records = append(records, r)
			}
		}
	}
	if opts.TailLines != nil {
		records = tailRecords(records, *opts.TailLines)
	}
	for _, r := range records {
		if err := lw.write(r); err != nil {
			return ignoreLimit(err)
		}
	}
	if !opts.Follow || live == nil {
		return nil
	}
	for !closed {
		select {
		case <-ctx.Done():
			return nil
		case <-waitCh:
		}
		waitCh, closed = live.waitChan()
		recs, end, err := readLogFile(root, path, offset)
		if err != nil {
			return err
		}
		if end < offset { // rotated: start the new file from its beginning
			recs, end, err = readLogFile(root, path, 0)
			if err != nil {
				return err
			}
		}
		offset = end
		for _, r := range recs {
			if !keep(r) {
				continue
			}
			if err := lw.write(r); err != nil {
				return ignoreLimit(err)
			}
		}
	}
	return nil
}

func ignoreLimit(err error) error {
	if errors.Is(err, errLimitReached) {
		return nil
	}
	return err
}

// readLogFile reads complete lines of path from offset; it returns the
// offset after the last complete line (the file's size when it shrank).
func readLogFile(root *os.Root, path string, offset int64) ([]logRecord, int64, error) {
	f, err := root.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, offset, nil
	}
	if err != nil {
		return nil, offset, fmt.Errorf("reading log %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, offset, fmt.Errorf("reading log %s: %w", path, err)
	}
	if fi.Size() < offset {
		return nil, fi.Size() - 1, nil // signals a rotation to the caller
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, offset, fmt.Errorf("reading log %s: %w", path, err)
	}
	var recs []logRecord
	br := bufio.NewReaderSize(f, 64*1024)
	pos := offset
	for {
		line, err := br.ReadBytes('\n')
		if err != nil { // an unfinished last line is read again next time
			break
		}
		pos += int64(len(line))
		r, perr := parseLogLine(line[:len(line)-1])
		if perr != nil {
			continue
		}
		recs = append(recs, r)
	}
	return recs, pos, nil
}

// tailRecords keeps the records of the last n lines (a line may be several
// partial records followed by a full one).
func tailRecords(recs []logRecord, n int64) []logRecord {
	if n < 0 {
		return recs
	}
	if n == 0 {
		return nil
	}
	lines := int64(0)
	for i := len(recs) - 1; i >= 0; i-- {
		if !recs[i].partial || i == len(recs)-1 {
			if lines == n {
				return recs[i+1:]
			}
			lines++
		}
	}
	return recs
}

// instanceLogName is <uid>/logs/<container>/<restartCount>.log, the log
// file of an instance relative to DataDir/pods. A UID or container name
// that is not one path component (the API allows none) gives a name
// that openContainerLog and readLog refuse.
func instanceLogName(podUID, container string, restartCount int32) string {
	if !pathComponent(podUID) || !pathComponent(container) {
		return ""
	}
	return filepath.Join(podUID, "logs", container, strconv.Itoa(int(restartCount))+".log")
}

// pruneInstanceLogs removes the logs of instances older than keep-1 and
// keep (the current and the previous one), under podsDir.
func pruneInstanceLogs(podsDir, podUID, container string, current int32) {
	if !pathComponent(podUID) || !pathComponent(container) {
		return
	}
	root, err := os.OpenRoot(podsDir)
	if err != nil {
		return
	}
	defer root.Close()
	dir := filepath.Join(podUID, "logs", container)
	d, err := root.Open(dir)
	if err != nil {
		return
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return
	}
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".1"), ".log")
		n, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if int32(n) < current-1 || int32(n) > current {
			root.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
