package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// freeBytes is the space unprivileged writers may still take on the
// filesystem of dir (root's reserved blocks are not counted).
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	// Frsize and Bsize are int32 on some 32-bit architectures.
	bs := int64(st.Frsize)
	if bs == 0 {
		bs = int64(st.Bsize)
	}
	return int64(st.Bavail) * bs, nil
}

var errNoPreallocate = errors.New("the filesystem cannot preallocate files")

// preallocate creates path with size bytes allocated on disk.
func preallocate(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) {
		err = errNoPreallocate
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockDir takes badger's lock on dir (an exclusive flock of the
// directory) while Open looks at it; badger takes it again.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: %s is locked: another process has the store open (%w)", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// allocated is how many bytes of a (sparse) file are on disk.
func allocated(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// dataEnd is where the last byte of f that is not in a hole ends (lseek's
// SEEK_DATA and SEEK_HOLE); size when the filesystem does not say.
func dataEnd(f *os.File, size int64) int64 {
	const seekData, seekHole = 3, 4
	var end int64
	for off := int64(0); off < size; {
		d, err := f.Seek(off, seekData)
		if err != nil {
			if errors.Is(err, syscall.ENXIO) {
				return end // only a hole is left
			}
			return size
		}
		h, err := f.Seek(d, seekHole)
		if err != nil {
			return size
		}
		end, off = h, h
	}
	return min(end, size)
}
